"""The routing table serves every Task the rendered definitions use, and names what it cannot."""

from __future__ import annotations

import pytest

from conftest import running_control
from mlops_pipeline.builders import build_definitions
from mlops_pipeline.local.engine import resource_key, task_resources
from mlops_pipeline.local.integrations import IntegrationTable, default_table
from mlops_pipeline.local.tasks import TaskFailure
from mlops_pipeline.target import local_target


def test_every_task_of_both_rendered_workflows_has_a_local_integration(example_config):
    definitions = build_definitions(example_config, local_target(example_config.name))
    resources = {resource_key(arn) for definition in definitions.values() for arn in task_resources(definition)}
    assert len(resources) >= 10 and all(default_table().supports(resource) for resource in resources)


def test_an_unknown_resource_or_missing_parameter_is_a_states_runtime_error(services):
    dispatch = default_table().dispatcher(services)
    with pytest.raises(TaskFailure, match="cannot serve athena:startQueryExecution") as unknown:
        dispatch("athena:startQueryExecution", {}, running_control())
    with pytest.raises(TaskFailure, match="aws-sdk:s3:getObject: missing parameter 'Key'") as missing:
        dispatch("aws-sdk:s3:getObject", {"Bucket": "b"}, running_control())
    assert unknown.value.error == missing.value.error == "States.Runtime"


def fake_sns_module(calls: list):
    """A module serving a resource the runtime does not serve today, as a new integration would."""
    import types

    from mlops_pipeline.local.integrations import serves

    module = types.ModuleType("fake_sns")

    @serves("sns:publish", client_error="SNS.InvalidParameterException")
    def publish(services, params, control):
        calls.append(params)
        return {"MessageId": "m-1"}

    module.publish = publish
    return module


def run_definition(table, services, definition: dict, name: str = "run-1") -> dict:
    import json
    import time

    from mlops_pipeline.local.engine import Engine

    with Engine(table.dispatcher(services), table.resources) as engine:
        services.sfn = engine.client
        arn = engine.create_state_machine("sm", json.dumps(definition), "arn:aws:iam::123456789012:role/x")
        execution = engine.start_execution(arn, name, {})
        deadline = time.monotonic() + 30
        while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        return engine.describe(execution)


def test_a_new_integration_registered_in_the_table_is_the_one_the_engine_calls(services):
    import json

    calls: list = []
    table = IntegrationTable.from_modules([fake_sns_module(calls)])
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "End": True,
                "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "hello"},
            }
        },
    }
    described = run_definition(table, services, definition)
    assert described["status"] == "SUCCEEDED", described
    assert calls == [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "hello"}]
    assert json.loads(described["output"]) == {"MessageId": "m-1"}


def test_a_missing_key_that_climbs_with_dots_is_no_such_key_and_the_catch_routes_it(services):
    services.workspace.put_bytes("meta", "secret.json", b"{}")
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "meta", "Key": "p/../../meta/secret.json"},
                "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.error", "Next": "Missing"}],
                "End": True,
            },
            "Missing": {"Type": "Pass", "End": True},
        },
    }
    described = run_definition(default_table(), services, definition)
    assert described["status"] == "SUCCEEDED", described
    assert '"Error":"S3.NoSuchKeyException"' in described["output"].replace(" ", "")
    written = default_table().dispatch(
        services, "aws-sdk:s3:putObject", {"Bucket": "meta", "Key": "../../escape.json", "Body": "x"}, running_control()
    )
    assert written["ETag"] and not (services.workspace.root / "escape.json").exists()
    assert [key for key, _ in services.workspace.objects("meta")] == ["../../escape.json", "secret.json"]


def test_a_refusal_inside_an_integration_leaves_as_that_services_error_never_states_runtime(services):
    with pytest.raises(TaskFailure) as refused:
        default_table().dispatch(
            services, "aws-sdk:s3:getObject", {"Bucket": "Not_A_Bucket!", "Key": "k"}, running_control()
        )
    assert refused.value.error == "S3.S3Exception" and "invalid bucket name" in refused.value.cause


def test_every_integration_declares_its_resources_once(services):
    table = default_table()
    assert all(callable(table.routes[resource]) for resource in table.resources)
    with pytest.raises(ValueError, match="sns:publish is served twice"):
        IntegrationTable.from_modules([fake_sns_module([]), fake_sns_module([])])
