"""The report of an execution on AWS, from the same facts the local runtime records, asked of the APIs:

- Step Functions: ``DescribeExecution``, ``DescribeStateMachineForExecution`` (the definition that ran, which
  may be an earlier version than the state machine's), ``GetExecutionHistory`` (paginated; a redriven
  execution's events continue in the same history);
- SageMaker: ``DescribeHyperParameterTuningJob``, ``ListTrainingJobsForHyperParameterTuningJob`` (paginated),
  ``DescribeTrainingJob`` of the best trial;
- S3: the Glue job's ``report.json`` and the published predictions, streamed.

Sources: the Step Functions API reference (DescribeExecution, DescribeStateMachineForExecution,
GetExecutionHistory) and the SageMaker API reference (ListTrainingJobsForHyperParameterTuningJob returns
``TrainingJobSummaries`` with ``TunedHyperParameters`` and ``FinalHyperParameterTuningJobObjectiveMetric``).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from mlops_pipeline.aws_errors import aws_error_code, aws_error_summary
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.layout import REPORT_FILE, report_key
from mlops_pipeline.naming import Workflow
from mlops_pipeline.report.model import (
    ExecutionReport,
    Histogram,
    execution_report,
    histogram,
    tuning_of,
    tuning_parameters,
)
from mlops_pipeline.target import Target


@dataclass(frozen=True)
class AwsClients:
    stepfunctions: Any
    sagemaker: Any
    s3: Any

    @classmethod
    def for_target(cls, target: Target) -> "AwsClients":
        import boto3

        session = boto3.session.Session(region_name=target.region)
        return cls(session.client("stepfunctions"), session.client("sagemaker"), session.client("s3"))


def execution_arn(target: Target, name: str) -> str:
    """An execution ARN as given, or the ARN of the execution ``name`` (``train-...``/``score-...``) of the
    pipeline's training or scoring state machine."""
    if name.startswith("arn:"):
        return name
    kind = name.split("-", 1)[0]
    try:
        workflow = Workflow.of_kind(kind)
    except ValueError:
        raise PipelineError(
            f"{name!r}: not an execution name of this pipeline (train-... or score-...); pass the execution ARN"
        ) from None
    machine = workflow.state_machine_name(target.pipeline_name)
    return f"arn:{target.partition}:states:{target.region}:{target.account_id}:execution:{machine}:{name}"


def console_url(target: Target, arn: str) -> str:
    """The execution's page in the Step Functions console."""
    region = target.region
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"


def aws_report(clients: AwsClients, target: Target, name: str) -> ExecutionReport:
    from botocore.exceptions import BotoCoreError, ClientError

    arn = execution_arn(target, name)
    try:
        return _report(clients, target, arn)
    except ClientError as error:
        raise PipelineError(f"{arn}: {aws_error_summary(error)}") from None
    except BotoCoreError as error:
        raise PipelineError(f"{arn}: {error}") from None


def _report(clients: AwsClients, target: Target, arn: str) -> ExecutionReport:
    sfn = clients.stepfunctions
    execution = sfn.describe_execution(executionArn=arn)
    definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    events = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn, includeExecutionData=True)
        for event in page["events"]
    ]
    workflow = _workflow(target, execution["stateMachineArn"])
    tuning, best_job = None, None
    parameters = tuning_parameters(events)
    if parameters:
        tuning, best_job = _tuning(clients.sagemaker, parameters["HyperParameterTuningJobName"])
    execution_input = json.loads(execution.get("input") or "{}")
    output = json.loads(execution.get("output") or "null")
    return execution_report(
        execution,
        events,
        definition,
        workflow.value,
        f"AWS account {target.account_id}, {target.region}",
        tuning=tuning,
        best_job=best_job,
        data_report=_data_report(clients.s3, target, execution_input),
        predictions=_predictions(clients.s3, output),
        console_url=console_url(target, arn),
    )


def _workflow(target: Target, state_machine_arn: str) -> Workflow:
    machine = state_machine_arn.split(":")[6] if state_machine_arn.count(":") >= 6 else ""
    for workflow in Workflow:
        if machine == workflow.state_machine_name(target.pipeline_name):
            return workflow
    raise PipelineError(
        f"{state_machine_arn}: not a state machine of pipeline {target.pipeline_name} "
        f"({', '.join(w.state_machine_name(target.pipeline_name) for w in Workflow)})"
    )


def _tuning(sagemaker, job_name: str):
    from botocore.exceptions import ClientError

    try:
        describe = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name)
    except ClientError as error:
        if aws_error_code(error) == "ResourceNotFound":  # the Task failed before SageMaker created it
            return None, None
        raise
    pages = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=job_name
    )
    summaries = [summary for page in pages for summary in page["TrainingJobSummaries"]]
    best = (describe.get("BestTrainingJob") or {}).get("TrainingJobName")
    best_job = sagemaker.describe_training_job(TrainingJobName=best) if best else None
    return tuning_of(describe, summaries), best_job


def _data_report(s3, target: Target, execution_input: dict) -> dict | None:
    if not execution_input.get("job_stem"):
        return None
    key = report_key(target.pipeline_name, execution_input["job_stem"])
    body = _object(s3, target.extracts_bucket, key)
    if body is None:
        return None
    try:
        return json.loads(body.read())
    except ValueError:
        raise PipelineError(
            f"s3://{target.extracts_bucket}/{key}: not the Glue job's {REPORT_FILE} (not JSON)"
        ) from None


def _predictions(s3, output) -> Histogram | None:
    uri = output.get("predictions") if isinstance(output, dict) else None
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    body = _object(s3, bucket, key)
    if body is None:
        return None
    with body:
        return histogram(codecs.getreader("utf-8")(body, errors="replace"))


def _object(s3, bucket: str, key: str):
    """The object's streaming body, or None when there is no such object."""
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        if aws_error_code(error) in ("NoSuchKey", "404"):
            return None
        raise
