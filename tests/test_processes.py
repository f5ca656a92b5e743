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

from mlops_pipeline.local import watchdog
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


@pytest.mark.parametrize("holder", ["a job", "two registered groups"])
def test_a_job_dies_with_the_process_that_started_it_even_on_kill_9(tmp_path, holder):
    """The session's own process dies without closing anything: its watchdog, one for all its groups, kills what
    it started."""
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    sleeper = PARENT_AND_CHILD.replace("{sleep}", "60")
    start = (
        f"run_job([sys.executable, '-c', {sleeper!r}], dict(os.environ), Path({str(logs[0])!r}), "
        "TaskControl(running=lambda: True))"
        if holder == "a job"
        else "groups = ProcessGroups(); "
        + "; ".join(
            f"groups.start([sys.executable, '-c', {sleeper!r}], dict(os.environ), Path({str(log)!r}))" for log in logs
        )
        + "; time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_script(start)], env=dict(os.environ))
    try:
        pids = [pid for log in (logs if holder != "a job" else logs[:1]) for pid in logged_pids(log)]
        assert all(map(running, pids)) and len(watchdogs_of(owner.pid)) == 1
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert gone_within(pids, 5)


def test_a_watchdog_killed_from_outside_is_replaced_by_one_told_of_every_group(tmp_path):
    first, second, go = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "go"
    sleeper = PARENT_AND_CHILD.replace("{sleep}", "60")
    start = (
        f"groups = ProcessGroups(); groups.start([sys.executable, '-c', {sleeper!r}], dict(os.environ), "
        f"Path({str(first)!r})); "
        f"[time.sleep(0.02) for _ in iter(lambda: os.path.exists({str(go)!r}), True)]; "
        f"groups.start([sys.executable, '-c', {sleeper!r}], dict(os.environ), Path({str(second)!r})); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_script(start)], env=dict(os.environ))
    try:
        pids = logged_pids(first)
        (killed,) = watchdogs_of(owner.pid)
        os.kill(killed, signal.SIGKILL)
        go.touch()
        pids += logged_pids(second)
        deadline = time.monotonic() + 5
        while watchdogs_of(owner.pid) in ([], [killed]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(map(running, pids)) and len(watchdogs_of(owner.pid)) == 1
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert gone_within(pids, 5)  # the first group too, started before the new watchdog


def owner_script(start: str) -> str:
    """A session's process in miniature: it starts what ``start`` says with this module's functions."""
    return (
        "import os, sys, time; from pathlib import Path; "
        "from mlops_pipeline.local.processes import ProcessGroups, run_job; "
        f"from mlops_pipeline.local.tasks import TaskControl; {start}"
    )


def watchdogs_of(parent: int) -> list[int]:
    """The running watchdog processes ``parent`` started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and any(part.endswith(b"watchdog.py") for part in command):
            found.append(int(stat.parent.name))
    return found


def test_the_watchdog_forgets_a_group_once_told_it_ended():
    """Lines may arrive split anywhere; what is left watched when the pipe closes is what gets killed."""
    read, write = os.pipe()
    for chunk in (b"101 5\n10", b"2 120.0\n-1", b"01\n103 2\n", b"-999\n"):
        os.write(write, chunk)
    os.close(write)
    try:
        assert watchdog.watched_until_closed(read) == {102: 120.0, 103: 2.0}
    finally:
        os.close(read)


def test_the_watchdog_kills_a_group_that_ignores_sigterm_once_its_own_grace_has_passed(tmp_path):
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    obliging = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    stubborn.stdout.readline()  # its handler is in place
    started = time.monotonic()
    killing = threading.Thread(target=watchdog.kill_all, args=({stubborn.pid: 0.5, obliging.pid: 30},))
    killing.start()
    try:  # reaped here, as the groups of a dead session are by their new parent
        assert obliging.wait(5) == -signal.SIGTERM and stubborn.wait(5) == -signal.SIGKILL
    finally:
        killing.join()
    assert 0.5 <= time.monotonic() - started < 3
