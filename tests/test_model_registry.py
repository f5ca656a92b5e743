"""``mlops-pipeline models`` over a workspace a real session trained in: approved and rejected versions listed,
scoring following a manual approval and a manual rejection."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from conftest import EXAMPLE_WORKFLOW, configured, local_project, run_cli
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.integrations.sagemaker_registry import group_versions
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.stores import Workspace

ONE_TRIAL = {"tuning": {"max_jobs": 1, "max_parallel_jobs": 1, "seed": 7}, "retry": {"interval_seconds": 1}}
GROUP = "attrition-models"


def shuffled_labels(train: Path, into: Path) -> Path:
    """The same employees with their attrition labels shuffled: a model of it learns nothing."""
    with open(train, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    labels = [row[1] for row in rows]
    random.Random(3).shuffle(labels)
    into.parent.mkdir(parents=True, exist_ok=True)
    with open(into, "w", newline="") as handle:
        csv.writer(handle).writerows(
            [header, *([row[0], label, *row[2:]] for row, label in zip(rows, labels, strict=True))]
        )
    return into


def models(workspace, *args) -> str:
    """``mlops-pipeline models ...`` in this process (the first listing runs as a user runs it, a new process)."""
    from click.testing import CliRunner

    from mlops_pipeline.cli import main

    done = CliRunner().invoke(main, ["models", *args, "--workflow", EXAMPLE_WORKFLOW, "--workspace", workspace.root])
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.slow
def test_the_registry_lists_both_decisions_and_scoring_follows_manual_ones(example_config, tmp_path):
    train, score = write_demo_pair(tmp_path / "landed", 3000, 100)
    noise = shuffled_labels(train, tmp_path / "noise" / "employees_noise.csv")
    workspace = Workspace.resolve(tmp_path / "ws")
    config = configured(example_config, **ONE_TRIAL)
    with LocalRuntime(config, workspace, local_project(tmp_path / "project")) as runtime:
        approved, rejected = runtime.run_file("train", train), runtime.run_file("train", noise)
        assert approved.succeeded and rejected.error == "QualityGateFailed", (approved.cause, rejected.cause)
        shown = run_cli("models", "--workflow", EXAMPLE_WORKFLOW, "--workspace", workspace.root, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        listed = shown.stdout.splitlines()
        assert listed[0] == GROUP
        first, second = listed[2], listed[3]
        assert first.startswith("1 *") and "Approved" in first and approved.name in first and "roc_auc = 0." in first
        assert second.startswith("2 ") and "Rejected" in second and rejected.name in second
        assert rejected.cause[:60] in second  # the gate's own cause
        assert listed[-1] == "Scoring uses version 1 (the approved version created last)."

        approving = models(workspace, "approve", "2", "--reason", "accepted for the [bold]pilot[/bold]")
        assert approving.splitlines() == [
            f"{GROUP} version 2: Approved",
            "Scoring uses version 2 (the approved version created last).",
        ]
        assert "accepted for the [bold]pilot[/bold]" in models(workspace)  # a person's reason, printed literally
        scored = runtime.run_file("score", score)
        assert scored.succeeded, (scored.error, scored.cause)
        version_2 = group_versions(runtime.services.records, GROUP)[1]
        assert scored.output["model_name"] == version_2["CustomerMetadataProperties"]["model_name"]
        assert scored.output["model_name"] != approved.output["model_name"]  # version 2's model, not version 1's

        for version in ("2", "1"):
            models(workspace, "reject", version, "--reason", "drift in last week's data")
        assert models(workspace).splitlines()[-1] == "Scoring has no approved version: it fails with NoApprovedModel."
        refused = runtime.run_file("score", score)
    assert refused.error == "NoApprovedModel" and "mlops-pipeline models approve" in refused.cause


def test_on_aws_models_lists_and_changes_versions_with_the_sagemaker_api(tmp_path, aws_credentials):
    """--tf-outputs: the same command against SageMaker's registry (moto), the group named after the pipeline."""
    import json
    from dataclasses import asdict

    import boto3
    from click.testing import CliRunner
    from moto import mock_aws

    from mlops_pipeline.cli import main
    from mlops_pipeline.target import local_target

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: {"value": v} for k, v in asdict(local_target("attrition")).items()}))
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName="attrition-models")
        for status in ("Approved", "Rejected"):
            sagemaker.create_model_package(
                ModelPackageGroupName="attrition-models",
                ModelPackageDescription=f"gate said {status}",
                InferenceSpecification={
                    "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelApprovalStatus=status,
                CustomerMetadataProperties={"gate_metric": "roc_auc", "gate_value": "0.8", "execution": "x:train-1"},
            )
        runner = CliRunner()
        listed = runner.invoke(main, ["models", "--tf-outputs", str(outputs)])
        approved = runner.invoke(main, ["models", "approve", "2", "--tf-outputs", str(outputs), "--reason", "ok"])
        after = sagemaker.describe_model_package(ModelPackageName=f"{ARN_PREFIX}/2")
        missing = runner.invoke(main, ["models", "reject", "7", "--reason", "no", "--tf-outputs", str(outputs)])
    assert listed.exit_code == 0, listed.output
    assert "1 *" in listed.output and "roc_auc = 0.8" in listed.output and "train-1" in listed.output
    assert approved.exit_code == 0 and "Scoring uses version 2" in approved.output, approved.output
    assert after["ModelApprovalStatus"] == "Approved" and after["ApprovalDescription"] == "ok"
    assert missing.exit_code == 1
    assert "model package group attrition-models has no version 7 (versions 1 to 2)" in missing.output


ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012:model-package/attrition-models"
