"""Reuse what did not change: a Glue run served from the outputs of an earlier identical run (``--reuse``).

An edit-run loop (change one tuning range, run again) would otherwise run both unchanged Glue transforms
again. A run's identity is everything that decides what it writes:

- the code that runs: the bytes of every ``*.py`` beside the job's script (the entry point, the shipped
  data checks, the user's transform module) and of each ``--extra-py-files`` file, the ``awsglue`` shim,
  the interpreter and the numpy and pandas versions;
- the job as the run sees it: its name, ``Command`` and the request's other fields (``Timeout``...);
- the arguments, with the execution's own paths normalised: an argument naming an object is its file name
  and bytes (the execution's copy of the landed version, the training schema), one naming a
  ``/``-terminated prefix is what lies under it before the run (relative keys and bytes), anything else is
  its text. The job stem in the paths thus drops out; the bytes read stay in.

A run of the project's entry point that SUCCEEDED is recorded under that identity
(``services/glue-reusable-runs/<sha256>.json``, written atomically) with what it wrote under each prefix
argument and the bytes' hashes. Only the entry point is recorded: it reads what its arguments name and
writes under ``--S3_DEST``, where a script of the user's own may read any object through S3.

With ``--reuse``, a run whose identity was recorded is served by copying the earlier outputs to the same
keys under this run's prefixes, each checked against its recorded hash while it is copied (copies, never
hard links: an output must not be a file another execution shares). A missing or changed output, or any
difference in the identity, is a normal run. Local only: nothing here is in a rendered definition.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local import glue_libs
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace, decode_key, parse_s3_uri, temp_file_beside

#: Record kind (``services/<kind>/``) of the runs that may be reused, keyed by the identity's digest.
REUSABLE = "glue-reusable-runs"
#: Bumped when what goes into an identity changes, so older records never match.
IDENTITY_FORMAT = 1
#: Libraries the entry point imports; their versions are part of a run's identity.
LIBRARIES = ("numpy", "pandas")
EXTRA_PY_FILES = "--extra-py-files"


@dataclass(frozen=True)
class RunIdentity:
    """What a run reads, taken before it runs; what it wrote is found against ``before`` afterwards."""

    digest: str
    prefixes: dict[str, str]  # argument -> the s3:// prefix it names
    before: dict[str, dict[str, tuple[int, int, int]]]  # argument -> {key under the prefix: (size, mtime, inode)}


def identify(
    workspace: Workspace, job: dict, params: dict, arguments: dict[str, str], script: Path, names_only: tuple[str, ...]
) -> RunIdentity:
    """The identity of a run of ``script`` with ``arguments`` (``names_only``: arguments the script only
    prints, kept as text)."""
    prefixes: dict[str, str] = {}
    before: dict[str, dict[str, tuple[int, int, int]]] = {}
    values: dict[str, object] = {}
    hashes: dict[Path, str] = {}  # the landed copy is both an object and under the destination prefix

    def sha256(path: Path) -> str:
        if path not in hashes:
            hashes[path] = _sha256(path)
        return hashes[path]

    for key, value in sorted(arguments.items()):
        if key == EXTRA_PY_FILES:
            values[key] = [_object(workspace, uri, sha256) for uri in value.split(",") if uri]
        elif key in names_only or not value.startswith("s3://"):
            values[key] = value
        elif value.endswith("/"):
            files = _files(workspace, value)
            prefixes[key], before[key] = value, {name: _stat(path) for name, path in files.items()}
            values[key] = {"prefix": {name: sha256(path.resolve()) for name, path in files.items()}}
        else:
            values[key] = _object(workspace, value, sha256)
    identity = {
        "format": IDENTITY_FORMAT,
        "job": {"Name": job["Name"], "Command": job.get("Command")},
        "request": {key: value for key, value in sorted(params.items()) if key != "Arguments"},
        "code": {path.name: _sha256(path) for path in sorted(script.parent.glob("*.py"))},
        "script": script.name,
        "arguments": values,
        "runtime": _runtime(),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return RunIdentity(digest, prefixes, before)


def remember(records: Records, workspace: Workspace, identity: RunIdentity, run: dict, execution: str) -> bool:
    """Record a run that succeeded as reusable, with what it wrote; False when what it wrote cannot be told
    (an object under a prefix removed)."""
    outputs: dict[str, dict[str, dict]] = {}
    for argument, prefix in identity.prefixes.items():
        after, earlier = _files(workspace, prefix), identity.before[argument]
        if set(earlier) - set(after):
            return False
        written = {name: path for name, path in after.items() if earlier.get(name) != _stat(path)}
        outputs[argument] = {name: {"Sha256": _sha256(path)} for name, path in sorted(written.items())}
    record = {
        "JobName": run["JobName"],
        "RunId": run["Id"],
        "Execution": execution,
        "CompletedOn": run.get("CompletedOn"),
        "Prefixes": identity.prefixes,
        "Outputs": outputs,
    }
    records.put(REUSABLE, identity.digest, record)
    return True


def serve(records: Records, workspace: Workspace, identity: RunIdentity) -> dict | None:
    """Copy the outputs of the earlier run recorded under this identity to this run's prefixes; that run's
    record, or None (nothing copied) when there is none or an output is missing or changed."""
    earlier = records.get(REUSABLE, identity.digest)
    if earlier is None or set(earlier["Outputs"]) != set(identity.prefixes):
        return None
    staged: list[tuple[Path, Path]] = []
    try:
        for argument, files in earlier["Outputs"].items():
            for name, facts in files.items():
                source = _object_path(workspace, earlier["Prefixes"][argument] + name)
                target = _object_path(workspace, identity.prefixes[argument] + name)
                copied = _verified_copy(source, target, facts["Sha256"])
                if copied is None:
                    return None
                staged.append((copied, target))
        for temporary, target in staged:
            os.replace(temporary, target)
        staged = []
        return earlier
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def _verified_copy(source: Path | None, target: Path | None, sha256: str) -> Path | None:
    """A temp file beside ``target`` with the bytes of ``source`` if they still hash to ``sha256``."""
    if source is None or target is None or not source.is_file():
        return None
    handle, name = temp_file_beside(target)
    temporary, digest = Path(name), hashlib.sha256()
    try:
        with open(source, "rb") as reader, os.fdopen(handle, "wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
                writer.write(block)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != sha256:
        temporary.unlink(missing_ok=True)
        return None
    return temporary


def _object(workspace: Workspace, uri: str, sha256: Callable[[Path], str]) -> object:
    """An object by its file name and bytes; the URI's text when there is no such object."""
    path = _object_path(workspace, uri)
    if path is None or not path.is_file():
        return uri
    return {"name": uri.rsplit("/", 1)[-1], "sha256": sha256(path.resolve())}


def _object_path(workspace: Workspace, uri: str) -> Path | None:
    try:
        return workspace.path_of(uri)
    except PipelineError:  # not a bucket the workspace can hold: only text
        return None


def _files(workspace: Workspace, prefix: str) -> dict[str, Path]:
    """{key below the prefix: file} of every object under an ``s3://`` prefix (writers' temp files are not)."""
    try:
        folder = workspace.folder(*parse_s3_uri(prefix))
    except PipelineError:
        return {}
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            found[decode_key(path.relative_to(folder).as_posix())] = path
    return dict(sorted(found.items()))


def _stat(path: Path) -> tuple[int, int, int]:
    facts = path.stat()
    return facts.st_size, facts.st_mtime_ns, facts.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _runtime() -> dict:
    """The interpreter, the libraries the entry point imports and the ``awsglue`` shim, as the run sees them."""
    shim = Path(glue_libs.__file__).parent
    return {
        "python": sys.version,
        "executable": sys.executable,
        "libraries": {name: _version(name) for name in LIBRARIES},
        "awsglue": {str(p.relative_to(shim)): _sha256(p) for p in sorted(shim.rglob("*.py"))},
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
