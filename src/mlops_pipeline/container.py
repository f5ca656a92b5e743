"""Run a bring-your-own-model container's programs without Docker.

The programs in ``containers/<name>/program/`` are started as subprocesses with the SageMaker
environment they expect, which is how the local runtime, the tests and the benchmarks run them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from mlops_pipeline.errors import PipelineError


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def training_environment(root: Path, channels: dict[str, Path]) -> dict[str, str]:
    """The sagemaker-training-toolkit variables for an ``/opt/ml``-like tree under ``root``."""
    env = dict(os.environ)
    env.update(
        SM_MODEL_DIR=str(root / "model"),
        SM_INPUT_CONFIG_DIR=str(root / "input" / "config"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
    )
    for name, path in channels.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(path)
    return env


def run_training(
    program_dir: Path,
    root: Path,
    hyperparameters: dict[str, str],
    channels: dict[str, Path],
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run ``train`` once: hyperparameters written as SageMaker does (all strings), output captured."""
    config_dir = root / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    return subprocess.run(
        [sys.executable, str(program_dir / "train")],
        env=training_environment(root, channels),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class InferenceServer:
    """A running ``serve`` program; stop() ends it and every worker it started."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> "InferenceServer":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_server(
    program_dir: Path,
    model_dir: Path,
    log_path: Path,
    *,
    workers: int = 2,
    max_payload_mb: int = 6,
    ready_timeout: float = 60.0,
    extra_env: dict | None = None,
) -> InferenceServer:
    """Start ``serve`` on a free localhost port and wait until ``/ping`` answers 200."""
    port = free_port()
    env = dict(
        os.environ,
        SM_MODEL_DIR=str(model_dir),
        SAGEMAKER_BIND_TO_PORT=str(port),
        SERVE_HOST="127.0.0.1",
        MODEL_SERVER_WORKERS=str(workers),
        SAGEMAKER_MAX_PAYLOAD_IN_MB=str(max_payload_mb),
        **(extra_env or {}),
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(program_dir / "serve")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = InferenceServer(process, f"http://127.0.0.1:{port}", log_path)
    _wait_for_ping(server, ready_timeout)
    return server


def _wait_for_ping(server: InferenceServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PipelineError(
                f"the inference server exited with status {server.process.returncode}; see {server.log_path}"
            )
        try:
            if requests.get(f"{server.url}/ping", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise PipelineError(f"the inference server did not answer /ping within {timeout:.0f} s; see {server.log_path}")
