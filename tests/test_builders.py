"""Rendered definitions: golden files, naming rules, failure paths, and no network while building."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_pipeline.builders import build_definitions, definition_json
from mlops_pipeline.target import local_target

GOLDEN = Path(__file__).parent / "golden"
#: The name field of each SageMaker resource a workflow creates.
CREATED_NAME_FIELD = {
    "createHyperParameterTuningJob.sync": "HyperParameterTuningJobName.$",
    "createModel": "ModelName.$",
    "createTransformJob.sync": "TransformJobName.$",
}


@pytest.fixture(scope="module")
def definitions(example_config):
    return build_definitions(example_config, local_target(example_config.name))


@pytest.mark.parametrize("workflow", ["training", "scoring"])
def test_rendered_definition_matches_golden_file(definitions, workflow):
    """Regenerate after a reviewed change with: UPDATE_GOLDEN=1 python -m pytest tests/test_builders.py"""
    path = GOLDEN / f"{workflow}.asl.json"
    rendered = definition_json(definitions[workflow])
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"{path.name} changed: review it, then UPDATE_GOLDEN=1"


def tasks(definition):
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


@pytest.mark.parametrize("workflow", ["training", "scoring"])
def test_every_task_failure_ends_in_a_named_fail_state_with_a_cause(definitions, workflow):
    states = definitions[workflow]["States"]
    for name, state in tasks(definitions[workflow]).items():
        catch_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert catch_all, f"{name} has no catch-all"
        target = states[catch_all[0]["Next"]]
        if name == "RegisterRejectedModel":  # a failed registration ends in the gate's own Fail state
            ends = [states[choice["Next"]] for choice in target["Choices"]]
            assert ends and all(end["Type"] == "Fail" and end["CausePath"] == "$.rejection.cause" for end in ends)
            continue
        assert target["Type"] == "Fail"
        assert target.get("Cause") or target.get("CausePath", "").startswith("States.Format(")


@pytest.mark.parametrize("workflow", ["training", "scoring"])
def test_sagemaker_names_are_unique_per_execution_and_retry(definitions, workflow, example_config):
    names = [
        state["Parameters"][CREATED_NAME_FIELD[api]]
        for state in tasks(definitions[workflow]).values()
        if (api := state["Resource"].rsplit(":", 1)[-1]) in CREATED_NAME_FIELD
    ]
    assert names
    for name in names:
        assert name == (
            f"States.Format('{example_config.name}-{{}}-{{}}-{{}}', $.job_stem, "
            "$$.Execution.RedriveCount, $$.State.RetryCount)"
        )


def test_transient_errors_are_retried_with_backoff(definitions):
    tune = definitions["training"]["States"]["TuneHyperparameters"]
    transient = tune["Retry"][0]
    assert transient["ErrorEquals"] == [
        "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException",
    ]
    assert transient["BackoffRate"] > 1 and transient["MaxAttempts"] >= 1
    glue = definitions["training"]["States"]["TransformTrainingData"]["Retry"][0]
    assert "Glue.ConcurrentRunsExceededException" in glue["ErrorEquals"]


@pytest.mark.parametrize("workflow", ["training", "scoring"])
def test_every_retried_or_caught_error_is_one_its_task_can_raise(definitions, workflow):
    """A name no call raises is a retrier that never fires (the aws_errors naming rule decides)."""
    from mlops_pipeline.aws_errors import raisable
    from mlops_pipeline.local.engine import resource_key

    checked = 0
    for name, state in definitions[workflow]["States"].items():
        if state["Type"] != "Task":
            continue
        can_raise = raisable(resource_key(state["Resource"]))
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error.startswith("States.") or error in can_raise, f"{name}: {error}"
                checked += 1
    assert checked > 10


def test_s3_uris_come_from_the_execution_input_except_store_names(definitions):
    text = json.dumps(definitions)
    assert "data/train" not in text.replace("under data/train/", "")
    glue_args = definitions["training"]["States"]["TransformTrainingData"]["Parameters"]["Arguments"]
    assert glue_args["--LANDED_URI.$"] == "States.Format('s3://{}/{}', $.bucket, $.key)"
    # the Glue job reads this execution's pinned copy of the landed version, never the key's newest bytes
    assert (
        glue_args["--S3_SOURCE.$"]
        == "States.Format('s3://attrition-extracts/attrition/{}/landed/{}', $.job_stem, $.key)"
    )
    pin = definitions["training"]["States"]["PinLandedObject"]["Parameters"]
    assert pin["CopySource.$"] == "$.copy_source" and pin["CopySourceIfMatch.$"] == "$.copy_source_if_match"


def test_quality_gate_reads_the_named_metric_and_compares_threshold_baseline_and_champion(definitions):
    states = definitions["training"]["States"]
    gate = states["QualityGate"]
    assert gate["QueryLanguage"] == "JSONata"
    conditions = [(choice["Condition"], choice["Next"]) for choice in gate["Choices"]]
    value = "$states.input.best.Metrics[MetricName='roc_auc'].Value"
    assert conditions[0] == (f"{{% $not($exists({value})) %}}", "RejectGateMetricMissing")
    assert conditions[1] == (f"{{% $not({value} >= 0.7) %}}", "RejectQualityGateFailed")
    assert "data.report.baseline.`roc_auc`" in conditions[2][0] and f"{value} > " in conditions[2][0]
    assert "champion.record.gate.value - 0.02" in conditions[3][0]
    assert gate["Default"] == "ReadGateMetric" and states["ReadGateMetric"]["Next"] == "DescribeApprovedModel"
    assert states["CreateModel"]["Next"] == "ReadApprovedModel"  # every version registered names a model
    cause = states["RejectQualityGateFailed"]["Output"]
    assert "has roc_auc = ' & $string(" in cause and "the gate requires roc_auc >= 0.7" in cause
    assert states["QualityGateFailed"]["CausePath"] == "$.rejection.cause"
    assert (
        states["QualityGateFailedBaseline"]["Error"]
        == states["QualityGateFailedChampion"]["Error"]
        == "QualityGateFailed"
    )


def test_gate_comparison_and_grid_strategy_render(example_config):
    config = example_config.model_copy(
        update={
            "quality_gate": example_config.quality_gate.model_copy(
                update={"metric": "logloss", "comparison": "<", "threshold": 0.4}
            ),
        }
    )
    states = build_definitions(config, local_target(config.name))["training"]["States"]
    value = "$states.input.best.Metrics[MetricName='logloss'].Value"
    assert states["QualityGate"]["Choices"][1]["Condition"] == f"{{% $not({value} < 0.4) %}}"
    assert f"{value} < $states.input.data.report.baseline" in states["QualityGate"]["Choices"][2]["Condition"]
    ranges = states["TuneHyperparameters"]["Parameters"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"][0] == {
        "Name": "eta",
        "MinValue": "0.01",
        "MaxValue": "0.5",
        "ScalingType": "Logarithmic",
    }
    assert ranges["CategoricalParameterRanges"][0]["Values"] == ["depthwise", "lossguide"]


def test_scoring_fails_fast_without_an_approved_model(definitions):
    states = definitions["scoring"]["States"]
    resolve = states["ResolveApprovedModel"]
    assert resolve["Resource"].endswith("aws-sdk:sagemaker:listModelPackages")
    assert resolve["Parameters"] == {
        "ModelPackageGroupName": "attrition-models",
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    choice = states[resolve["Next"]]
    assert states[choice["Default"]]["Error"] == "NoApprovedModel"
    assert states[choice["Choices"][0]["Next"]]["Next"] == "TransformScoringData"


def test_every_gate_decision_is_registered_in_the_model_registry(definitions):
    states = definitions["training"]["States"]
    statuses = {
        name: state["Parameters"]["ModelApprovalStatus"]
        for name, state in states.items()
        if state.get("Resource", "").endswith("sagemaker:createModelPackage")
    }
    assert statuses == {
        "RegisterApprovedModel": "Approved",
        "RegisterSupersededModel": "PendingManualApproval",
        "RegisterRejectedModel": "Rejected",
    }
    assert states["NewerLandingStaysLatest"]["Next"] == "RegisterSupersededModel"
    assert states["RegisterApprovedModel"]["Next"] == states["RegisterSupersededModel"]["Next"] == "ModelApproved"
    for reject in ("GateMetricMissing", "QualityGateFailed", "QualityGateFailedBaseline", "QualityGateFailedChampion"):
        assert states[f"Reject{reject}"]["Next"] == "RegisterRejectedModel"
    assert states["ReadApprovedModel"]["Resource"].endswith("sagemaker:listModelPackages")


def test_rendering_needs_no_network_and_no_credentials(tmp_path):
    """Run the real CLI with sockets disabled and every AWS credential source removed."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from mlops_pipeline.cli import run_deploy_entry\n"
        "run_deploy_entry()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    result = subprocess.run(
        [sys.executable, "-c", code, "--only-json", "--out", str(tmp_path / "out")],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "training.asl.json" in result.stdout
    rendered = (tmp_path / "out" / "training.asl.json").read_text()
    assert rendered == (GOLDEN / "training.asl.json").read_text()


def test_scoring_waits_for_a_running_training_with_growing_waits_within_its_budget(definitions, example_config):
    states = definitions["scoring"]["States"]
    check = states["CheckTrainingRunning"]
    assert check["Resource"] == "arn:aws:states:::aws-sdk:sfn:listExecutions"
    assert check["Parameters"] == {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:attrition-training",
        "StatusFilter": "RUNNING",
        "MaxResults": 1,
    }
    decide = states["TrainingStillRunning"]
    bound = decide["Choices"][0]["And"][1]
    assert bound == {"Variable": "$.wait.waited", "NumericLessThan": example_config.scoring_wait_seconds}
    assert decide["Choices"][0]["Next"] == "WaitForTraining" and decide["Default"] == "ResolveApprovedModel"
    assert states["StartWaitBudget"]["Result"] == {"seconds": 1, "waited": 0}
    assert (
        states["WaitForTraining"]["SecondsPath"] == "$.wait.seconds"
        and states["WaitForTraining"]["Next"] == "CountWait"
    )
    assert states["CountWait"]["Parameters"]["seconds.$"] == "States.MathAdd($.wait.seconds, 1)"  # 1, 2, 3...
    cap = states["CapWait"]
    assert cap["Choices"][0] == {
        "Variable": "$.wait.seconds",
        "NumericGreaterThan": example_config.scoring_poll_seconds,
        "Next": "WaitAtMost",
    }
    assert cap["Default"] == states["WaitAtMost"]["Next"] == "CheckTrainingRunning"


@pytest.mark.parametrize("workflow", ["training", "scoring"])
def test_definitions_parse_as_amazon_states_language(definitions, workflow):
    """The local engine's port of the AWS ASL grammar accepts every state and field we render."""
    from mlops_pipeline.local.engine import parse_definition

    assert set(parse_definition(definition_json(definitions[workflow]))) == set(definitions[workflow]["States"])


@pytest.mark.parametrize("field, value", [("Type", "Taks"), ("ResultSelectorr", {}), ("TimeoutSeconds", "soon")])
def test_the_parser_check_can_fail(definitions, field, value):
    from mlops_pipeline.local.engine import parse_definition

    broken = json.loads(definition_json(definitions["scoring"]))
    broken["States"]["BatchTransform"][field] = value
    with pytest.raises(ValueError):
        parse_definition(json.dumps(broken))


def test_jobs_run_network_isolated_in_the_vpc_terraform_names(example_config):
    """With Terraform's sagemaker_job_network, its IAM conditions require EnableNetworkIsolation and that
    VPC on every tuning job and model; the definitions carry both."""
    from dataclasses import replace

    target = replace(
        local_target(example_config.name),
        job_subnet_ids="subnet-0a1b2c3d,subnet-0e1f2a3b",
        job_security_group_ids="sg-0123abcd",
    )
    states = build_definitions(example_config, target)["training"]["States"]
    network = {
        "EnableNetworkIsolation": True,
        "VpcConfig": {"Subnets": ["subnet-0a1b2c3d", "subnet-0e1f2a3b"], "SecurityGroupIds": ["sg-0123abcd"]},
    }
    definition = states["TuneHyperparameters"]["Parameters"]["TrainingJobDefinition"]
    assert {key: definition[key] for key in network} == network
    assert {key: states["CreateModel"]["Parameters"][key] for key in network} == network
    isolated_only = example_config.model_copy(
        update={"model": example_config.model.model_copy(update={"network_isolation": True})}
    )
    plain = build_definitions(isolated_only, local_target(example_config.name))["training"]["States"]
    assert plain["CreateModel"]["Parameters"]["EnableNetworkIsolation"] is True
    assert "VpcConfig" not in plain["CreateModel"]["Parameters"]
    assert (
        "EnableNetworkIsolation"
        not in build_definitions(example_config, local_target("attrition"))["training"]["States"]["CreateModel"][
            "Parameters"
        ]
    )
