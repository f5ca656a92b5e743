"""Jobs and servers run as process groups that die with their owner.

Each one starts in a session (so a process group) of its own: one signal reaches the program and everything
it started. The whole group is killed when its state ends (a state timeout, StopExecution, a job's own time
limit), when the program at its head exits (what it left running goes with it: a dead ``serve`` wrapper does
not leave gunicorn answering), when the session closes (:meth:`ProcessGroups.close`), and when the session's
own process dies without closing: a watchdog (``watchdog.py``), one for all the groups of a session, holds the read
end of a pipe only this process writes to and kills the groups still running when that pipe closes.
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
    """A program started in a process group of its own, watched by its owner's watchdog.

    ``launcher(argv, env, log_path)`` starts the program (default: :func:`start_process`); whatever it
    returns must behave like ``Popen`` (``pid``, ``poll``, ``wait(timeout)``, ``returncode``) and head a
    session of its own, as a job started by a fork server (``fork_servers.py``) does."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        watchdog: Watchdog,
        grace: float = STOP_GRACE_SECONDS,
        launcher=None,
    ):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = (launcher or start_process)(argv, marked(env), log_path)
        self.pid = self.process.pid  # also the group's id
        self.grace = grace
        self._lock = threading.Lock()
        self._watchdog = watchdog
        watchdog.watch(self.pid, grace)

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def alive(self) -> bool:
        """Whether any process of the group still runs (zombies do not count)."""
        return group_alive(self.pid)

    def kill(self, grace: float | None = None) -> None:
        """SIGTERM the whole group, SIGKILL what is left after ``grace`` seconds; then the watchdog forgets it (the
        group's id may be another's from now on)."""
        with self._lock:
            terminate_group(self.pid, self.grace if grace is None else grace, reap=self.process.poll)
            self.process.wait()
            self._watchdog.forget(self.pid)


class Watchdog:
    """The watchdog process (``watchdog.py``) of the groups one owner starts: told of each group as it starts and
    as it ends, it kills those still running when this process dies without ending them. One for all of them, so a
    job costs no interpreter start-up besides its own; started on first use, and again (told of every group still
    watched) if it is gone."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._watched: dict[int, float] = {}
        self._lock = threading.Lock()

    def watch(self, pgid: int, grace: float) -> None:
        with self._lock:
            self._watched[pgid] = grace
            self._tell(f"{pgid} {grace}\n")

    def forget(self, pgid: int) -> None:
        with self._lock:
            if self._watched.pop(pgid, None) is not None:
                self._tell(f"-{pgid}\n")

    def close(self) -> None:
        """End the process at once, once its groups are gone. Closing its pipe instead would make it signal the
        groups still watched and wait while any zombie of theirs remains (bubblewrap's inner process, orphaned when
        the outer one dies first, stays a zombie until init reaps it: late, or never where the first process is
        not a reaper, as in some containers)."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            _end(process)

    def _tell(self, line: str) -> None:
        """Write ``line``, starting the process first when it is not running (it then learns every group; with none
        to guard, none is started)."""
        for _ in range(2):
            if self._process is None:
                if not self._watched:
                    return
                self._process = _start_watchdog()
                if self._process is None:  # no watchdog is no reason to refuse a job: the session still kills them
                    return
                line = "".join(f"{pgid} {grace}\n" for pgid, grace in self._watched.items())
            try:
                self._process.stdin.write(line.encode())  # type: ignore[union-attr]
                self._process.stdin.flush()  # type: ignore[union-attr]
                return
            except OSError:  # it was killed: a new one takes over
                process, self._process = self._process, None
                _end(process)


class ProcessGroups:
    """The groups one session started: :meth:`close` kills those still running (the session's end)."""

    def __init__(self) -> None:
        self._groups: set[ProcessGroup] = set()
        self._lock = threading.Lock()
        self.watchdog = Watchdog()

    def start(
        self, argv: list[str], env: dict[str, str], log_path: Path, grace: float = STOP_GRACE_SECONDS, launcher=None
    ) -> ProcessGroup:
        group = ProcessGroup(argv, env, log_path, self.watchdog, grace, launcher)
        with self._lock:
            self._groups.add(group)
        return group

    def kill(self, group: ProcessGroup, grace: float | None = None) -> None:
        group.kill(grace)
        with self._lock:
            self._groups.discard(group)

    def close(self) -> None:
        """Kill every group still registered, all at once (SIGTERM to all, then SIGKILL what is left); then end the
        watchdog, which has nothing left to guard."""
        with self._lock:
            groups, self._groups = list(self._groups), set()
        threads = [threading.Thread(target=group.kill, daemon=True) for group in groups]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.watchdog.close()

    def kill_now(self) -> None:
        """SIGKILL every group still registered, without its grace (asked again to end while the session ends);
        each one's own stop then finds it gone. Takes no lock: it may run in a signal handler (``set.copy`` is
        atomic)."""
        for group in self._groups.copy():
            try:
                os.killpg(group.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # ended meanwhile

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
    :class:`ProcessGroup`. Without an ``owner``, the job is one of its own."""
    if owner is None:
        owner = ProcessGroups()
        try:
            return run_job(argv, env, log_path, control, on_start, owner, grace, launcher)
        finally:
            owner.close()
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


def _start_watchdog() -> subprocess.Popen | None:
    """The watchdog: a process of its own session that kills the groups it was told of once the pipe on its stdin
    closes (this process died, kill -9 included). Standard library only, started without site packages."""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", str(WATCHDOG)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None


def _end(watchdog: subprocess.Popen) -> None:
    watchdog.kill()
    watchdog.wait()
    try:
        watchdog.stdin.close()  # type: ignore[union-attr]
    except OSError:  # what it had not read yet cannot be flushed: it is gone
        pass
