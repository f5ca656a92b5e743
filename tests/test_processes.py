"""Jobs are subprocesses that die with their state."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from mlops_pipeline.local.processes import run_job
from mlops_pipeline.local.tasks import TaskControl, TaskStopped


def test_a_job_runs_to_its_exit_status_with_output_in_its_log(tmp_path):
    log = tmp_path / "logs" / "job.log"
    code = run_job(
        [sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
        dict(os.environ),
        log,
        TaskControl(running=lambda: True),
    )
    assert code == 3 and log.read_text().strip() == "hello"


def test_a_job_and_its_children_are_killed_when_the_state_ends(tmp_path):
    running = threading.Event()
    running.set()
    pids = []
    child = "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    script = f"import subprocess, sys, time; {child}; time.sleep(60)"
    timer = threading.Timer(1.0, running.clear)
    timer.start()
    with pytest.raises(TaskStopped, match="killed pid"):
        run_job(
            [sys.executable, "-c", script],
            dict(os.environ),
            tmp_path / "job.log",
            TaskControl(running=running.is_set),
            on_start=pids.append,
        )
    deadline = time.monotonic() + 5
    while live_members(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_members(pids[0]) == []  # neither the job nor its child is left


def live_members(group: int) -> list[int]:
    """Processes of a group that are still running (zombies awaiting their reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
