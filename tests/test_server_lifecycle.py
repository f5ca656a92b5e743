"""A model server dies with its owner, whole (serve, nginx, gunicorn and its workers): when its wrapper is killed,
when the session closes, and when the session's own process is killed. Checked by pid, in both job views."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_containers import needs_namespaces

from conftest import IMAGE, REPO, call
from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.sandbox import choose_isolation
from mlops_pipeline.local.processes import group_members
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import Workspace

MODES = ["direct", "namespaces"]


def containers_in(mode: str) -> Containers:
    if mode == "namespaces":
        needs_namespaces()
    return Containers(REPO / "containers", isolation=choose_isolation(mode))


@pytest.fixture
def opt_ml(trained_model, tmp_path):
    shutil.copytree(trained_model, tmp_path / "opt_ml" / "model")
    return tmp_path / "opt_ml"


def serve_program(group: int) -> int:
    """The pid of the ``serve`` program among the group's processes (in the job view or not)."""
    for pid in group_members(group):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if len(argv) > 1 and argv[1].endswith(b"/serve"):
            return pid
    raise AssertionError(f"no serve program in group {group}")


def emptied(group: int, seconds: float) -> list[int]:
    """The group's processes still running after waiting up to ``seconds`` for none to be left."""
    deadline = time.monotonic() + seconds
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    return group_members(group)


def answers(endpoint) -> bool:
    try:
        return call(endpoint, "GET", "/ping", timeout=2).status_code == 200
    except OSError:
        return False


@pytest.mark.parametrize("mode", MODES)
def test_killing_the_serve_wrapper_kills_nginx_and_gunicorn_too(mode, opt_ml, tmp_path):
    containers = containers_in(mode)
    server = containers.start_server(IMAGE, opt_ml, tmp_path / "serve.log", {"MODEL_SERVER_WORKERS": "2"})
    group = server.process.pid
    assert len(group_members(group)) >= 4 and answers(server.endpoint)  # serve, nginx, gunicorn and its workers
    os.kill(serve_program(group), signal.SIGKILL)
    assert emptied(group, 5) == [] and not answers(server.endpoint)
    deadline = time.monotonic() + 5
    while containers.processes.pids() and time.monotonic() < deadline:  # the server's watcher forgets the group
        time.sleep(0.05)
    assert containers.processes.pids() == []
    server.stop()  # nothing left to stop: still fine


@pytest.mark.parametrize("mode", MODES)
def test_closing_the_session_kills_a_server_left_running(mode, opt_ml, tmp_path):
    if mode == "namespaces":
        needs_namespaces()
    services = LocalServices(
        Workspace.resolve(tmp_path / "ws"), REPO / "containers", tmp_path / "logs", isolation=choose_isolation(mode)
    )
    server = services.containers.start_server(IMAGE, opt_ml, tmp_path / "serve.log")
    group = server.process.pid
    assert answers(server.endpoint) and services.processes.pids() == [group]
    services.close()
    assert emptied(group, 1) == [] and services.processes.pids() == []


OWNER = """
import sys, time
from pathlib import Path
from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.sandbox import choose_isolation
containers = Containers(Path(sys.argv[1]), isolation=choose_isolation(sys.argv[2]))
server = containers.start_server(sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
print(server.process.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_server_dies_with_the_session_process_killed_9(mode, opt_ml, tmp_path):
    if mode == "namespaces":
        needs_namespaces()
    arguments = [str(REPO / "containers"), mode, IMAGE, str(opt_ml), str(tmp_path / "serve.log")]
    owner = subprocess.Popen([sys.executable, "-c", OWNER, *arguments], stdout=subprocess.PIPE, text=True)
    try:
        group = int(owner.stdout.readline())  # type: ignore[union-attr]
        assert len(group_members(group)) >= 4
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert emptied(group, 5) == []
