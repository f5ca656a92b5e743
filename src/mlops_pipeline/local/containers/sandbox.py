"""Each job's own view of the machine, the way SageMaker presents a container, without a container engine.

With Linux namespaces (bubblewrap), a job sees ``/opt/ml`` (its own folder), the image's programs where
its Dockerfile copies them, a private ``/tmp``, ``/var/log`` and ``/var/lib``, the host's system folders
read-only (where the image's apt packages, such as nginx, come from) and its Python environment; nothing
else of the host. A server also gets a private network in which it owns port 8080; the runtime reaches
it through a unix socket the bridge (``bridge.py``, run inside the view) relays to ``127.0.0.1:8080``.
Every process of a view dies with it (``--unshare-pid``); a job's view also dies with the thread that started it
(``--die-with-parent``, which follows the *thread*), while a server's and a fork server's, which outlive the Task
that started them, end with their process group (the session's close, or its watchdog). A training job forked warm
(``fork_servers.py``) runs in its fork server's view instead, which is the same but for ``/opt/ml``: the job makes
its own folder its ``/opt/ml``, with an empty ``/tmp``, ``/var/tmp`` and home of its own, as it starts, and shares the
server's PID namespace (and private network, if any) with the server's other jobs.

Where namespaces are unavailable (no bubblewrap, macOS, a kernel that refuses them) jobs run directly,
as before: the same programs and environment, with the ``SM_*`` variables naming host folders instead of
``/opt/ml`` — a program with hard-coded ``/opt/ml`` paths cannot run that way.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.containers.environments import PythonEnvironment
from mlops_pipeline.local.containers.image import ContainerImage
from mlops_pipeline.local.fork_servers import ZYGOTE

ISOLATION_ENV = "MLOPS_ISOLATION"
OPT_ML = "/opt/ml"
BRIDGE_DIR = "/run/mlops"
BRIDGE_SCRIPT = Path(__file__).with_name("bridge.py")
ZYGOTE_IN_VIEW = "/run/mlops-zygote.py"
JOBS_IN_VIEW = f"{BRIDGE_DIR}/jobs"  # every job's folder, in a fork server's view
SOCKETS_IN_VIEW = f"{BRIDGE_DIR}/fork-server"  # the fork server's socket folder, in its view
SERVING_PORT = 8080
_SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


class Isolation(enum.Enum):
    NAMESPACES = "namespaces"
    DIRECT = "direct"


@dataclass(frozen=True)
class IsolationChoice:
    mode: Isolation
    reason: str  # why direct mode, for the one line that says so


def choose_isolation(requested: str | None = None) -> IsolationChoice:
    """``auto`` (default): namespaces where bubblewrap works, else direct; ``namespaces`` insists."""
    requested = (requested or os.environ.get(ISOLATION_ENV) or "auto").lower()
    if requested not in ("auto", "namespaces", "direct"):
        raise PipelineError(f"isolation {requested!r}: use auto, namespaces or direct")
    if requested == "direct":
        return IsolationChoice(Isolation.DIRECT, "direct mode was asked for")
    problem = _namespaces_problem()
    if problem is None:
        return IsolationChoice(Isolation.NAMESPACES, "")
    if requested == "namespaces":
        raise PipelineError(f"isolated containers are not available here: {problem}")
    return IsolationChoice(Isolation.DIRECT, problem)


def _namespaces_problem() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start ({error})"
    if result.returncode != 0:
        return f"this kernel refuses namespaces to bwrap ({(result.stderr.strip().splitlines() or ['no reason'])[-1]})"
    return None


@dataclass
class JobView:
    """One job's processes: its folder behind ``/opt/ml``, its image, environment and variables."""

    image: ContainerImage
    environment: PythonEnvironment
    opt_ml: Path  # host folder shown as /opt/ml
    env: dict[str, str] = field(default_factory=dict)
    private_network: bool = False
    bridge: Path | None = None  # host folder shown as /run/mlops (servers only)

    def command(self, action: str, isolation: Isolation) -> list[str]:
        """The full command line that runs ``docker run <image> <action>`` for this job."""
        if isolation is Isolation.DIRECT:
            return self._program(action, inside=False)
        program = self._program(action, inside=True)
        inner = self._bridged(program) if self.bridge is not None else program
        variables = self.environment_variables(Isolation.NAMESPACES)
        arguments = self._bwrap_arguments(variables, die_with_parent=self.bridge is None)
        return [shutil.which("bwrap") or "bwrap", *arguments, "--", *inner]

    def program(self, action: str) -> tuple[list[str], Path | None]:
        """The program line as the view shows it (``python /opt/program/train``), and the image file here that its
        first argument names (None when it names none, as with ``python -m``); whether an interpreter runs it is the
        fork servers' check."""
        command = self._program(action, inside=True)
        named = command[1] if len(command) > 1 and command[1].startswith("/") else None
        return command, self.image.host_path(named) if named else None

    def fork_server_command(
        self, zygote_arguments: list[str], sockets: Path, env: dict[str, str], jobs: Path
    ) -> list[str]:
        """A fork server (``zygote.py``) in a view like this job's, with ``env`` as its variables: instead of a job's
        folder at ``/opt/ml`` it sees every job's folder (``jobs``) and its socket folder at fixed paths, and it keeps
        the one capability its children need to take their own folder as ``/opt/ml`` (each drops it then)."""
        arguments = self._bwrap_arguments(env, opt_ml=None, die_with_parent=False)
        arguments += ["--bind", str(jobs), JOBS_IN_VIEW, "--bind", str(sockets), SOCKETS_IN_VIEW]
        arguments += ["--ro-bind", str(ZYGOTE), ZYGOTE_IN_VIEW, "--cap-add", "CAP_SYS_ADMIN"]
        zygote = [
            str(self.environment.python),
            ZYGOTE_IN_VIEW,
            "--jobs",
            JOBS_IN_VIEW,
            f"{SOCKETS_IN_VIEW}/zygote.sock",
        ]
        return [shutil.which("bwrap") or "bwrap", *arguments, "--", *zygote, *zygote_arguments]

    def opt_ml_in_fork_server(self, jobs: Path) -> str | None:
        """This job's folder as its fork server's view shows it; None when it is not under ``jobs``."""
        try:
            return f"{JOBS_IN_VIEW}/{self.opt_ml.resolve().relative_to(jobs.resolve())}"
        except ValueError:
            return None

    def opt_ml_path(self, isolation: Isolation) -> str:
        """Where the job's ``/opt/ml`` is for the program: ``/opt/ml`` in its view, its folder directly."""
        return OPT_ML if isolation is Isolation.NAMESPACES else str(self.opt_ml)

    def environment_variables(self, isolation: Isolation) -> dict[str, str]:
        """Inside the view the process starts from the image's variables only; directly, from the host's."""
        path = f"{self.environment.bin}:{self._path(isolation)}"
        base = {"HOME": "/root", "LANG": "C.UTF-8"} if isolation is Isolation.NAMESPACES else dict(os.environ)
        return {**base, **self.image.env, **self.env, "PATH": path}

    def _path(self, isolation: Isolation) -> str:
        """The image's PATH; directly, the image folders are mapped to the build context and the host's follows."""
        image_path = self.image.env.get("PATH", "").split(":")
        if isolation is Isolation.NAMESPACES:
            return ":".join(image_path)
        mapped = [str(self.image.host_path(d) or d) for d in image_path if d and self.image.host_path(d)]
        return ":".join([*mapped, os.environ.get("PATH", "")])

    def _program(self, action: str, inside: bool) -> list[str]:
        """``train``/``serve`` or the ENTRYPOINT, run by the environment's Python when it is a Python program
        (its shebang may name an interpreter only the image has, e.g. ``python3.6``)."""
        command = self.image.command(action)
        first = command[0]
        if _is_python(first):
            return [str(self.environment.python), *command[1:]]
        image_path, host_file = self.image.resolve(first)
        program = image_path if inside else str(host_file)
        if _has_python_shebang(host_file):
            return [str(self.environment.python), program, *command[1:]]
        return [program, *command[1:]]

    def _bwrap_arguments(
        self, env: dict[str, str], opt_ml: str | None = OPT_ML, die_with_parent: bool = True
    ) -> list[str]:
        """The view: ``env`` as its only variables, the job's folder at ``opt_ml`` (None: an empty ``/opt/ml``), and
        killed when the thread that started it ends (``die_with_parent``: not for servers, see the module's doc)."""
        arguments = [
            *(["--die-with-parent"] if die_with_parent else []),
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            "algo-1",
            "--tmpfs",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/var",
            "--dir",
            "/var/tmp",
            "--dir",
            "/var/log",
            "--dir",
            "/var/lib",
            "--tmpfs",
            "/root",
            "--clearenv",
        ]
        if self.private_network:
            arguments.append("--unshare-net")
        for name in _SYSTEM_DIRS:
            host = Path("/") / name
            if host.is_symlink():
                arguments += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                arguments += ["--ro-bind", str(host), f"/{name}"]
        for package in self.image.system_packages:  # what `apt-get install` would have created
            arguments += ["--dir", f"/var/log/{package}", "--dir", f"/var/lib/{package}"]
        for path in self.environment.mounts():
            arguments += ["--ro-bind", str(path), str(path)]
        arguments += ["--bind", str(self.opt_ml), OPT_ML] if opt_ml else ["--dir", OPT_ML]
        for source, destination in self.image.copies:
            if not destination.startswith("/tmp/"):
                arguments += ["--ro-bind", str(source.resolve()), destination]
        if self.bridge is not None:
            arguments += [
                "--bind",
                str(self.bridge),
                BRIDGE_DIR,
                "--ro-bind",
                str(BRIDGE_SCRIPT),
                f"{BRIDGE_DIR}-bridge.py",
            ]
        for name, value in env.items():
            arguments += ["--setenv", name, value]
        return [*arguments, "--chdir", self.image.workdir]

    def _bridged(self, command: list[str]) -> list[str]:
        """Inside the view, the bridge starts the server command and relays the socket to port 8080."""
        return [
            str(self.environment.python),
            f"{BRIDGE_DIR}-bridge.py",
            f"{BRIDGE_DIR}/http.sock",
            str(SERVING_PORT),
            "--",
            *command,
        ]


def _is_python(command: str) -> bool:
    return Path(command).name.startswith("python")


def _has_python_shebang(path: Path) -> bool:
    with open(path, "rb") as handle:
        first = handle.readline(256)
    return first.startswith(b"#!") and b"python" in first
