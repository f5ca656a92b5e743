"""The real-time endpoint: the model that became the latest approved one is deployed to a SageMaker endpoint.

After ``RegisterApprovedModel`` (a model that did not become the latest approved one is registered
``PendingManualApproval`` and not deployed): ``StartEndpointDeployment`` → ``CreateEndpointConfig``
(named as every job, so a retry or a redrive never collides) → ``DescribeEndpoint`` → create or update:

- no endpoint yet: DescribeEndpoint answers ``ValidationException`` "Could not find endpoint ..." (its botocore
  model declares no error, so an ``aws-sdk`` Task reports it as the service's base class,
  ``SageMaker.SageMakerException``, by ``aws_errors``' rule). That is also the name throttling has, so the
  Task has no retrier of its own: ``IsEndpointMissing`` reads the cause, and any other error is tried again
  by ``TryDescribeEndpointAgain`` with the workflow's retry settings;
- ``InService``: ``UpdateEndpoint``; ``Creating``/``Updating``/``SystemUpdating``/``RollingBack``: wait, then
  describe again (SageMaker refuses to update an endpoint that is not InService); ``Failed``,
  ``OutOfService``, ``Deleting``, ``UpdateRollbackFailed``: the execution fails, saying so.

Then ``WaitForEndpoint`` polls DescribeEndpoint until it is InService on the new configuration. UpdateEndpoint
deploys the new configuration to a new fleet and shifts traffic to it only once it is ready (blue/green, all
at once, by default; "there is no availability loss": SageMaker API reference, UpdateEndpoint, and
CloudFormation's ``DeploymentConfig``), so an update that fails leaves the endpoint InService on its
previous configuration with a ``FailureReason`` (DescribeEndpoint): ``EndpointRolledBack`` reports both.
"""

from __future__ import annotations

from mlops_pipeline.aws_errors import SAGEMAKER_JOB_TRANSIENT_ERRORS, SAGEMAKER_SDK_TRANSIENT_ERRORS
from mlops_pipeline.builders.common import (
    aws_sdk_arn,
    catch_into,
    failure,
    job_name,
    service_arn,
    states_format,
    transient_retry,
)
from mlops_pipeline.builders.sdk import Catch, Choice, ChoiceRule, Fail, Pass, Task, Wait
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.target import Target

#: What SageMaker's DescribeEndpoint says of a name it does not know (the message of its ValidationException:
#: 'Could not find endpoint "arn:aws:sagemaker:<region>:<account>:endpoint/<name>".', as reported in
#: aws/amazon-sagemaker-examples#2402).
NOT_FOUND_CAUSE = "*Could not find endpoint*"
#: The name a DescribeEndpoint error reaches Step Functions with (not modelled: the base class).
DESCRIBE_ERROR = "SageMaker.SageMakerException"
#: Statuses an endpoint passes through on its way to InService or Failed.
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")


def deploy_endpoint(config: PipelineConfig, target: Target, done):
    """The states between the approved version's registration and ``done``; ``done`` itself without an endpoint."""
    if config.endpoint is None:
        return done
    name = config.endpoint_name
    deployed = Pass(
        "EndpointDeployed",
        parameters={"name": name, "config_name.$": "$.endpoint.config.EndpointConfigName"},
        result_path="$.record.endpoint",
    )
    deployed.next(done)
    wait = _wait_until_in_service(config, target, name, deployed)
    create = _switch("CreateEndpoint", config, target, name, wait)
    update = _switch("UpdateEndpoint", config, target, name, wait)
    describe = _describe_existing(config, target, name, create, update)
    config_step = _create_config(config, target, describe)
    start = Pass("StartEndpointDeployment", result={"describe_attempts": 0, "polls": 0}, result_path="$.endpoint")
    start.next(config_step)
    return start


def _create_config(config: PipelineConfig, target: Target, next_step) -> Task:
    settings = config.endpoint
    step = Task(
        "CreateEndpointConfig",
        resource=service_arn(target, "sagemaker", "createEndpointConfig"),
        comment="One production variant serving the approved model.",
        parameters={
            "EndpointConfigName.$": job_name(config),
            "ProductionVariants": [
                {
                    "VariantName": settings.variant_name,
                    "ModelName.$": "$.model.ModelName",
                    "InitialInstanceCount": settings.instance_count,
                    "InstanceType": settings.instance_type,
                    "InitialVariantWeight": 1,
                }
            ],
        },
        result_selector={
            "EndpointConfigArn.$": "$.EndpointConfigArn",
            "EndpointConfigName.$": "States.ArrayGetItem(States.StringSplit($.EndpointConfigArn, '/'), 1)",
        },
        result_path="$.endpoint.config",
        retry=[transient_retry(config.retry, SAGEMAKER_JOB_TRANSIENT_ERRORS)],
    )
    step.add_catch(
        catch_into(
            failure(
                "CreateEndpointConfigFailed",
                "EndpointDeploymentFailed",
                "Creating an endpoint configuration for the model {}",
                "$.model.ModelName",
            )
        )
    )
    step.next(next_step)
    return step


def _describe_existing(config: PipelineConfig, target: Target, name: str, create: Task, update: Task) -> Task:
    """DescribeEndpoint decides: create (none yet), update (InService), wait (in progress) or fail."""
    describe = Task(
        "DescribeEndpoint",
        resource=aws_sdk_arn(target, "sagemaker", "describeEndpoint"),
        comment="Whether the endpoint exists and can be updated now (no retrier: see IsEndpointMissing).",
        parameters={"EndpointName": name},
        result_path="$.endpoint.current",
    )
    failed = failure("DescribeEndpointFailed", "EndpointDeploymentFailed", f"Describing the endpoint {name}")
    missing = Choice("IsEndpointMissing", comment="SageMaker answers ValidationException for an unknown endpoint.")
    missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", NOT_FOUND_CAUSE), create)
    missing.default_choice(_describe_again(config, describe, failed))
    describe.add_catch(Catch(error_equals=[DESCRIBE_ERROR], next_step=missing, result_path="$.error"))
    describe.add_catch(catch_into(failed))

    busy = Wait("WaitBeforeEndpointUpdate", seconds=config.endpoint.poll_seconds)
    busy.next(describe)
    decide = Choice("CreateOrUpdateEndpoint")
    decide.add_choice(ChoiceRule.StringEquals("$.endpoint.current.EndpointStatus", "InService"), update)
    decide.add_choice(_status_in("$.endpoint.current.EndpointStatus", IN_PROGRESS), busy)
    decide.default_choice(
        Fail(
            "EndpointNotUpdatable",
            error="EndpointDeploymentFailed",
            cause_path=states_format(
                f"The endpoint {name} is {{}}, so it cannot be updated; delete it for the next approved model "
                "to create it again.",
                "$.endpoint.current.EndpointStatus",
            ),
        )
    )
    describe.next(decide)
    return describe


def _describe_again(config: PipelineConfig, describe: Task, failed: Fail) -> Pass:
    """A DescribeEndpoint error other than a missing endpoint (throttling): wait and try again, as the
    workflow's retry settings say (a fixed interval), then fail."""
    count = Pass(
        "CountDescribeEndpointAttempt",
        parameters={
            "describe_attempts.$": "States.MathAdd($.endpoint.describe_attempts, 1)",
            "polls.$": "$.endpoint.polls",
            "config.$": "$.endpoint.config",
        },
        result_path="$.endpoint",
    )
    again = Choice("TryDescribeEndpointAgain")
    pause = Wait("WaitBeforeDescribeEndpointAgain", seconds=config.retry.interval_seconds)
    pause.next(describe)
    again.add_choice(ChoiceRule.NumericLessThanEquals("$.endpoint.describe_attempts", config.retry.max_attempts), pause)
    again.default_choice(failed)
    count.next(again)
    return count


def _switch(state_id: str, config: PipelineConfig, target: Target, name: str, next_step) -> Task:
    """CreateEndpoint or UpdateEndpoint with the new configuration (both answer at once; the wait follows)."""
    api = state_id[0].lower() + state_id[1:]
    step = Task(
        state_id,
        resource=service_arn(target, "sagemaker", api),
        parameters={"EndpointName": name, "EndpointConfigName.$": "$.endpoint.config.EndpointConfigName"},
        result_path=None,
        retry=[transient_retry(config.retry, SAGEMAKER_JOB_TRANSIENT_ERRORS)],
    )
    verb = "Creating" if state_id.startswith("Create") else "Updating"
    step.add_catch(
        catch_into(
            failure(
                f"{state_id}Failed",
                "EndpointDeploymentFailed",
                f"{verb} the endpoint {name} with the configuration {{}}",
                "$.endpoint.config.EndpointConfigName",
            )
        )
    )
    step.next(next_step)
    return step


def _wait_until_in_service(config: PipelineConfig, target: Target, name: str, deployed: Pass) -> Wait:
    """Poll DescribeEndpoint until InService on the new configuration; fail on Failed, a rollback, another
    configuration or the workflow's ``wait_seconds``."""
    settings = config.endpoint
    wait = Wait("WaitForEndpoint", seconds=settings.poll_seconds)
    poll = Task(
        "DescribeDeployedEndpoint",
        resource=aws_sdk_arn(target, "sagemaker", "describeEndpoint"),
        parameters={"EndpointName": name},
        result_path="$.endpoint.status",
        retry=[transient_retry(config.retry, SAGEMAKER_SDK_TRANSIENT_ERRORS)],
    )
    poll.add_catch(
        catch_into(failure("DescribeDeployedEndpointFailed", "EndpointDeploymentFailed", f"Waiting for {name}"))
    )
    count = Pass(
        "CountEndpointPoll",
        parameters={
            "describe_attempts.$": "$.endpoint.describe_attempts",
            "polls.$": "States.MathAdd($.endpoint.polls, 1)",
            "config.$": "$.endpoint.config",
            "status.$": "$.endpoint.status",
        },
        result_path="$.endpoint",
    )
    status, reason = "$.endpoint.status.EndpointStatus", "$.endpoint.status.FailureReason"
    new_config = ChoiceRule.StringEqualsPath(
        "$.endpoint.status.EndpointConfigName", "$.endpoint.config.EndpointConfigName"
    )
    in_service = ChoiceRule.StringEquals(status, "InService")
    has_reason = ChoiceRule.IsPresent(reason, True)
    decide = Choice("IsEndpointInService")
    decide.add_choice(ChoiceRule.And([in_service, new_config]), deployed)
    decide.add_choice(
        ChoiceRule.And([in_service, has_reason]),
        Fail(
            "EndpointRolledBack",
            error="EndpointUpdateFailed",
            cause_path=states_format(
                f"The update of the endpoint {name} to {{}} failed and SageMaker rolled it back: it still serves "
                "{}. FailureReason: {}",
                "$.endpoint.config.EndpointConfigName",
                "$.endpoint.status.EndpointConfigName",
                reason,
            ),
        ),
    )
    decide.add_choice(
        in_service,
        Fail(
            "EndpointReplaced",
            error="EndpointUpdateFailed",
            cause_path=states_format(
                f"The endpoint {name} serves {{}}, not {{}}: another deployment replaced it meanwhile.",
                "$.endpoint.status.EndpointConfigName",
                "$.endpoint.config.EndpointConfigName",
            ),
        ),
    )
    decide.add_choice(
        ChoiceRule.And([ChoiceRule.StringEquals(status, "Failed"), has_reason]),
        Fail(
            "EndpointFailed",
            error="EndpointDeploymentFailed",
            cause_path=states_format(
                f"The endpoint {name} failed with the configuration {{}}. FailureReason: {{}}",
                "$.endpoint.config.EndpointConfigName",
                reason,
            ),
        ),
    )
    waiting = Choice("KeepWaitingForEndpoint")
    waiting.add_choice(ChoiceRule.NumericGreaterThanEquals("$.endpoint.polls", _max_polls(config)), _timed_out(name))
    waiting.default_choice(wait)
    decide.add_choice(_status_in(status, IN_PROGRESS), waiting)
    decide.default_choice(
        Fail(
            "EndpointNotInService",
            error="EndpointDeploymentFailed",
            cause_path=states_format(f"The endpoint {name} ended {{}} instead of InService.", status),
        )
    )
    wait.next(poll)
    poll.next(count)
    count.next(decide)
    return wait


def _max_polls(config: PipelineConfig) -> int:
    settings = config.endpoint
    return max(1, settings.wait_seconds // settings.poll_seconds)


def _timed_out(name: str) -> Fail:
    return Fail(
        "EndpointWaitTimedOut",
        error="EndpointDeploymentFailed",
        cause_path=states_format(
            f"The endpoint {name} was still {{}} after endpoint.wait_seconds of the workflow.",
            "$.endpoint.status.EndpointStatus",
        ),
    )


def _status_in(path: str, statuses: tuple[str, ...]):
    return ChoiceRule.Or([ChoiceRule.StringEquals(path, status) for status in statuses])
