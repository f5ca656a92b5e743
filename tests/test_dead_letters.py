"""`mlops-pipeline replay-dead-letters`: dead letters through the landing handler, on moto's SQS and Step Functions.

The handler starts executions through each state machine's ``live`` alias, as the Lambda does. moto 5.2.5 refuses
StartExecution on an alias ARN (it resolves only unqualified and version ARNs), so, as
tests/test_terraform_emulator.py does, the Step Functions client resolves the alias the way Step Functions
does before the call reaches moto: the alias must exist and send all traffic to a version of that state
machine. An alias that does not exist is left alone: moto refuses the call (``StateMachineDoesNotExist``),
as Step Functions refuses to start an execution through an alias that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from moto import mock_aws
from test_s3_landing import record

from mlops_pipeline import dead_letters
from mlops_pipeline.cli import main
from mlops_pipeline.handlers import s3_landing
from mlops_pipeline.naming import STATE_MACHINE_ALIAS, Workflow
from mlops_pipeline.target import local_target

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
TARGET = local_target("attrition")
BUCKET = TARGET.feature_store_bucket
REGION = TARGET.region
START_EXECUTION = "provide-client-params.sfn.StartExecution"


def s3_record(key: str, sequencer: str, bucket: str = BUCKET) -> dict:
    """A record as S3 sends it for a PUT into an unversioned bucket (test_s3_landing's, in this bucket)."""
    return record(key, bucket=bucket, size=1024, etag="d41d8cd98f00b204e9800998ecf8427e", sequencer=sequencer)


def dead_letter(sqs, queue_url: str, body) -> str:
    """A message as Lambda dead-letters a failed asynchronous invocation: the event as its body, unchanged."""
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": "8f5f1b0e-2d1a-4c3e-9a7b-0c2f6f1d0a11"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "1 record(s) could not start an execution"},
    }
    text = body if isinstance(body, str) else json.dumps(body)
    return sqs.send_message(QueueUrl=queue_url, MessageBody=text, MessageAttributes=attributes)["MessageId"]


def resolve_aliases(events, sfn, requested: list[str]):
    """Serve StartExecution on a ``live`` alias ARN the way Step Functions routes it (see the module docstring)."""

    def through_the_alias(params, **_):
        arn = params["stateMachineArn"]
        requested.append(arn)
        machine, _, qualifier = arn.rpartition(":")
        if qualifier != STATE_MACHINE_ALIAS:
            return
        try:
            routing = sfn.describe_state_machine_alias(stateMachineAliasArn=arn)["routingConfiguration"]
        except ClientError:
            return  # no such alias: moto refuses the call, as Step Functions would
        assert [r["weight"] for r in routing] == [100] and routing[0]["stateMachineVersionArn"].startswith(machine)
        params["stateMachineArn"] = machine

    events.register(START_EXECUTION, through_the_alias)
    return through_the_alias


class Stack:
    """What Terraform and deploy leave in the account, in moto: the queue, the machines and their aliases."""

    def __init__(self):
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.queue_url = self.sqs.create_queue(QueueName="mlops-attrition-landing-dlq")["QueueUrl"]
        self.target = replace(TARGET, landing_dead_letter_queue_url=self.queue_url)
        self.requested: list[str] = []
        role = TARGET.step_functions_role_arn
        self.machines = {
            workflow: self.sfn.create_state_machine(
                name=workflow.state_machine_name("attrition"), definition=DEFINITION, roleArn=role
            )["stateMachineArn"]
            for workflow in Workflow
        }

    def deploy(self, *workflows: Workflow) -> None:
        """Publish a version of each state machine and point ``live`` at it, as deploy does."""
        for workflow in workflows or tuple(Workflow):
            machine = self.machines[workflow]
            published = self.sfn.update_state_machine(stateMachineArn=machine, definition=DEFINITION, publish=True)
            version = published["stateMachineVersionArn"]
            self.sfn.create_state_machine_alias(
                name=STATE_MACHINE_ALIAS,
                routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}],
            )

    def executions(self, workflow: Workflow) -> list[str]:
        listed = self.sfn.list_executions(stateMachineArn=self.machines[workflow], maxResults=1000)["executions"]
        return sorted(e["name"] for e in listed)

    def queued(self) -> list[str]:
        """Bodies still in the queue (received and made visible again at once)."""
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [m["Body"] for m in answer.get("Messages", [])]

    def outputs_file(self, folder):
        path = folder / "outputs.json"
        path.write_text(json.dumps({k: {"value": v, "type": "string"} for k, v in asdict(self.target).items()}))
        return path


@pytest.fixture
def stack(aws_credentials):
    with mock_aws():
        yield Stack()


@pytest.fixture
def cli_clients_resolve_aliases(stack):
    """The clients the command creates come from boto3's default session: resolve aliases there."""
    events = boto3._get_default_session().events
    handler = resolve_aliases(events, stack.sfn, stack.requested)
    yield
    events.unregister(START_EXECUTION, handler)


def test_the_environment_is_the_lambdas():
    environment = dead_letters.landing_environment(TARGET)
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:attrition"
    assert environment == {
        "TRAINING_STATE_MACHINE_ARN": f"{machine}-training:live",
        "SCORING_STATE_MACHINE_ARN": f"{machine}-scoring:live",
        "TRAINING_PREFIX": "data/train/",
        "SCORING_PREFIX": "data/score/",
        "ACCEPTED_SUFFIXES": ".csv",
        "FEATURE_STORE_BUCKET": BUCKET,
    }


def test_a_fully_handled_message_is_deleted_and_one_that_fails_again_stays(stack):
    """Landed before the scoring alias existed: the training record started, the scoring one failed."""
    stack.deploy(Workflow.TRAINING)
    resolve_aliases(stack.sfn.meta.events, stack.sfn, stack.requested)
    settings = dead_letters.landing_settings(stack.target)
    both = {"Records": [s3_record("data/train/jan 2026.csv", "0065A1"), s3_record("data/score/feb.csv", "0065A2")]}
    training_only = {"Records": [s3_record("data/train/mar.csv", "0065A3"), s3_record("x/y.csv", "0065A4", "other")]}
    dead_letter(stack.sqs, stack.queue_url, both)
    dead_letter(stack.sqs, stack.queue_url, training_only)

    first = dead_letters.replay_dead_letters(stack.sqs, stack.sfn, stack.queue_url, settings, wait_seconds=0)
    by_body = {len(r.summary["started"]) + len(r.summary["failed"]): r for r in first}
    assert [r.deleted for r in first].count(True) == 1
    kept, deleted = by_body[2], by_body[1]
    assert not kept.deleted and kept.summary["failed"][0]["key"] == "data/score/feb.csv"
    assert "StateMachineDoesNotExist" in kept.summary["failed"][0]["error"] and "retry" in kept.problem
    assert deleted.deleted and deleted.summary["ignored"][0]["reason"].startswith("bucket other is not")
    assert [json.loads(body) for body in stack.queued()] == [both]  # visible again at once
    assert len(stack.executions(Workflow.TRAINING)) == 2 and stack.executions(Workflow.SCORING) == []

    stack.deploy(Workflow.SCORING)  # the cause is fixed
    second = dead_letters.replay_dead_letters(stack.sqs, stack.sfn, stack.queue_url, settings, wait_seconds=0)
    (again,) = second
    assert again.deleted and len(again.summary["started"] + again.summary["duplicate"]) == 2
    assert stack.queued() == []
    assert len(stack.executions(Workflow.TRAINING)) == 2 and len(stack.executions(Workflow.SCORING)) == 1
    assert {arn.rsplit(":", 1)[-1] for arn in stack.requested} == {STATE_MACHINE_ALIAS}  # always the alias


def test_the_command_deletes_what_it_handled_keeps_what_failed_and_exits_1(
    stack, tmp_path, cli_clients_resolve_aliases
):
    stack.deploy(Workflow.TRAINING)
    outputs = stack.outputs_file(tmp_path)
    handled = {"Records": [s3_record("data/train/a.csv", "0065B1")]}
    failing = {"Records": [s3_record("data/score/b.csv", "0065B2")]}
    handled_id = dead_letter(stack.sqs, stack.queue_url, handled)
    failing_id = dead_letter(stack.sqs, stack.queue_url, failing)
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    test_event_id = dead_letter(stack.sqs, stack.queue_url, test_event)
    command = ["replay-dead-letters", "--tf-outputs", str(outputs), "--wait-seconds", "0"]

    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    (train_name,) = stack.executions(Workflow.TRAINING)
    assert f"deleted  {handled_id}  started {train_name}" in lines
    assert f"deleted  {test_event_id}  ignored event: no records (s3:TestEvent)" in lines
    (kept,) = [line for line in lines if line.startswith(f"kept     {failing_id}")]
    assert "failed record 0 (data/score/b.csv): StateMachineDoesNotExist" in kept
    assert "3 dead letter(s) in mlops-attrition-landing-dlq: 2 deleted, 1 kept." in lines
    assert lines[-1] == (
        "Error: 1 of 3 dead letter(s) stay in mlops-attrition-landing-dlq: fix what their lines say, then replay again"
    )
    assert [json.loads(body) for body in stack.queued()] == [failing]

    stack.deploy(Workflow.SCORING)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    (score_name,) = stack.executions(Workflow.SCORING)
    assert result.output.splitlines() == [
        f"deleted  {failing_id}  started {score_name}",
        "1 dead letter(s) in mlops-attrition-landing-dlq: 1 deleted, 0 kept.",
    ]
    assert stack.queued() == [] and stack.executions(Workflow.TRAINING) == [train_name]

    result = CliRunner().invoke(main, command)
    assert (result.exit_code, result.output) == (0, "No dead letters in mlops-attrition-landing-dlq.\n")


def test_a_redelivered_dead_letter_starts_nothing_new(stack, tmp_path, cli_clients_resolve_aliases):
    """The same event dead-lettered twice (S3 delivers at least once): one execution, both messages deleted."""
    stack.deploy()
    event = {"Records": [s3_record("data/train/a.csv", "0065C1")]}
    dead_letter(stack.sqs, stack.queue_url, event)
    dead_letter(stack.sqs, stack.queue_url, event)
    result = CliRunner().invoke(
        main, ["replay-dead-letters", "--tf-outputs", str(stack.outputs_file(tmp_path)), "--wait-seconds", "0"]
    )
    assert result.exit_code == 0, result.output
    assert len(stack.executions(Workflow.TRAINING)) == 1 and stack.queued() == []


@pytest.mark.parametrize(
    "body, shown",
    [
        ("this is not an S3 event", "rejected event: body is not JSON (Expecting value at line 1)"),
        ({"Records": [{"eventName": None}]}, "rejected record 0: eventName is null, not a string"),
    ],
)
def test_malformed_dead_letters_stay_unless_discarded(stack, tmp_path, cli_clients_resolve_aliases, body, shown):
    stack.deploy()
    message_id = dead_letter(stack.sqs, stack.queue_url, body)
    command = ["replay-dead-letters", "--tf-outputs", str(stack.outputs_file(tmp_path)), "--wait-seconds", "0"]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    assert f"kept     {message_id}  {shown}; malformed: fix the handler, or delete with --discard-rejected" in (
        result.output.splitlines()
    )
    assert len(stack.queued()) == 1

    result = CliRunner().invoke(main, [*command, "--discard-rejected"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"deleted  {message_id}  {shown}"
    assert stack.queued() == []


def test_outputs_without_the_queue_ask_for_terraform_apply(stack, tmp_path):
    stack.target = replace(stack.target, landing_dead_letter_queue_url="")
    result = CliRunner().invoke(main, ["replay-dead-letters", "--tf-outputs", str(stack.outputs_file(tmp_path))])
    assert result.exit_code == 1
    assert result.output == (
        "Error: terraform outputs lack landing_dead_letter_queue_url: run `terraform -chdir=infra/terraform apply` "
        "with this version of the module first\n"
    )


def test_a_queue_that_does_not_exist_is_one_line(stack, tmp_path):
    url = stack.queue_url.replace("landing-dlq", "gone")
    stack.target = replace(stack.target, landing_dead_letter_queue_url=url)
    result = CliRunner().invoke(main, ["replay-dead-letters", "--tf-outputs", str(stack.outputs_file(tmp_path))])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert result.output.startswith(f"Error: {url}: ") and "NonExistentQueue" in result.output


def test_a_dead_lettered_scheduled_fire_is_replayed_once_on_the_file_it_would_have_run(stack):
    """A retraining fire while the training alias did not exist yet: Lambda dead-lettered the scheduler's event;
    replayed after deploy, it starts the file that was latest at the scheduled time, once."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/train/jan.csv", Body=b"a,b\n1,2\n")
    s3_landing._s3_client.cache_clear()  # the handler's own client, inside moto
    resolve_aliases(stack.sfn.meta.events, stack.sfn, stack.requested)
    settings = dead_letters.landing_settings(stack.target)
    fire = s3_landing.scheduled_event("attrition-retraining", "train", "2030-01-06T03:00:00Z")
    dead_letter(stack.sqs, stack.queue_url, fire)
    (kept,) = dead_letters.replay_dead_letters(stack.sqs, stack.sfn, stack.queue_url, settings, wait_seconds=0)
    assert not kept.deleted and "StateMachineDoesNotExist" in kept.summary["failed"][0]["error"]
    assert "failed schedule attrition-retraining at 2030-01-06T03:00:00.000Z (data/train/jan.csv): " in kept.line()

    stack.deploy(Workflow.TRAINING)
    (replayed,) = dead_letters.replay_dead_letters(stack.sqs, stack.sfn, stack.queue_url, settings, wait_seconds=0)
    (name,) = replayed.summary["started"]
    assert replayed.deleted and name.startswith("train-jan-") and stack.executions(Workflow.TRAINING) == [name]
    dead_letter(stack.sqs, stack.queue_url, fire)  # the same fire again: the same execution
    (again,) = dead_letters.replay_dead_letters(stack.sqs, stack.sfn, stack.queue_url, settings, wait_seconds=0)
    assert again.summary["started"] + again.summary["duplicate"] == [name]
    assert stack.executions(Workflow.TRAINING) == [name]
    s3_landing._s3_client.cache_clear()
