"""Re-deliver the landing Lambda's dead letters through the landing handler.

When an invocation of the landing Lambda fails, Lambda retries it twice and then sends the event to
the dead-letter queue: "the original event payload with no modifications to the message body"
(AWS Lambda developer guide, "Dead-letter queues"). Handing that body to the same handler, with the
environment Terraform gives the Lambda (``infra/terraform/lambda.tf``), starts what is still
missing; what started before maps to the same execution names and is a duplicate, so each landing
still has exactly one execution.

A message is deleted only once every record in it is handled: started, duplicate or ignored. A
record that failed again keeps its message for the next replay; so does a malformed (rejected)
record, unless the caller discards those, since a fix of the handler could still start it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from mlops_pipeline.aws_errors import aws_error_summary
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.handlers.s3_landing import OUTCOMES, LandingFailed, Settings, handle_event
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

#: Seconds a received message stays hidden from other readers while this replay handles it (a
#: record may spend seconds in StartExecution's retries); kept messages are made visible again at the end.
VISIBILITY_TIMEOUT_SECONDS = 300
BATCH = 10  # SQS ReceiveMessage returns at most 10 messages


@dataclass(frozen=True)
class Replayed:
    """What became of one dead letter."""

    message_id: str
    deleted: bool
    summary: dict[str, list] = field(default_factory=dict)
    problem: str = ""  # why the message stays, when it does

    def line(self) -> str:
        """``deleted  <id>  started train-... duplicate ...`` or ``kept  <id>  <why>``."""
        parts = [f"{action} {', '.join(self._names(action))}" for action in OUTCOMES if self.summary.get(action)]
        if self.problem:
            parts.append(self.problem)
        return f"{'deleted' if self.deleted else 'kept':<8} {self.message_id}  {'; '.join(parts) or 'no records'}"

    def _names(self, action: str) -> list[str]:
        return [item if isinstance(item, str) else _describe(item) for item in self.summary[action]]


def _describe(item: dict) -> str:
    """One record of a summary: ``record 1 (data/train/a.csv): <reason or error>``."""
    if "record" in item:
        where = f"record {item['record']}"
    elif "schedule" in item:
        where = f"schedule {item['schedule']} at {item['scheduled_time']}"
    else:
        where = "event"
    key = f" ({item['key']})" if item.get("key") else ""
    return f"{where}{key}: {item.get('error') or item.get('reason', '')}"


def landing_environment(target: Target) -> dict[str, str]:
    """The landing Lambda's environment, built from the Terraform outputs as lambda.tf builds it."""
    return {
        "TRAINING_STATE_MACHINE_ARN": target.state_machine_alias_arn(Workflow.TRAINING),
        "SCORING_STATE_MACHINE_ARN": target.state_machine_alias_arn(Workflow.SCORING),
        "TRAINING_PREFIX": target.training_prefix,
        "SCORING_PREFIX": target.scoring_prefix,
        "ACCEPTED_SUFFIXES": target.landing_suffix,
        "FEATURE_STORE_BUCKET": target.feature_store_bucket,
    }


def landing_settings(target: Target) -> Settings:
    return Settings.from_env(landing_environment(target))


def dead_letter_queue_url(target: Target) -> str:
    if not target.landing_dead_letter_queue_url:
        raise PipelineError(
            "terraform outputs lack landing_dead_letter_queue_url: run `terraform -chdir=infra/terraform apply` "
            "with this version of the module first"
        )
    return target.landing_dead_letter_queue_url


def replay_message(
    message: dict, sfn, settings: Settings, discard_rejected: bool = False, sleep=time.sleep
) -> Replayed:
    """Hand one message's event to the handler; whether the message may go, and why not."""
    message_id = message.get("MessageId", "?")
    try:
        event = json.loads(message.get("Body") or "")
    except json.JSONDecodeError as error:
        summary = {action: [] for action in OUTCOMES}
        summary["rejected"].append({"reason": f"body is not JSON ({error.msg} at line {error.lineno})"})
    else:
        try:
            summary = handle_event(event, sfn, settings, sleep)
        except LandingFailed as failed:
            summary = failed.summary
    if summary["failed"]:
        return Replayed(message_id, False, summary, "retry once the cause is fixed")
    if summary["rejected"] and not discard_rejected:
        return Replayed(message_id, False, summary, "malformed: fix the handler, or delete with --discard-rejected")
    return Replayed(message_id, True, summary)


def replay_dead_letters(
    sqs,
    sfn,
    queue_url: str,
    settings: Settings,
    *,
    discard_rejected: bool = False,
    wait_seconds: int = 2,
    on_message: Callable[[Replayed], None] = lambda replayed: None,
    sleep=time.sleep,
) -> list[Replayed]:
    """Every message of the queue once, each through the handler; deleted when fully handled."""
    seen: set[str] = set()
    kept: list[str] = []
    results = []
    while True:
        fresh = [m for m in _receive(sqs, queue_url, wait_seconds) if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            replayed = replay_message(message, sfn, settings, discard_rejected, sleep)
            if replayed.deleted:
                replayed = _delete(sqs, queue_url, message, replayed)
            if not replayed.deleted:
                kept.append(message["ReceiptHandle"])
            results.append(replayed)
            on_message(replayed)
    for receipt_handle in kept:  # visible again at once: the next replay need not wait for the timeout
        _sqs_call(sqs.change_message_visibility, queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
    return results


def _receive(sqs, queue_url: str, wait_seconds: int) -> list[dict]:
    """One long poll: an empty answer after waiting means the queue has nothing visible left."""
    answer = _sqs_call(
        sqs.receive_message,
        queue_url,
        MaxNumberOfMessages=BATCH,
        WaitTimeSeconds=wait_seconds,
        VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
        MessageAttributeNames=["All"],
    )
    return answer.get("Messages", [])


def _delete(sqs, queue_url: str, message: dict, replayed: Replayed) -> Replayed:
    try:
        _sqs_call(sqs.delete_message, queue_url, ReceiptHandle=message["ReceiptHandle"])
    except PipelineError as error:  # handled, but still queued: the next replay finds only duplicates
        return Replayed(replayed.message_id, False, replayed.summary, f"handled but not deleted ({error})")
    return replayed


def _sqs_call(call, queue_url: str, **arguments) -> dict:
    """An SQS call whose AWS or connection error becomes one line naming the queue."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(QueueUrl=queue_url, **arguments)
    except ClientError as error:
        raise PipelineError(f"{queue_url}: {aws_error_summary(error)}") from None
    except BotoCoreError as error:
        raise PipelineError(f"{queue_url}: {error}") from None
