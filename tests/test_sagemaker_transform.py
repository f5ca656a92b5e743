"""createTransformJob: serve on a free port, line-split mini-batches, joined output in input order."""

from __future__ import annotations

import json
import tarfile
import threading
import time

import pytest

from conftest import dispatch, running_control
from mlops_pipeline.local.integrations import default_table
from mlops_pipeline.local.integrations.sagemaker_model import create_model
from mlops_pipeline.local.integrations.sagemaker_transform import (
    TransformFailed,
    apply_filter,
    create_transform_job_sync,
    mini_batches,
    warm_up,
)
from mlops_pipeline.local.processes import group_members
from mlops_pipeline.local.tasks import TaskControl, TaskFailure, TaskStopped

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0"


@pytest.fixture
def model(services, trained_model):
    archive = services.workspace.path("attrition-model", "m/model.tar.gz")
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in trained_model.iterdir():
            tar.add(path, arcname=path.name)
    create_model(
        services,
        {
            "ModelName": "m-1",
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://attrition-model/m/model.tar.gz"},
        },
        running_control(),
    )
    return "m-1"


def transform_request(name: str = "tj-1", **overrides) -> dict:
    return {
        "TransformJobName": name,
        "ModelName": "m-1",
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 1,
        "MaxConcurrentTransforms": 2,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://attrition-extracts/s1/score/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": "s3://attrition-output/s1/transform/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        **overrides,
    }


def test_every_scoring_row_gets_its_id_and_probability_in_input_order(services, model, demo_extract):
    header, _, rows = (demo_extract / "extract" / "score" / "score.csv").read_bytes().partition(b"\n")
    big = header + b"\n" + rows * 8  # several 1 MB mini-batches
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", big)
    job = create_transform_job_sync(services, transform_request(), running_control())
    assert job["TransformJobStatus"] == "Completed"
    lines = services.workspace.path("attrition-output", "s1/transform/score.csv.out").read_text().splitlines()
    assert lines[0] == "employee_id,probability"  # the extract's header joined to the answer's
    ids = [line.split(",")[0] for line in big.decode().splitlines()[1:]]
    assert [line.split(",")[0] for line in lines[1:]] == ids
    assert all(0 <= float(line.split(",")[1]) <= 1 for line in lines[1:])


def test_single_record_batches_give_the_same_predictions(services, model, demo_extract):
    score = b"".join((demo_extract / "extract" / "score" / "score.csv").read_bytes().splitlines(keepends=True)[:40])
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", score)
    create_transform_job_sync(services, transform_request("multi"), running_control())
    multi = services.workspace.path("attrition-output", "s1/transform/score.csv.out").read_text()
    create_transform_job_sync(services, transform_request("single", BatchStrategy="SingleRecord"), running_control())
    assert services.workspace.path("attrition-output", "s1/transform/score.csv.out").read_text() == multi


def test_a_record_the_model_rejects_fails_the_job_naming_the_line(services, model, demo_extract):
    good = (demo_extract / "extract" / "score" / "score.csv").read_bytes().splitlines(keepends=True)[:5]
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", b"".join(good) + b"E9,1,2\n")
    with pytest.raises(TaskFailure) as failure:
        create_transform_job_sync(services, transform_request(BatchStrategy="SingleRecord"), running_control())
    described = json.loads(failure.value.cause)
    assert described["TransformJobStatus"] == "Failed"
    assert "answered 400 for the mini-batch at line 6" in described["FailureReason"]
    assert not services.workspace.path("attrition-output", "s1/transform/score.csv.out").exists()


def test_mini_batches_stay_under_the_payload_limit_and_keep_line_numbers(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"".join(b"%06d,%s\n" % (n, b"x" * 100) for n in range(30000)))
    batches = list(mini_batches(source, {"MaxPayloadInMB": 1}))
    assert all(sum(len(r) + 1 for r in records) <= 1024 * 1024 for _, records in batches)
    assert sum(len(records) for _, records in batches) == 30000 and len(batches) == 4
    assert [first for first, _ in batches][1] == len(batches[0][1]) + 1
    assert all(len(records) == 1 for _, records in mini_batches(source, {"BatchStrategy": "SingleRecord"}) if _ < 5)


def test_a_line_over_the_payload_limit_is_named(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"1,2\n" + b"9" * (1024 * 1024 + 10) + b"\n")
    with pytest.raises(TransformFailed, match="line 2 is 1048586 bytes, over MaxPayloadInMB"):
        list(mini_batches(source, {"MaxPayloadInMB": 1}))


@pytest.mark.parametrize(
    "expression, expected",
    [
        (None, b"a,b,c"),
        ("$", b"a,b,c"),
        ("$[1:]", b"b,c"),
        ("$[0,-1]", b"a,c"),
        ("$[1]", b"b"),
        # Slices include their end, as SageMaker documents ("$[1:4] specifies the second through fifth columns").
        ("$[:-1]", b"a,b,c"),
        ("$[0:1]", b"a,b"),
        ("$[0,1:]", b"a,b,c"),
    ],
)
def test_csv_filters_select_fields_like_sagemaker(expression, expected):
    assert apply_filter(b"a,b,c", expression) == expected


def test_an_unsupported_filter_is_named():
    with pytest.raises(TransformFailed, match=r"unsupported DataProcessing filter '\$\.features'"):
        apply_filter(b"a", "$.features")


def test_an_unknown_model_is_a_validation_error(services):
    with pytest.raises(TaskFailure, match='Could not find model "m-1"') as failure:
        dispatch(services, "sagemaker:createTransformJob.sync", transform_request())
    assert failure.value.error == "SageMaker.AmazonSageMakerException"  # SageMaker's ValidationException


def whole_file_request(name: str, **overrides) -> dict:
    request = transform_request(name, **{"MaxPayloadInMB": 6, **overrides})
    del request["DataProcessing"], request["BatchStrategy"]
    request["TransformInput"]["SplitType"] = "None"
    request["TransformOutput"]["AssembleWith"] = "None"
    return request


def test_split_none_sends_each_file_whole_and_writes_the_answer_as_it_came(services, model, demo_extract):
    rows = (demo_extract / "extract" / "score" / "score.csv").read_text().splitlines()[1:31]
    features = "".join(row.split(",", 1)[1] + "\n" for row in rows)  # a file the container reads as it is
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", features.encode())
    job = create_transform_job_sync(services, whole_file_request("whole"), running_control())
    assert job["TransformJobStatus"] == "Completed"
    answer = services.workspace.path("attrition-output", "s1/transform/score.csv.out").read_text()
    assert len(answer.splitlines()) == 30 and all(0 <= float(v) <= 1 for v in answer.splitlines())
    log = services.logs_root / "exec-1" / "logs" / "transform-jobs" / "whole.log"
    deadline = time.monotonic() + 10  # nginx logs a request after answering it, so the line may come just after
    while "POST /invocations" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().count("POST /invocations") == 1  # one request for the whole file


def test_a_whole_file_over_the_payload_limit_fails_naming_the_limit(services, model):
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", b"1,2\n" * 300_000)
    with pytest.raises(TaskFailure) as failure:
        create_transform_job_sync(services, whole_file_request("big", MaxPayloadInMB=1), running_control())
    assert "score.csv is 1200000 bytes, over MaxPayloadInMB (1 MB)" in json.loads(failure.value.cause)["FailureReason"]
    assert not list(services.workspace.objects("attrition-output"))  # no partial output


def test_the_container_gets_the_batch_variables_sagemaker_sets():
    from mlops_pipeline.local.integrations.sagemaker_transform import serving_variables

    assert serving_variables(transform_request()) == {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1",
        "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2",
    }
    assert serving_variables({}) == {"SAGEMAKER_BATCH": "true"}  # the others only when the request names them


def test_a_transform_whose_state_ends_kills_its_whole_server(services, model, demo_extract):
    services.workspace.put_file("attrition-extracts", "s1/score/score.csv", demo_extract / "extract/score/score.csv")
    seen: list[int] = []

    def running() -> bool:  # the state ends as soon as the server is up
        seen.extend(group for group in services.processes.pids() if group_members(group))
        return not seen

    with pytest.raises(TaskStopped):
        create_transform_job_sync(services, transform_request(), TaskControl(running=running, execution_name="e"))
    assert seen and all(group_members(group) == [] for group in seen)
    assert services.processes.pids() == []
    assert services.records.get("transform-jobs", "tj-1")["TransformJobStatus"] == "Stopped"


def in_a_thread_of_its_own(task, services, request: dict) -> dict:
    """A Task run by a thread that then ends, as each execution's thread does."""
    answers = []
    thread = threading.Thread(target=lambda: answers.append(task(services, request, running_control())))
    thread.start()
    thread.join(120)
    return answers[0]


def test_a_second_transform_of_the_same_model_reuses_the_idle_server_until_the_session_ends(
    services, model, demo_extract
):
    """The same artifact and serving variables: the server the first job left idle answers the second (no
    second start; each job from its own thread, as executions run), with the same predictions; other variables
    get a server of their own; the session's end stops both and removes their folders."""
    score = b"".join((demo_extract / "extract" / "score" / "score.csv").read_bytes().splitlines(keepends=True)[:40])
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", score)
    output = services.workspace.path("attrition-output", "s1/transform/score.csv.out")
    answers, groups = [], []
    for name, strategy in (("first", "MultiRecord"), ("again", "MultiRecord"), ("single", "SingleRecord")):
        job = in_a_thread_of_its_own(
            create_transform_job_sync, services, transform_request(name, BatchStrategy=strategy)
        )
        assert job["TransformJobStatus"] == "Completed"
        answers.append(output.read_text())
        groups.append(services.processes.pids())
    assert answers[0] == answers[1] == answers[2]
    assert groups[0] == groups[1] and len(groups[2]) == 2  # reused; then one more for other variables
    again = (services.logs_root / "exec-1" / "logs" / "transform-jobs" / "again.log").read_text()
    assert "the model server of an earlier transform of this model answers" in again and "first.log" in again
    services.close()
    assert services.processes.pids() == [] and all(group_members(group) == [] for group in groups[2])
    assert not list((services.workspace.root / "jobs").glob("*"))


AHEAD = TaskControl(running=lambda: True, execution_name="exec-1", state_name="BatchTransform")


def known_ahead(**overrides) -> dict:
    """The transform's Parameters as a state before it knows them: its job name is still to be formatted."""
    request = transform_request(**overrides)
    del request["TransformJobName"]
    return {**request, "TransformJobName.$": "States.Format('attrition-{}', $.job_stem)"}


def test_a_transform_takes_the_server_started_ahead_of_it_waiting_while_it_starts(services, model, demo_extract):
    """``warm_up`` (while the scoring Glue job runs) starts the model server; the transform, begun while it is
    still starting, waits for it and uses it: one server, the same predictions as a server of its own."""
    services.workspace.put_file("attrition-extracts", "s1/score/score.csv", demo_extract / "extract/score/score.csv")
    ahead_log = services.logs_root / "exec-1" / "logs" / "model-servers" / "BatchTransform.log"
    preparing = threading.Thread(target=warm_up, args=(services, known_ahead(), AHEAD))
    preparing.start()
    deadline = time.monotonic() + 30
    while not ahead_log.exists() and time.monotonic() < deadline:  # the server is on its way
        time.sleep(0.01)
    job = in_a_thread_of_its_own(create_transform_job_sync, services, transform_request("ahead"))
    preparing.join(60)
    assert job["TransformJobStatus"] == "Completed"
    assert len(services.processes.pids()) == 1  # the one started ahead, idle again
    log = (services.logs_root / "exec-1" / "logs" / "transform-jobs" / "ahead.log").read_text()
    assert "the model server started ahead of this job answers" in log and str(ahead_log) in log
    assert "starting the inference server" in ahead_log.read_text()
    output = services.workspace.path("attrition-output", "s1/transform/score.csv.out")
    ahead_answer = output.read_text()
    own = in_a_thread_of_its_own(create_transform_job_sync, services, transform_request("own", MaxPayloadInMB=2))
    assert own["TransformJobStatus"] == "Completed" and len(services.processes.pids()) == 2  # a server of its own
    assert output.read_text() == ahead_answer
    services.close()
    assert services.processes.pids() == [] and not list((services.workspace.root / "jobs").glob("*"))


@pytest.mark.parametrize(
    "known",
    [
        {"ModelName.$": "$.approved.record.model_name"},  # the input does not tell it yet
        {"Environment.$": "$.variables"},
        {"BatchStrategy": "Bogus"},  # the transform refuses it itself
        {"ModelName": "no-such-model"},
    ],
)
def test_no_server_is_started_ahead_for_what_is_not_known_or_not_valid(services, model, known):
    request = {**known_ahead(), **known}
    if "ModelName.$" in known:
        del request["ModelName"]
    default_table().warm_up(services, [("sagemaker:createTransformJob.sync", request, AHEAD)])
    assert services.processes.pids() == []


def test_no_server_is_started_ahead_outside_an_execution_where_its_log_would_have_no_place(services, model):
    warm_up(services, known_ahead(), TaskControl(running=lambda: True, state_name="BatchTransform"))
    assert services.processes.pids() == []


def test_no_server_is_started_ahead_once_the_session_ended(services, model):
    services.close()
    warm_up(services, known_ahead(), AHEAD)
    assert services.processes.pids() == [] and not list((services.workspace.root / "jobs").glob("*"))


def test_a_server_whose_transform_failed_is_not_reused(services, model, demo_extract):
    services.workspace.put_bytes("attrition-extracts", "s1/score/score.csv", b"employee_id,a\n1,not,enough\n")
    with pytest.raises(TaskFailure):
        create_transform_job_sync(services, transform_request("bad"), running_control())
    log = (services.logs_root / "exec-1" / "logs" / "transform-jobs" / "bad.log").read_text()
    assert "starting the inference server" in log  # it ran, answered the bad row, and was stopped
    assert services.processes.pids() == []
