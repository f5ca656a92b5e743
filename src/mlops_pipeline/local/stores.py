"""The workspace: ``s3://<bucket>/<key>`` is the file ``<workspace>/s3/<bucket>/<key>``.

Plain files, so users open predictions with any tool. Every write is atomic (temp file + rename),
and nothing here deletes or rewrites an object someone landed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mlops_pipeline.errors import PipelineError

WORKSPACE_ENV = "MLOPS_WORKSPACE"
DEFAULT_WORKSPACE = ".mlops"
TEMP_PREFIX = ".tmp-"  # dot files are never listed as objects


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

    def path(self, bucket: str, key: str = "") -> Path:
        """The file behind an object (or the directory behind a prefix); keys cannot climb out."""
        base = (self.s3_root / bucket).resolve()
        target = (base / key).resolve() if key else base
        if target != base and base not in target.parents:
            raise PipelineError(f"s3://{bucket}/{key}: the key leaves the bucket")
        return target

    def path_of(self, uri: str) -> Path:
        return self.path(*parse_s3_uri(uri))

    def uri_of(self, path: Path) -> str:
        relative = path.resolve().relative_to(self.s3_root.resolve())
        bucket, _, key = relative.as_posix().partition("/")
        return f"s3://{bucket}/{key}"

    def put_bytes(self, bucket: str, key: str, data: bytes) -> Path:
        target = self.path(bucket, key)
        write_atomic(target, data)
        return target

    def put_file(self, bucket: str, key: str, source: Path) -> Path:
        """Copy a file in (never move: the source is the user's)."""
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        os.close(handle)
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
        return target

    def objects(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """(key, path) of every object under a prefix, sorted by key; dot files (writers' temp files) are not."""
        base = self.path(bucket)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith("."):
                yield key, path

    def buckets(self) -> list[str]:
        return sorted(p.name for p in self.s3_root.iterdir() if p.is_dir()) if self.s3_root.is_dir() else []


def write_atomic(target: Path, data: bytes) -> None:
    """Readers see the old content or the new one, never half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def etag_of(path: Path) -> str:
    """The S3 ETag of a single-part upload: the MD5 of the content, quoted."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'
