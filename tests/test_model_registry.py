"""``mlops-pipeline models`` over a workspace a real session trained in: approved and rejected versions listed,
scoring following a manual approval and a manual rejection."""

from __future__ import annotations

import pytest

from conftest import EXAMPLE_WORKFLOW, configured, local_project, run_cli
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.integrations.sagemaker_registry import group_versions
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.stores import Workspace

pytestmark = pytest.mark.slow

ONE_TRIAL = {"tuning": {"max_jobs": 1, "max_parallel_jobs": 1}, "retry": {"interval_seconds": 1}}


@pytest.fixture(scope="module")
def registry_session(example_config, tmp_path_factory):
    """Version 1 approved, version 2 rejected (a gate it cannot pass), in one workspace."""
    root = tmp_path_factory.mktemp("registry")
    train, score = write_demo_pair(root / "landed", 600, 150)
    project = local_project(root / "project")
    workspace = Workspace.resolve(root / "ws")
    results = []
    for threshold in (0.5, 0.9999):
        config = configured(example_config, quality_gate={"threshold": threshold}, **ONE_TRIAL)
        with LocalRuntime(config, workspace, project) as runtime:
            results.append(runtime.run_file("train", train))
    return workspace, project, score, results


def models(workspace, *args):
    done = run_cli("models", *args, "--workflow", EXAMPLE_WORKFLOW, "--workspace", workspace.root, cwd=workspace.root)
    assert done.returncode == 0, done.stderr
    return done.stdout


def score_with(example_config, workspace, project, score):
    with LocalRuntime(configured(example_config, **ONE_TRIAL), workspace, project) as runtime:
        return runtime.run_file("score", score)


def test_the_registry_lists_both_decisions_and_scoring_follows_manual_ones(registry_session, example_config):
    workspace, project, score, (approved, rejected) = registry_session
    assert approved.succeeded and rejected.error == "QualityGateFailed", (approved.cause, rejected.cause)
    listed = models(workspace).splitlines()
    assert listed[0] == "attrition-models"
    first, second = listed[2], listed[3]
    assert first.startswith("1 *") and "Approved" in first and approved.name in first and "roc_auc = 0." in first
    assert second.startswith("2 ") and "Rejected" in second and rejected.name in second
    assert "but the gate requires roc_auc >= 0.9999" in second
    assert listed[-1] == "Scoring uses version 1 (the approved version created last)."

    approving = models(workspace, "approve", "2", "--reason", "accepted for the [bold]pilot[/bold]")
    assert approving.splitlines() == [
        "attrition-models version 2: Approved",
        "Scoring uses version 2 (the approved version created last).",
    ]
    assert "accepted for the [bold]pilot[/bold]" in models(workspace)  # a person's reason, printed literally
    scored = score_with(example_config, workspace, project, score)
    assert scored.succeeded, (scored.error, scored.cause)
    version_2 = group_versions(Records.of_workspace(workspace.root), "attrition-models")[1]
    assert scored.output["model_name"] == version_2["CustomerMetadataProperties"]["model_name"]
    assert scored.output["model_name"] != approved.output["model_name"]  # version 2's model, not version 1's

    for version in ("2", "1"):
        models(workspace, "reject", version, "--reason", "drift in last week's data")
    assert models(workspace).splitlines()[-1] == "Scoring has no approved version: it fails with NoApprovedModel."
    refused = score_with(example_config, workspace, project, score)
    assert refused.error == "NoApprovedModel" and "mlops-pipeline models approve" in refused.cause
