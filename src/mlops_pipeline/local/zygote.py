"""A fork server: start Python training programs from a process that has already imported their libraries.

    python zygote.py [--jobs FOLDER] SOCKET PROGRAM [MODULE ...]

Run with a container environment's interpreter and the environment a job of that container would get (the
variables native libraries read once, such as ``OMP_NUM_THREADS``, cannot change after a fork). It imports
each MODULE (one that fails is skipped: the program imports it again itself and fails as it would have),
refuses to serve if an import left a thread running (forking then is unsafe), then listens on SOCKET.

Each connection is one job: a JSON line ``{"argv", "env", "cwd"}`` where ``argv`` is ``[python, PROGRAM,
args...]``, sent with the file descriptor of the job's log. The server forks a child that starts a session of
its own (so one signal to its group reaches it and what it starts), answers ``{"pid": N}`` itself (the runtime
takes the pid from the message's credentials, which the kernel gives as the runtime sees it, also from inside a
PID namespace), writes stdout and stderr to the log, reads stdin from ``/dev/null``, takes ``env`` as its whole
environment and runs PROGRAM as ``__main__``. The server answers ``{"exit": status}`` when it reaps the child (a
negative signal number when it was killed, as ``subprocess`` reports it). Standard library only,
single-threaded: it forks.

With ``--jobs`` the server runs in a bubblewrap view (``containers/sandbox.py``) that shows every job's folder
under FOLDER, and a request also names ``opt_ml``, the job's folder there: the child makes it its ``/opt/ml`` in a
mount namespace of its own, mounts an empty ``/tmp``, ``/var/tmp`` and ``/root`` of its own (as each fresh view has),
unmounts FOLDER and the socket's folder there, and drops every capability (the server keeps ``CAP_SYS_ADMIN`` for
this alone). The server checks that it can before it serves.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import json
import os
import re
import runpy
import selectors
import signal
import socket
import sys
import threading
import traceback

REAP_SECONDS = 1.0  # a child's exit wakes the server at once (SIGCHLD); this only bounds a missed wake-up
REFUSED_THREADS = 3  # the exit status when an import left a thread running
REFUSED_VIEW = 4  # the exit status when a child could not be given its own /opt/ml
OPT_ML = "/opt/ml"
# <sched.h>, <sys/mount.h>, <sys/prctl.h>, <linux/capability.h>
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x2000, 0x4000, 0x40000
#: What each job has of its own besides /opt/ml, as a fresh view gives it (``sandbox.py``): folder, mode.
PRIVATE_FOLDERS = (("/tmp", "1777"), ("/var/tmp", "1777"), ("/root", "755"))
STASH = "/run/mlops/stash"  # where the mounts beneath a private folder wait while it is replaced
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522


def preimport(modules: list[str]) -> None:
    """Import what the program will import, so that a forked child finds it loaded."""
    for name in modules:
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - anything a module raises only means it is not pre-imported
            pass


def main(argv: list[str]) -> int:
    jobs = None
    if argv[0] == "--jobs":
        jobs, argv = argv[1], argv[2:]
    path, program, modules = argv[0], argv[1], argv[2:]
    hidden = [jobs, os.path.dirname(path)] if jobs else []
    if jobs and not can_give_own_view(jobs, hidden):
        os._exit(REFUSED_VIEW)
    sys.path[0] = os.path.dirname(os.path.abspath(program))  # as `python PROGRAM` sets it
    preimport(modules)
    if threading.active_count() > 1:
        print(f"zygote: an import left {threading.active_count() - 1} thread(s) running; not forking", flush=True)
        os._exit(REFUSED_THREADS)  # without waiting for those threads
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the socket appears only once the server is ready
    listener.listen(64)
    serve(listener, program, hidden)
    return 0


def can_give_own_view(jobs: str, hidden: list[str]) -> bool:
    """Whether a child can take a folder under ``jobs`` as its own /opt/ml (tried in a child that then exits)."""
    pid = os.fork()
    if pid == 0:
        try:
            own_view(jobs, hidden)
        except OSError as error:
            print(f"zygote: a job cannot be given its own {OPT_ML} here ({error.strerror})", flush=True)
            os._exit(1)
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def own_view(opt_ml: str, hidden: list[str]) -> None:
    """Make ``opt_ml`` this process's /opt/ml in a mount namespace of its own, with empty private folders of its own
    (siblings forked from this server would otherwise share its ``/tmp``), unmount ``hidden`` there, then give up
    every capability (with no_new_privs, nothing it runs later gains one back)."""
    check(libc().unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount(opt_ml, OPT_ML, None, MS_BIND | MS_REC)
    for folder, mode in PRIVATE_FOLDERS:
        private_folder(folder, mode)
    for path in hidden:
        check(libc().umount2(path.encode(), MNT_DETACH), f"umount {path}")
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    check(libc().capset(header, (ctypes.c_uint32 * 6)()), "capset")  # effective, permitted, inheritable: none
    check(libc().prctl(PR_SET_NO_NEW_PRIVS, *(ctypes.c_ulong(n) for n in (1, 0, 0, 0))), "prctl(PR_SET_NO_NEW_PRIVS)")


def private_folder(folder: str, mode: str) -> None:
    """An empty tmpfs on ``folder``, with the mounts that were beneath it (the environment's read-only binds, when
    it lives under /tmp or the home folder) moved onto it at the same places."""
    beneath = outermost([point for point in mount_points() if point.startswith(folder + "/")])
    for index, point in enumerate(beneath):
        mount(point, make_like(point, f"{STASH}/{index}"), None, MS_MOVE)
    mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode}")
    for index, point in enumerate(beneath):
        mount(f"{STASH}/{index}", make_like(f"{STASH}/{index}", point), None, MS_MOVE)


def mount_points() -> list[str]:
    """This process's mount points (``/proc/self/mountinfo``'s fifth field, its octal escapes decoded)."""
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point) for point in points]


def outermost(points: list[str]) -> list[str]:
    """The points not beneath another one of them (moving a mount takes what is mounted beneath it along)."""
    kept: list[str] = []
    for point in sorted(set(points), key=len):
        if not any(point.startswith(outer + "/") for outer in kept):
            kept.append(point)
    return kept


def make_like(source: str, target: str) -> str:
    """A folder, or an empty file, at ``target`` for ``source``'s mount to be moved onto."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    return target


def mount(source: str, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    encoded = [None if value is None else value.encode() for value in (source, target, kind, data)]
    check(libc().mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]), f"mount {target}")


@functools.cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def serve(listener: socket.socket, program: str, hidden: list[str]) -> None:
    """Accept jobs, fork them, and tell each client the moment its child exits."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    exited, wake_up = child_exits()
    selector.register(exited, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    pending: dict[socket.socket, tuple[bytes, list[int]]] = {}
    while True:
        for key, _ in selector.select(REAP_SECONDS):
            if key.fileobj is exited:
                exited.recv(4096)  # what woke the server; the children are reaped below
                continue
            if key.fileobj is listener:
                connection, _ = listener.accept()
                pending[connection] = (b"", [])
                selector.register(connection, selectors.EVENT_READ)
                continue
            connection = key.fileobj
            try:
                data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 1)
            except OSError:
                data, fds = b"", []
            request, logs = pending[connection]
            request, logs = request + data, logs + fds
            pending[connection] = (request, logs)
            if data and b"\n" not in request:
                continue
            selector.unregister(connection)
            del pending[connection]
            if b"\n" not in request or len(logs) != 1:
                for fd in logs:
                    os.close(fd)
                connection.close()
                continue
            others = [selector, listener, exited, wake_up, *pending, *children.values()]
            pid = fork_job(json.loads(request.split(b"\n", 1)[0]), program, connection, logs[0], hidden, others)
            os.close(logs[0])
            children[pid] = connection
        reap(children)


def child_exits() -> tuple[socket.socket, socket.socket]:
    """A pair of sockets whose first becomes readable when a child exits: SIGCHLD's handler does nothing, but Python
    writes to the second, the wake-up socket, as the signal arrives (a forked child lets go of both first thing)."""
    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    return reader, writer


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


def fork_job(
    request: dict, program: str, connection: socket.socket, log: int, hidden: list[str], inherited: list
) -> int:
    """Fork one job; the child never returns here."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        signal.set_wakeup_fd(-1)  # before the wake-up socket closes below: a signal must not write to its number
        for handle in inherited:  # the server's sockets are not the job's
            handle.close()
        os.setsid()
        send(connection, {"pid": os.getpid()})
        connection.close()
        status = run_child(request, program, log, hidden)
    finally:
        os._exit(status)


def run_child(request: dict, program: str, log: int, hidden: list[str]) -> int:
    """Become the job: its log as stdout and stderr, its own /opt/ml (in a view), its environment, its program."""
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    if hidden:
        try:
            own_view(request["opt_ml"], hidden)
        except (OSError, KeyError) as error:
            print(f"zygote: the job could not be given its own {OPT_ML} ({error})", file=sys.stderr, flush=True)
            return 1
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
