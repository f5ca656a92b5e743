"""Every way a local session can end leaves records the next command understands (a kill matrix).

``local run`` and ``local up``, each ended by SIGINT, SIGTERM, SIGHUP or SIGKILL while a training job of
the tuning runs or while the batch transform's server starts (every signal for each command, both phases
for each signal; all sixteen with ``MLOPS_FULL_KILL_MATRIX=1``). Afterwards: a command ended by a signal it
handles exits with 128 + the signal, naming what it stopped; no process of the session is alive, every
execution it started is recorded ABORTED (after SIGKILL, once the next command has looked), no half-written
file is left, and ``local redrive`` finishes each one without running again what had succeeded. The container
programs wait while a ``hold-*`` file exists, so the kill lands in the phase. A second signal while a session
ends (its trainer ignoring SIGTERM) kills its jobs at once, and the session still records its execution.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import EXAMPLE_WORKFLOW, cli_env, local_project, run_cli
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.sessions import SESSION_ENV, SESSIONS

pytestmark = pytest.mark.slow

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL)
PHASES = ("tuning", "transform")

HOLDING = textwrap.dedent("""\
    #!/usr/bin/env python3
    import os, pathlib, sys, time
    here = pathlib.Path(__file__).resolve().parent
    while (here / "hold-{program}").exists():
        time.sleep(0.1)
    os.execv(sys.executable, [sys.executable, str(here / "{program}-real"), *sys.argv[1:]])
    """)

# One seeded trial: the matrix is about records, so the model (and its gate) must not vary between runs.
FAST_WORKFLOW = (
    EXAMPLE_WORKFLOW.read_text()
    .replace("max_jobs=6,", "max_jobs=1,")
    .replace("max_parallel_jobs=2,", "max_parallel_jobs=1,\n        seed=7,")
    .replace("quality_gate=QualityGate(", "retry=RetrySettings(interval_seconds=1),\n    quality_gate=QualityGate(")
    .replace("    QualityGate,\n", "    QualityGate,\n    RetrySettings,\n")
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_demo_pair(tmp_path_factory.mktemp("data"), 600, 150)


def holding_project(root: Path) -> Path:
    project = local_project(root)
    program = project / "containers" / "byo-xgboost" / "program"
    for name in ("train", "serve"):
        (program / name).rename(program / f"{name}-real")
        (program / name).write_text(HOLDING.format(program=name))
        (program / name).chmod(0o755)
    (project / "workflows").mkdir()
    (project / "workflows" / "attrition.py").write_text(FAST_WORKFLOW)
    return project


def start(command: str, project: Path, workspace: Path, data) -> subprocess.Popen:
    common = ["--workflow", "workflows/attrition.py", "--workspace", str(workspace)]
    if command == "run":
        args = ["local", "run", *common, "--train", str(data[0]), "--score", str(data[1])]
    else:
        for kind, path in (("train", data[0]), ("score", data[1])):
            landed = run_cli("local", "land", kind, path, *common, cwd=project)
            assert landed.returncode == 0, landed.stderr
        args = ["local", "up", *common, "--interval", "0.2"]
    log = open(workspace.parent / f"{command}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "mlops_pipeline.cli", *args],
        cwd=project,
        env=cli_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def reached(workspace: Path, phase: str) -> bool:
    """A training job (tuning phase) or the transform job's server (transform phase) is waiting."""
    folder = workspace / "services" / ("training-jobs" if phase == "tuning" else "transform-jobs")
    for path in folder.glob("*.json") if folder.is_dir() else ():
        record = json.loads(path.read_text())
        if phase == "tuning" and "Pid" in record.get("Local", {}):
            return True
        if phase == "transform" and record.get("TransformJobStatus") == "InProgress":
            return True
    return False


def session_processes(workspace: Path) -> set[int]:
    """Live pids marked with the workspace's sessions."""
    sessions = {path.stem for path in (workspace / SESSIONS).glob("*.lock")}
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f"{SESSION_ENV}={session}".encode() in environ for session in sessions):
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def counts(workspace: Path) -> dict[str, int]:
    services = workspace / "services"
    return {kind: len(list((services / kind).glob("*"))) for kind in ("glue-job-runs", "tuning-jobs", "transform-jobs")}


def scenario(root: Path, command: str, signum: int, phase: str, data) -> None:
    project, workspace = holding_project(root / "project"), root / "ws"
    program = project / "containers" / "byo-xgboost" / "program"
    (program / ("hold-train" if phase == "tuning" else "hold-serve")).write_text("")
    process = start(command, project, workspace, data)
    try:
        wait_until(lambda: reached(workspace, phase), 180, f"{phase} in {command}")
        wait_until(lambda: session_processes(workspace), 30, "the session's job processes")
        pids = session_processes(workspace)
        process.send_signal(signum)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    if signum != signal.SIGKILL:  # run and up alike: 128 + the signal, and what was stopped
        log = (workspace.parent / f"{command}.log").read_text()
        assert process.returncode == 128 + signum, log
        assert f"Stopped by {signal.Signals(signum).name}: " in log and " stopped and recorded ABORTED; " in log, log
        if command == "run" and phase == "tuning":  # its scoring file was never landed: said, with how to land it
            assert f"{data[1]} was not landed; once training has succeeded" in " ".join(log.split()), log
    listed = run_cli("local", "executions", "--workspace", workspace, cwd=project)  # looks, and recovers
    assert listed.returncode == 0, listed.stderr
    assert not [pid for pid in pids if alive(pid)], "processes of the session outlived it"
    assert not list(workspace.rglob(".tmp-*")) and not list((workspace / "jobs").glob("*"))
    records = workspace / "s3" / "attrition-metadata" / "attrition" / "executions"
    statuses = {p.parent.name: json.loads(p.read_text())["status"] for p in records.glob("*/execution.json")}
    aborted = sorted((name for name, status in statuses.items() if status == "ABORTED"), key=lambda n: n[0] == "s")
    assert aborted and set(statuses.values()) <= {"ABORTED", "SUCCEEDED"}, statuses
    for name in aborted:
        assert name in listed.stdout
        assert_stopped_where_it_was(json.loads((records / name / "history.json").read_text()))
    assert_tuning_counts_its_training_jobs(workspace / "services")
    for hold in program.glob("hold-*"):
        hold.unlink()
    before = counts(workspace)
    for name in aborted:  # training before scoring, which waits for it
        redriven = run_cli("local", "redrive", name, "--workspace", workspace, cwd=project, timeout=300)
        assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    after = counts(workspace)
    if phase == "transform":  # what had succeeded (both Glue runs, the tuning) is not run again
        assert after == {**before, "transform-jobs": before["transform-jobs"] + 1}, (before, after)
    else:
        assert after["glue-job-runs"] == before["glue-job-runs"] + (1 if command == "up" else 0), (before, after)


def assert_stopped_where_it_was(history: list[dict]) -> None:
    """An aborted execution's history ends, as on AWS, with the state it was in and ExecutionAborted: no
    TaskSucceeded for the Task that was stopped."""
    entered = max(i for i, event in enumerate(history) if event["type"].endswith("StateEntered"))
    after = [event["type"] for event in history[entered + 1 :]]
    assert after[-1] == "ExecutionAborted" and "TaskSucceeded" not in after, after


def assert_tuning_counts_its_training_jobs(services: Path) -> None:
    """Every tuning job's TrainingJobStatusCounters are its training jobs' final statuses (none InProgress)."""
    trained = [json.loads(path.read_text()) for path in (services / "training-jobs").glob("*.json")]
    for path in (services / "tuning-jobs").glob("*.json"):
        tuning = json.loads(path.read_text())
        statuses = [job["TrainingJobStatus"] for job in trained if job["TrainingJobName"] in tuning["Local"]["Trials"]]
        counters = {status: count for status, count in tuning["TrainingJobStatusCounters"].items() if count}
        assert counters == {status: statuses.count(status) for status in set(statuses)}, (counters, statuses)
        assert tuning["ObjectiveStatusCounters"]["Pending"] == 0


def cases(command: str) -> list[tuple[int, str]]:
    """Every signal for each command, each phase for each signal across the two commands (a pairwise
    cover of the matrix); ``MLOPS_FULL_KILL_MATRIX=1`` runs every combination."""
    if os.environ.get("MLOPS_FULL_KILL_MATRIX"):
        return [(signum, phase) for signum in SIGNALS for phase in PHASES]
    offset = 0 if command == "run" else 1
    return [(signum, PHASES[(index + offset) % 2]) for index, signum in enumerate(SIGNALS)]


@pytest.mark.parametrize("command", ["run", "up"])
def test_every_way_a_session_ends_leaves_records_the_next_command_understands(command, data, tmp_path):
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            (signal.Signals(signum).name, phase): pool.submit(
                scenario, tmp_path / f"{signum}-{phase}", command, signum, phase, data
            )
            for signum, phase in cases(command)
        }
    failures = [f"{case}: {future.exception()}" for case, future in futures.items() if future.exception()]
    if failures:  # in full: each names a session's whole output
        pytest.fail("\n\n".join(failures), pytrace=False)


#: A trainer slow to stop: it ignores SIGTERM, so ending its session waits for its stop grace (SageMaker's 120 s).
IGNORES_SIGTERM = textwrap.dedent("""\
    #!/usr/bin/env python3
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.1)
    """)


def test_a_second_signal_while_the_session_ends_kills_its_jobs_at_once_and_still_records_each_execution(tmp_path, data):
    project, workspace = holding_project(tmp_path / "project"), tmp_path / "ws"
    (project / "containers" / "byo-xgboost" / "program" / "train").write_text(IGNORES_SIGTERM)
    process = start("run", project, workspace, data)
    try:
        wait_until(lambda: reached(workspace, "tuning"), 180, "the training job")
        wait_until(lambda: session_processes(workspace), 30, "the session's job processes")
        pids = session_processes(workspace)
        process.send_signal(signal.SIGINT)
        time.sleep(1.5)  # the session is ending, its trainer ignoring SIGTERM
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    log = " ".join((workspace.parent / "run.log").read_text().split())
    assert process.returncode == 128 + signal.SIGINT, log
    assert "Ending: SIGTERM while the session ended: its jobs were killed at once, without their grace" in log, log
    assert not [pid for pid in pids if alive(pid)], "processes of the session outlived it"
    records = workspace / "s3" / "attrition-metadata" / "attrition" / "executions"
    (record,) = [json.loads(path.read_text()) for path in records.glob("*/execution.json")]  # no command since:
    assert record["status"] == "ABORTED" and record["failed_state"] == "TuneHyperparameters"  # recorded by the session
    assert record["cause"] == "the local runtime session ended"  # its StopExecution's cause, not recovery's
