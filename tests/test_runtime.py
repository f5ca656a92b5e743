"""End to end: the rendered state machines run locally with real Glue, tuning, training and scoring."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import textwrap
import threading
import time
from datetime import datetime

import pytest

from conftest import configured, local_project, training_job_counters
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.events import TrialEvent
from mlops_pipeline.local.integrations.sagemaker_registry import group_versions
from mlops_pipeline.local.notifications import LocalNotifier
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.naming import Workflow, model_package_group_name

pytestmark = pytest.mark.slow

FAST = {
    "tuning": {"max_jobs": 2, "max_parallel_jobs": 2},
    "retry": {"interval_seconds": 1},
}


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    return write_demo_pair(tmp_path_factory.mktemp("landed"), 3000, 700)


def runtime_for(config, tmp_path, project=None, events=None):
    project = project or local_project(tmp_path / "project")
    return LocalRuntime(
        config,
        Workspace.resolve(tmp_path / "ws"),
        project,
        on_event=(events.append if events is not None else lambda e: None),
    )


def test_training_then_scoring_publishes_one_prediction_per_row_in_order(example_config, tmp_path, landed):
    train, score = landed
    events = []
    with runtime_for(configured(example_config, **FAST), tmp_path, events=events) as runtime:
        trained = runtime.run_file("train", train)
        scored = runtime.run_file("score", score)
    assert trained.succeeded, (trained.error, trained.cause)
    assert scored.succeeded, (scored.error, scored.cause)
    predictions = runtime.workspace.path_of(scored.output["predictions"])
    with open(score) as landed_file, open(predictions) as predicted:
        ids = [row["employee_id"] for row in csv.DictReader(landed_file)]
        header, *rows = list(csv.reader(predicted))
    assert header == ["employee_id", "probability"]
    assert [row[0] for row in rows] == ids
    assert all(0.0 <= float(row[1]) <= 1.0 for row in rows)
    trials = [e for e in events if isinstance(e, TrialEvent)]
    assert len(trials) == 2 and trials[-1].best is not None
    assert (trained.folder / "history.json").exists() and list((trained.folder / "logs").rglob("*.log"))
    # the model server was started while the scoring Glue job ran (the model was known), and the transform used it
    (transform_log,) = (scored.folder / "logs" / "transform-jobs").glob("attrition-*.log")
    assert "the model server started ahead of this job answers" in transform_log.read_text()
    assert str(scored.folder / "logs" / "model-servers" / "BatchTransform.log") in transform_log.read_text()
    tables = json.loads(runtime.workspace.path("attrition-metadata", "attrition/catalog/tables.json").read_text())
    assert tables["Tables"]["predictions"]["Columns"] == [
        {"Name": "employee_id", "Type": "string"},
        {"Name": "probability", "Type": "double"},
    ]


def test_a_model_below_the_quality_gate_is_not_approved(example_config, tmp_path, landed):
    config = configured(example_config, quality_gate={"threshold": 0.999}, **FAST)
    with runtime_for(config, tmp_path) as runtime:
        result = runtime.run_file("train", landed[0])
        (version,) = group_versions(runtime.services.records, model_package_group_name(config.name))
    assert result.status == "FAILED" and result.error == "QualityGateFailed"
    # registered as Rejected with the gate's cause, before the execution failed with that same cause
    assert version["ModelApprovalStatus"] == "Rejected" and version["ModelPackageDescription"] == result.cause
    assert "has roc_auc = 0." in result.cause and "requires roc_auc >= 0.999" in result.cause
    assert not runtime.workspace.path("attrition-metadata", "attrition/models/latest.json").exists()


CRASHING_TRAIN = textwrap.dedent("""\
    #!/usr/bin/env python3
    import os, pathlib
    counter = pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"]).parents[2] / "train-attempts"
    counter.open("a").write("x")
    out = pathlib.Path(os.environ["SM_OUTPUT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "failure").write_text("CUDA out of memory while building the histogram")
    raise SystemExit(1)
    """)


def test_a_crashing_trainer_fails_at_once_with_its_failure_text(example_config, tmp_path, landed):
    """An algorithm error would fail the same way again: no retry of the tuning job, no 60 s wait."""
    config = configured(example_config, tuning={"max_jobs": 2, "max_parallel_jobs": 2})
    project = local_project(tmp_path / "project", train_program=CRASHING_TRAIN)
    with runtime_for(config, tmp_path, project) as runtime:
        result = runtime.run_file("train", landed[0])
    assert result.status == "FAILED" and result.error == "TuningFailed"
    assert "CUDA out of memory while building the histogram" in result.cause
    services = runtime.workspace.root / "services"
    assert [p.stem[-4:] for p in (services / "tuning-jobs").glob("*.json")] == ["-0-0"]  # tried once
    trials = [json.loads(p.read_text()) for p in (services / "training-jobs").glob("*.json")]
    assert len(trials) == 2 and all(t["FailureReason"].startswith("AlgorithmError: CUDA out of memory") for t in trials)


SLEEPING_TRAIN = textwrap.dedent("""\
    #!/usr/bin/env python3
    import time
    time.sleep(600)
    """)


def test_a_state_timeout_kills_the_trainer(example_config, tmp_path, landed):
    config = configured(
        example_config, tuning={"max_jobs": 1, "max_parallel_jobs": 1, "timeout_seconds": 3}, **{"retry": FAST["retry"]}
    )
    project = local_project(tmp_path / "project", train_program=SLEEPING_TRAIN)
    with runtime_for(config, tmp_path, project) as runtime:
        result = runtime.run_file("train", landed[0])
        assert result.error == "TuningFailed" and "States.Timeout" in result.cause
        record = runtime.workspace.root / "services" / "training-jobs"

        def trial() -> dict:
            return json.loads(next(record.glob("*.json")).read_text())

        pid = trial()["Local"]["Pid"]
        assert eventually(lambda: not alive(pid)), f"trainer {pid} still runs after the state timed out"
        assert eventually(lambda: trial()["TrainingJobStatus"] == "Stopped")


def eventually(condition, seconds: float = 10.0) -> bool:
    """The state fails at its timeout; the job is killed right after, as SageMaker stops it."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_scoring_before_any_approved_model_fails_clearly(example_config, tmp_path, landed):
    with runtime_for(configured(example_config, **FAST), tmp_path) as runtime:
        result = runtime.run_file("score", landed[1])
    assert result.status == "FAILED" and result.error == "NoApprovedModel"
    assert "has no approved model" in result.cause and "Land a training file" in result.cause


def test_the_file_a_run_lands_is_its_own_to_pass_on_though_local_up_watches_the_workspace(
    example_config, tmp_path, landed
):
    """Another session's watcher (``local up`` in the same workspace) scanning between the landing and its
    passing on finds the file passed on already, instead of starting its execution first."""
    with runtime_for(configured(example_config, **FAST), tmp_path) as runtime:
        local_up, land, scans, taken = dataclasses.replace(runtime.watcher(), session="local-up"), runtime.land, [], []

        def land_while_local_up_scans(kind, source):
            key = land(kind, source)
            scans.append(threading.Thread(target=lambda: taken.extend(local_up.poll())))
            scans[0].start()
            scans[0].join(0.5)  # its scan, between this landing and the run passing it on
            return key

        runtime.land = land_while_local_up_scans
        result = runtime.run_file("score", landed[1])
        scans[0].join(10)
    assert result.error == "NoApprovedModel" and taken == []


def test_redrive_refuses_a_definition_the_workflow_no_longer_renders_and_land_again_runs_the_new_one(
    example_config, tmp_path, landed
):
    project = local_project(tmp_path / "project")
    refused = "ResolveApprovedModel=SageMaker.ConflictException"  # an error no retrier names: a failed Task
    with LocalRuntime(
        configured(example_config, **FAST), Workspace.resolve(tmp_path / "ws"), project, faults=refused
    ) as rt:
        failed = rt.run_file("score", landed[1])
    assert failed.error == "ResolveApprovedModelFailed"
    changed = configured(example_config, scoring_poll_seconds=7, **FAST)
    with runtime_for(changed, tmp_path, project) as runtime:
        with pytest.raises(PipelineError) as caught:
            runtime.redrive(failed.name)
        waiting = runtime.land("train", landed[0])  # another landed file: it waits for `local up`
        again = runtime.land_again(failed.name)
        started = set(runtime.records.names())
    assert str(caught.value) == (
        f"execution {failed.name} ran an earlier definition of attrition-scoring than the workflow renders now; "
        "a redrive re-runs the one it ran, as Step Functions does. To run the workflow as it is now, land the "
        f"file again (local redrive {failed.name} --land-again does)"
    )
    assert again.name != failed.name and again.error == "NoApprovedModel"
    assert started == {failed.name, again.name}, f"landing {waiting} started an execution"
    definition = json.loads(runtime.records.read(again.name)["definition"])
    assert definition["States"]["CapWait"]["Choices"][0]["NumericGreaterThan"] == 7  # the workflow as it is now


def failed_calls_by_state(history: list[dict]) -> dict[str, list[str]]:
    """The errors of each Task state's failed calls, in order (retries stay inside the state)."""
    failed: dict[str, list[str]] = {}
    state = None
    for event in history:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskFailed":
            failed.setdefault(state, []).append(event["taskFailedEventDetails"]["error"])
    return failed


#: Task states a first approved training and a scoring never enter: no champion yet, no rejection, no newer landing.
OFF_THE_FIRST_RUNS_PATH = ("DescribeChampion", "RegisterRejectedModel", "RegisterSupersededModel")


def test_every_transient_retry_of_both_workflows_fires_and_then_succeeds(example_config, tmp_path, landed):
    """Each Task state's retrier is tried with every error it names, injected as the API error AWS would
    answer: the names must be the ones Step Functions reports, or the retrier would not fire."""
    retry = {"interval_seconds": 1, "backoff_rate": 1.0, "max_attempts": 6}
    config = configured(example_config, tuning={"max_jobs": 1, "max_parallel_jobs": 1, "seed": 7}, retry=retry)
    planned: dict[str, list[str]] = {}
    with runtime_for(config, tmp_path) as probe:
        for text in probe.definitions.values():
            for name, state in json.loads(text)["States"].items():
                transient = [r for r in state.get("Retry", []) if r["ErrorEquals"] != ["States.TaskFailed"]]
                if transient and name not in OFF_THE_FIRST_RUNS_PATH:
                    planned[name] = transient[0]["ErrorEquals"]
    faults = ",".join(f"{state}={error}" for state, errors in planned.items() for error in errors)
    with LocalRuntime(config, Workspace.resolve(tmp_path / "ws2"), local_project(tmp_path / "p2"), faults=faults) as rt:
        results = [rt.run_file("train", landed[0]), rt.run_file("score", landed[1])]
    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [(r.error, r.cause) for r in results]
    seen: dict[str, list[str]] = {}
    for result in results:
        seen |= failed_calls_by_state(json.loads((result.folder / "history.json").read_text()))
    assert len(planned) >= 14
    caught_first_time = ("ReadLatestForUpdate",)  # no latest.json yet
    no_latest_yet = {name: [*planned[name], "S3.NoSuchKeyException"] for name in caught_first_time}
    assert seen == planned | no_latest_yet


def test_each_landed_version_is_scored_from_its_own_bytes_whatever_the_event_order(example_config, tmp_path, landed):
    """Two uploads of one key in quick succession: their events arrive in reverse order, and each
    execution still reads exactly its own version (pinned by the first state), not the key's newest."""
    from mlops_pipeline.demo_data import write_demo_csv
    from mlops_pipeline.handlers.s3_landing import handle_event
    from mlops_pipeline.local.watcher import object_created_event

    config = configured(example_config, **FAST)
    with runtime_for(config, tmp_path) as runtime:
        assert runtime.run_file("train", landed[0]).succeeded
        bucket, events, ids = runtime.target.feature_store_bucket, [], []
        for rows, start in ((120, 5001), (80, 7001)):
            source = write_demo_csv(tmp_path / f"v{rows}" / "batch.csv", rows, with_label=False, start_id=start)
            key = runtime.land("score", source)
            events.append(object_created_event(bucket, key, runtime.workspace.path(bucket, key)))
            ids.append([line.split(",", 1)[0] for line in source.read_text().splitlines()[1:]])
        settings = runtime.watcher().settings
        started = [handle_event(event, runtime.engine.client, settings)["started"][0] for event in reversed(events)]
        results = runtime.follow({name: Workflow.SCORING for name in started})
    assert all(result.succeeded for result in results.values()), [(r.error, r.cause) for r in results.values()]
    for name, expected in zip(started, reversed(ids), strict=True):
        predictions = runtime.workspace.path_of(results[name].output["predictions"]).read_text().splitlines()
        assert [line.split(",", 1)[0] for line in predictions[1:]] == expected  # its own version's rows, in order


def test_a_model_from_an_older_landing_finishing_last_does_not_replace_the_newer_one(example_config, tmp_path, landed):
    """latest.json only moves forward: the newer landing's model stays latest when an older landing's
    training finishes after it (its own approval record is still written)."""
    gate = example_config.quality_gate.model_copy(update={"champion_margin": None})
    config = configured(example_config, quality_gate=gate, **FAST)
    with runtime_for(config, tmp_path) as runtime:
        newer = runtime.run_file("train", landed[0])
        older_copy = tmp_path / "older" / "employees_old.csv"
        older_copy.parent.mkdir()
        older_copy.write_bytes(landed[0].read_bytes())
        key = runtime.land("train", older_copy)
        an_hour_ago = time.time() - 3600
        os.utime(runtime.workspace.path(runtime.target.feature_store_bucket, key), (an_hour_ago, an_hour_ago))
        (event,) = runtime.pass_on_landed(runtime.watcher())
        older = runtime.wait(event.execution)
        latest = json.loads(
            runtime.workspace.path(runtime.target.metadata_bucket, "attrition/models/latest.json").read_text()
        )
        approvals = runtime.workspace.path(runtime.target.metadata_bucket, "attrition/models/executions")
        recorded = sorted(path.stem for path in approvals.glob("*.json"))
        registry = group_versions(runtime.services.records, model_package_group_name(config.name))
    assert newer.succeeded and older.succeeded, (older.error, older.cause)
    # in the model registry the older landing's model waits for a person: the newer one stays latest approved
    assert [v["ModelApprovalStatus"] for v in registry] == ["Approved", "PendingManualApproval"]
    assert registry[1]["CustomerMetadataProperties"]["model_name"] == older.output["model_name"]
    assert newer.output["model_name"] in registry[1]["ModelPackageDescription"]
    assert latest["model_name"] == newer.output["model_name"] != older.output["model_name"]
    assert older.output["latest_is"]["model_name"] == newer.output["model_name"]
    assert recorded == sorted([newer.name, older.name])


def test_a_full_disk_fails_the_job_in_one_line_and_leaves_no_half_written_file(
    example_config, tmp_path, landed, monkeypatch
):
    """ENOSPC while the batch transform writes its output: the job fails with the path and the free space,
    the temp file is removed, and the execution record is complete."""
    import errno

    from mlops_pipeline.local.integrations import sagemaker_transform

    real = sagemaker_transform._transform_lines

    def fills_the_disk(client, out, *args, **kwargs):
        out.write(b"E1,0.5\n" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write raises it: no file named

    config = configured(example_config, **FAST)
    with runtime_for(config, tmp_path) as runtime:
        assert runtime.run_file("train", landed[0]).succeeded
        monkeypatch.setattr(sagemaker_transform, "_transform_lines", fills_the_disk)
        failed = runtime.run_file("score", landed[1])
        monkeypatch.setattr(sagemaker_transform, "_transform_lines", real)
    assert failed.error == "BatchTransformFailed" and "no space left on the device writing " in failed.cause
    assert "/transform/score.csv.out (" in failed.cause  # the output it was writing, not "."
    assert "MB free there); free some space, then redrive" in failed.cause
    assert runtime.records.read(failed.name)["status"] == "FAILED"
    assert not list(runtime.workspace.root.rglob(".tmp-*"))


FLAKY_SERVE = textwrap.dedent("""\
    #!/usr/bin/env python3
    import os, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    if (here / "broken").exists():
        sys.exit("the model server cannot start: broken")
    os.execv(sys.executable, [sys.executable, str(here / "serve-real")])
    """)


def test_redrive_after_a_transform_failure_reruns_only_the_failed_part(example_config, tmp_path, landed):
    project = local_project(tmp_path / "project")
    program = project / "containers" / "byo-xgboost" / "program"
    (program / "serve").rename(program / "serve-real")
    (program / "serve").write_text(FLAKY_SERVE)
    (program / "broken").write_text("")
    config = configured(example_config, **FAST)
    with runtime_for(config, tmp_path, project) as runtime:
        assert runtime.run_file("train", landed[0]).succeeded
        failed = runtime.run_file("score", landed[1])
    assert failed.error == "BatchTransformFailed" and failed.failed_state == "BatchTransform"
    assert "cannot start: broken" in failed.cause or "exited with status" in failed.cause
    services = runtime.workspace.root / "services"
    glue_runs, trainings = (
        len(list((services / "glue-job-runs").glob("*"))),
        len(list((services / "training-jobs").glob("*"))),
    )
    (program / "broken").unlink()
    first_start = json.loads((failed.folder / "execution.json").read_text())["start_date"]
    with runtime_for(config, tmp_path, project) as runtime:
        redriven = runtime.redrive(failed.name)
    assert redriven.succeeded, (redriven.error, redriven.cause)
    assert len(list((services / "glue-job-runs").glob("*"))) == glue_runs
    assert len(list((services / "training-jobs").glob("*"))) == trainings
    transforms = sorted(p.stem for p in (services / "transform-jobs").glob("*.json"))
    assert [name[-4:] for name in transforms] == ["-0-0", "-1-0"]  # the failed run's name is not reused
    assert runtime.workspace.path_of(redriven.output["predictions"]).exists()
    again = json.loads((redriven.folder / "execution.json").read_text())
    assert again["start_date"] == first_start < again["redrive_date"]  # as DescribeExecution keeps its startDate


def test_a_redrive_whose_first_task_checkpoints_before_the_start_returns_keeps_the_first_records(
    example_config, tmp_path, landed, monkeypatch
):
    project = local_project(tmp_path / "project")
    refused = "ResolveApprovedModel=SageMaker.ConflictException"  # an error no retrier names: a failed Task
    config = configured(example_config, **FAST)
    with LocalRuntime(config, Workspace.resolve(tmp_path / "ws"), project, faults=refused) as runtime:
        failed = runtime.run_file("score", landed[1])
    assert failed.error == "ResolveApprovedModelFailed"
    first_record = json.loads((failed.folder / "execution.json").read_text())
    first_history = (failed.folder / "history.json").read_bytes()
    checkpointed, original_checkpoint, original_started = (
        threading.Event(),
        LocalRuntime.checkpoint,
        LocalRuntime.record_started,
    )

    def checkpoint(self, name):  # the execution's own thread, as its first Task begins
        original_checkpoint(self, name)
        if threading.current_thread() is not threading.main_thread():
            checkpointed.set()

    def record_started(self, name, *args):  # the caller gets on only after the execution's thread checkpointed
        assert checkpointed.wait(10)
        original_started(self, name, *args)

    monkeypatch.setattr(LocalRuntime, "checkpoint", checkpoint)
    monkeypatch.setattr(LocalRuntime, "record_started", record_started)
    with runtime_for(config, tmp_path, project) as runtime:
        redriven = runtime.redrive(failed.name)
    assert redriven.error == "NoApprovedModel"  # the Task ran this time; no model was ever approved
    assert (failed.folder / "history.json").read_bytes() == first_history  # the first run's history is kept
    record = json.loads((failed.folder / "execution.json").read_text())
    assert record["redrive_count"] == 1 and record["start_date"] == first_record["start_date"] < record["redrive_date"]
    redrive_history = json.loads((failed.folder / "history-redrive-1.json").read_text())
    assert redrive_history[-1]["type"] == "ExecutionFailed"


def test_scoring_landed_while_training_runs_waits_for_the_model(example_config, tmp_path, landed):
    config = configured(example_config, **FAST)  # checks every 60 s at most, first after 1 s, then 2 s, ...
    with runtime_for(config, tmp_path) as runtime:
        runtime.land("train", landed[0])
        runtime.land("score", landed[1])
        results = {r.workflow: r for r in runtime.watch(interval=0.2, rounds=1)}
    assert results["training"].succeeded and results["scoring"].succeeded
    history = json.loads((results["scoring"].folder / "history.json").read_text())
    waits = [
        (datetime.fromisoformat(e["timestamp"]), json.loads(e["stateEnteredEventDetails"]["input"])["wait"]["seconds"])
        for e in history
        if e["type"] == "WaitStateEntered"
    ]
    assert waits, "scoring should have waited for the running training"
    assert [seconds for _, seconds in waits] == list(range(1, len(waits) + 1))  # backing off from 1 s
    trained = datetime.fromisoformat(runtime.records.read(results["training"].name)["stop_date"])
    assert len([at for at, _ in waits if at > trained]) <= 1  # no more than one wait after the model exists


def test_an_execution_that_ended_after_it_was_last_followed_is_recorded_as_it_ended_when_the_session_closes(
    example_config, tmp_path, landed
):
    with runtime_for(configured(example_config, **FAST), tmp_path) as runtime:
        runtime.land("score", landed[1])
        [started] = runtime.pass_on_landed(runtime.watcher())  # started, recorded RUNNING, never followed
        arn = runtime.execution_arn(Workflow.SCORING, started.execution)
        assert eventually(lambda: runtime.engine.describe(arn)["status"] != "RUNNING")
    record = runtime.records.read(started.execution)
    assert (record["status"], record["error"]) == ("FAILED", "NoApprovedModel")
    assert runtime.stopped == []  # it ended on its own; the session stopped nothing
    assert [notice["id"].rsplit("#", 1)[1] for notice in runtime.notifier.kept()] == ["FAILED"]  # not ABORTED
    assert runtime.recover() == []  # nothing left for the next command to close


def test_ctrl_c_while_an_ended_execution_is_being_recorded_leaves_its_record_and_notice_whole(
    example_config, tmp_path, landed, monkeypatch
):
    original, calls = LocalNotifier.notify, []

    def notify(self, *args, **kwargs):  # Ctrl-C arrives as the first notice is about to be kept
        calls.append(args)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LocalNotifier, "notify", notify)
    with pytest.raises(KeyboardInterrupt), runtime_for(configured(example_config, **FAST), tmp_path) as runtime:
        runtime.run_file("score", landed[1])
    [name] = runtime.records.names()
    record = runtime.records.read(name)
    assert (record["status"], record["error"]) == ("FAILED", "NoApprovedModel")
    assert runtime.records.history(name)[-1]["type"] == "ExecutionFailed"
    assert [notice["id"].rsplit("#", 1)[1] for notice in runtime.notifier.kept()] == ["FAILED"]
    assert runtime.stopped == [] and runtime.recover() == []


def test_ending_the_session_stops_running_executions_kills_their_jobs_and_records_them(
    example_config, tmp_path, landed
):
    config = configured(example_config, **FAST)
    project = local_project(tmp_path / "project", train_program=SLEEPING_TRAIN)
    with runtime_for(config, tmp_path, project) as runtime:
        runtime.land("train", landed[0])
        runtime.land("score", landed[1])  # waits for the training: it must not go on once that is stopped
        started = [name for answer in runtime.watcher().poll() for name in answer["started"]]
        name = next(started_name for started_name in started if started_name.startswith("train"))
        records = runtime.workspace.root / "services" / "training-jobs"

        def started_pids() -> list:
            """The process of every training job recorded, once each has one (parallel trials start together)."""
            local = [json.loads(p.read_text()).get("Local", {}) for p in records.glob("*.json")]
            return [each["Pid"] for each in local] if local and all("Pid" in each for each in local) else []

        assert eventually(started_pids, seconds=30)
        pids = started_pids()
    assert [runtime.records.read(each)["status"] for each in started] == ["ABORTED", "ABORTED"]
    assert sorted(runtime.stopped) == sorted(started)  # what the command's last line names
    assert runtime.records.read(name)["failed_state"] == "TuneHyperparameters"  # where a redrive resumes
    history = runtime.records.history(name)  # as AWS records a stopped Task: no TaskSucceeded
    entered = max(i for i, event in enumerate(history) if event["type"] == "TaskStateEntered")
    assert [event["type"] for event in history[entered:]] == [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "ExecutionAborted",
    ]
    assert history[entered]["stateEnteredEventDetails"]["name"] == "TuneHyperparameters"
    assert not any(alive(pid) for pid in pids)
    (tuning,) = [json.loads(path.read_text()) for path in (records.parent / "tuning-jobs").glob("*.json")]
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    # as its training jobs ended: stopped with it
    assert tuning["TrainingJobStatusCounters"] == training_job_counters(Stopped=len(pids))
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": len(pids)}
    notices = {notice["execution"]: notice for notice in runtime.notifier.kept()}  # one failure notice each
    assert sorted(notices) == sorted(started) and len(runtime.notifier.kept()) == 2
    assert (notices[name]["status"], notices[name]["failed_state"]) == ("ABORTED", "TuneHyperparameters")


@pytest.mark.parametrize("first", [(), (Workflow.TRAINING,)], ids=["at-its-start", "as-the-session-begins"])
def test_a_training_execution_warms_up_its_jobs_once_per_session(
    example_config, tmp_path, server_starts, monkeypatch, first
):
    """The training jobs' fork server starts when a training execution starts, or as the session begins
    when it runs one at once (local run, demo), so its imports overlap the Glue job; once per session.
    Scoring has no training job to warm up."""
    from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice

    config, project = configured(example_config, **FAST), local_project(tmp_path / "project")
    direct = IsolationChoice(Isolation.DIRECT, "warm starts")
    workspace = Workspace.resolve(tmp_path / "ws")
    with LocalRuntime(config, workspace, project, isolation=direct, warm_up_first=first) as runtime:
        assert len(runtime._warm_ups) == len(first)
        monkeypatch.setattr(runtime, "checkpoint", lambda name: None)  # no execution runs: no record to write
        for name in ("score-a-1", "train-a-1", "train-b-1"):
            runtime.record_started(name)
        for thread in runtime._warm_ups.values():
            thread.join(60)
        assert sorted(thread.name for thread in runtime._warm_ups.values()) == ["warm-up-scoring", "warm-up-training"]
        assert len(server_starts) == 1
