"""Pieces both workflows share: resource ARNs, names, retry policies and failure states."""

from __future__ import annotations

from mlops_pipeline.builders.sdk import Catch, Choice, ChoiceRule, Fail, Retry
from mlops_pipeline.config import PipelineConfig, RetrySettings
from mlops_pipeline.layout import SLOT, job_prefix
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

#: Fields every execution input carries (the landing handler writes them).
REQUIRED_INPUT = ("bucket", "key", "job_stem")

#: Transient errors worth waiting out: throttling, capacity and limits.
GLUE_TRANSIENT_ERRORS = (
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
    "Glue.ResourceNumberLimitExceededException",
)
SAGEMAKER_TRANSIENT_ERRORS = (
    "SageMaker.ThrottlingException",
    "SageMaker.ResourceLimitExceeded",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
)
S3_TRANSIENT_ERRORS = ("S3.SlowDownException", "S3.InternalErrorException", "S3.ServiceUnavailableException")


def service_arn(target: Target, service: str, api: str, sync: bool = False) -> str:
    """Optimised integration, e.g. ``arn:aws:states:::sagemaker:createTrainingJob.sync``."""
    return f"arn:{target.partition}:states:::{service}:{api}{'.sync' if sync else ''}"


def aws_sdk_arn(target: Target, service: str, api: str) -> str:
    """AWS SDK integration, e.g. ``arn:aws:states:::aws-sdk:s3:getObject``."""
    return f"arn:{target.partition}:states:::aws-sdk:{service}:{api}"


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


def landed_object_uri() -> str:
    return states_format("s3://{}/{}", "$.bucket", "$.key")
