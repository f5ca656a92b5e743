"""Offline validation: each rule catches its mutation with its one line; the shipped workflow passes."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLE_WORKFLOW, run_cli
from mlops_pipeline.validation import validate_definitions, validate_workflow

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "infra" / "terraform"


@pytest.fixture(scope="module")
def rendered(example_config):
    """The target and the training and scoring definitions of the shipped workflow."""
    from mlops_pipeline.builders import build_definitions
    from mlops_pipeline.target import local_target

    target = local_target(example_config.name)
    return target, {str(kind): definition for kind, definition in build_definitions(example_config, target).items()}


def lines(definitions: dict, target, terraform_dir: Path | None = None) -> list[str]:
    return [str(finding) for finding in validate_definitions(definitions, target, terraform_dir)]


def training(definitions: dict) -> dict:
    return definitions["training"]["States"]


def tuning_parameters(definitions: dict) -> dict:
    return training(definitions)["TuneHyperparameters"]["Parameters"]


def name_the_tuning_job(name: str):
    def mutate(definitions):
        parameters = tuning_parameters(definitions)
        del parameters["HyperParameterTuningJobName.$"]
        parameters["HyperParameterTuningJobName"] = name

    return mutate


def rename_create_model(definitions):
    states = training(definitions)
    states["A" * 81] = states.pop("CreateModel")
    states["DescribeBestTrainingJob"]["Next"] = "A" * 81


def drop_the_landing_guard(definitions):
    training(definitions)["IsThisLandingNewest"]["Choices"][0]["And"].pop(0)


def set_item(holder: dict, key, value):
    def mutate(definitions):
        holder(definitions)[key] = value

    return mutate


TUNING = "training TuneHyperparameters.Parameters"
MUTATIONS = [
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"]["Parameters"], "ModelNam", "x"),
        "error: training CreateModel.Parameters.ModelNam: SageMaker CreateModel takes no such member in "
        "CreateModelInput; did you mean ModelName? (found ModelNam)",
        id="unknown-task-parameter",
    ),
    pytest.param(
        lambda d: training(d)["CreateModel"]["Parameters"].pop("ModelName.$"),
        "error: training CreateModel.Parameters: required member ModelName of CreateModelInput is missing "
        "(found ExecutionRoleArn, PrimaryContainer)",
        id="missing-required-parameter",
    ),
    pytest.param(
        set_item(lambda d: tuning_parameters(d)["HyperParameterTuningJobConfig"], "Strategy", "Genetic"),
        f"error: {TUNING}.HyperParameterTuningJobConfig.Strategy: must be one of Bayesian, Random, Hyperband, "
        'Grid (found "Genetic")',
        id="bad-enum-value",
    ),
    pytest.param(
        name_the_tuning_job("attrition-" + "x" * 30),
        f"error: {TUNING}.HyperParameterTuningJobName: must be at most 32 characters "
        '(found 40: "attrition-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")',
        id="name-too-long",
    ),
    pytest.param(
        name_the_tuning_job("attrition_job"),
        f"error: {TUNING}.HyperParameterTuningJobName: must match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){{0,31}} "
        '(found "attrition_job")',
        id="name-against-its-pattern",
    ),
    pytest.param(
        lambda d: tuning_parameters(d)["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"].extend(
            {"Name": f"m{i}", "Regex": "m: (.*)"} for i in range(40)
        ),
        f"error: {TUNING}.TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions: must have at most 40 "
        "items (found 46)",
        id="list-too-long",
    ),
    pytest.param(
        set_item(
            lambda d: tuning_parameters(d)["HyperParameterTuningJobConfig"]["ResourceLimits"],
            "MaxParallelTrainingJobs",
            0,
        ),
        f"error: {TUNING}.HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs: must be at least 1 "
        "(found 0)",
        id="number-out-of-range",
    ),
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"]["Parameters"]["PrimaryContainer"], "ModelDataUrl.$", "best.x"),
        "error: training CreateModel.Parameters.PrimaryContainer.ModelDataUrl.$: must be a JSONPath ($, $. or $$.) "
        'or an intrinsic function call (found "best.x")',
        id="dollar-value-not-a-path",
    ),
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"]["Parameters"], "ModelName.$", "States.Format('a-{}-{}', $.x)"),
        "error: training CreateModel.Parameters.ModelName.$: must be a valid intrinsic function call; the "
        "States.Format template has 2 {} for 1 values (found States.Format('a-{}-{}', $.x))",
        id="intrinsic-argument-count",
    ),
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"]["Parameters"], "ModelName.$", "States.Concat($.job_stem)"),
        "error: training CreateModel.Parameters.ModelName.$: must be a valid intrinsic function call; "
        "States.Concat is not an intrinsic function (did you mean States.Format?) (found States.Concat($.job_stem))",
        id="unknown-intrinsic",
    ),
    pytest.param(
        lambda d: training(d)["TuneHyperparameters"]["Retry"][0]["ErrorEquals"].append("SageMaker.ThrottlingException"),
        "error: training TuneHyperparameters.Retry[0].ErrorEquals[2]: no call of "
        "sagemaker:createHyperParameterTuningJob.sync raises this error; closest it can raise: "
        "SageMaker.ConflictException, SageMaker.ResourceNotFoundException, SageMaker.AmazonSageMakerException "
        "(found SageMaker.ThrottlingException)",
        id="retry-name-no-api-raises",
    ),
    pytest.param(
        lambda d: training(d)["ReadTrainingDataReport"]["Catch"][0]["ErrorEquals"].__setitem__(
            0, "SageMaker.ResourceNotFound"
        ),
        "error: training ReadTrainingDataReport.Catch[0].ErrorEquals[0]: no call of aws-sdk:s3:getObject raises "
        "this error; closest it can raise: S3.TooManyPartsException, S3.BucketAlreadyOwnedByYouException, "
        "S3.BucketAlreadyExistsException (found SageMaker.ResourceNotFound)",
        id="catch-name-the-state-cannot-raise",
    ),
    pytest.param(
        lambda d: training(d)["TuneHyperparameters"]["Retry"][0]["ErrorEquals"].append("States.Timeout2"),
        "error: training TuneHyperparameters.Retry[0].ErrorEquals[2]: not an error Step Functions defines; "
        "closest: States.Timeout, States.HeartbeatTimeout, States.Runtime (found States.Timeout2)",
        id="unknown-states-error",
    ),
    pytest.param(
        set_item(
            lambda d: training(d)["CreateModel"]["Parameters"]["PrimaryContainer"], "ModelDataUrl.$", "$.best.Mod"
        ),
        "error: training CreateModel.Parameters.PrimaryContainer.ModelDataUrl.$: path must exist in the state's "
        "input; $.best has HyperParameters, Metrics, ModelArtifact, TrainingJobName (found $.best.Mod)",
        id="path-missing-from-the-producers-result",
    ),
    pytest.param(
        set_item(lambda d: training(d)["TuneHyperparameters"]["ResultSelector"], "Best.$", "$.BestTrainingJob.Nam"),
        "error: training TuneHyperparameters.ResultSelector.Best.$: path must exist in the result of SageMaker "
        "CreateHyperParameterTuningJob (its DescribeHyperParameterTuningJob answer); $.BestTrainingJob has "
        "CreationTime, FailureReason, FinalHyperParameterTuningJobObjectiveMetric, ObjectiveStatus, TrainingEndTime, "
        "TrainingJobArn, TrainingJobDefinitionName, TrainingJobName, TrainingJobStatus, TrainingStartTime, "
        "TunedHyperParameters, TuningJobName (found $.BestTrainingJob.Nam)",
        id="path-missing-from-the-api-result",
    ),
    pytest.param(
        drop_the_landing_guard,
        "error: training IsThisLandingNewest.Choices[0].And[0].Variable: path must exist on every way into the "
        "state; $.latest.record is missing on the way from NoLatestYet (found $.latest.record.landing_order)",
        id="path-missing-on-one-way-in",
    ),
    pytest.param(
        set_item(lambda d: training(d)["QualityGate"]["Choices"][1], "Condition", "{% $states.input.best.M >= 1 %}"),
        "error: training QualityGate.Choices[1].Condition: path must exist in the state's input; "
        "$states.input.best has HyperParameters, Metrics, ModelArtifact, TrainingJobName (found $states.input.best.M)",
        id="jsonata-reads-a-missing-field",
    ),
    pytest.param(
        rename_create_model,
        f"error: training {'A' * 81}: state names must be at most 80 characters (found 81)",
        id="state-name-limit",
    ),
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"], "Next", "Nowhere"),
        "error: training CreateModel.Next: must name a state of this machine (found Nowhere)",
        id="transition-to-no-state",
    ),
    pytest.param(
        set_item(lambda d: training(d)["CreateModel"]["Retry"][0], "BackoffRate", 0.5),
        "error: training CreateModel.Retry[0].BackoffRate: must be a number >= 1.0 (found 0.5)",
        id="retrier-backoff-rate",
    ),
]


@pytest.mark.parametrize("mutate, expected", MUTATIONS)
def test_a_mutated_definition_fails_with_its_line(rendered, mutate, expected):
    target, definitions = rendered
    definitions = copy.deepcopy(definitions)
    mutate(definitions)
    found = lines(definitions, target)
    assert expected in found, "\n".join(found)


def terraform_copy(tmp_path: Path, old: str, new: str) -> Path:
    """infra/terraform in ``tmp_path`` with one edit to iam.tf."""
    folder = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, folder, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    iam = folder / "iam.tf"
    text = iam.read_text()
    assert text.count(old) == 1, old
    iam.write_text(text.replace(old, new))
    return folder


OUTPUT_STORE = 'actions   = ["s3:GetObject", "s3:PutObject"]\n    resources = ["${local.bucket_arns["output"]}'
STATEMENT = "terraform data.aws_iam_policy_document.states.statement"


@pytest.mark.parametrize(
    "old, new, expected",
    [
        pytest.param(
            'actions   = ["glue:StartCrawler"]',
            'actions   = ["glue:GetJobRun"]',
            [
                "error: scoring CatalogPredictions.Resource: the Step Functions role must allow glue:StartCrawler on "
                "arn:aws:glue:us-east-1:123456789012:crawler/attrition-output (found no statement granting it)"
            ],
            id="missing-grant",
        ),
        pytest.param(
            OUTPUT_STORE,
            OUTPUT_STORE.replace('"s3:PutObject"]', '"s3:PutObject", "s3:DeleteObject"]'),
            [
                f"warning: {STATEMENT}[PublishPredictionsInTheOutputStore].actions: granted but needed by no state "
                "(found s3:DeleteObject)"
            ],
            id="unused-grant",
        ),
        pytest.param(
            '"s3:GetObject", "s3:GetObjectVersion"]',
            '"s3:GetObject"]',
            [
                f"error: {kind} PinLandedObject.Resource: the Step Functions role must allow s3:GetObjectVersion on "
                "its resource (found no statement granting it)"
                for kind in ("training", "scoring")
            ],
            id="copying-a-version-needs-get-object-version",
        ),
        pytest.param(
            'resources = [local.sagemaker_jobs.model]\n\n    dynamic "condition"',
            'resources = [local.sagemaker_jobs.tuning]\n\n    dynamic "condition"',
            [
                "error: training CreateModel.Resource: the Step Functions role must allow sagemaker:CreateModel on "
                "arn:aws:sagemaker:us-east-1:123456789012:model/attrition-*-*-* (found it only on "
                "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/attrition-*)"
            ],
            id="grant-on-another-resource",
        ),
        pytest.param(
            '"logs:CreateLogDelivery", ',
            "",
            [
                "error: deploy settings.loggingConfiguration: the Step Functions role must allow "
                "logs:CreateLogDelivery on * (found no statement granting it)"
            ],
            id="log-delivery",
        ),
    ],
)
def test_a_mutated_role_fails_with_its_line(rendered, tmp_path, old, new, expected):
    target, definitions = rendered
    found = lines(definitions, target, terraform_copy(tmp_path, old, new))
    assert found == expected


def test_the_shipped_definitions_and_role_have_no_findings(rendered):
    target, definitions = rendered
    assert lines(definitions, target, TERRAFORM) == []


# -- Choice rules: And/Or short-circuit, Not, and the order rules are tried in -------------------

GUARDED = "error: guards Check.Choices[0]"


def maybe_x(*rules: dict) -> dict:
    """``$.x`` is there on one way into Check only; Read reads ``$.x.b``, and so may Check's rules. Check's
    Default leads to Read when no rule does."""
    choices = [{"Next": "Read", **rule} for rule in rules]
    default = "Done" if any(choice["Next"] == "Read" for choice in choices) else "Read"
    return {
        "StartAt": "Maybe",
        "States": {
            "Maybe": {"Type": "Choice", "Choices": [{"Variable": "$.flag", "IsPresent": True, "Next": "Add"}],
                      "Default": "Check"},
            "Add": {"Type": "Pass", "Result": {"b": 1}, "ResultPath": "$.x", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": choices, "Default": default},
            "Read": {"Type": "Pass", "Parameters": {"b.$": "$.x.b"}, "End": True},
            "Done": {"Type": "Succeed"},
        },
    }  # fmt: skip


PRESENT = {"Variable": "$.x.b", "IsPresent": True}
ABSENT = {"Variable": "$.x.b", "IsPresent": False}
EQUALS = {"Variable": "$.x.b", "NumericEquals": 1}
DONE = {"Next": "Done"}
MISSING_B = "path must exist on every way into the state; $.x is missing on the way from Maybe (found $.x.b)"
READ = f"error: guards Read.Parameters.b.$: {MISSING_B}"


@pytest.mark.parametrize(
    "rules, expected",
    [
        pytest.param([{"And": [PRESENT, EQUALS]}], [], id="and-after-is-present"),
        pytest.param([{"Or": [ABSENT, EQUALS], **DONE}], [], id="or-after-is-present-false"),
        pytest.param([{"Not": ABSENT}], [], id="not-is-present-false"),
        pytest.param([{**ABSENT, **DONE}, EQUALS], [], id="a-later-rule-after-is-present-false"),
        pytest.param(
            [{"And": [EQUALS, PRESENT], **DONE}], [f"{GUARDED}.And[0].Variable: {MISSING_B}", READ], id="and-late"
        ),
        pytest.param(
            [{"Or": [PRESENT, EQUALS], **DONE}], [f"{GUARDED}.Or[1].Variable: {MISSING_B}", READ], id="or-present"
        ),
        pytest.param([{"Or": [ABSENT, EQUALS]}], [READ], id="or-true-proves-nothing"),
        pytest.param([{"Not": PRESENT}], [READ], id="not-present-proves-absence"),
        pytest.param([EQUALS], [f"{GUARDED}.Variable: {MISSING_B}", READ], id="unguarded"),
    ],
)
def test_choice_rules_guard_what_they_test(rendered, rules, expected):
    target, _ = rendered
    assert lines({"guards": maybe_x(*rules)}, target) == expected


# -- the command ---------------------------------------------------------------------------------


def test_the_shipped_workflow_passes_through_the_command():
    result = run_cli("validate", "--workflow", "workflows/attrition.py", cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "workflows/attrition.py (training and scoring, IAM of infra/terraform): 0 errors, 0 warnings"
    ]


def test_the_shipped_workflow_passes_for_the_terraform_stores(tmp_path, example_config):
    from dataclasses import asdict, replace

    from mlops_pipeline.target import local_target

    target = replace(local_target(example_config.name), extracts_bucket="acme-extracts-7f3a", account_id="210987654321")
    outputs = {key: {"sensitive": False, "type": "string", "value": value} for key, value in asdict(target).items()}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    findings = validate_workflow(EXAMPLE_WORKFLOW, tmp_path / "outputs.json", TERRAFORM)
    assert [str(f) for f in findings] == []


def test_a_workflow_breaking_its_own_limits_is_one_finding_and_exit_status_1(tmp_path):
    ranges = "".join(f'IntegerRange(name="p{i}", min=1, max=2), ' for i in range(27))
    grow = 'CategoricalRange(name="grow_policy"'
    workflow = tmp_path / "wide.py"
    workflow.write_text(EXAMPLE_WORKFLOW.read_text().replace(grow, ranges + grow))
    result = run_cli("validate", "--workflow", workflow, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    first, summary = result.stdout.splitlines()
    assert first.startswith(f"error: {workflow}:")
    assert "TuningSettings.ranges: Tuple should have at most 30 items after validation, not 31" in first
    assert len(first) < 300
    assert summary == f"{workflow} (training and scoring, IAM of infra/terraform): 1 error, 0 warnings"


def test_a_missing_workflow_file_is_one_line(tmp_path):
    result = run_cli("validate", "--workflow", tmp_path / "nope.py", cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"Error: workflow file not found: {tmp_path / 'nope.py'}"]


def test_bad_terraform_outputs_are_one_line(tmp_path):
    (tmp_path / "outputs.json").write_text("{bad")
    result = run_cli("validate", "--tf-outputs", tmp_path / "outputs.json", cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'outputs.json'}: not JSON from `terraform output -json` "
        "(Expecting property name enclosed in double quotes at line 1)"
    ]


def test_without_a_terraform_folder_iam_is_skipped_and_said_so(tmp_path):
    shutil.copytree(ROOT / "workflows", tmp_path / "workflows")
    shutil.copytree(ROOT / "containers", tmp_path / "containers", ignore=shutil.ignore_patterns("*.tar*"))
    result = run_cli("validate", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "IAM not checked: no Terraform folder at infra/terraform (--terraform-dir)",
        "workflows/attrition.py (training and scoring): 0 errors, 0 warnings",
    ]


# -- the real-time endpoint: its Tasks' grants come from a policy Terraform attaches only when enabled ------


@pytest.fixture(scope="module")
def with_endpoint(example_config):
    from mlops_pipeline.builders import build_definitions
    from mlops_pipeline.config import EndpointSettings
    from mlops_pipeline.target import local_target

    config = example_config.model_copy(update={"endpoint": EndpointSettings()})
    target = local_target(config.name)
    return target, {str(kind): definition for kind, definition in build_definitions(config, target).items()}


def endpoint_tf(tmp_path: Path, old: str, new: str) -> Path:
    """infra/terraform in ``tmp_path`` with one edit to endpoint.tf."""
    folder = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, folder, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    path = folder / "endpoint.tf"
    assert path.read_text().count(old) == 1, old
    path.write_text(path.read_text().replace(old, new))
    return folder


def test_the_endpoint_definition_validates_and_names_the_terraform_switch_it_needs(with_endpoint):
    target, definitions = with_endpoint
    assert lines(definitions, target, TERRAFORM) == [
        "warning: training CreateEndpointConfig.Resource: sagemaker:CreateEndpointConfig, "
        "sagemaker:DescribeEndpoint, sagemaker:UpdateEndpoint, sagemaker:CreateEndpoint: granted only when "
        "var.enable_api_endpoint is true in Terraform"
    ]


def test_an_endpoint_policy_attached_always_is_a_plain_grant_and_a_missing_action_an_error(with_endpoint, tmp_path):
    target, definitions = with_endpoint
    always = endpoint_tf(tmp_path / "always", "  count  = var.enable_api_endpoint ? 1 : 0\n", "")
    assert lines(definitions, target, always) == []
    narrowed = endpoint_tf(tmp_path / "narrowed", 'actions   = ["sagemaker:DescribeEndpoint"]', "actions   = []")
    found = lines(definitions, target, narrowed)
    assert (
        "error: training DescribeEndpoint.Resource: the Step Functions role must allow sagemaker:DescribeEndpoint "
        "on arn:aws:sagemaker:us-east-1:123456789012:endpoint/attrition (found no statement granting it)"
    ) in found


def test_the_shipped_definitions_do_not_call_an_endpoint_grant_unused(rendered):
    target, definitions = rendered
    assert not [line for line in lines(definitions, target, TERRAFORM) if "Endpoint" in line]
