"""Which local session owns what, so that however a session ends the next one can clean up after it.

A session holds an exclusive lock on ``<workspace>/sessions/<id>.lock`` for as long as its process
lives (the kernel releases it on any death, ``kill -9`` included), marks every job process it starts
with ``MLOPS_SESSION=<id>`` in its environment, and writes its id into the records it starts. A lock
that can be taken belongs to a session that is gone: its marked processes are killed (by process
group) and its records are closed by the runtime (``LocalRuntime.recover``).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: The environment variable that marks a job process with the session that started it.
SESSION_ENV = "MLOPS_SESSION"
SESSIONS = "sessions"
OPENING = ".lock.opening"  # a lock file's name while its session takes the lock (not a ``*.lock``)


@dataclass
class Session:
    """This process's session in a workspace; ``open`` takes its lock, ``close`` lets it go."""

    workspace_root: Path
    id: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
    _lock: IO | None = field(default=None, repr=False)

    @property
    def lock_path(self) -> Path:
        return self.workspace_root / SESSIONS / f"{self.id}.lock"

    def open(self) -> "Session":
        """The lock file appears already locked (locked under another name, then renamed): another command's
        recovery never finds it unlocked and takes this session for a dead one."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        opening = self.lock_path.with_name(f"{self.id}{OPENING}")
        self._lock = open(opening, "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock.write(f"{os.getpid()}\n")
        self._lock.flush()
        os.rename(opening, self.lock_path)
        os.environ[SESSION_ENV] = self.id  # inherited by every job process, see processes.marked
        return self

    def close(self) -> None:
        """The lock file goes before the lock: a recovery that still finds it unlocked finds a closed session."""
        if os.environ.get(SESSION_ENV) == self.id:
            del os.environ[SESSION_ENV]
        if self._lock is not None:
            self.lock_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None


def is_alive(workspace_root: Path, session_id: str) -> bool:
    """Whether the session still holds its lock (a missing lock file: it ended and cleaned up)."""
    path = workspace_root / SESSIONS / f"{session_id}.lock"
    try:
        handle = open(path, "r+")
    except FileNotFoundError:
        return False
    with handle:
        return _held_elsewhere(handle)


def _held_elsewhere(handle: IO) -> bool:
    """Whether another open file holds the lock on this one's file; if not, ``handle`` holds it until closed."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


def dead_sessions(workspace_root: Path) -> list[str]:
    """Sessions whose lock file is left behind by a process that is gone."""
    folder = workspace_root / SESSIONS
    found = sorted(path.stem for path in folder.glob("*.lock")) if folder.is_dir() else []
    return [session for session in found if not is_alive(workspace_root, session)]


def live_sessions(workspace_root: Path, besides: str = "") -> list[str]:
    """Sessions running in the workspace now (other than ``besides``)."""
    folder = workspace_root / SESSIONS
    found = sorted(path.stem for path in folder.glob("*.lock")) if folder.is_dir() else []
    return [session for session in found if session != besides and is_alive(workspace_root, session)]


#: An opening lock file older than this is not a session taking its lock now (that takes microseconds).
OPENING_SECONDS = 60.0


def forget_abandoned_openings(workspace_root: Path) -> int:
    """Remove the lock files of sessions killed while taking their lock (between creating the file and
    renaming it): unlocked, and older than any opening takes. How many."""
    folder, removed = workspace_root / SESSIONS, 0
    for path in folder.glob(f"*{OPENING}") if folder.is_dir() else ():
        try:
            handle = open(path, "r")
        except FileNotFoundError:
            continue  # renamed or removed meanwhile
        with handle:
            if time.time() - os.fstat(handle.fileno()).st_mtime < OPENING_SECONDS or _held_elsewhere(handle):
                continue  # a session taking its lock now, or one that lives (stopped before renaming it)
            try:
                path.unlink(missing_ok=True)
            except OSError:
                continue  # a workspace this process may only read keeps it
            removed += 1
    return removed


def forget(workspace_root: Path, session_id: str) -> None:
    (workspace_root / SESSIONS / f"{session_id}.lock").unlink(missing_ok=True)


def marked_process_groups(session_id: str, proc: Path = Path("/proc")) -> set[int]:
    """Process groups of the live processes whose environment names ``session_id`` (Linux ``/proc``)."""
    marker = f"{SESSION_ENV}={session_id}".encode()
    groups: set[int] = set()
    for entry in proc.glob("[0-9]*") if proc.is_dir() else ():
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return groups


def kill_process_groups(groups: set[int], grace: float = 3.0) -> None:
    """SIGTERM each group, then SIGKILL what is left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while sig == signal.SIGTERM and time.monotonic() < deadline and any(_exists(g) for g in groups):
            time.sleep(0.05)


def _exists(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
