"""A fork server: start Python training programs from a process that has already imported their libraries.

    python zygote.py SOCKET PROGRAM [MODULE ...]

Run with a container environment's interpreter and the environment a job of that container would get (the
variables native libraries read once, such as ``OMP_NUM_THREADS``, cannot change after a fork). It imports
each MODULE (one that fails is skipped: the program imports it again itself and fails as it would have),
refuses to serve if an import left a thread running (forking then is unsafe), then listens on SOCKET.

Each connection is one job: a JSON line ``{"argv", "env", "cwd", "log"}`` where ``argv`` is
``[python, PROGRAM, args...]``. The server forks a child that starts a session of its own (so one signal to
its group reaches it and what it starts), writes stdout and stderr to ``log`` (appended), reads stdin from
``/dev/null``, takes ``env`` as its whole environment and runs PROGRAM as ``__main__``. The server answers
``{"pid": N}`` at once and ``{"exit": status}`` when it reaps the child (a negative signal number when it
was killed, as ``subprocess`` reports it). Standard library only, single-threaded: it forks.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import traceback

REAP_SECONDS = 0.02
REFUSED_THREADS = 3  # the exit status when an import left a thread running


def preimport(modules: list[str]) -> None:
    """Import what the program will import, so that a forked child finds it loaded."""
    for name in modules:
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - anything a module raises only means it is not pre-imported
            pass


def main(argv: list[str]) -> int:
    path, program, modules = argv[0], argv[1], argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(program))  # as `python PROGRAM` sets it
    preimport(modules)
    if threading.active_count() > 1:
        print(f"zygote: an import left {threading.active_count() - 1} thread(s) running; not forking", flush=True)
        os._exit(REFUSED_THREADS)  # without waiting for those threads
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the socket appears only once the server is ready
    listener.listen(64)
    serve(listener, program)
    return 0


def serve(listener: socket.socket, program: str) -> None:
    """Accept jobs, fork them, and tell each client when its child exits."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    pending: dict[socket.socket, bytes] = {}
    while True:
        for key, _ in selector.select(REAP_SECONDS):
            if key.fileobj is listener:
                connection, _ = listener.accept()
                pending[connection] = b""
                selector.register(connection, selectors.EVENT_READ)
                continue
            connection = key.fileobj
            data = connection.recv(1 << 20)
            pending[connection] += data
            if data and b"\n" not in pending[connection]:
                continue
            selector.unregister(connection)
            request = pending.pop(connection)
            if not data and b"\n" not in request:
                connection.close()
                continue
            others = [selector, listener, connection, *pending, *children.values()]
            pid = fork_job(json.loads(request.split(b"\n", 1)[0]), program, others)
            children[pid] = connection
            send(connection, {"pid": pid})
        reap(children)


def reap(children: dict[int, socket.socket]) -> None:
    """Collect exited children and report each one's status to its client."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            send(connection, {"exit": os.waitstatus_to_exitcode(status)})
            connection.close()


def send(connection: socket.socket, message: dict) -> None:
    try:
        connection.sendall(json.dumps(message).encode() + b"\n")
    except OSError:  # the client is gone; its job is still killed through its process group
        pass


def fork_job(request: dict, program: str, inherited: list) -> int:
    """Fork one job; the child never returns here."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        for handle in inherited:  # the server's sockets are not the job's
            handle.close()
        status = run_child(request, program)
    finally:
        os._exit(status)


def run_child(request: dict, program: str) -> int:
    """Become the job: a session of its own, its log as stdout and stderr, its environment, its program."""
    os.setsid()
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    reseed()
    sys.argv = list(request["argv"][1:])
    return run_program(program)


def reseed() -> None:
    """A fresh process seeds numpy's global generator itself; a forked one would repeat its siblings'."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def run_program(program: str) -> int:
    """Run the program as ``python PROGRAM`` would and return its exit status."""
    try:
        runpy.run_path(program, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = exit_status(stop.code)
    except BaseException:  # noqa: BLE001 - as the interpreter does: the traceback, then status 1
        traceback.print_exc()
        status = 1
    return finish(status)


def exit_status(code: object) -> int:
    """``sys.exit(code)`` as the interpreter maps it: None is 0, an int is itself, anything else is printed."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def finish(status: int) -> int:
    """What the interpreter does at exit: wait for non-daemon threads, run atexit functions, flush."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
