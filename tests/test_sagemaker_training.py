"""createTrainingJob runs the container's train program with the SageMaker layout."""

from __future__ import annotations

import datetime
import json
import re
import tarfile
import threading
import time

import pytest

from conftest import dispatch, local_project, namespaces_or_skip, running_control, stage_extract, training_request
from mlops_pipeline.local.ahead import known_parameters
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, choose_isolation
from mlops_pipeline.local.integrations.sagemaker_training import (
    create_training_job_sync,
    describe_training_job,
    parse_metrics,
    warm_up,
)
from mlops_pipeline.local.processes import group_members
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl, TaskFailure, TaskStopped

#: A ``train`` that saves a model and logs its metric at once, starts a child, then sleeps ``sleep`` seconds
#: (hyperparameter, default 60); ``roc_auc`` is a hyperparameter too. It prints its parent's pid and command line.
SLEEPY_TRAIN = """#!/usr/bin/env python3
import json, os, subprocess, sys, time
config = os.environ["SM_INPUT_CONFIG_DIR"]
hyperparameters = json.load(open(os.path.join(config, "hyperparameters.json")))
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
parent = open(f"/proc/{os.getppid()}/cmdline").read().replace(chr(0), " ")
print(f"parent {os.getppid()} {parent}", flush=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "partial.txt"), "w").write("saved before the limit")
print("roc_auc: " + hyperparameters.get("roc_auc", "0.61"), flush=True)
time.sleep(float(hyperparameters.get("sleep", "60")))
"""


#: How jobs start: fresh processes (isolation as chosen here), or forked warm (``fork_servers.py``) directly or
#: in a bubblewrap view.
WAYS = ["fresh", "warm", "warm-in-view"]


def sleepy_services(tmp_path, way: str = "fresh", train_program: str = SLEEPY_TRAIN) -> tuple[LocalServices, str]:
    """Services whose byo-xgboost container runs ``train_program``, and a staged channel prefix."""
    project = local_project(tmp_path / "project", train_program=train_program)
    workspace = Workspace.resolve(tmp_path / "ws")
    if way == "warm":
        isolation = IsolationChoice(Isolation.DIRECT, "warm starts")
    else:
        isolation = namespaces_or_skip() if way == "warm-in-view" else choose_isolation()
    services = LocalServices(
        workspace, containers_dir=project / "containers", logs_root=tmp_path / "ws" / "logs", isolation=isolation
    )
    services.containers.warm_starts = way != "fresh"
    for channel in ("train", "validation"):
        services.workspace.put_bytes("attrition-extracts", f"sleepy/{channel}/part.csv", b"1,2\n")
    return services, "s3://attrition-extracts/sleepy/"


def started_warm(log_path) -> bool:
    """Whether the job that wrote this log (:data:`SLEEPY_TRAIN`) was forked by a fork server (``zygote.py``)."""
    return "zygote.py" in re.search(r"^parent \d+ (.*)$", log_path.read_text(), re.MULTILINE).group(1)


def group_of(services: LocalServices, job: str) -> int:
    return services.records.get("training-jobs", job)["Local"]["Pid"]


@pytest.mark.parametrize("way", WAYS)
def test_a_job_past_its_max_runtime_is_stopped_as_sagemaker_stops_it(tmp_path, way):
    """StoppingCondition.MaxRuntimeInSeconds (1, the API's minimum): the job's whole process group is killed
    and it ends Stopped / MaxRuntimeExceeded with no FailureReason; its logged metric and saved model stay."""
    services, prefix = sleepy_services(tmp_path, way)
    request = {**training_request(prefix, "slow-1"), "StoppingCondition": {"MaxRuntimeInSeconds": 1}}
    started = time.monotonic()
    with pytest.raises(TaskFailure) as failure:
        create_training_job_sync(services, request, running_control())
    assert 1 <= time.monotonic() - started < 8
    assert failure.value.error == "States.TaskFailed"
    described = json.loads(failure.value.cause)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "FailureReason" not in described and "Local" not in described
    assert [(m["MetricName"], m["Value"]) for m in described["FinalMetricDataList"]] == [("roc_auc", 0.61)]
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(services.workspace.path_of(artifact)) as archive:
        assert archive.getnames() == ["partial.txt"]
    assert group_members(group_of(services, "slow-1")) == []  # the program and its child
    log_path = services.logs_root / "exec-1" / "logs" / "training-jobs" / "slow-1.log"
    assert started_warm(log_path) == (way != "fresh")
    log = log_path.read_text()
    assert "the job ran longer than StoppingCondition.MaxRuntimeInSeconds (1 s) and was stopped" in log


@pytest.mark.parametrize("way", WAYS)
def test_a_job_whose_state_ends_first_is_stopped_not_max_runtime_exceeded(tmp_path, way):
    services, prefix = sleepy_services(tmp_path, way)
    request = {**training_request(prefix, "slow-2"), "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    running = threading.Event()
    running.set()
    threading.Timer(1.0, running.clear).start()
    with pytest.raises(TaskStopped):
        create_training_job_sync(services, request, TaskControl(running=running.is_set, execution_name="exec-1"))
    described = describe_training_job(services, {"TrainingJobName": "slow-2"}, running_control())
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert group_members(group_of(services, "slow-2")) == []
    assert started_warm(services.logs_root / "exec-1" / "logs" / "training-jobs" / "slow-2.log") == (way != "fresh")


def test_a_training_job_packs_its_model_and_reports_metrics_like_sagemaker(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    job = create_training_job_sync(services, training_request(prefix, max_depth="3"), running_control())
    assert job["TrainingJobStatus"] == "Completed" and "Local" not in job
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {"roc_auc", "logloss"}
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == "s3://attrition-model/attrition/t1/job-1/output/model.tar.gz"
    with tarfile.open(services.workspace.path_of(artifact)) as archive:
        assert {"xgboost-model.json", "features.json"} <= set(archive.getnames())
    assert describe_training_job(services, {"TrainingJobName": "job-1"}, running_control()) == job
    assert (services.logs_root / "exec-1" / "logs" / "training-jobs" / "job-1.log").read_text().count("roc_auc") >= 1


def test_a_failed_job_reports_the_programs_failure_file(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    with pytest.raises(TaskFailure) as failure:
        create_training_job_sync(services, training_request(prefix, max_depth="many"), running_control())
    assert failure.value.error == "States.TaskFailed"
    described = json.loads(failure.value.cause)
    assert described["TrainingJobStatus"] == "Failed" and "max_depth" in described["FailureReason"]


def test_a_name_used_before_is_refused_with_resource_in_use(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    create_training_job_sync(services, training_request(prefix), running_control())
    with pytest.raises(TaskFailure, match="already exists") as failure:
        dispatch(services, "sagemaker:createTrainingJob.sync", training_request(prefix))
    assert failure.value.error == "SageMaker.ResourceInUseException"


def test_an_image_without_a_local_container_is_a_clear_error(services, demo_extract):
    from mlops_pipeline.local.integrations import default_table

    request = training_request(stage_extract(services, demo_extract))
    request["AlgorithmSpecification"]["TrainingImage"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lightgbm:2"
    with pytest.raises(TaskFailure, match=r"image .*lightgbm:2: no local container .*containers/lightgbm.*byo-xgboost"):
        default_table().dispatch(services, "sagemaker:createTrainingJob.sync", request, running_control())
    assert services.records.get("training-jobs", "job-1") is None  # refused before the job exists, as SageMaker does


def test_an_empty_channel_is_a_clear_error(services):
    with pytest.raises(
        TaskFailure, match="channel train: no objects under s3://attrition-extracts/nothing/train/"
    ) as failure:
        dispatch(services, "sagemaker:createTrainingJob.sync", training_request("s3://attrition-extracts/nothing/"))
    assert failure.value.error == "SageMaker.AmazonSageMakerException"  # a ValidationException, unmodelled


def test_a_job_is_starting_until_its_fork_server_serves_and_training_from_its_training_start_time(tmp_path):
    """SageMaker's TrainingStartTime is when a job starts on its provisioned instance, before its data is downloaded;
    until then its SecondaryStatus is Starting. Here the instance is the container environment's fork server, whose
    imports (one taking 1.5 s) the job waits for."""
    services, prefix = sleepy_services(
        tmp_path, "warm", train_program=SLEEPY_TRAIN.replace("import json", "import slow_start\nimport json", 1)
    )
    (tmp_path / "project" / "containers" / "byo-xgboost" / "program" / "slow_start.py").write_text(
        "import time\ntime.sleep(1.5)\n"
    )
    seen, done = set(), threading.Event()

    def watch() -> None:
        while not done.is_set():
            record = services.records.get("training-jobs", "patient-1")
            if record is not None:
                seen.add((record["SecondaryStatus"], "TrainingStartTime" in record))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        described = create_training_job_sync(
            services, training_request(prefix, "patient-1", sleep="0"), running_control()
        )
    finally:
        done.set()
        watcher.join()
        services.close()
    created, started, ended = (
        datetime.datetime.fromisoformat(described[key])
        for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime")
    )
    assert datetime.timedelta(seconds=1.5) <= started - created and started <= ended
    assert ("Starting", False) in seen and not {("Starting", True), ("Training", False)} & seen
    assert described["SecondaryStatus"] == "Completed"
    assert started_warm(services.logs_root / "exec-1" / "logs" / "training-jobs" / "patient-1.log")


def test_metrics_follow_sagemakers_rule_last_match_wins():
    log = "roc_auc: 0.5\nepoch 2\nroc_auc: 0.75\nlogloss: nan-ish\n"
    metrics = parse_metrics(
        log, [{"Name": "roc_auc", "Regex": r"roc_auc: ([0-9.]+)"}, {"Name": "logloss", "Regex": r"logloss: ([0-9.]+)"}]
    )
    assert [(m["MetricName"], m["Value"]) for m in metrics] == [("roc_auc", 0.75)]


def test_a_job_warmed_up_ahead_is_forked_from_the_server_started_for_it(tmp_path, server_starts):
    """``warm_up`` (called while earlier states run) starts the fork server the job then uses: one server."""
    services, prefix = sleepy_services(tmp_path, "warm")
    request = training_request(prefix, "ahead-1", sleep="0")
    warm_up(services, {**request, "TrainingJobName.$": "$.name"}, running_control())
    assert len(server_starts) == 1
    create_training_job_sync(services, request, running_control())
    assert started_warm(services.logs_root / "exec-1" / "logs" / "training-jobs" / "ahead-1.log")
    assert len(server_starts) == 1
    services.close()


@pytest.mark.parametrize(
    "written",
    [
        {"AlgorithmSpecification.$": "$.algorithm"},
        {"Environment.$": "$.variables"},
        {"Environment": {"MODE.$": "$.mode"}},
        {"Environment": {"THREADS": 4}},  # not a string: the Task itself refuses it
    ],
)
def test_no_warm_up_for_what_only_the_execution_input_gives_or_is_not_valid(tmp_path, server_starts, written):
    services, prefix = sleepy_services(tmp_path, "warm")
    request = {**training_request(prefix), **written}
    if "AlgorithmSpecification.$" in written:
        del request["AlgorithmSpecification"]
    warm_up(services, request, running_control())
    assert server_starts == []
    services.close()


def test_a_warm_up_from_an_image_the_execution_input_names_starts_once_a_task_has_it_in_its_input(
    tmp_path, server_starts
):
    """The image given by the execution (``TrainingImage.$``): nothing while it is unknown; the server once the
    Parameters are read with the input of a Task before the job (``ahead.known_parameters``)."""
    services, prefix = sleepy_services(tmp_path, "warm")
    request = training_request(prefix)
    image = request["AlgorithmSpecification"].pop("TrainingImage")
    request["AlgorithmSpecification"]["TrainingImage.$"] = "$.image"
    warm_up(services, request, running_control())
    assert server_starts == []
    warm_up(services, known_parameters(request, {"image": image}, None), running_control())
    assert len(server_starts) == 1
    services.close()


def test_no_warm_up_where_jobs_start_fresh(tmp_path, server_starts, monkeypatch):
    services, prefix = sleepy_services(tmp_path, "fresh")
    warm_up(services, training_request(prefix), running_control())
    monkeypatch.setenv("MLOPS_WARM_START", "0")
    warm, _ = sleepy_services(tmp_path / "off", "warm")
    warm_up(warm, training_request(prefix), running_control())
    assert server_starts == []
    services.close(), warm.close()


def test_no_warm_up_after_the_session_closed(tmp_path, server_starts):
    """A warm-up still on its way when the session ends starts nothing that would outlive it."""
    services, prefix = sleepy_services(tmp_path, "warm")
    services.close()
    warm_up(services, training_request(prefix), running_control())
    assert server_starts == []
