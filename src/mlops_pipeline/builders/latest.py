"""The latest approved model only moves forward: of two overlapping trainings, the newer landing's model
stays ``latest.json`` whichever finishes last.

``latest.json`` is read with its ETag, compared by ``landing_order`` (the event time, then the S3
sequencer, written by the landing handler), and replaced only with a conditional write: ``IfMatch``
the ETag read, or ``IfNoneMatch: *`` when there is none yet (S3 conditional writes answer 412
PreconditionFailed when another execution wrote in between). A lost race reads again and decides
again, a few times. Each execution's own approval record is written before, unconditionally.

The model registry orders versions by creation time only, so this is what keeps landing order there too:
the newest landing's model is registered ``Approved``; an older landing's model that passed the gate after
it is registered ``PendingManualApproval`` (``builders.registry``), so it never becomes the latest approved
version unless a person approves it.
"""

from __future__ import annotations

from mlops_pipeline.builders.common import (
    aws_sdk_arn,
    catch_into,
    read_json_object,
)
from mlops_pipeline.builders.sdk import Catch, Choice, ChoiceRule, Fail, Pass, Task, Wait
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.layout import latest_model_key
from mlops_pipeline.target import Target

#: How often a lost race for ``latest.json`` is tried again before the execution fails.
LATEST_ATTEMPTS = 5
#: What a conditional write that lost (412), or any other S3 error, reaches Step Functions as.
S3_ERROR = "S3.S3Exception"


def record_latest(config: PipelineConfig, target: Target, approved, superseded, failed: Fail) -> Pass:
    """The states from the approval record to ``approved`` (this landing's model is latest) or ``superseded``
    (a newer landing's is); returns the first."""
    start = Pass("StartLatestUpdate", result={"count": 0}, result_path="$.latest_attempts")
    read = read_json_object(
        "ReadLatestForUpdate",
        config,
        target,
        "latest.json as it is now, with its ETag for the conditional write.",
        {"Bucket": target.metadata_bucket, "Key": latest_model_key(config.name)},
        into="$.latest",
        field="record",
        etag=True,
    )
    none_yet = Pass("NoLatestYet", result={}, result_path="$.latest")
    read.add_catch(Catch(error_equals=["S3.NoSuchKeyException"], next_step=none_yet, result_path="$.error"))
    read.add_catch(catch_into(failed))
    keep = Pass(
        "NewerLandingStaysLatest",
        comment="A newer landing's model is latest already; this one is approved, not latest.",
        parameters={
            "model_name.$": "$.latest.record.model_name",
            "landing_order.$": "$.latest.record.landing_order",
        },
        result_path="$.record.latest_is",
    )
    keep.next(superseded)
    again = _try_again(read, failed)
    replace = _write_latest("ReplaceLatestApprovedModel", config, target, {"IfMatch.$": "$.latest.etag"})
    first = _write_latest("RecordFirstApprovedModel", config, target, {"IfNoneMatch": "*"})
    for write in (replace, first):
        write.add_catch(Catch(error_equals=[S3_ERROR], next_step=again, result_path="$.error"))
        write.add_catch(catch_into(failed))
        write.next(approved)
    decide = Choice("IsThisLandingNewest", comment="Compare with the landing whose model is latest.")
    newer_kept = ChoiceRule.And(
        [
            ChoiceRule.IsPresent("$.latest.record.landing_order", True),
            ChoiceRule.StringGreaterThanPath("$.latest.record.landing_order", "$.record.landing_order"),
        ]
    )
    decide.add_choice(newer_kept, keep)
    decide.add_choice(ChoiceRule.IsPresent("$.latest.etag", True), replace)
    decide.default_choice(first)
    read.next(decide)
    none_yet.next(decide)
    start.next(read)
    return start


def _write_latest(state_id: str, config: PipelineConfig, target: Target, condition: dict) -> Task:
    """Put ``$.record`` as ``latest.json`` only if it is still what was read (no retrier: a lost race
    must be read again, not repeated)."""
    return Task(
        state_id,
        resource=aws_sdk_arn(target, "s3", "putObject"),
        parameters={
            "Bucket": target.metadata_bucket,
            "Key": latest_model_key(config.name),
            "Body.$": "States.JsonToString($.record)",
            "ContentType": "application/json",
            **condition,
        },
        result_path=None,
    )


def _try_again(read: Task, failed: Fail) -> Pass:
    """Count the attempt; wait a second and read again, or give up after ``LATEST_ATTEMPTS``."""
    count = Pass(
        "CountLatestAttempt",
        parameters={"count.$": "States.MathAdd($.latest_attempts.count, 1)"},
        result_path="$.latest_attempts",
    )
    retry = Choice("TryLatestAgain")
    pause = Wait("WaitBeforeLatestAgain", seconds=1)
    pause.next(read)
    retry.add_choice(ChoiceRule.NumericLessThan("$.latest_attempts.count", LATEST_ATTEMPTS), pause)
    retry.default_choice(failed)
    count.next(retry)
    return count
