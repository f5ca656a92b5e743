"""Jobs run as subprocesses that die with their state: a state timeout or StopExecution kills them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from mlops_pipeline.local.sessions import SESSION_ENV
from mlops_pipeline.local.tasks import TaskControl, TaskStopped

POLL_SECONDS = 0.1


def marked(env: dict[str, str]) -> dict[str, str]:
    """A job's environment with its session's mark (``sessions.SESSION_ENV``), so that a later session
    can find and kill it if this one dies without stopping it."""
    session = os.environ.get(SESSION_ENV)
    return {**env, SESSION_ENV: session} if session else env


def run_job(argv: list[str], env: dict[str, str], log_path: Path, control: TaskControl, on_start=None) -> int:
    """Run to completion with output appended to ``log_path``; kill the process group if the state ends."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, env=marked(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    if on_start is not None:
        on_start(process.pid)
    while True:
        try:
            return process.wait(timeout=POLL_SECONDS)  # returns the moment the job exits
        except subprocess.TimeoutExpired:
            pass
        if not control.running():
            kill_group(process)
            raise TaskStopped(f"the state timed out or the execution was stopped; killed pid {process.pid}")


def kill_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the job and its children, SIGKILL after ``grace`` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
