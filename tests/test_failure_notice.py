"""The failure notifier: one message from a status-change event and the execution's history, published
to a KMS-encrypted topic (moto's SNS, KMS and Step Functions)."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from mlops_pipeline.handlers.failure_notice import (
    Settings,
    build_notice,
    console_link,
    failure_states,
    handle_event,
    one_line_cause,
    read_history,
)

ACCOUNT, REGION = "123456789012", "eu-west-1"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:attrition-training"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:attrition-training:train-hr-2024-5f1c0a9e2b7d4c3a"
GLUE_CAUSE = json.dumps(
    {
        "AllocatedCapacity": 2,
        "Attempt": 0,
        "ErrorMessage": "DataCheckError: train file has 12 rows,\n the pipeline needs at least 20",
        "Id": "jr_0123",
        "JobName": "attrition-transform",
        "JobRunState": "FAILED",
    }
)
GLUE_TASK_CAUSE = f"The Glue transform of s3://fs/data/train/hr.csv failed with States.TaskFailed: {GLUE_CAUSE}"


def status_change(status: str = "FAILED", **detail) -> dict:
    """A "Step Functions Execution Status Change" event as EventBridge delivers it (AWS Step Functions
    developer guide, "EventBridge for Step Functions execution status changes": dates in epoch ms)."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2024-05-02T10:01:07Z",
        "region": REGION,
        "resources": [EXECUTION],
        "detail": {
            "executionArn": EXECUTION,
            "stateMachineArn": MACHINE,
            "stateMachineAliasArn": f"{MACHINE}:live",
            "name": EXECUTION.rsplit(":", 1)[1],
            "status": status,
            "startDate": 1714644000000,
            "stopDate": 1714644067123,
            "input": '{"kind": "train"}',
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            "error": "TransformFailed" if status == "FAILED" else None,
            "cause": GLUE_TASK_CAUSE if status == "FAILED" else None,
            "redriveCount": 0,
            "redriveStatus": "REDRIVABLE",
            **detail,
        },
    }


def event(number: int, kind: str, **details) -> dict:
    """A GetExecutionHistory event: its details under ``<type in camel case>EventDetails``."""
    stamp = datetime.datetime(2024, 5, 2, 10, 0, number, tzinfo=datetime.timezone.utc)
    name = kind[0].lower() + kind[1:]
    if kind.endswith("StateEntered"):
        name = "stateEntered"
    elif kind.endswith("StateExited"):
        name = "stateExited"
    body = {"timestamp": stamp, "type": kind, "id": number, "previousEventId": number - 1}
    return {**body, f"{name}EventDetails": details} if details else body


def caught_glue_failure() -> list[dict]:
    return [
        event(1, "ExecutionStarted", input="{}", roleArn="arn:aws:iam::123456789012:role/states"),
        event(2, "TaskStateEntered", name="PinLandedObject", input="{}"),
        event(3, "TaskScheduled", resource="copyObject", resourceType="aws-sdk:s3", region=REGION, parameters="{}"),
        event(4, "TaskSucceeded", resource="copyObject", resourceType="aws-sdk:s3", output="{}"),
        event(5, "TaskStateExited", name="PinLandedObject", output="{}"),
        event(6, "TaskStateEntered", name="TransformTrainingData", input="{}"),
        event(
            7,
            "TaskFailed",
            resource="startJobRun.sync",
            resourceType="glue",
            error="States.TaskFailed",
            cause=GLUE_CAUSE,
        ),
        event(8, "TaskStateExited", name="TransformTrainingData", output="{}"),
        event(9, "FailStateEntered", name="TrainingTransformFailed", input="{}"),
        event(10, "ExecutionFailed", error="TransformFailed", cause=GLUE_TASK_CAUSE),
    ]


def test_the_message_names_pipeline_execution_failed_state_error_cause_and_console_link():
    notice = build_notice(status_change()["detail"], caught_glue_failure())
    assert (notice.pipeline, notice.workflow, notice.status) == ("attrition", "training", "FAILED")
    assert (notice.failed_state, notice.fail_state) == ("TransformTrainingData", "TrainingTransformFailed")
    assert notice.error == "TransformFailed"
    assert notice.cause == (
        "The Glue transform of s3://fs/data/train/hr.csv failed with States.TaskFailed: DataCheckError: train file "
        "has 12 rows, the pipeline needs at least 20"
    )
    assert notice.stopped == "2024-05-02T10:01:07Z"
    assert notice.id == f"{EXECUTION}#0#FAILED"
    assert notice.message.splitlines() == [
        "The training execution of pipeline attrition ended FAILED.",
        "Pipeline:  attrition",
        "Execution: train-hr-2024-5f1c0a9e2b7d4c3a",
        "State:     TransformTrainingData (then TrainingTransformFailed)",
        "Error:     TransformFailed",
        f"Cause:     {notice.cause}",
        "Stopped:   2024-05-02T10:01:07Z",
        f"Console:   https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/{EXECUTION}",
    ]
    assert notice.subject == "attrition training execution FAILED: TransformTrainingData"
    assert json.loads(json.dumps(notice.as_json()))["message"] == notice.message


def test_a_decision_names_the_fail_state_and_a_retried_task_that_worked_is_not_the_failure():
    history = [
        event(1, "TaskStateEntered", name="TuneHyperparameters"),
        event(2, "TaskFailed", error="SageMaker.AmazonSageMakerException", cause="throttled"),
        event(3, "TaskSucceeded", output="{}"),
        event(4, "TaskStateExited", name="TuneHyperparameters"),
        event(5, "ChoiceStateEntered", name="QualityGate"),
        event(6, "ChoiceStateExited", name="QualityGate"),
        event(7, "FailStateEntered", name="QualityGateFailed"),
        event(8, "ExecutionFailed", error="QualityGateFailed", cause="roc_auc = 0.61 but the gate requires 0.7"),
    ]
    assert failure_states(history) == (None, "QualityGateFailed")
    notice = build_notice(status_change(error="QualityGateFailed", cause="roc_auc = 0.61")["detail"], history)
    assert "State:     QualityGateFailed\n" in notice.message


@pytest.mark.parametrize("status, ending", [("TIMED_OUT", "ExecutionTimedOut"), ("ABORTED", "ExecutionAborted")])
def test_a_timed_out_or_aborted_execution_names_the_state_it_was_in(status, ending):
    history = [
        event(1, "TaskStateEntered", name="TuneHyperparameters"),
        event(2, "TaskSubmitted", resource="createHyperParameterTuningJob.sync"),
        event(3, ending, error="States.Timeout" if status == "TIMED_OUT" else None, cause="stopped by a user"),
    ]
    notice = build_notice(status_change(status)["detail"], history)
    assert (notice.failed_state, notice.fail_state, notice.status) == ("TuneHyperparameters", None, status)
    assert notice.cause == "stopped by a user"  # the detail has none: the ending event's
    assert notice.subject == f"attrition training execution {status}: TuneHyperparameters"


def test_a_redrive_that_fails_again_is_a_new_notice():
    first = build_notice(status_change()["detail"], caught_glue_failure())
    again = build_notice(status_change(redriveCount=1)["detail"], caught_glue_failure())
    assert first.id != again.id and again.id.endswith("#1#FAILED")
    assert "Execution: train-hr-2024-5f1c0a9e2b7d4c3a (redrive 1)" in again.message


def test_causes_are_one_line_and_short_and_subjects_are_ascii_under_100():
    assert one_line_cause("a\n  b\tc") == "a b c"
    long = one_line_cause("x" * 1000)
    assert len(long) == 300 and long.endswith("…")
    notice = build_notice(status_change()["detail"], [event(1, "TaskStateEntered", name="Étape" + "é" * 200)])
    assert notice.subject.isascii() and len(notice.subject) < 100 and "\n" not in notice.subject


def test_console_links_follow_the_partition():
    china = "arn:aws-cn:states:cn-north-1:123456789012:execution:p-training:e"
    assert console_link(china).startswith("https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/v2/")


# -- the Lambda, on moto ---------------------------------------------------------------------------


@pytest.fixture
def aws(aws_credentials, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        import boto3

        yield {name: boto3.client(name, region_name=REGION) for name in ("kms", "sns", "sqs", "stepfunctions")}


def test_the_handler_publishes_one_message_to_the_encrypted_topic(aws):
    key = aws["kms"].create_key(Description="pipeline")["KeyMetadata"]["Arn"]
    topic = aws["sns"].create_topic(Name="mlops-attrition-failures", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    queue = aws["sqs"].create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    assert aws["sns"].get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == key

    sfn = aws["stepfunctions"]
    definition = {"StartAt": "Fails", "States": {"Fails": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}
    role = f"arn:aws:iam::{ACCOUNT}:role/states"
    machine = sfn.create_state_machine(name="attrition-scoring", definition=json.dumps(definition), roleArn=role)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="score-x-1")["executionArn"]
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.02)
    detail = {**status_change()["detail"], "executionArn": execution, "stateMachineArn": machine["stateMachineArn"]}
    detail.update(name="score-x-1", error="Boom", cause="it broke")

    settings = Settings.from_env(
        {"FAILURES_TOPIC_ARN": topic, "STATE_MACHINE_ARNS": f"{MACHINE},{machine['stateMachineArn']}"}
    )
    outcome = handle_event({**status_change(), "detail": detail}, NewestFirst(sfn), aws["sns"], settings)
    assert outcome["action"] == "published"

    received = aws["sqs"].receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == 1
    envelope = json.loads(received[0]["Body"])
    assert envelope["Subject"].startswith("attrition scoring execution FAILED")
    assert "Execution: score-x-1" in envelope["Message"] and "Error:     Boom" in envelope["Message"]
    assert "State:     Fails\n" in envelope["Message"]  # the Fail state, read from the history
    assert envelope["MessageAttributes"]["status"]["Value"] == "FAILED"
    kinds = [e["type"] for e in read_history(NewestFirst(sfn), execution)]
    assert (kinds[0], kinds[-1]) == ("ExecutionStarted", "ExecutionFailed")  # oldest first


class NewestFirst:
    """moto 5 answers GetExecutionHistory oldest first whatever ``reverseOrder`` says; AWS lists the events
    "in descending order of their timeStamp" when it is true (botocore's GetExecutionHistory model)."""

    def __init__(self, client):
        self.client = client

    def get_execution_history(self, **request):
        page = self.client.get_execution_history(**request)
        return {**page, "events": page["events"][::-1] if request.get("reverseOrder") else page["events"]}


@pytest.mark.parametrize(
    "change",
    [{"status": "SUCCEEDED"}, {"status": "RUNNING"}, {"stateMachineArn": MACHINE.replace("attrition", "other")}],
)
def test_the_handler_ignores_other_statuses_and_other_state_machines(aws, change):
    sns = aws["sns"]
    settings = Settings(topic_arn="arn:aws:sns:eu-west-1:123456789012:nope", state_machine_arns=(MACHINE,))
    event = status_change()
    event["detail"].update(change)
    assert handle_event(event, None, sns, settings)["action"] == "ignored"


def test_an_unreadable_history_still_publishes_the_message(aws):
    topic = aws["sns"].create_topic(Name="t")["TopicArn"]
    settings = Settings(topic_arn=topic, state_machine_arns=(MACHINE,))
    outcome = handle_event(status_change(), aws["stepfunctions"], aws["sns"], settings)  # no such execution
    assert outcome["action"] == "published"


def test_a_misconfigured_notifier_says_what_to_set():
    with pytest.raises(RuntimeError, match="set FAILURES_TOPIC_ARN, STATE_MACHINE_ARNS"):
        Settings.from_env({})
