"""Pieces both workflows share: resource ARNs, names, retry policies and failure states."""

from __future__ import annotations

from mlops_pipeline.aws_errors import S3_TRANSIENT_ERRORS
from mlops_pipeline.builders.sdk import Catch, Choice, ChoiceRule, Fail, Pass, Retry, Task
from mlops_pipeline.config import PipelineConfig, RetrySettings
from mlops_pipeline.layout import SLOT, job_prefix, landed_copy_key, report_key
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

#: Fields every execution input carries (the landing handler writes them).
REQUIRED_INPUT = ("bucket", "key", "job_stem", "copy_source", "landing_order")


def service_arn(target: Target, service: str, api: str, sync: bool = False) -> str:
    """Optimised integration, e.g. ``arn:aws:states:::sagemaker:createTrainingJob.sync``."""
    return f"arn:{target.partition}:states:::{service}:{api}{'.sync' if sync else ''}"


def aws_sdk_arn(target: Target, service: str, api: str) -> str:
    """AWS SDK integration, e.g. ``arn:aws:states:::aws-sdk:s3:getObject``."""
    return f"arn:{target.partition}:states:::aws-sdk:{service}:{api}"


def image_uri(config: PipelineConfig, target: Target) -> str:
    """A repository:tag in this account's ECR, or the full URI the user gave."""
    image = config.model.image
    return image if "/" in image else f"{target.ecr_registry}/{image}"


def states_format(template: str, *paths: str) -> str:
    """A ``States.Format`` call; ``{}`` in ``template`` takes each path in turn."""
    if template.count("{}") != len(paths):
        raise ValueError(f"template {template!r} has {template.count('{}')} slots for {len(paths)} values")
    if "'" in template or "\\" in template:
        raise ValueError(f"template {template!r} must not contain quotes or backslashes")
    return f"States.Format('{template}'{''.join(', ' + p for p in paths)})"


def job_name(config: PipelineConfig) -> str:
    """``<pipeline>-<job stem>-<redrive count>-<retry count>``: unique per execution, redrive and retry (see naming)."""
    return states_format(
        f"{config.name}-{{}}-{{}}-{{}}", "$.job_stem", "$$.Execution.RedriveCount", "$$.State.RetryCount"
    )


def s3_prefix(bucket: str, config: PipelineConfig, *parts: str) -> str:
    """``States.Format`` for ``s3://<bucket>/<pipeline>/<job stem>/<parts...>/``."""
    tail = "".join(f"{part}/" for part in parts)
    return states_format(f"s3://{bucket}/{job_prefix(config.name, SLOT)}{tail}", "$.job_stem")


def transient_retry(settings: RetrySettings, errors: tuple[str, ...]) -> Retry:
    return Retry(
        error_equals=list(errors),
        interval_seconds=settings.interval_seconds,
        max_attempts=settings.max_attempts,
        backoff_rate=settings.backoff_rate,
    )


def job_retries(settings: RetrySettings, errors: tuple[str, ...]) -> list[Retry]:
    """Transient API errors only: a job that failed (``States.TaskFailed``) would fail the same way again;
    SageMaker itself retries a training job that failed with an internal error (``RetryStrategy``)."""
    return [transient_retry(settings, errors)]


def catch_into(fail_state) -> Catch:
    """Any error goes to ``fail_state`` with ``{Error, Cause}`` kept under ``$.error``."""
    return Catch(error_equals=["States.ALL"], next_step=fail_state, result_path="$.error")


def failure(state_id: str, error: str, what_failed: str, *paths: str) -> Fail:
    """A named Fail whose cause says what failed, then the original error and its cause."""
    template = f"{what_failed} failed with {{}}: {{}}"
    return Fail(state_id, error=error, cause_path=states_format(template, *paths, "$.error.Error", "$.error.Cause"))


def validate_input(state_id: str, next_step, workflow: Workflow) -> Choice:
    """Reject an execution input without the fields the landing handler always provides."""
    invalid = Fail(
        "InvalidExecutionInput",
        error="InvalidExecutionInput",
        cause=(
            f"The {workflow.value} execution input must be a JSON object with "
            f"{', '.join(REQUIRED_INPUT)} (as the landing handler writes it)."
        ),
    )
    choice = Choice(state_id, comment="Reject inputs that did not come from the landing handler.")
    rule = ChoiceRule.And([ChoiceRule.IsPresent(f"$.{field}", True) for field in REQUIRED_INPUT])
    choice.add_choice(rule, next_step)
    choice.default_choice(invalid)
    return choice


def read_json_object(
    state_id: str,
    config: PipelineConfig,
    target: Target,
    comment: str,
    location: dict,
    into: str,
    field: str,
    etag: bool = False,
) -> Task:
    """S3 GetObject of a JSON record (``location``: ``Bucket`` and ``Key`` or ``Key.$``), parsed into
    ``<into>.<field>`` (and its ETag into ``<into>.etag``, for a conditional write)."""
    selector = {f"{field}.$": "States.StringToJson($.Body)", **({"etag.$": "$.ETag"} if etag else {})}
    return Task(
        state_id,
        resource=aws_sdk_arn(target, "s3", "getObject"),
        comment=comment,
        parameters=location,
        result_selector=selector,
        result_path=into,
        retry=[transient_retry(config.retry, S3_TRANSIENT_ERRORS)],
    )


def read_data_report(config: PipelineConfig, target: Target, workflow: Workflow, next_step) -> Task:
    """Read what the Glue job found (warnings, class counts, baselines) into ``$.data.report``; a script
    that wrote no report (script mode) gives an empty one."""
    name = workflow.value.capitalize()
    read = read_json_object(
        f"Read{name}DataReport",
        config,
        target,
        "The Glue job's report.json: data warnings, class counts, baseline metrics.",
        {"Bucket": target.extracts_bucket, "Key.$": states_format(report_key(config.name, SLOT), "$.job_stem")},
        into="$.data",
        field="report",
    )
    empty = Pass(f"No{name}DataReport", result={"report": {"warnings": []}}, result_path="$.data")
    read.add_catch(Catch(error_equals=["S3.NoSuchKeyException"], next_step=empty, result_path="$.error"))
    read.add_catch(
        catch_into(failure(f"Read{name}DataReportFailed", "ReadDataReportFailed", "Reading the report of the Glue job"))
    )
    read.next(next_step)
    empty.next(next_step)
    return read


def landed_object_uri() -> str:
    return states_format("s3://{}/{}", "$.bucket", "$.key")


def pinned_object_uri(config: PipelineConfig, target: Target) -> str:
    """The execution's copy of the landed version (``layout.landed_copy_key``), which its Glue job reads."""
    return states_format(
        f"s3://{target.extracts_bucket}/{landed_copy_key(config.name, SLOT, SLOT)}", "$.job_stem", "$.key"
    )


def pin_landed_object(config: PipelineConfig, target: Target, next_step) -> Task:
    """Copy exactly the version the event names (the execution input's ``copy_source``; in a bucket
    without versioning, only if its ETag still matches) into the extracts store, before anything reads
    it: a file landed again meanwhile cannot change what this execution trains or scores on."""
    step = Task(
        "PinLandedObject",
        resource=aws_sdk_arn(target, "s3", "copyObject"),
        comment="This landing's own bytes, copied once; everything downstream reads the copy.",
        parameters={
            "Bucket": target.extracts_bucket,
            "Key.$": states_format(landed_copy_key(config.name, SLOT, SLOT), "$.job_stem", "$.key"),
            "CopySource.$": "$.copy_source",
            "CopySourceIfMatch.$": "$.copy_source_if_match",
        },
        result_path=None,
        retry=[transient_retry(config.retry, S3_TRANSIENT_ERRORS)],
    )
    unavailable = failure(
        "LandedObjectUnavailable",
        "LandedObjectUnavailable",
        "Copying the landed version of s3://{}/{} (land the file again if it was replaced or deleted)",
        "$.bucket",
        "$.key",
    )
    step.add_catch(catch_into(unavailable))
    step.next(next_step)
    return step
