"""The training workflow's endpoint states (builders/endpoint.py): wiring, names, errors and retries."""

from __future__ import annotations

import fnmatch
import json

import pytest

from mlops_pipeline.aws_errors import (
    SAGEMAKER_JOB_TRANSIENT_ERRORS,
    AwsError,
    step_functions_cause,
    step_functions_error,
)
from mlops_pipeline.builders.endpoint import DESCRIBE_ERROR, NOT_FOUND_CAUSE
from mlops_pipeline.builders.training import build_training
from mlops_pipeline.config import EndpointSettings
from mlops_pipeline.local.integrations.sagemaker_endpoint import ENDPOINTS
from mlops_pipeline.target import local_target


def states(config) -> dict:
    definition = build_training(config, local_target(config.name))
    return (definition if isinstance(definition, dict) else json.loads(definition))["States"]


@pytest.fixture(scope="module")
def deploying(example_config) -> dict:
    settings = EndpointSettings(poll_seconds=10, wait_seconds=600, instance_type="ml.c5.xlarge", instance_count=2)
    return states(example_config.model_copy(update={"endpoint": settings}))


def test_without_an_endpoint_the_training_workflow_has_no_endpoint_state(example_config):
    assert not [name for name in states(example_config) if "Endpoint" in name]


def test_only_the_model_that_became_latest_is_deployed(deploying):
    assert deploying["RegisterApprovedModel"]["Next"] == "StartEndpointDeployment"
    assert deploying["RegisterSupersededModel"]["Next"] == "ModelApproved"  # a newer landing's model stays latest


def test_the_endpoint_config_is_named_like_every_job_and_serves_the_approved_model(deploying):
    create = deploying["CreateEndpointConfig"]
    assert create["Resource"] == "arn:aws:states:::sagemaker:createEndpointConfig"
    name = create["Parameters"]["EndpointConfigName.$"]
    assert "$$.Execution.RedriveCount" in name and "$$.State.RetryCount" in name and "attrition-" in name
    (variant,) = create["Parameters"]["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName.$": "$.model.ModelName",
        "InitialInstanceCount": 2,
        "InstanceType": "ml.c5.xlarge",
        "InitialVariantWeight": 1,
    }
    for state in ("CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"):
        assert deploying[state]["Retry"][0]["ErrorEquals"] == list(SAGEMAKER_JOB_TRANSIENT_ERRORS), state
    for state in ("CreateEndpoint", "UpdateEndpoint", "DescribeEndpoint", "DescribeDeployedEndpoint"):
        assert deploying[state]["Parameters"]["EndpointName"] == "attrition", state


def test_a_missing_endpoint_is_told_from_throttling_by_its_cause_not_retried_as_it(deploying):
    """DescribeEndpoint's "Could not find endpoint" is a ValidationException, not modelled: the base class,
    the same name throttling has. The Task has no retrier; the Choice reads the cause the runtime gives."""
    resource = "aws-sdk:sagemaker:describeEndpoint"
    assert step_functions_error(resource, "ValidationException") == DESCRIBE_ERROR
    describe = deploying["DescribeEndpoint"]
    assert "Retry" not in describe
    assert describe["Catch"][0] == {
        "ErrorEquals": [DESCRIBE_ERROR],
        "Next": "IsEndpointMissing",
        "ResultPath": "$.error",
    }
    missing = deploying["IsEndpointMissing"]
    assert missing["Choices"][0]["Next"] == "CreateEndpoint"
    assert missing["Default"] == "CountDescribeEndpointAttempt"
    message = ENDPOINTS.not_found_message.format(name="attrition")
    assert fnmatch.fnmatchcase(
        step_functions_cause(resource, AwsError("ValidationException", message)), NOT_FOUND_CAUSE
    )
    assert (
        fnmatch.fnmatchcase(
            step_functions_cause(resource, AwsError("ThrottlingException", "Rate exceeded")), NOT_FOUND_CAUSE
        )
        is False
    )


def test_an_endpoint_busy_updating_is_waited_for_and_the_wait_is_bounded(deploying):
    decide = deploying["CreateOrUpdateEndpoint"]
    assert decide["Choices"][0]["Next"] == "UpdateEndpoint"
    assert decide["Choices"][1]["Next"] == "WaitBeforeEndpointUpdate"
    assert deploying["WaitBeforeEndpointUpdate"] == {"Type": "Wait", "Seconds": 10, "Next": "DescribeEndpoint"}
    assert deploying["KeepWaitingForEndpoint"]["Choices"][0]["NumericGreaterThanEquals"] == 60  # 600 s / 10 s
    assert deploying["KeepWaitingForEndpoint"]["Choices"][0]["Next"] == "EndpointWaitTimedOut"


def test_a_rolled_back_update_fails_with_a_cause_naming_both_configs_and_the_reason(deploying):
    verdicts = {rule["Next"]: rule for rule in deploying["IsEndpointInService"]["Choices"]}
    assert list(verdicts) == [
        "EndpointDeployed",
        "EndpointRolledBack",
        "EndpointReplaced",
        "EndpointFailed",
        "KeepWaitingForEndpoint",
    ]
    rolled_back = deploying["EndpointRolledBack"]
    assert rolled_back["Error"] == "EndpointUpdateFailed"
    assert (
        "rolled it back" in rolled_back["CausePath"] and "$.endpoint.status.FailureReason" in rolled_back["CausePath"]
    )
    assert deploying["EndpointDeployed"]["ResultPath"] == "$.record.endpoint"
    assert deploying["EndpointDeployed"]["Next"] == "ModelApproved"
