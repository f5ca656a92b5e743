"""The local model registry: versions numbered per group, AWS's shapes and errors, served to a definition run by
the engine, kept in the workspace for the CLI in another process."""

from __future__ import annotations

import json
import time

import pytest

from conftest import dispatch
from mlops_pipeline.local.integrations import default_table
from mlops_pipeline.local.integrations.sagemaker_registry import (
    LocalRegistryClient,
    define_group,
    group_versions,
)
from mlops_pipeline.local.tasks import TaskFailure

GROUP = "attrition-models"
SDK = "arn:aws:states:::aws-sdk:sagemaker:"


def package(status: str, **metadata) -> dict:
    return {
        "ModelPackageGroupName": GROUP,
        "ModelPackageDescription": f"a model, {status}",
        "InferenceSpecification": {
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": "s3://m/a"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": {"model_name": f"m-{status.lower()}", "gate_value": "0.8", **metadata},
    }


@pytest.fixture
def group(services):
    define_group(services, GROUP, "test group")
    return services


def test_versions_are_numbered_per_group_with_their_arn_and_listed_newest_approved_first(group):
    arns = [
        dispatch(group, "aws-sdk:sagemaker:createModelPackage", package(status))["ModelPackageArn"]
        for status in ("Approved", "Rejected", "Approved", "PendingManualApproval")
    ]
    assert arns == [f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{n}" for n in (1, 2, 3, 4)]
    listed = dispatch(
        group,
        "aws-sdk:sagemaker:listModelPackages",
        {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )
    (newest,) = listed["ModelPackageSummaryList"]
    assert newest["ModelPackageVersion"] == 3 and newest["ModelApprovalStatus"] == "Approved"
    assert set(newest) == {
        "ModelPackageName",
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelPackageDescription",
        "CreationTime",
        "ModelPackageStatus",
        "ModelApprovalStatus",
    }
    assert listed["NextToken"] == "1"  # another approved version follows
    described = dispatch(group, "aws-sdk:sagemaker:describeModelPackage", {"ModelPackageName": f"{GROUP}/2"})
    assert described["ModelApprovalStatus"] == "Rejected" and described["ModelPackageArn"] == arns[1]
    assert described["CustomerMetadataProperties"]["model_name"] == "m-rejected"


def test_a_repeated_client_token_answers_the_version_it_created(group):
    first = dispatch(group, "aws-sdk:sagemaker:createModelPackage", {**package("Approved"), "ClientToken": "t1-0"})
    again = dispatch(group, "aws-sdk:sagemaker:createModelPackage", {**package("Approved"), "ClientToken": "t1-0"})
    assert first == again and len(group_versions(group.records, GROUP)) == 1


def test_status_defaults_to_pending_and_an_update_keeps_the_reason(group):
    request = package("Approved")
    del request["ModelApprovalStatus"]
    arn = dispatch(group, "aws-sdk:sagemaker:createModelPackage", request)["ModelPackageArn"]
    dispatch(
        group,
        "aws-sdk:sagemaker:updateModelPackage",
        {"ModelPackageArn": arn, "ModelApprovalStatus": "Rejected", "ApprovalDescription": "drifted"},
    )
    (version,) = group_versions(group.records, GROUP)
    assert version["ModelApprovalStatus"] == "Rejected" and version["ApprovalDescription"] == "drifted"
    assert version["LastModifiedTime"] >= version["CreationTime"]


@pytest.mark.parametrize(
    ("resource", "params", "message"),
    [
        ("createModelPackage", {**package("Approved"), "ModelPackageGroupName": "nope"}, "nope does not exist"),
        ("describeModelPackage", {"ModelPackageName": f"{GROUP}/7"}, f"{GROUP}/7 not found"),
        (
            "updateModelPackage",
            {"ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/7"},
            "not found",
        ),
        ("createModelPackage", package("Approved", note="a, b"), "'a, b' of 'note' must be 1 to 256"),
        ("createModelPackage", package("Maybe"), "Member must satisfy enum value set"),
    ],
)
def test_bad_requests_are_validation_exceptions_under_step_functions_names(group, resource, params, message):
    with pytest.raises(TaskFailure) as failed:
        dispatch(group, f"aws-sdk:sagemaker:{resource}", params)
    assert failed.value.error == "SageMaker.SageMakerException"
    assert message in failed.value.cause and "Status Code: 400" in failed.value.cause


def test_a_definition_run_by_the_engine_registers_and_resolves_the_latest_approved(group):
    from mlops_pipeline.local.engine import Engine

    register = {
        "Type": "Task",
        "Resource": f"{SDK}createModelPackage",
        "Parameters": package("Approved"),
        "ResultPath": None,
    }
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {**register, "Next": "Reject"},
            "Reject": {**register, "Parameters": package("Rejected"), "Next": "Latest"},
            "Latest": {
                "Type": "Task",
                "Resource": f"{SDK}listModelPackages",
                "Parameters": {
                    "ModelPackageGroupName": GROUP,
                    "ModelApprovalStatus": "Approved",
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": 1,
                },
                "ResultSelector": {"arns.$": "$.ModelPackageSummaryList[*].ModelPackageArn"},
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": f"{SDK}describeModelPackage",
                "Parameters": {"ModelPackageName.$": "States.ArrayGetItem($.arns, 0)"},
                "ResultSelector": {
                    "model.$": "$.CustomerMetadataProperties.model_name",
                    "value.$": "States.StringToJson($.CustomerMetadataProperties.gate_value)",
                },
                "Next": "Unknown",
            },
            "Unknown": {
                "Type": "Task",
                "Resource": f"{SDK}describeModelPackage",
                "Parameters": {"ModelPackageName": f"{GROUP}/9"},
                "Catch": [{"ErrorEquals": ["SageMaker.SageMakerException"], "ResultPath": "$.error", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    table = default_table()
    with Engine(table.dispatcher(group), table.resources) as engine:
        group.sfn = engine.client
        arn = engine.create_state_machine("registry", json.dumps(definition), "arn:aws:iam::123456789012:role/x")
        execution = engine.start_execution(arn, "run-1", {})
        deadline = time.monotonic() + 30
        while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        described = engine.describe(execution)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    output = json.loads(described["output"])
    assert output["model"] == "m-approved" and output["value"] == 0.8
    assert "not found" in output["error"]["Cause"]


def test_the_cli_client_in_another_process_sees_and_changes_what_a_session_registered(group, tmp_path):
    from mlops_pipeline import model_registry

    for status in ("Approved", "Rejected", "Approved"):
        dispatch(group, "aws-sdk:sagemaker:createModelPackage", package(status, gate_metric="roc_auc"))
    client = LocalRegistryClient(group.workspace.root)
    listed = model_registry.versions(client, GROUP)
    assert [(v.number, v.status) for v in listed] == [(1, "Approved"), (2, "Rejected"), (3, "Approved")]
    assert model_registry.serving(listed).number == 3 and listed[0].metric == "roc_auc = 0.8"
    model_registry.set_status(client, GROUP, 3, "Rejected", "worse on last week's data")
    assert model_registry.serving(model_registry.versions(client, GROUP)).number == 1
    with pytest.raises(Exception, match=f"model package group {GROUP} has no version 9 \\(versions 1 to 3\\)"):
        model_registry.set_status(client, GROUP, 9, "Approved", "x")
