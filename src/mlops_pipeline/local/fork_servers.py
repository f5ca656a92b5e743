"""Warm starts: training programs forked from a process that has already imported their libraries.

A Python ``train`` program pays about a second of interpreter start-up and imports (numpy, pandas, xgboost,
scikit-learn) for a fraction of a second of work on a small data set; a tuning job pays it per trial. A
fork server (``zygote.py``) per container environment imports what the program imports once; each job is
then a child forked from it: still one process per job, heading a session of its own (so a state's end,
a time limit or the session's close kills it and what it started, and nothing else), writing its own log,
seeing its own ``SM_*`` paths and variables. :class:`WarmProcess` stands for it where a ``Popen`` would,
so ``processes.ProcessGroup`` (its watchdog included) treats it as any other job.

With namespaces, the server runs in a bubblewrap view like its jobs' (:class:`InView`), which shows it every
job's folder, and each child makes its own folder its ``/opt/ml`` before it runs the program. Turned off with
``MLOPS_WARM_START=0``. Whatever cannot be served warm (a program not run by its environment's Python, a server
that does not start, an import that leaves a thread running) runs as a fresh process, as before.
"""

from __future__ import annotations

import ast
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mlops_pipeline.local.processes import ProcessGroup, ProcessGroups, marked, start_process

WARM_START_ENV = "MLOPS_WARM_START"
ZYGOTE = Path(__file__).with_name("zygote.py")
READY_TIMEOUT_SECONDS = 120.0  # importing the libraries from a cold disk can take a while
SERVER_GRACE_SECONDS = 2.0
#: Variables that differ per job; the rest of a job's environment keys the server it is forked from.
PER_JOB_PREFIXES = ("SM_", "TRAINING_JOB_")
KEPT_PER_SERVER = ("SM_NUM_CPUS",)  # per job in name only: it follows OMP_NUM_THREADS


def warm_start_enabled() -> bool:
    return os.environ.get(WARM_START_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


#: One ``ast.parse`` of ours at a time: CPython 3.11 keeps the AST constructor's recursion depth in
#: interpreter-wide state, so two threads parsing at once can fail one with "SystemError: AST constructor
#: recursion depth mismatch" (python/cpython#106905; seen here on 3.11.7, a warm-up thread's parse failing in
#: CI). The other parse may be one this lock cannot hold: 3.11's ``traceback`` parses each source line it
#: formats (``_extract_caret_anchors_from_line_segment``), so a parse that fails so is made once more.
_PARSING = threading.Lock()


def program_imports(program: Path) -> list[str]:
    """The absolute imports anywhere in the program's file (those inside functions are the slow ones: a
    program typically imports xgboost where it trains); for ``from a import b`` both ``a`` and ``a.b``."""
    try:
        source = program.read_bytes()
        with _PARSING:
            try:
                tree = ast.parse(source, filename=str(program))
            except SystemError:  # the CPython bug above: another thread parsed at the same time
                tree = ast.parse(source, filename=str(program))
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level and node.module != "__future__":
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")]
    return list(dict.fromkeys(names))


def server_environment(env: dict[str, str]) -> dict[str, str]:
    """A job's environment without what differs per job: the environment its fork server starts with."""
    return {k: v for k, v in env.items() if not k.startswith(PER_JOB_PREFIXES) or k in KEPT_PER_SERVER}


@dataclass(frozen=True)
class InView:
    """A job that runs in a bubblewrap view (``containers/sandbox.py``), and how its fork server runs in a view like
    it: ``wrap(zygote_arguments, folder, env)`` is the server's command line (its folder, every job's folder and the
    zygote shown at fixed paths), ``opt_ml`` the job's folder as that view shows it, ``cwd`` the image's WORKDIR."""

    program: list[str]  # [python, program, args...] as the view shows them
    program_file: Path | None  # the program on this machine, whose imports the server makes (None: no file)
    wrap: Callable[[list[str], Path, dict[str, str]], list[str]]
    opt_ml: str | None  # None: the job's folder is not one the server's view shows (it starts fresh)
    cwd: str
    key: tuple  # what else makes the server's view (image, environment, network, jobs folder)


class WarmProcess:
    """A job forked by a fork server, as ``Popen`` presents a child: its status arrives on the connection."""

    def __init__(self, connection: socket.socket, argv: list[str]):
        self.args = argv
        self.returncode: int | None = None
        self._connection = connection
        self._buffer = b""
        self._lock = threading.Lock()
        self._lost = False
        self.pid: int = self._child_pid()

    def _child_pid(self) -> int:
        """The pid the child sends, as this process sees it: from the message's credentials where the system gives
        them (inside the server's PID namespace the child's own number is another)."""
        if select.select([self._connection], [], [], READY_TIMEOUT_SECONDS)[0]:
            data, ancillary, _, _ = self._connection.recvmsg(4096, socket.CMSG_SPACE(CREDENTIALS.size))
            line, newline, self._buffer = data.partition(b"\n")
            answer = json.loads(line) if newline else {}
            if "pid" in answer:
                sent = [c for level, kind, c in ancillary if kind == getattr(socket, "SCM_CREDENTIALS", None)]
                return CREDENTIALS.unpack(sent[0][: CREDENTIALS.size])[0] if sent else int(answer["pid"])
        self._connection.close()
        raise OSError("the fork server did not start the job")

    def poll(self) -> int | None:
        if self.returncode is None:
            self._receive(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = 0.1 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._receive(min(remaining, 0.1))
        return self.returncode

    def _receive(self, timeout: float) -> None:
        """Read the exit message if it came within ``timeout``; a server gone silent counts by /proc."""
        with self._lock:
            if self.returncode is not None:
                return
            if self._lost:
                if not _running(self.pid):
                    self.returncode = -signal.SIGKILL  # its real status went with the server
                else:
                    time.sleep(timeout)
                return
            message = self._message(timeout)
            if message is not None and "exit" in message:
                self.returncode = int(message["exit"])
                self._connection.close()

    def _message(self, timeout: float) -> dict | None:
        """The next JSON line, or None if none came within ``timeout``."""
        while b"\n" not in self._buffer:
            if self._lost or not select.select([self._connection], [], [], timeout)[0]:
                return None
            data = self._connection.recv(4096)
            if not data:
                self._lost = True
                self._connection.close()
                return None
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class ForkServer:
    """One fork server: the container environment's interpreter with the program's imports done, serving
    jobs of that program with one environment. Killed with the session (it is one of its process groups)."""

    def __init__(self, group: ProcessGroup, socket_path: Path, log_path: Path):
        self.group = group
        self.socket_path = socket_path
        self.log_path = log_path

    @classmethod
    def start(
        cls,
        owner: ProcessGroups,
        argv: list[str],
        env: dict[str, str],
        folder: Path,
        progress=lambda line: None,
        wanted=lambda: True,
        view: InView | None = None,
    ) -> "ForkServer | None":
        """Start one (in a view like the job's, with ``view``) and wait until it serves; None (and nothing left
        running, and ``progress`` told why) if it does not, or if it is no longer ``wanted`` (the session closed)."""
        program = argv[1]
        imports = program_imports(view.program_file if view and view.program_file else Path(program))
        socket_path, log_path = folder / "sockets" / "zygote.sock", folder / "zygote.log"
        socket_path.parent.mkdir()
        if view is None:
            command = [argv[0], str(ZYGOTE), str(socket_path), program, *imports]
        else:
            command = view.wrap([program, *imports], socket_path.parent, marked(env))
        group = owner.start(command, env, log_path, SERVER_GRACE_SECONDS)
        server = cls(group, socket_path, log_path)
        if server._wait_until_ready(wanted) and wanted():
            return server
        owner.kill(group)
        if wanted():
            progress(f"{program}: jobs start fresh ({server.last_words()})")
        return None

    def last_words(self) -> str:
        """Why the server did not start: the last line it logged."""
        lines = self.log_path.read_text(errors="replace").strip().splitlines() if self.log_path.exists() else []
        return lines[-1].removeprefix("zygote: ") if lines else "the fork server did not start"

    def _wait_until_ready(self, wanted) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.group.poll() is None and wanted():
            if self.socket_path.exists():
                return True
            time.sleep(0.01)
        return False

    def launch(self, argv: list[str], env: dict[str, str], log_path: Path, **placed: str) -> WarmProcess:
        """Fork one job, its output appended to ``log_path`` (``placed``: its ``cwd``, and its ``opt_ml`` in a view);
        raises OSError if the server cannot (the caller starts it fresh instead)."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_PASSCRED"):  # the child's pid comes with its credentials
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            connection.connect(str(self.socket_path))
            request = {"argv": argv, "env": env, "cwd": os.getcwd(), **placed}
            with open(log_path, "ab") as log:
                socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [log.fileno()])
        except OSError:
            connection.close()
            raise
        return WarmProcess(connection, argv)


class WarmStarts:
    """One session's fork servers, one per (interpreter, program, environment), started on first use (or
    ahead of it: ``sagemaker_training.warm_up``) by one thread while any other that needs it waits."""

    def __init__(self, owner: ProcessGroups, progress=lambda line: None):
        self.owner = owner
        self.progress = progress  # one line when a program's jobs cannot start warm
        self._servers: dict[tuple, Future] = {}  # each resolves to its ForkServer, or None: jobs start fresh
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._closed = False

    def launcher(self, argv: list[str], env: dict[str, str], python: Path, view: InView | None = None):
        """A launcher for ``ProcessGroup`` that forks the job from a warm server, or None when it cannot be
        served warm: it must be a program run by its container environment's interpreter ``python`` (``argv``
        directly; ``view.program`` in a view, where ``argv`` runs bubblewrap)."""
        program = view.program if view else argv
        program_file = view.program_file if view else Path(program[1]) if len(program) > 1 else None
        if not warm_start_enabled() or len(program) < 2 or program[0] != str(python):
            return None
        if program_file is None or not program_file.is_file():
            return None
        server = self._server(program, server_environment(env), view)
        if server is None or (view is not None and view.opt_ml is None):
            return None
        placed = {"cwd": view.cwd, "opt_ml": view.opt_ml} if view else {}

        def launch(argv: list[str], env: dict[str, str], log_path: Path):
            try:
                return server.launch(program, env, log_path, **placed)
            except OSError:  # the server died since: this job (and the next) start fresh
                self._forget(server)
                return start_process(argv, env, log_path)

        return launch

    def _server(self, argv: list[str], env: dict[str, str], view: InView | None = None) -> ForkServer | None:
        key = (argv[0], argv[1], tuple(sorted(env.items())), view.key if view else ())
        with self._lock:
            if self._closed:
                return None
            starting = key not in self._servers
            if starting:
                self._servers[key] = Future()
                if self._folder is None:
                    self._folder = Path(tempfile.mkdtemp(prefix="mlops-warm-"))
                folder = Path(tempfile.mkdtemp(dir=self._folder))
            future = self._servers[key]
        if starting:
            server = None
            try:
                server = ForkServer.start(self.owner, argv, env, folder, self.progress, self._open, view)
            finally:
                with self._lock:  # whichever comes first, the close or this, stops the server
                    future.set_result(server)
                    closed = self._closed
            if closed and server is not None:
                self.owner.kill(server.group)
                return None
        return future.result()

    def _open(self) -> bool:
        return not self._closed

    def _forget(self, server: ForkServer) -> None:
        with self._lock:
            for key, known in self._servers.items():
                if known.done() and known.result() is server:
                    self._servers[key] = _settled(None)

    def close(self) -> None:
        """Stop every server (their jobs are process groups of their own, killed by the session); one still
        starting stops itself."""
        with self._lock:
            self._closed = True
            futures, self._servers = list(self._servers.values()), {}
            folder, self._folder = self._folder, None
        for server in [f.result() for f in futures if f.done()]:
            if server is not None:
                self.owner.kill(server.group)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _settled(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future
