"""Bring-your-own containers, run as SageMaker runs them, without a container engine.

``Containers`` is one session's view of the ``containers/`` folder: it reads each image's folder once
(``image.py``), builds its Python environment once (``environments.py``) and runs its ``train`` and
``serve`` programs in a job view (``sandbox.py``): isolated with namespaces where the machine allows it,
directly otherwise. Every job and server it starts is a process group that dies with its owner
(``processes.py``); :meth:`Containers.close` kills those still running when the session ends.
"""

from __future__ import annotations

import functools
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.containers.environments import EnvironmentCache, PythonEnvironment
from mlops_pipeline.local.containers.http import Endpoint, request
from mlops_pipeline.local.containers.image import ContainerImage
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, JobView, choose_isolation
from mlops_pipeline.local.containers.warm import WarmServers
from mlops_pipeline.local.fork_servers import InView, WarmStarts
from mlops_pipeline.local.processes import ProcessGroup, ProcessGroups
from mlops_pipeline.local.tasks import TaskStopped

PING_TIMEOUT_SECONDS = 2.0  # SageMaker's timeout for one /ping
STOP_GRACE_SECONDS = 30.0  # SageMaker stops a serving container with SIGTERM, then SIGKILL 30 s later


def repository_of(image_uri: str) -> str:
    """``<registry>/byo-xgboost:1.0`` -> ``byo-xgboost``."""
    return image_uri.rsplit("/", 1)[-1].split("@")[0].split(":")[0]


@dataclass
class Containers:
    """One session's containers: images read once, environments built once, jobs run in their views."""

    folder: Path
    isolation: IsolationChoice = field(default_factory=choose_isolation)
    cache: EnvironmentCache = field(default_factory=EnvironmentCache)
    progress: Callable[[str], None] = field(default=lambda line: None)
    processes: ProcessGroups = field(default_factory=ProcessGroups)
    servers: WarmServers = field(default_factory=WarmServers)  # idle model servers, reused (warm.py)
    warm_starts: bool = True  # training jobs forked from a warm server where they can be (also MLOPS_WARM_START)
    jobs: Path | None = None  # the folder of every training job's folder: a fork server's view shows it
    _images: dict[str, tuple[ContainerImage, PythonEnvironment]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _fork_servers: WarmStarts | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)  # no fork server starts after the session's end

    def launcher(self, view: JobView, command: list[str], env: dict[str, str]):
        """How to start a training job's ``command``: forked from its environment's warm fork server
        (``fork_servers.py``), else None (a fresh process). With namespaces the server runs in a view like the
        job's that shows every folder under :attr:`jobs`; a job whose folder is elsewhere starts fresh."""
        if not self.warm_starts or (self.namespaced and self.jobs is None):
            return None
        with self._lock:
            if self._closed:
                return None
            if self._fork_servers is None:
                self._fork_servers = WarmStarts(self.processes, self.progress)
            fork_servers = self._fork_servers
        return fork_servers.launcher(command, env, view.environment.python, self._in_view(view))

    def _in_view(self, view: JobView) -> InView | None:
        """With namespaces: the job as its fork server's view shows it."""
        if not self.namespaced or self.jobs is None:
            return None
        program, program_file = view.program("train")
        return InView(
            program=program,
            program_file=program_file,
            wrap=functools.partial(_fork_server_command, view, self.jobs),
            opt_ml=view.opt_ml_in_fork_server(self.jobs),
            cwd=view.image.workdir,
            key=(view.image.folder, view.environment.root, view.private_network, self.jobs),
        )

    def prepare(self, image_uri: str) -> tuple[ContainerImage, PythonEnvironment]:
        """The image behind an image URI and its environment (built the first time)."""
        repository = repository_of(image_uri)
        with self._lock:
            if repository not in self._images:
                image = ContainerImage.load(self._folder_of(image_uri, repository))
                for package in image.missing_system_packages():
                    self.progress(
                        f"{image.name}: its Dockerfile installs {package} with apt, which this machine "
                        f"lacks; install it here if the container's programs need it"
                    )
                self._images[repository] = (image, self.cache.prepare(image, self.progress))
            return self._images[repository]

    def _folder_of(self, image_uri: str, repository: str) -> Path:
        folder = self.folder / repository
        if folder.is_dir():
            return folder
        known = sorted(p.name for p in self.folder.iterdir() if p.is_dir()) if self.folder.is_dir() else []
        raise PipelineError(
            f"image {image_uri}: no local container {folder} "
            f"(containers in {self.folder}: {', '.join(known) or 'none'})"
        )

    def view(
        self,
        image_uri: str,
        opt_ml: Path,
        env: dict[str, str] | None = None,
        server: bool = False,
        isolated: bool = False,
    ) -> JobView:
        """A job's view of the machine; a server, or a job with ``EnableNetworkIsolation``, has a network of
        its own (no way out)."""
        image, environment = self.prepare(image_uri)
        bridge = Path(tempfile.mkdtemp(prefix="mlops-")) if server and self.namespaced else None
        return JobView(image, environment, opt_ml, dict(env or {}), private_network=server or isolated, bridge=bridge)

    @property
    def namespaced(self) -> bool:
        return self.isolation.mode is Isolation.NAMESPACES

    def start_server(
        self,
        image_uri: str,
        opt_ml: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        ready_timeout: float = 60.0,
        running: Callable[[], bool] = lambda: True,
    ) -> "InferenceServer":
        """``serve`` with the model in ``<opt_ml>/model``; returns once ``/ping`` answers 200. Should ``running``
        turn false first (the state ended), the server is stopped and :class:`TaskStopped` raised."""
        view = self.view(image_uri, opt_ml, env, server=True)
        env = dict(view.env)
        if self.namespaced:
            endpoint = Endpoint(socket_path=str(view.bridge / "http.sock"))
        else:  # the program must honour these to run directly
            endpoint = Endpoint(port=free_port())
            env.update(
                SM_MODEL_DIR=str(opt_ml / "model"), SAGEMAKER_BIND_TO_PORT=str(endpoint.port), SERVE_HOST="127.0.0.1"
            )
        view.env = env
        command, variables = view.command("serve", self.isolation.mode), view.environment_variables(self.isolation.mode)
        group = self.processes.start(command, variables, log_path, STOP_GRACE_SECONDS)
        server = InferenceServer(group, endpoint, log_path, view.bridge, self.processes)
        server.wait_until_ready(ready_timeout, running)
        return server

    def close(self) -> None:
        """The session ends: idle model servers are stopped (their folders removed), fork servers closed, and
        every job and server still running is killed with its whole process group."""
        self.servers.close()
        with self._lock:
            fork_servers, self._fork_servers, self._closed = self._fork_servers, None, True
        if fork_servers is not None:
            fork_servers.close()
        self.processes.close()


def _fork_server_command(
    view: JobView, jobs: Path, arguments: list[str], sockets: Path, env: dict[str, str]
) -> list[str]:
    jobs.mkdir(parents=True, exist_ok=True)  # the server's view shows it; each job's folder is made in it later
    return view.fork_server_command(arguments, sockets, env, jobs)


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class InferenceServer:
    """A running ``serve`` program; stop() ends it and every process it started. Should the program exit on
    its own (or be killed), what it started is killed at once rather than left answering."""

    group: ProcessGroup
    endpoint: Endpoint
    log_path: Path
    bridge: Path | None = None
    owner: ProcessGroups | None = None
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        threading.Thread(target=self._watch, name=f"serve-{self.group.pid}", daemon=True).start()

    @property
    def process(self):
        return self.group.process

    def _watch(self) -> None:
        """The program at the head of the group exited: kill the rest of its group."""
        self.group.wait()
        if not self._stopping.is_set():
            self._kill()

    def _kill(self) -> None:
        if self.owner is not None:
            self.owner.kill(self.group)
        else:
            self.group.kill()

    def wait_until_ready(self, timeout: float, running: Callable[[], bool] = lambda: True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not running():
                self.stop()
                raise TaskStopped(f"the state ended while the inference server started; killed pid {self.group.pid}")
            if self.process.poll() is not None:
                self.stop()
                raise PipelineError(
                    f"the inference server exited with status {self.process.returncode}; see {self.log_path}"
                )
            try:
                if request(self.endpoint, "GET", "/ping", timeout=PING_TIMEOUT_SECONDS)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise PipelineError(f"the inference server did not answer /ping within {timeout:.0f} s; see {self.log_path}")

    def answers(self) -> bool:
        """Whether the program still runs and answers ``/ping`` with 200."""
        if self.process.poll() is not None:
            return False
        try:
            return request(self.endpoint, "GET", "/ping", timeout=PING_TIMEOUT_SECONDS)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL 30 s later, as SageMaker stops a serving container; whether
        or not the program itself is still running."""
        self._stopping.set()
        self._kill()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.bridge is not None:
            shutil.rmtree(self.bridge, ignore_errors=True)

    def __enter__(self) -> "InferenceServer":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
