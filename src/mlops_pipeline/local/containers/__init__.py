"""Bring-your-own containers, run as SageMaker runs them, without a container engine.

``Containers`` is one session's view of the ``containers/`` folder: it reads each image's folder once
(``image.py``), builds its Python environment once (``environments.py``) and runs its ``train`` and
``serve`` programs in a job view (``sandbox.py``): isolated with namespaces where the machine allows it,
directly otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
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
from mlops_pipeline.local.processes import marked

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
    _images: dict[str, tuple[ContainerImage, PythonEnvironment]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
    ) -> "InferenceServer":
        """``serve`` with the model in ``<opt_ml>/model``; returns once ``/ping`` answers 200."""
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
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                view.command("serve", self.isolation.mode),
                env=marked(view.environment_variables(self.isolation.mode)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = InferenceServer(process, endpoint, log_path, view.bridge)
        server.wait_until_ready(ready_timeout)
        return server


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class InferenceServer:
    """A running ``serve`` program; stop() ends it and every process it started."""

    process: subprocess.Popen
    endpoint: Endpoint
    log_path: Path
    bridge: Path | None = None

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._cleanup()
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

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self.bridge is not None:
            shutil.rmtree(self.bridge, ignore_errors=True)

    def __enter__(self) -> "InferenceServer":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
