"""Warm starts: jobs forked from a fork server are still jobs of their own (their own process group, log,
environment, exit status), die as fresh ones do, give the same results, and fall back to fresh processes
when the program cannot be served warm."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_processes import gone_within, live_members, running
from test_sagemaker_training import sleepy_services, started_warm
from test_sagemaker_tuning import tuning_request

from conftest import namespaces_or_skip, running_control, stage_extract, training_request
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice
from mlops_pipeline.local.fork_servers import WARM_START_ENV, ZYGOTE, WarmStarts, program_imports
from mlops_pipeline.local.integrations.sagemaker_training import create_training_job_sync
from mlops_pipeline.local.integrations.sagemaker_tuning import create_tuning_job_sync
from mlops_pipeline.local.processes import ProcessGroups, run_job
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.sessions import SESSION_ENV
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl, TaskStopped
from mlops_pipeline.local.zygote import REAP_SECONDS

#: Prints who it is, starts a child that outlives it unless killed, sleeps ``argv[1]`` seconds, exits ``argv[2]``.
PROGRAM = """import json, os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(json.dumps({"pid": os.getpid(), "child": child.pid, "parent": os.getppid(), "argv": sys.argv, "cwd": os.getcwd(),
                  "job": os.environ.get("TRAINING_JOB_NAME"), "json": "json" in sys.modules}), flush=True)
time.sleep(float(sys.argv[1]))
sys.exit(int(sys.argv[2]))
"""

#: A module that starts a thread when imported: a process that imported it cannot fork safely.
BUSY_MODULE = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
BUSY = "import busy\nimport json"


@pytest.fixture
def warm(tmp_path):
    """A program file, a session's process groups and its fork servers; everything killed afterwards."""
    program = tmp_path / "program" / "train"
    program.parent.mkdir()
    program.write_text(PROGRAM)
    owner = ProcessGroups()
    starts = WarmStarts(owner)
    yield program, owner, starts
    starts.close()
    owner.close()


def start(warm, tmp_path, name: str, sleep: float, status: int = 0, control: TaskControl | None = None):
    """Run one job of the program through the warm path in a thread; its log and where its result lands."""
    program, owner, starts = warm
    argv = [sys.executable, str(program), str(sleep), str(status)]
    env = {**os.environ, "TRAINING_JOB_NAME": name}  # differs per job: one fork server serves them all
    launcher = starts.launcher(argv, env, Path(sys.executable))
    assert launcher is not None
    log, result = tmp_path / "logs" / f"{name}.log", {}

    def run() -> None:
        try:
            result["code"] = run_job(
                argv,
                env,
                log,
                control or TaskControl(running=lambda: True),
                owner=owner,
                launcher=launcher,
                on_start=lambda pid: result.setdefault("pid", pid),
            )
        except TaskStopped as stopped:
            result["stopped"] = stopped

    thread = threading.Thread(target=run)
    thread.start()
    return log, result, thread


def printed(log: Path, timeout: float = 10) -> dict:
    """The JSON line the program prints first."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if lines:
            return json.loads(lines[0])
        time.sleep(0.02)
    raise AssertionError(f"{log} stayed empty")


def test_each_warm_job_is_a_forked_process_with_its_own_log_environment_and_status(warm, tmp_path):
    one, result_one, thread_one = start(warm, tmp_path, "one", 0, 3)
    two, result_two, thread_two = start(warm, tmp_path, "two", 0, 0)
    thread_one.join(20), thread_two.join(20)
    first, second = printed(one), printed(two)
    assert (result_one["code"], result_two["code"]) == (3, 0)
    assert (first["job"], second["job"]) == ("one", "two")  # each job its own environment and log
    assert len(one.read_text().splitlines()) == len(two.read_text().splitlines()) == 1
    assert first["argv"] == [str(warm[0]), "0", "3"] and first["cwd"] == os.getcwd()
    assert first["parent"] == second["parent"] != os.getpid() and first["json"]  # forked, pre-imported
    assert "zygote.py" in Path(f"/proc/{first['parent']}/cmdline").read_text()
    assert gone_within([first["child"], second["child"]], 5)  # what each left running died with it


def test_stopping_one_warm_job_kills_it_and_its_children_and_not_its_sibling(warm, tmp_path):
    stopping = threading.Event()
    control = TaskControl(running=lambda: not stopping.is_set())
    stopped_log, stopped, stopped_thread = start(warm, tmp_path, "stopped", 60, control=control)
    sibling_log, sibling, sibling_thread = start(warm, tmp_path, "sibling", 3)
    victim, other = printed(stopped_log), printed(sibling_log)
    stopping.set()
    stopped_thread.join(10)
    assert "stopped" in stopped and live_members(victim["pid"]) == []  # the job and its child
    assert running(other["pid"]) and running(other["child"])
    sibling_thread.join(20)
    assert sibling["code"] == 0


def test_a_warm_job_past_its_time_limit_is_killed(warm, tmp_path):
    started = time.monotonic()
    log, result, thread = start(warm, tmp_path, "slow", 60, control=TaskControl(running=lambda: True).limited_to(1))
    thread.join(15)
    assert "stopped" in result and 1 <= time.monotonic() - started < 8
    assert live_members(printed(log)["pid"]) == []


def test_a_killed_warm_job_reports_the_signal_as_popen_does(warm, tmp_path):
    program, owner, starts = warm
    argv = [sys.executable, str(program), "60", "0"]
    launcher = starts.launcher(argv, dict(os.environ), Path(sys.executable))
    group = owner.start(argv, dict(os.environ), tmp_path / "killed.log", launcher=launcher)
    printed(tmp_path / "killed.log")
    os.kill(group.pid, 9)
    assert group.wait(timeout=5) == -9
    owner.kill(group)


def test_a_warm_job_s_exit_is_reported_the_moment_it_exits_not_at_the_server_s_next_look(warm, tmp_path):
    """The server sleeps up to ``REAP_SECONDS`` between looks; a child's exit (SIGCHLD) wakes it at once."""
    program, owner, starts = warm
    argv = [sys.executable, str(program), "60", "0"]
    launcher = starts.launcher(argv, dict(os.environ), Path(sys.executable))
    waits = []
    for number in range(5):
        group = owner.start(argv, dict(os.environ), tmp_path / f"{number}.log", launcher=launcher)
        printed(tmp_path / f"{number}.log")
        killed = time.monotonic()
        os.kill(group.pid, 9)
        assert group.wait(timeout=2 * REAP_SECONDS) == -9
        waits.append(time.monotonic() - killed)
        owner.kill(group)
    assert max(waits) < 0.4 * REAP_SECONDS, waits


def test_warm_jobs_carry_the_session_mark_and_die_with_the_session(tmp_path, monkeypatch):
    """Recovery finds a dead session's jobs by the mark in their environment: a forked job shows its server's."""
    monkeypatch.setenv(SESSION_ENV, "session-test-warm")
    program = tmp_path / "train"
    program.write_text(PROGRAM)
    owner = ProcessGroups()
    starts = WarmStarts(owner)
    argv = [sys.executable, str(program), "60", "0"]
    launcher = starts.launcher(argv, dict(os.environ), Path(sys.executable))
    group = owner.start(argv, dict(os.environ), tmp_path / "job.log", launcher=launcher)
    job = printed(tmp_path / "job.log")
    assert b"MLOPS_SESSION=session-test-warm" in Path(f"/proc/{group.pid}/environ").read_bytes()
    starts.close()
    owner.close()
    assert gone_within([job["pid"], job["child"], job["parent"]], 5)


def test_a_program_whose_imports_leave_a_thread_running_is_not_served_warm(warm, tmp_path):
    program, owner, starts = warm
    (program.parent / "busy.py").write_text(BUSY_MODULE)
    program.write_text(PROGRAM.replace("import json", BUSY, 1))
    said = []
    starts.progress = said.append
    assert starts.launcher([sys.executable, str(program)], dict(os.environ), Path(sys.executable)) is None
    assert said == [f"{program}: jobs start fresh (an import left 1 thread(s) running; not forking)"]
    assert owner.pids() == []  # the server that refused is gone


def test_warm_starts_are_only_for_the_environments_python_and_can_be_turned_off(warm, monkeypatch):
    program, _, starts = warm
    assert starts.launcher(["/bin/sh", str(program)], dict(os.environ), Path(sys.executable)) is None
    monkeypatch.setenv(WARM_START_ENV, "0")
    assert starts.launcher([sys.executable, str(program)], dict(os.environ), Path(sys.executable)) is None


def test_a_fork_server_that_cannot_give_each_job_its_own_opt_ml_does_not_serve(tmp_path):
    """In a view each child needs a mount namespace of its own; where that fails (here: no such jobs folder, or
    no right to make one) the server says so and exits before it listens, and the jobs start fresh."""
    program = tmp_path / "train"
    program.write_text("print('trained')\n")
    socket_path = tmp_path / "zygote.sock"
    command = [sys.executable, str(ZYGOTE), "--jobs", str(tmp_path / "missing"), str(socket_path), str(program)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 4 and not socket_path.exists()
    assert result.stdout.startswith("zygote: a job cannot be given its own /opt/ml here (")


def test_a_fork_server_pre_imports_what_the_program_imports_anywhere_in_its_file(tmp_path):
    program = tmp_path / "train"
    program.write_text(
        "from __future__ import annotations\nimport os, json as j\nfrom . import sibling\n"
        "def f():\n    import xgboost as xgb\n    from sklearn import metrics\n    from x import *\n"
    )
    assert program_imports(program) == ["os", "json", "xgboost", "sklearn", "sklearn.metrics", "x"]
    (tmp_path / "broken").write_text("def (:\n")
    assert program_imports(tmp_path / "broken") == []


def test_a_parse_failed_by_another_threads_parse_is_made_again(tmp_path, monkeypatch):
    """CPython 3.11's AST state is shared by the interpreter's threads (python/cpython#106905): a parse can fail
    with SystemError because another thread (a traceback's caret) parsed at the same time."""
    import ast

    program = tmp_path / "train"
    program.write_text("def f():\n    import xgboost\n")
    parse, calls = ast.parse, []

    def parse_failing_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=36, after=102)")
        return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", parse_failing_once)
    assert program_imports(program) == ["xgboost"] and len(calls) == 2


def project_services(tmp_path, warm_starts: bool, isolation: IsolationChoice) -> LocalServices:
    from conftest import REPO

    services = LocalServices(
        Workspace.resolve(tmp_path / "ws"), REPO / "containers", tmp_path / "ws" / "logs", isolation=isolation
    )
    services.containers.warm_starts = warm_starts
    return services


@pytest.mark.parametrize("mode", ["direct", "namespaces"])
def test_a_tuning_job_gives_the_same_trials_warm_as_fresh(tmp_path, demo_extract, mode):
    isolation = IsolationChoice(Isolation.DIRECT, "warm starts") if mode == "direct" else namespaces_or_skip()
    ranges = {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"}]}
    objectives = {}
    for warm_starts in (False, True):
        services = project_services(tmp_path / str(warm_starts), warm_starts, isolation)
        try:
            request = tuning_request(stage_extract(services, demo_extract), ranges, jobs=4, parallel=2)
            create_tuning_job_sync(services, request, running_control())
            names = services.records.get("tuning-jobs", "tune-1")["Local"]["Trials"]
            jobs = [services.records.get("training-jobs", name) for name in names]
            objectives[warm_starts] = sorted(
                (job["HyperParameters"]["eta"], job["FinalMetricDataList"][0]["Value"]) for job in jobs
            )
            assert services.containers._fork_servers is not None or not warm_starts
        finally:
            services.close()
    assert objectives[True] == objectives[False] and len(objectives[True]) == 4


def test_a_training_job_whose_program_cannot_be_served_warm_runs_fresh(tmp_path):
    from test_sagemaker_training import SLEEPY_TRAIN

    services, prefix = sleepy_services(tmp_path, "warm", train_program=SLEEPY_TRAIN.replace("import json", BUSY))
    program = tmp_path / "project" / "containers" / "byo-xgboost" / "program"
    (program / "busy.py").write_text(BUSY_MODULE)
    request = training_request(prefix, "busy-1", sleep="0")
    described = create_training_job_sync(services, request, running_control())
    assert described["TrainingJobStatus"] == "Completed"
    assert not started_warm(services.logs_root / "exec-1" / "logs" / "training-jobs" / "busy-1.log")
    services.close()


def test_a_training_job_runs_warm_in_direct_mode(tmp_path):
    services, prefix = sleepy_services(tmp_path, "warm")
    described = create_training_job_sync(services, training_request(prefix, "quick-1", sleep="0"), running_control())
    assert described["TrainingJobStatus"] == "Completed"
    assert started_warm(services.logs_root / "exec-1" / "logs" / "training-jobs" / "quick-1.log")
    services.close()


def test_jobs_that_need_a_server_while_it_starts_wait_for_that_one(warm, server_starts):
    program, _, starts = warm
    argv, env = [sys.executable, str(program), "0", "0"], dict(os.environ)
    launchers = []
    threads = [
        threading.Thread(target=lambda: launchers.append(starts.launcher(argv, env, Path(sys.executable))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(server_starts) == 1 and len(launchers) == 3 and None not in launchers


def test_a_server_still_starting_when_the_session_closes_is_stopped(tmp_path, server_starts):
    """The close does not wait for it, and nothing of it is left running (it would outlive the CLI)."""
    program = tmp_path / "program" / "train"
    program.parent.mkdir()
    (program.parent / "slow_import.py").write_text("import time\ntime.sleep(3)\n")
    program.write_text("import slow_import\nprint('trained')\n")
    owner = ProcessGroups()
    starts = WarmStarts(owner)
    launched = []
    env = {**os.environ, "PYTHONPATH": str(program.parent)}
    thread = threading.Thread(
        target=lambda: launched.append(starts.launcher([sys.executable, str(program)], env, Path(sys.executable)))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not owner.pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    zygotes = owner.pids()
    assert zygotes and all(map(running, zygotes))
    closed_at = time.monotonic()
    starts.close()
    thread.join(10)
    assert time.monotonic() - closed_at < 2.5  # it stopped waiting for the imports
    assert launched == [None] and gone_within(zygotes, 5)
    owner.close()


def test_the_mounts_beneath_a_private_folder_are_moved_outermost_ones_only():
    """Moving a mount takes what is mounted beneath it along, so only the outermost ones are moved."""
    from mlops_pipeline.local import zygote

    points = ["/tmp/env/lib", "/tmp/env", "/tmp/other", "/tmp/envy"]
    assert sorted(zygote.outermost(points)) == ["/tmp/env", "/tmp/envy", "/tmp/other"]
