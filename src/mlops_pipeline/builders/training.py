"""The training workflow: transform → tune → read best job → model → quality gate → record → registry."""

from __future__ import annotations

from mlops_pipeline.aws_errors import (
    S3_TRANSIENT_ERRORS,
    SAGEMAKER_JOB_TRANSIENT_ERRORS,
    SAGEMAKER_SDK_TRANSIENT_ERRORS,
)
from mlops_pipeline.builders.common import (
    aws_sdk_arn,
    catch_into,
    failure,
    image_uri,
    job_name,
    job_retries,
    landed_object_uri,
    pin_landed_object,
    read_data_report,
    s3_prefix,
    service_arn,
    states_format,
    transient_retry,
    validate_input,
)
from mlops_pipeline.builders.endpoint import deploy_endpoint
from mlops_pipeline.builders.gate import gate_steps
from mlops_pipeline.builders.glue import glue_transform
from mlops_pipeline.builders.latest import record_latest
from mlops_pipeline.builders.registry import (
    approved_description,
    register_approved,
    superseded_description,
)
from mlops_pipeline.builders.sdk import Chain, ChoiceRule, Pass, Succeed, Task, render
from mlops_pipeline.config import CategoricalRange, ContinuousRange, PipelineConfig
from mlops_pipeline.layout import SLOT, TRAIN_CHANNEL, VALIDATION_CHANNEL, approval_key, schema_key
from mlops_pipeline.model_registry import APPROVED, PENDING
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

COMPARISONS = {
    ">=": ChoiceRule.NumericGreaterThanEquals,
    ">": ChoiceRule.NumericGreaterThan,
    "<=": ChoiceRule.NumericLessThanEquals,
    "<": ChoiceRule.NumericLessThan,
}
NUMBER_REGEX = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_definitions(config: PipelineConfig) -> list[dict]:
    """One regex per metric: the workflow's own, or one matching ``name: value`` log lines."""
    return [
        {"Name": metric, "Regex": rf"\b{metric}: {NUMBER_REGEX}"}
        if isinstance(metric, str)
        else {"Name": metric.name, "Regex": metric.regex}
        for metric in config.model.metrics
    ]


def hyperparameter_string(value: bool | int | float | str) -> str:
    """SageMaker passes every hyperparameter as a string; booleans the way containers parse them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameter_ranges(config: PipelineConfig) -> dict:
    ranges: dict[str, list] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for item in config.tuning.ranges:
        if isinstance(item, CategoricalRange):
            ranges["CategoricalParameterRanges"].append({"Name": item.name, "Values": list(item.values)})
            continue
        kind = "ContinuousParameterRanges" if isinstance(item, ContinuousRange) else "IntegerParameterRanges"
        ranges[kind].append(
            {"Name": item.name, "MinValue": str(item.min), "MaxValue": str(item.max), "ScalingType": item.scaling}
        )
    return ranges


def tuning_job_config(config: PipelineConfig) -> dict:
    tuning = config.tuning
    limits = {"MaxParallelTrainingJobs": tuning.max_parallel_jobs}
    if tuning.max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = tuning.max_jobs
    return {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {"Type": tuning.objective_type, "MetricName": tuning.objective_metric},
        "ResourceLimits": limits,
        "ParameterRanges": parameter_ranges(config),
        "TrainingJobEarlyStoppingType": "Off",
        **({"RandomSeed": tuning.seed} if tuning.seed is not None else {}),
    }


def job_network(config: PipelineConfig, target: Target) -> dict:
    """Network isolation (the workflow's choice, or required by Terraform's VPC) and the VPC, if any: the
    tuning job's trainings and the model (hence its batch transforms) get the same."""
    network = target.job_network()
    if config.model.network_isolation and not network:
        return {"EnableNetworkIsolation": True}
    return network


def training_job_definition(config: PipelineConfig, target: Target) -> dict:
    model = config.model
    channels = [TRAIN_CHANNEL] + ([VALIDATION_CHANNEL] if config.transform.validation_fraction > 0 else [])
    return {
        "StaticHyperParameters": {k: hyperparameter_string(v) for k, v in model.hyperparameters.items()},
        "AlgorithmSpecification": {
            "TrainingImage": image_uri(config, target),
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(config),
        },
        "RoleArn": target.sagemaker_role_arn,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri.$": s3_prefix(target.extracts_bucket, config, channel),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel in channels
        ],
        "OutputDataConfig": {"S3OutputPath.$": s3_prefix(target.model_bucket, config)},
        "ResourceConfig": {
            "InstanceType": model.instance_type,
            "InstanceCount": model.instance_count,
            "VolumeSizeInGB": model.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": model.max_runtime_seconds},
        **job_network(config, target),
        **(
            {"RetryStrategy": {"MaximumRetryAttempts": retries}}
            if (retries := config.retry.internal_error_retries)
            else {}
        ),
    }


def tune_step(config: PipelineConfig, target: Target) -> Task:
    return Task(
        "TuneHyperparameters",
        resource=service_arn(target, "sagemaker", "createHyperParameterTuningJob", sync=True),
        comment="SageMaker hyperparameter tuning over the training extract.",
        parameters={
            "HyperParameterTuningJobName.$": job_name(config),
            "HyperParameterTuningJobConfig": tuning_job_config(config),
            "TrainingJobDefinition": training_job_definition(config, target),
        },
        result_selector={
            "TuningJobName.$": "$.HyperParameterTuningJobName",
            "BestTrainingJobName.$": "$.BestTrainingJob.TrainingJobName",
            "ObjectiveValue.$": "$.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value",
            "TrainingJobStatusCounters.$": "$.TrainingJobStatusCounters",
        },
        result_path="$.tuning",
        timeout_seconds=config.tuning.timeout_seconds,
        retry=job_retries(config.retry, SAGEMAKER_JOB_TRANSIENT_ERRORS),
    )


def describe_best_step(config: PipelineConfig, target: Target) -> Task:
    """Artifact, metrics and hyperparameters of the best job."""
    return Task(
        "DescribeBestTrainingJob",
        resource=aws_sdk_arn(target, "sagemaker", "describeTrainingJob"),
        parameters={"TrainingJobName.$": "$.tuning.BestTrainingJobName"},
        result_selector={
            "TrainingJobName.$": "$.TrainingJobName",
            "ModelArtifact.$": "$.ModelArtifacts.S3ModelArtifacts",
            "HyperParameters.$": "$.HyperParameters",
            "Metrics.$": "$.FinalMetricDataList",
        },
        result_path="$.best",
        retry=[transient_retry(config.retry, SAGEMAKER_SDK_TRANSIENT_ERRORS)],
    )


def create_model_step(config: PipelineConfig, target: Target) -> Task:
    """The SageMaker model of the best job, before the gate: every version registered names one, so a version
    the gate rejected and a person approves later can be scored with."""
    return Task(
        "CreateModel",
        resource=service_arn(target, "sagemaker", "createModel"),
        parameters={
            "ModelName.$": job_name(config),
            "ExecutionRoleArn": target.sagemaker_role_arn,
            "PrimaryContainer": {"Image": image_uri(config, target), "ModelDataUrl.$": "$.best.ModelArtifact"},
            **job_network(config, target),
        },
        result_selector={
            "ModelArn.$": "$.ModelArn",
            "ModelName.$": "States.ArrayGetItem(States.StringSplit($.ModelArn, '/'), 1)",
        },
        result_path="$.model",
        retry=[transient_retry(config.retry, SAGEMAKER_JOB_TRANSIENT_ERRORS)],
    )


def approval_record(config: PipelineConfig, target: Target) -> Pass:
    """What scoring needs and what an auditor asks: which model, from what, how good."""
    gate = config.quality_gate
    return Pass(
        "DescribeApprovedModel",
        parameters={
            "pipeline": config.name,
            "model_name.$": "$.model.ModelName",
            "model_arn.$": "$.model.ModelArn",
            "model_artifact.$": "$.best.ModelArtifact",
            "image": image_uri(config, target),
            "training_job_name.$": "$.best.TrainingJobName",
            "tuning_job_name.$": "$.tuning.TuningJobName",
            "objective": {
                "metric": config.tuning.objective_metric,
                "type": config.tuning.objective_type,
                "value.$": "$.tuning.ObjectiveValue",
            },
            "gate": {
                "metric": config.gate_metric,
                "comparison": gate.comparison,
                "threshold": gate.threshold,
                "value.$": "$.gate.value",
                "baseline.$": "$.gate.baseline",
                "approved_model_value.$": "$.gate.champion",
                "champion_margin": gate.champion_margin,
            },
            "data_warnings.$": "$.data.report.warnings",
            "metrics.$": "$.best.Metrics",
            "hyperparameters.$": "$.best.HyperParameters",
            "schema_uri.$": states_format(
                f"s3://{target.extracts_bucket}/{schema_key(config.name, SLOT)}", "$.job_stem"
            ),
            "source": {"bucket.$": "$.bucket", "key.$": "$.key", "uri.$": landed_object_uri()},
            "landing_order.$": "$.landing_order",
            "execution_id.$": "$$.Execution.Id",
            "approved_at.$": "$$.State.EnteredTime",
        },
        result_path="$.record",
    )


def put_record_step(state_id: str, config: PipelineConfig, target: Target, key: str) -> Task:
    """Write ``$.record`` as JSON to the metadata store; ``key`` may be a ``States.Format``."""
    key_field = {"Key.$": key} if key.startswith("States.") else {"Key": key}
    return Task(
        state_id,
        resource=aws_sdk_arn(target, "s3", "putObject"),
        parameters={
            "Bucket": target.metadata_bucket,
            **key_field,
            "Body.$": "States.JsonToString($.record)",
            "ContentType": "application/json",
        },
        result_path=None,
        retry=[transient_retry(config.retry, S3_TRANSIENT_ERRORS)],
    )


def build_training(config: PipelineConfig, target: Target) -> dict:
    """The training state machine definition as an ASL dict."""
    transform = _glue(config, target)
    tune = tune_step(config, target)
    describe = describe_best_step(config, target)
    create = create_model_step(config, target)
    record = approval_record(config, target)
    per_execution_key = states_format(approval_key(config.name, SLOT), "$$.Execution.Name")
    save_execution = put_record_step("RecordApprovalForExecution", config, target, per_execution_key)
    done = Succeed("ModelApproved", output_path="$.record")

    transform.add_catch(
        catch_into(
            failure(
                "TrainingTransformFailed", "TransformFailed", "The Glue transform of s3://{}/{}", "$.bucket", "$.key"
            )
        )
    )
    tune.add_catch(
        catch_into(
            failure(
                "TuningFailed",
                "TuningFailed",
                "Hyperparameter tuning of the extract of s3://{}/{}",
                "$.bucket",
                "$.key",
            )
        )
    )
    describe.add_catch(
        catch_into(
            failure(
                "DescribeBestTrainingJobFailed",
                "DescribeBestTrainingJobFailed",
                "Reading the best training job {}",
                "$.tuning.BestTrainingJobName",
            )
        )
    )
    create.add_catch(
        catch_into(
            failure(
                "CreateModelFailed",
                "CreateModelFailed",
                "Creating a model from the best training job {}",
                "$.best.TrainingJobName",
            )
        )
    )
    record_failed = failure(
        "RecordModelFailed",
        "RecordModelFailed",
        f"Recording the approved model {{}} in s3://{target.metadata_bucket}",
        "$.model.ModelName",
    )
    save_execution.add_catch(catch_into(record_failed))
    register_failed = failure(
        "RegisterModelFailed",
        "RegisterModelFailed",
        "Registering the approved model {} in the model registry",
        "$.model.ModelName",
    )
    register = register_approved("RegisterApprovedModel", config, target, APPROVED, approved_description(config))
    superseded = register_approved("RegisterSupersededModel", config, target, PENDING, superseded_description(config))
    for step in (register, superseded):
        step.add_catch(catch_into(register_failed))
    register.next(deploy_endpoint(config, target, done))
    superseded.next(done)
    save_latest = record_latest(config, target, register, superseded, record_failed)

    transform.next(read_data_report(config, target, Workflow.TRAINING, tune))
    Chain([tune, describe, create])
    create.next(gate_steps(config, target, record))
    Chain([record, save_execution, save_latest])
    return render(validate_input("ValidateInput", pin_landed_object(config, target, transform), Workflow.TRAINING))


def _glue(config: PipelineConfig, target: Target) -> Task:
    return glue_transform("TransformTrainingData", config, target, Workflow.TRAINING)
