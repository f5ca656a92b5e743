"""The model registry: every quality-gate decision is a version in the pipeline's SageMaker Model Package
Group (``naming.model_package_group_name``), and the newest approved version is the model scoring uses and
the champion the gate compares with.

A version is registered with ``aws-sdk:sagemaker:createModelPackage``: the image and artifact
(``InferenceSpecification``), the approval status, a description with the gate's numbers or its reason for
rejecting, the execution (``MetadataProperties.GeneratedBy``), the landed object and its version
(``Repository``, ``CommitId``: the pinned ``CopySource``), and ``CustomerMetadataProperties`` with what
scoring and the gate read back (model name, schema, gate metric and value, jobs, landing order). That map
holds at most 50 entries of at most 256 characters from ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`` (botocore:
``CustomerMetadataMap``), too little for the hyperparameters, every metric and the data warnings, so the
approval record JSON (``layout.approval_key``) stays and the version points at it as its model-quality
statistics (``ModelMetrics.ModelQuality.Statistics``).

"Latest approved" is the approved version created last (``ListModelPackages`` sorted by ``CreationTime``,
the order SageMaker can sort by): rejecting it manually falls back to the approved version before it;
approving a version makes scoring use it when no approved version was created after it.
"""

from __future__ import annotations

from mlops_pipeline.aws_errors import SAGEMAKER_SDK_TRANSIENT_ERRORS
from mlops_pipeline.builders.common import (
    aws_sdk_arn,
    catch_into,
    image_uri,
    landed_object_uri,
    states_format,
    transient_retry,
)
from mlops_pipeline.builders.sdk import JSONATA, Catch, Choice, ChoiceRule, Fail, Pass, Task, jsonata
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.layout import SLOT, approval_key, schema_key
from mlops_pipeline.model_registry import (
    APPROVED,
    EXECUTION,
    GATE_METRIC,
    GATE_VALUE,
    MODEL_NAME,
    REJECTED,
    SCHEMA_URI,
    TRAINING_JOB,
)
from mlops_pipeline.naming import model_package_group_name
from mlops_pipeline.target import Target

#: ``ModelPackageDescription`` and ``ApprovalDescription`` are at most 1024 characters (botocore).
DESCRIPTION_MAX = 1024


def group_name(config: PipelineConfig) -> str:
    return model_package_group_name(config.name)


def inference_specification(config: PipelineConfig, target: Target) -> dict:
    """The image and artifact, and how the model is called (what the batch transform sends and accepts)."""
    inference = config.inference
    return {
        "Containers": [{"Image": image_uri(config, target), "ModelDataUrl.$": "$.best.ModelArtifact"}],
        "SupportedContentTypes": [inference.content_type],
        "SupportedResponseMIMETypes": [inference.accept],
        "SupportedTransformInstanceTypes": [inference.instance_type],
    }


def register_step(
    state_id: str,
    config: PipelineConfig,
    target: Target,
    status: str,
    description: str,
    metadata: dict,
    model_metrics: dict | None = None,
) -> Task:
    """CreateModelPackage of this execution's best model with ``status``; ``description`` is a path or a
    ``States.Format``. Every version names its SageMaker model and schema, so a version a person approves
    later is one scoring can use. ``ClientToken`` makes a retried call answer the version the first one
    created."""
    return Task(
        state_id,
        resource=aws_sdk_arn(target, "sagemaker", "createModelPackage"),
        comment=f"Register the best model in the model registry as {status}.",
        parameters={
            "ModelPackageGroupName": group_name(config),
            "ModelPackageDescription.$": description,
            "InferenceSpecification": inference_specification(config, target),
            "ModelApprovalStatus": status,
            "MetadataProperties": {
                "GeneratedBy.$": "$$.Execution.Id",
                "Repository.$": landed_object_uri(),
                "CommitId.$": "$.copy_source",
            },
            "CustomerMetadataProperties": {
                EXECUTION + ".$": "$$.Execution.Id",
                TRAINING_JOB + ".$": "$.best.TrainingJobName",
                "tuning_job.$": "$.tuning.TuningJobName",
                "job_stem.$": "$.job_stem",
                "landing_order.$": "$.landing_order",
                GATE_METRIC: config.gate_metric,
                MODEL_NAME + ".$": "$.model.ModelName",
                SCHEMA_URI + ".$": states_format(
                    f"s3://{target.extracts_bucket}/{schema_key(config.name, SLOT)}", "$.job_stem"
                ),
                **metadata,
            },
            **({"ModelMetrics": model_metrics} if model_metrics else {}),
            "ClientToken.$": states_format("{}-{}", "$.job_stem", "$$.Execution.RedriveCount"),
        },
        result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
        result_path="$.model_package",
        retry=[transient_retry(config.retry, SAGEMAKER_SDK_TRANSIENT_ERRORS)],
    )


def register_approved(state_id: str, config: PipelineConfig, target: Target, status: str, description: str) -> Task:
    """A model that passed the gate, with its approval record as the model-quality statistics."""
    record_uri = states_format(f"s3://{target.metadata_bucket}/{approval_key(config.name, SLOT)}", "$$.Execution.Name")
    return register_step(
        state_id,
        config,
        target,
        status,
        description,
        {GATE_VALUE + ".$": "States.Format('{}', $.gate.value)"},
        {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": record_uri}}},
    )


def approved_description(config: PipelineConfig) -> str:
    gate = config.quality_gate
    return states_format(
        f"Passed the quality gate ({config.gate_metric} {gate.comparison} {gate.threshold}) with "
        f"{config.gate_metric} = {{}}; trained by {{}} on s3://{{}}/{{}}",
        "$.gate.value",
        "$.best.TrainingJobName",
        "$.bucket",
        "$.key",
    )


def superseded_description(config: PipelineConfig) -> str:
    """Why a model that passed the gate waits for a person: a newer landing's model is approved already."""
    return states_format(
        f"Passed the quality gate with {config.gate_metric} = {{}}, but the model {{}} of a newer landing is the "
        "latest approved; approve this version to score with it",
        "$.gate.value",
        "$.record.latest_is.model_name",
    )


def register_rejected(config: PipelineConfig, target: Target, fails: dict[str, Fail]) -> Task:
    """``RegisterRejectedModel`` (the gate's cause as the description) → back to the gate's own Fail state,
    named in ``$.rejection.fail_state``; a registration that fails still ends there, with the gate's cause."""
    register = register_step(
        "RegisterRejectedModel",
        config,
        target,
        REJECTED,
        "$.rejection.cause",
        {GATE_VALUE + ".$": "$.rejection.value"},
    )
    route = Choice("EndRejectedExecution", comment="End with the gate's own failure.")
    for state_id, fail in fails.items():
        route.add_choice(ChoiceRule.StringEquals("$.rejection.fail_state", state_id), fail)
    route.default_choice(next(iter(fails.values())))
    register.add_catch(Catch(error_equals=["States.ALL"], next_step=route, result_path="$.registration_error"))
    register.next(route)
    return register


def resolve_approved(
    names: tuple[str, str, str],
    config: PipelineConfig,
    target: Target,
    comment: str,
    into: str,
    found,
    none,
    failed: Fail,
) -> Task:
    """List the newest approved version (``names[0]``), choose (``names[1]``: none → ``none``), describe it
    (``names[2]``) into ``<into>.record``: model name, schema, gate metric and value, package ARN and version;
    then ``found``."""
    list_id, choice_id, describe_id = names
    listing = Task(
        list_id,
        resource=aws_sdk_arn(target, "sagemaker", "listModelPackages"),
        comment=comment,
        parameters={
            "ModelPackageGroupName": group_name(config),
            "ModelApprovalStatus": APPROVED,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
        result_selector={
            "count.$": "States.ArrayLength($.ModelPackageSummaryList)",
            # A wildcard, then States.ArrayGetItem: moto 5.2.5 answers ``$.list[0].field`` as a one-item list
            # where Step Functions answers the value; both answer these the same.
            "arns.$": "$.ModelPackageSummaryList[*].ModelPackageArn",
        },
        result_path=into,
        retry=[transient_retry(config.retry, SAGEMAKER_SDK_TRANSIENT_ERRORS)],
    )
    meta = "$.CustomerMetadataProperties"
    describe = Task(
        describe_id,
        resource=aws_sdk_arn(target, "sagemaker", "describeModelPackage"),
        parameters={"ModelPackageName.$": f"States.ArrayGetItem({into}.arns, 0)"},
        result_selector={
            "record": {
                "model_name.$": f"{meta}.{MODEL_NAME}",
                "schema_uri.$": f"{meta}.{SCHEMA_URI}",
                "gate": {
                    "metric.$": f"{meta}.{GATE_METRIC}",
                    "value.$": f"States.StringToJson({meta}.{GATE_VALUE})",
                },
                "model_package_arn.$": "$.ModelPackageArn",
                "version.$": "$.ModelPackageVersion",
            }
        },
        result_path=into,
        retry=[transient_retry(config.retry, SAGEMAKER_SDK_TRANSIENT_ERRORS)],
    )
    choice = Choice(choice_id, comment="None approved yet?")
    choice.add_choice(ChoiceRule.NumericGreaterThan(f"{into}.count", 0), describe)
    choice.default_choice(none)
    for task in (listing, describe):
        task.add_catch(catch_into(failed))
    listing.next(choice)
    describe.next(found)
    return listing


def rejection(fail_state: str, cause: str, value: str) -> Pass:
    """``Reject<fail_state>``: a JSONata Pass keeping, under ``$.rejection``, the gate's cause (cut to the
    description limit), the gate metric's value (``null`` when missing) and the Fail state to end in."""
    return Pass(
        f"Reject{fail_state}",
        comment="Keep the gate's reason for the registry and for the Fail state.",
        query_language=JSONATA,
        output=jsonata(
            f"$merge([$states.input, {{'rejection': {{'cause': $substring({cause}, 0, {DESCRIPTION_MAX}), "
            f"'value': $exists({value}) ? $string({value}) : 'null', 'fail_state': '{fail_state}'}}}}])"
        ),
    )
