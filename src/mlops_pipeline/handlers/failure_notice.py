"""Failure notifications: one message per failed, timed-out or aborted execution of either state machine.

On AWS an EventBridge rule sends each "Step Functions Execution Status Change" event whose status is
FAILED, TIMED_OUT or ABORTED (of this pipeline's two state machines) to this Lambda, which reads the
execution's history for the state that failed, builds the message and publishes it to the failures
topic. The local runtime builds the same message with :func:`build_notice` from its own history, so
what a subscriber reads on AWS and what ``local`` prints carry the same text.

Why a Lambda and not an input transformer: the event's ``detail`` is DescribeExecution's answer
(executionArn, stateMachineArn, name, status, startDate, stopDate in epoch milliseconds, input,
output, error, cause, redriveCount...; AWS Step Functions developer guide, "EventBridge for Step
Functions execution status changes"), which does not name the state that failed: only
GetExecutionHistory does. An input transformer can only copy event fields.

Delivery: EventBridge delivers an event at least once ("Delivery type: Best effort", EventBridge
events reference, "AWS Step Functions events"), and Lambda retries a failed asynchronous invocation
twice before its dead-letter queue (AWS Lambda developer guide, "Asynchronous invocation"). A duplicate
is therefore possible but rare; every message carries ``id`` (execution ARN, redrive count, status),
the same for a redelivery, so a subscriber can drop repeats. A redriven execution that fails again
is a new status change with a new redrive count: a new message.

Standard library and boto3 only: this module ships in the Lambda zip beside the landing handler.

Environment: FAILURES_TOPIC_ARN, STATE_MACHINE_ARNS (comma-separated: the two state machines this
function reports on; events of any other are ignored).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import re
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)

#: The statuses of an execution that ended without succeeding (DescribeExecution's ``status``).
NOTIFIED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: History events of a state whose error ended it (botocore's HistoryEventType).
STATE_FAILURE_EVENTS = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionTimedOut",
        "ActivityFailed",
        "ActivityScheduleFailed",
        "ActivityTimedOut",
        "MapStateFailed",
        "ParallelStateFailed",
        "EvaluationFailed",
    }
)
#: How Step Functions' console names each partition's host.
CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
CAUSE_CHARS = 300  # the one-line cause; the rest is in the console
SUBJECT_CHARS = 99  # SNS: "ASCII text ... must be less than 100 characters long" (Publish, Subject)
HISTORY_PAGES = 3  # newest first: the failure is among an execution's last events
WORKFLOWS = ("training", "scoring")  # mlops_pipeline.naming.Workflow's values (kept standard-library here)
_JSON_IN_TEXT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class FailureNotice:
    """What one failed execution's message says; ``message`` is the text subscribers read."""

    id: str
    pipeline: str
    workflow: str
    execution: str
    execution_arn: str
    status: str
    failed_state: str | None
    fail_state: str | None
    error: str | None
    cause: str
    stopped: str
    redrive_count: int
    console_link: str

    @property
    def subject(self) -> str:
        """The e-mail subject: printable ASCII, one line, under SNS's 100 characters."""
        text = f"{self.pipeline} {self.workflow} execution {self.status}: {self.failed_state or self.fail_state or '?'}"
        ascii_text = "".join(c if " " <= c <= "~" else "?" for c in text)
        return ascii_text[:SUBJECT_CHARS]

    @property
    def message(self) -> str:
        where = self.failed_state or self.fail_state or "unknown"
        if self.failed_state and self.fail_state:
            where += f" (then {self.fail_state})"
        redriven = f" (redrive {self.redrive_count})" if self.redrive_count else ""
        return "\n".join(
            (
                f"The {self.workflow} execution of pipeline {self.pipeline} ended {self.status}.",
                f"Pipeline:  {self.pipeline}",
                f"Execution: {self.execution}{redriven}",
                f"State:     {where}",
                f"Error:     {self.error or '-'}",
                f"Cause:     {self.cause or '-'}",
                f"Stopped:   {self.stopped}",
                f"Console:   {self.console_link}",
            )
        )

    def as_json(self) -> dict:
        """The notice as one JSON object: what the local notifications file and webhook receive."""
        return {**asdict(self), "subject": self.subject, "message": self.message}


def build_notice(detail: dict, history: list[dict]) -> FailureNotice:
    """The notice of an ended execution from its status-change ``detail`` (DescribeExecution's fields)
    and its history events (GetExecutionHistory's ``events``, oldest first)."""
    arn = detail["executionArn"]
    machine = detail["stateMachineArn"].split(":")[6]
    pipeline, _, workflow = machine.rpartition("-")
    if workflow not in WORKFLOWS:
        pipeline, workflow = machine, "state machine"
    failed_state, fail_state = failure_states(history)
    error, cause = detail.get("error"), detail.get("cause")
    if not error and not cause:
        error, cause = _ending_error(history)
    redrive_count = int(detail.get("redriveCount") or 0)
    return FailureNotice(
        id=f"{arn}#{redrive_count}#{detail['status']}",
        pipeline=pipeline,
        workflow=workflow,
        execution=detail["name"],
        execution_arn=arn,
        status=detail["status"],
        failed_state=failed_state,
        fail_state=fail_state,
        error=error or None,
        cause=one_line_cause(cause),
        stopped=_timestamp(detail.get("stopDate")),
        redrive_count=redrive_count,
        console_link=console_link(arn),
    )


def failure_states(history: list[dict]) -> tuple[str | None, str | None]:
    """(the state whose error ended the execution, the Fail state it led to), from the history alone.

    A Task caught into a Fail state gives both; a Fail state reached by a decision (a Choice) only the
    Fail state; an uncaught error, a timeout or an abort the state that was running.
    """
    current, failed, fail_state = None, None, None
    for event in history:
        kind = event.get("type", "")
        if kind == "FailStateEntered":
            fail_state = _details(event).get("name")
        elif kind.endswith("StateEntered"):
            current = _details(event).get("name")
            failed = None  # a later state ran: an earlier caught error did not end the execution
        elif kind in STATE_FAILURE_EVENTS:
            failed = current
        elif kind in ("ExecutionAborted", "ExecutionTimedOut") and failed is None:
            failed = current
    if failed is None and fail_state is None and current is not None and not _succeeded_last(history):
        failed = current
    return failed, fail_state


def _succeeded_last(history: list[dict]) -> bool:
    exits = [e for e in history if e.get("type", "").endswith(("StateEntered", "StateExited"))]
    return bool(exits) and exits[-1]["type"].endswith("StateExited")


def _details(event: dict) -> dict:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _ending_error(history: list[dict]) -> tuple[str | None, str | None]:
    """Error and cause of the event that ended the execution (a timed-out or aborted one's event has them
    when anything does)."""
    for event in reversed(history):
        if event.get("type") in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            details = _details(event)
            return details.get("error"), details.get("cause")
    return None, None


def one_line_cause(cause: str | None) -> str:
    """The cause on one line: a Describe* JSON inside it becomes its FailureReason or ErrorMessage."""
    if not cause:
        return ""
    text = cause
    match = _JSON_IN_TEXT.search(cause)
    if match:
        try:
            described = json.loads(match.group(0))
        except json.JSONDecodeError:
            described = None
        if isinstance(described, dict):
            reason = described.get("FailureReason") or described.get("ErrorMessage") or described.get("errorMessage")
            if isinstance(reason, str) and reason:
                text = cause[: match.start()] + reason
    line = " ".join(text.split())
    return line if len(line) <= CAUSE_CHARS else line[: CAUSE_CHARS - 1] + "…"


def console_link(execution_arn: str) -> str:
    """The execution's page in the Step Functions console (``#/v2/executions/details/<execution ARN>``)."""
    partition, region = execution_arn.split(":")[1], execution_arn.split(":")[3]
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"])
    return f"https://{region}.{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _timestamp(value: object) -> str:
    """``2019-02-26T19:42:21Z``: from epoch milliseconds (EventBridge), a datetime (boto3) or ISO text."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the Lambda ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    topic_arn: str
    state_machine_arns: tuple[str, ...]

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        missing = [name for name in ("FAILURES_TOPIC_ARN", "STATE_MACHINE_ARNS") if not env.get(name)]
        if missing:
            raise RuntimeError(f"failure notifier misconfigured: set {', '.join(missing)}")
        arns = tuple(part.strip() for part in env["STATE_MACHINE_ARNS"].split(",") if part.strip())
        return cls(env["FAILURES_TOPIC_ARN"], arns)


def read_history(client, execution_arn: str) -> list[dict]:
    """The execution's last events, oldest first (newest pages first: the failure is at the end)."""
    events, token = [], None
    for _ in range(HISTORY_PAGES):
        request = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 1000}
        page = client.get_execution_history(**request, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    return list(reversed(events))


def handle_event(event: dict, sfn, sns, settings: Settings) -> dict:
    """One status-change event → one message on the topic (or a logged reason not to send one)."""
    detail = event.get("detail") or {}
    if (
        detail.get("status") not in NOTIFIED_STATUSES
        or detail.get("stateMachineArn") not in settings.state_machine_arns
    ):
        outcome = {"action": "ignored", "status": detail.get("status"), "state_machine": detail.get("stateMachineArn")}
        logger.info(json.dumps(outcome))
        return outcome
    try:
        history = read_history(sfn, detail["executionArn"])
    except Exception as error:  # a message without the failed state beats no message
        logger.error(json.dumps({"action": "history unreadable", "error": f"{type(error).__name__}: {error}"}))
        history = []
    notice = build_notice(detail, history)
    published = sns.publish(
        TopicArn=settings.topic_arn,
        Subject=notice.subject,
        Message=notice.message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (("pipeline", notice.pipeline), ("status", notice.status), ("id", notice.id))
        },
    )
    outcome = {"action": "published", "id": notice.id, "message_id": published.get("MessageId")}
    logger.info(json.dumps(outcome))
    return outcome


@functools.lru_cache(maxsize=1)
def _clients():
    import boto3

    return boto3.client("stepfunctions"), boto3.client("sns")


def lambda_handler(event, context):
    """The Lambda entry point: ``mlops_pipeline.handlers.failure_notice.lambda_handler``."""
    logging.getLogger().setLevel(logging.INFO)
    sfn, sns = _clients()
    return handle_event(event, sfn, sns, Settings.from_env())
