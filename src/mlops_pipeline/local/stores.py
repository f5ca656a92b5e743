"""The workspace: ``s3://<bucket>/<key>`` is the file ``<workspace>/s3/<bucket>/<key>``.

Plain files, so users open predictions with any tool. Every write is atomic (temp file + rename),
and nothing here deletes or rewrites an object someone landed.

Any legal S3 key has a file, and no key reaches outside its bucket: each ``/``-separated segment
is stored as it is, except that ``%`` is written ``%25``, NUL ``%00`` and a leading ``.`` ``%2E``
(so ``..`` is never a path step and dot files stay the writers' temp files); an empty segment
(``a//b``, a trailing ``/``) is ``%``; a segment longer than a file name may be continues in
further components that start with ``%+``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from urllib.parse import unquote

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.layout import DEFAULT_WORKSPACE, WORKSPACE_ENV

TEMP_PREFIX = ".tmp-"  # dot files are never listed as objects
JOBS_FOLDER = "jobs"  # <workspace>/jobs/<job>-*/: each running job's own /opt/ml, removed when it ends
VERSIONS = "versions"  # <workspace>/versions/<bucket>/<key>/<version id>: landed versions kept readable
PIPELINES = "pipelines"  # <workspace>/pipelines/<name>.json: the workflow file each pipeline came from
LOGS = "logs"  # <execution>/logs/<kind>/<job>.log: each job's log, with the execution that ran it
SERVER_LOGS = "model-servers"  # <execution>/logs/model-servers/<state>.log: servers started ahead of their Task
EMPTY_SEGMENT = "%"
CONTINUATION = "%+"
NAME_MAX_BYTES = 240  # below the 255 bytes of common file systems
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")  # a file name that cannot be "." or ".."


def encode_key(key: str) -> str:
    """The relative file path that stores an object key (see the module docstring)."""
    components: list[str] = []
    for segment in key.split("/"):
        encoded = segment.replace("%", "%25").replace("\0", "%00")
        encoded = "%2E" + encoded[1:] if encoded.startswith(".") else encoded or EMPTY_SEGMENT
        components.extend(_split_long(encoded))
    return "/".join(components)


def _split_long(encoded: str) -> list[str]:
    pieces, current = [], ""
    for char in re.findall(r"%[0-9A-F]{2}|.", encoded, re.DOTALL):
        if len((current + char).encode()) > NAME_MAX_BYTES:
            pieces.append(current)
            current = CONTINUATION
        current += char
    return pieces + [current]


def decode_key(relative: str) -> str:
    """The object key a relative file path stores (the inverse of :func:`encode_key`)."""
    segments: list[str] = []
    for component in relative.split("/"):
        if component.startswith(CONTINUATION) and segments:
            segments[-1] += unquote(component[len(CONTINUATION) :])
        else:
            segments.append("" if component == EMPTY_SEGMENT else unquote(component))
    return "/".join(segments)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); a clear error for anything else."""
    if not uri.startswith("s3://"):
        raise PipelineError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise PipelineError(f"s3 URI without a bucket: {uri!r}")
    return bucket, key


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, path: str | Path | None = None) -> "Workspace":
        """``--workspace``, else ``$MLOPS_WORKSPACE``, else ``./.mlops``."""
        chosen = path or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
        return cls(Path(chosen).expanduser().resolve())

    @property
    def s3_root(self) -> Path:
        return self.root / "s3"

    def bucket_path(self, bucket: str) -> Path:
        if not _BUCKET.fullmatch(bucket):
            raise PipelineError(f"invalid bucket name {bucket!r}: up to 63 lowercase letters, digits, '.' and '-'")
        return self.s3_root.resolve() / bucket

    def path(self, bucket: str, key: str = "") -> Path:
        """The file behind an object (the bucket's folder for an empty key); no key leaves its bucket."""
        base = self.bucket_path(bucket)
        return _inside(base, base / encode_key(key)) if key else base

    def folder(self, bucket: str, prefix: str) -> Path:
        """The folder behind a ``/``-terminated prefix (what ``path`` gives the objects below it)."""
        base = self.bucket_path(bucket)
        return _inside(base, base / encode_key(prefix.rstrip("/"))) if prefix.strip("/") else base

    def path_of(self, uri: str) -> Path:
        return self.path(*parse_s3_uri(uri))

    def folder_of(self, uri: str) -> Path:
        return self.folder(*parse_s3_uri(uri))

    def uri_of(self, path: Path) -> str:
        relative = path.resolve().relative_to(self.s3_root.resolve())
        bucket, _, key = relative.as_posix().partition("/")
        return f"s3://{bucket}/{decode_key(key)}"

    def put_bytes(self, bucket: str, key: str, data: bytes) -> Path:
        target = self.path(bucket, key)
        write_atomic(target, data)
        return target

    def put_file(self, bucket: str, key: str, source: Path, keep_version: bool = False) -> Path:
        """Copy a file in (never move: the source is the user's); ``keep_version`` keeps these bytes
        readable by their version id after the key is written again (a versioned bucket)."""
        target = self.path(bucket, key)
        with open(source, "rb") as handle:
            write_atomic_stream(target, handle)
        if keep_version:
            kept = self._version_path(bucket, key, version_of(target))
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.unlink(missing_ok=True)
            os.link(target, kept)  # the same bytes: a later write replaces the key's file, not this one
        return target

    def version(self, bucket: str, key: str, version_id: str) -> Path | None:
        """The file holding one version of an object: the current one, or a kept one; None if gone."""
        current = self.path(bucket, key)
        if current.is_file() and version_of(current) == version_id:
            return current
        kept = self._version_path(bucket, key, version_id)
        return kept if kept.is_file() else None

    def _version_path(self, bucket: str, key: str, version_id: str) -> Path:
        base = (self.root / VERSIONS / bucket).resolve()
        return _inside(base, base / encode_key(key) / encode_key(version_id))

    def objects(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """(key, path) of every object under a prefix, sorted by key; dot files (writers' temp files) are not."""
        base = self.path(bucket)
        if not base.is_dir():
            return
        found = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = decode_key(path.relative_to(base).as_posix())
                if key.startswith(prefix):
                    found.append((key, path))
        yield from sorted(found)

    def buckets(self) -> list[str]:
        return sorted(p.name for p in self.s3_root.iterdir() if p.is_dir()) if self.s3_root.is_dir() else []

    def remember_pipeline(self, name: str, workflow: Path, project: Path) -> None:
        """Which workflow file a pipeline of this workspace comes from, so commands can find it later."""
        record = {"name": name, "workflow": str(workflow.resolve()), "project": str(project.resolve())}
        write_atomic(self.root / PIPELINES / f"{name}.json", json.dumps(record, indent=2).encode())

    def pipelines(self) -> dict[str, dict]:
        """name -> {"workflow", "project"} of every pipeline that ran in this workspace."""
        folder = self.root / PIPELINES
        records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
        return {record["name"]: record for record in records}


def _inside(base: Path, target: Path) -> Path:
    """Encoded keys never climb out; a symlink placed in the workspace must not lead out either."""
    resolved = target.resolve()
    if resolved != base and base not in resolved.parents:
        raise PipelineError(f"{target} leads outside {base}")
    return target


def write_atomic(target: Path, data: bytes) -> None:
    """Readers see the old content or the new one, never half a file."""
    write_atomic_stream(target, io.BytesIO(data))


def temp_file_beside(target: Path) -> tuple[int, str]:
    """An open new file (descriptor, path) in ``target``'s folder, to be renamed onto it. Created with the
    permissions of any new file (0666 less the umask), where ``tempfile.mkstemp`` would leave 0600: the
    predictions and reports a user opens, or shares, read like the files they write themselves."""
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = target.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), str(temporary)
        except FileExistsError:
            continue


def write_atomic_stream(target: Path, source: BinaryIO) -> None:
    """Copy a readable stream to ``target`` through a temp file beside it, removed if anything fails."""
    handle, temporary = temp_file_beside(target)
    try:
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


#: What opening a lock file for writing answers in a workspace this process may only read.
READ_ONLY_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS)


@contextlib.contextmanager
def exclusively(lock_file: Path, waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """One holder at a time across processes (sessions and commands sharing a workspace): an advisory lock
    on ``lock_file``, released when the block ends or the process dies; ``waiting`` is called once when another
    holder has it, before this one waits its turn (a long wait is never silent). In a workspace this process may
    only read, the lock is taken on the file read-only, or (no such file) not at all: it writes nothing there."""
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_file, "a")
    except OSError as error:
        if error.errno not in READ_ONLY_ERRORS:
            raise
        if not lock_file.is_file():
            yield
            return
        handle = open(lock_file, "r")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def disk_full(error: OSError, path: str | Path | None = None) -> str | None:
    """One line for a full disk (naming the file and what is free there), or None for another error."""
    if error.errno != errno.ENOSPC:
        return None
    where = Path(path or error.filename or ".")
    folder = next((p for p in (where, *where.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free / 1e6
    return f"no space left on the device writing {where} ({free:.0f} MB free there); free some space, then redrive"


def version_of(path: Path) -> str:
    """The version id of the object a file holds (its modification time, which every write changes)."""
    return f"{path.stat().st_mtime_ns:x}"


def etag_of(path: Path) -> str:
    """The S3 ETag of a single-part upload: the MD5 of the content, quoted."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'
