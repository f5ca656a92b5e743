"""Jobs are process groups that die with their owner: when their state ends, when the program at their head
exits, when the session closes and when the session's process itself is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlops_pipeline.local.processes import ProcessGroups, group_members, run_job
from mlops_pipeline.local.tasks import TaskControl, TaskStopped

PR_SET_CHILD_SUBREAPER = 36  # <sys/prctl.h>

#: A program that starts a child which outlives it unless someone kills it, prints both pids, then sleeps.
PARENT_AND_CHILD = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print(f'pids {__import__(\"os\").getpid()} {child.pid}', flush=True); time.sleep({sleep})"
)


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
    return group_members(group)


def running(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(map(running, pids))


def logged_pids(log: Path, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines() if log.exists() else []:
            if line.startswith("pids "):
                return [int(pid) for pid in line.split()[1:]]
        time.sleep(0.05)
    raise AssertionError(f"no pids in {log}")


def test_what_a_job_leaves_running_is_killed_when_it_exits(tmp_path):
    log = tmp_path / "job.log"
    code = run_job(
        [sys.executable, "-c", PARENT_AND_CHILD.replace("{sleep}", "0")],
        dict(os.environ),
        log,
        TaskControl(running=lambda: True),
    )
    job, child = logged_pids(log)
    assert code == 0 and gone_within([job, child], 1)  # the child did not outlive the job


def test_closing_the_session_kills_every_group_it_started(tmp_path):
    owner = ProcessGroups()
    groups = [
        owner.start([sys.executable, "-c", PARENT_AND_CHILD.replace("{sleep}", "60")], dict(os.environ), log)
        for log in (tmp_path / "a.log", tmp_path / "b.log")
    ]
    pids = [pid for log in (tmp_path / "a.log", tmp_path / "b.log") for pid in logged_pids(log)]
    assert owner.pids() == sorted(group.pid for group in groups) and all(map(running, pids))
    started = time.monotonic()
    owner.close()
    assert gone_within(pids, 1) and owner.pids() == []
    assert time.monotonic() - started < 3  # SIGTERM suffices: no waiting out the grace period


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is a Linux feature")
def test_a_zombie_left_in_a_killed_group_does_not_hold_up_the_kill(tmp_path):
    """An orphan of the group that nobody reaps (bubblewrap's inner process, once the outer one died, under an
    init that is not a reaper) stays in the group as a zombie. The group is gone all the same: killing it neither
    waits out its grace nor waits for a watchdog that would."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of the group become this process's, which leaves them unreaped
    owner = ProcessGroups()
    try:
        group = owner.start(
            [sys.executable, "-c", PARENT_AND_CHILD.replace("{sleep}", "60")], dict(os.environ), tmp_path / "a.log", 30
        )
        job, child = logged_pids(tmp_path / "a.log")
        started = time.monotonic()
        owner.kill(group)
        assert time.monotonic() - started < 5 and Path(f"/proc/{child}/stat").read_text().split(") ")[1][0] == "Z"
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0)
        os.waitpid(child, 0)


@pytest.mark.parametrize("holder", ["a job", "a registered group"])
def test_a_job_dies_with_the_process_that_started_it_even_on_kill_9(tmp_path, holder):
    """The session's own process dies without closing anything: its watchdogs kill what it started."""
    log = tmp_path / "job.log"
    start = (
        f"run_job([sys.executable, '-c', {PARENT_AND_CHILD.replace('{sleep}', '60')!r}], dict(os.environ), "
        f"Path({str(log)!r}), TaskControl(running=lambda: True))"
        if holder == "a job"
        else f"groups = ProcessGroups(); groups.start([sys.executable, '-c', "
        f"{PARENT_AND_CHILD.replace('{sleep}', '60')!r}], dict(os.environ), Path({str(log)!r})); time.sleep(60)"
    )
    script = (
        "import os, sys, time; from pathlib import Path; "
        "from mlops_pipeline.local.processes import ProcessGroups, run_job; "
        f"from mlops_pipeline.local.tasks import TaskControl; {start}"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        pids = logged_pids(log)
        assert all(map(running, pids))
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert gone_within(pids, 5)
