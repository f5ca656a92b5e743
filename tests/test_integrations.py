"""The routing table serves every Task the rendered definitions use, and names what it cannot."""

from __future__ import annotations

import pytest

from conftest import running_control
from mlops_pipeline.builders import build_definitions
from mlops_pipeline.local.engine import resource_key, task_resources
from mlops_pipeline.local.integrations import dispatcher, supports
from mlops_pipeline.local.tasks import TaskFailure
from mlops_pipeline.target import local_target


def test_every_task_of_both_rendered_workflows_has_a_local_integration(example_config):
    definitions = build_definitions(example_config, local_target(example_config.name))
    resources = {resource_key(arn) for definition in definitions.values() for arn in task_resources(definition)}
    assert len(resources) >= 10 and all(supports(resource) for resource in resources)


def test_an_unknown_resource_or_missing_parameter_is_a_states_runtime_error(services):
    dispatch = dispatcher(services)
    with pytest.raises(TaskFailure, match="cannot serve athena:startQueryExecution") as unknown:
        dispatch("athena:startQueryExecution", {}, running_control())
    with pytest.raises(TaskFailure, match="aws-sdk:s3:getObject: missing parameter 'Key'") as missing:
        dispatch("aws-sdk:s3:getObject", {"Bucket": "b"}, running_control())
    assert unknown.value.error == missing.value.error == "States.Runtime"
