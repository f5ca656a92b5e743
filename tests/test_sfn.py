"""aws-sdk sfn calls answer in AWS's PascalCase from the in-process service."""

from __future__ import annotations

import json

import pytest

from conftest import dispatch, running_control
from mlops_pipeline.local.engine import Engine
from mlops_pipeline.local.integrations.sfn import list_executions
from mlops_pipeline.local.tasks import TaskFailure

WAITING = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})


def test_running_executions_are_listed_with_aws_field_names(services):
    with Engine(lambda *a: None, []) as engine:
        services.sfn = engine.client
        arn = engine.create_state_machine("p-training", WAITING, "arn:aws:iam::123456789012:role/x")
        engine.start_execution(arn, "train-1", {})
        listed = list_executions(
            services, {"StateMachineArn": arn, "StatusFilter": "RUNNING", "MaxResults": 1}, running_control()
        )
        engine.stop(engine.client.list_executions(stateMachineArn=arn)["executions"][0]["executionArn"])
        with pytest.raises(TaskFailure) as missing:
            dispatch(services, "aws-sdk:sfn:listExecutions", {"StateMachineArn": arn.replace("p-training", "nope")})
    assert [(e["Name"], e["Status"]) for e in listed["Executions"]] == [("train-1", "RUNNING")]
    assert missing.value.error == "Sfn.StateMachineDoesNotExistException"
    assert missing.value.cause.startswith("State Machine Does Not Exist: ")
