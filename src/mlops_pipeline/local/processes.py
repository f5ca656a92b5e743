"""Jobs and servers run as process groups that die with their owner.

Each one starts in a session (so a process group) of its own: one signal reaches the program and everything
it started. The whole group is killed when its state ends (a state timeout, StopExecution, a job's own time
limit), when the program at its head exits (what it left running goes with it: a dead ``serve`` wrapper does
not leave gunicorn answering), when the session closes (:meth:`ProcessGroups.close`), and when the session's
own process dies without closing: a watchdog (``watchdog.py``) holds the read end of a pipe only this process
writes to and kills the group when that pipe closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mlops_pipeline.local.sessions import SESSION_ENV
from mlops_pipeline.local.tasks import TaskControl, TaskStopped

POLL_SECONDS = 0.1
STOP_GRACE_SECONDS = 5.0  # SIGTERM, then SIGKILL this much later
RESEND_UNTIL_SECONDS = 2.0  # SIGTERM is repeated until then (terminate_group says why)
WATCHDOG = Path(__file__).with_name("watchdog.py")


def marked(env: dict[str, str]) -> dict[str, str]:
    """A job's environment with its session's mark (``sessions.SESSION_ENV``), so that a later session
    can find and kill it if this one dies without stopping it."""
    session = os.environ.get(SESSION_ENV)
    return {**env, SESSION_ENV: session} if session else env


def start_process(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A fresh process in a session of its own, its output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class ProcessGroup:
    """A program started in a process group of its own, watched by a watchdog process.

    ``launcher(argv, env, log_path)`` starts the program (default: :func:`start_process`); whatever it
    returns must behave like ``Popen`` (``pid``, ``poll``, ``wait(timeout)``, ``returncode``) and head a
    session of its own, as a job started by a fork server (``fork_servers.py``) does."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        grace: float = STOP_GRACE_SECONDS,
        launcher=None,
    ):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = (launcher or start_process)(argv, marked(env), log_path)
        self.pid = self.process.pid  # also the group's id
        self.grace = grace
        self._lock = threading.Lock()
        self._watchdog: subprocess.Popen | None = _start_watchdog(self.pid, grace)

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def alive(self) -> bool:
        """Whether any process of the group still runs (zombies do not count)."""
        return group_alive(self.pid)

    def kill(self, grace: float | None = None) -> None:
        """SIGTERM the whole group, SIGKILL what is left after ``grace`` seconds; then release the watchdog."""
        with self._lock:
            terminate_group(self.pid, self.grace if grace is None else grace, reap=self.process.poll)
            self.process.wait()
            self._release_watchdog()

    def _release_watchdog(self) -> None:
        """The group is gone, so its watchdog has nothing left to guard: it is ended at once. Closing its pipe instead
        would make it signal the group and wait while any zombie of the group remains, and bubblewrap's inner
        process, orphaned when the outer one dies first, stays a zombie until init reaps it: late, or never where the
        first process is not a reaper (as in some containers)."""
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
            watchdog.stdin.close()  # type: ignore[union-attr]


class ProcessGroups:
    """The groups one session started: :meth:`close` kills those still running (the session's end)."""

    def __init__(self) -> None:
        self._groups: set[ProcessGroup] = set()
        self._lock = threading.Lock()

    def start(
        self, argv: list[str], env: dict[str, str], log_path: Path, grace: float = STOP_GRACE_SECONDS, launcher=None
    ) -> ProcessGroup:
        group = ProcessGroup(argv, env, log_path, grace, launcher)
        with self._lock:
            self._groups.add(group)
        return group

    def kill(self, group: ProcessGroup, grace: float | None = None) -> None:
        group.kill(grace)
        with self._lock:
            self._groups.discard(group)

    def close(self) -> None:
        """Kill every group still registered, all at once (SIGTERM to all, then SIGKILL what is left)."""
        with self._lock:
            groups, self._groups = list(self._groups), set()
        threads = [threading.Thread(target=group.kill, daemon=True) for group in groups]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def pids(self) -> list[int]:
        """The ids of the groups still registered (each group's id is its first process's pid)."""
        with self._lock:
            return sorted(group.pid for group in self._groups)


def run_job(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    control: TaskControl,
    on_start=None,
    owner: ProcessGroups | None = None,
    grace: float = STOP_GRACE_SECONDS,
    launcher=None,
) -> int:
    """Run to completion with output appended to ``log_path`` and return the exit status. When the program
    exits, whatever it left running in its group is killed; when the state ends first, the whole group is
    killed (SIGTERM, SIGKILL after ``grace`` seconds) and :class:`TaskStopped` raised. ``launcher``: see
    :class:`ProcessGroup`."""
    owner = owner or ProcessGroups()
    group = owner.start(argv, env, log_path, grace, launcher)
    try:
        if on_start is not None:
            on_start(group.pid)
        while True:
            try:
                return group.wait(timeout=POLL_SECONDS)  # returns the moment the program exits
            except subprocess.TimeoutExpired:
                pass
            if not control.running():
                owner.kill(group)
                raise TaskStopped(f"the state timed out or the execution was stopped; killed pid {group.pid}")
    finally:
        owner.kill(group)  # what the program left behind (nothing, usually; then this is immediate)


def terminate_group(pgid: int, grace: float, reap=lambda: None) -> None:
    """SIGTERM the group, wait until none of it runs or ``grace`` passed, SIGKILL what is left. ``reap``
    collects the head of the group when it is our child (an unreaped head would look alive).

    SIGTERM is sent again after 0.25 s, 0.5 s, 1 s and 2 s: a program still starting (its handler not
    installed yet) or the first process of a PID namespace (which ignores a signal it has no handler for)
    would otherwise miss the only one and run on until SIGKILL. A program that handles SIGTERM may so see
    it up to five times, all within its first two seconds of grace."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    started = time.monotonic()
    again = 0.25
    while time.monotonic() - started < grace:
        reap()
        if not group_alive(pgid):
            return
        if again <= RESEND_UNTIL_SECONDS and time.monotonic() - started >= again:
            _signal_group(pgid, signal.SIGTERM)
            again *= 2
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5  # SIGKILL cannot be ignored; only a process in the kernel delays it
    while group_alive(pgid) and time.monotonic() < deadline:
        reap()
        time.sleep(0.02)


def _signal_group(pgid: int, number: int) -> bool:
    try:
        os.killpg(pgid, number)
    except ProcessLookupError:
        return False
    except PermissionError:  # the id was reused by someone else's group: ours is long gone
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether a process of the group runs. On Linux, zombies (exited, not yet reaped) do not count."""
    proc = Path("/proc")
    if not proc.is_dir() or not sys.platform.startswith("linux"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return bool(group_members(pgid))


def group_members(pgid: int) -> list[int]:
    """Pids of the group's running processes (Linux: read from ``/proc``; zombies excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _start_watchdog(pgid: int, grace: float) -> subprocess.Popen | None:
    """A process of its own session that kills the group once the pipe on its stdin closes: when this
    process releases it, or dies (kill -9 included). Standard library only, started without site packages."""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", str(WATCHDOG), str(pgid), str(grace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:  # no watchdog is no reason to refuse the job; the session still kills its groups
        return None
