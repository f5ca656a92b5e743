"""Deploy over HTTP against moto_server: create, no-op, update with a new version, dry run, clear errors."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import boto3
import pytest
from aws_emulator import emulator_environment, moto_server, reset
from click.testing import CliRunner

from conftest import EXAMPLE_WORKFLOW, REPO
from mlops_pipeline import notifications
from mlops_pipeline.cli import main
from mlops_pipeline.config import load_workflow
from mlops_pipeline.deploy import sync_schedules
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.target import local_target


def terraform_outputs(target) -> dict:
    """The shape of `terraform output -json`."""
    return {key: {"sensitive": False, "type": "string", "value": value} for key, value in asdict(target).items()}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """One moto_server for the module; each test starts from an empty one."""
    with moto_server(tmp_path_factory.mktemp("emulator") / "moto_server.log") as endpoint:
        yield endpoint


@pytest.fixture
def project(tmp_path, emulator, monkeypatch, example_config):
    """A workflow, its Glue scripts and a Terraform outputs file, with the stores created in the emulator."""
    reset(emulator)
    for name, value in emulator_environment(emulator, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    target = local_target(example_config.name)
    (tmp_path / "glue").mkdir()
    (tmp_path / "glue" / "attrition_transform.py").write_text("print('transform')\n")
    (tmp_path / "outputs.json").write_text(json.dumps(terraform_outputs(target)))
    workflow = tmp_path / "attrition.py"
    workflow.write_text(EXAMPLE_WORKFLOW.read_text())
    s3 = boto3.client("s3", region_name="us-east-1")
    for store in ("source_repository", "metadata"):
        s3.create_bucket(Bucket=target.bucket(store))
    boto3.client("iam").create_role(RoleName="attrition-states", AssumeRolePolicyDocument="{}")
    return tmp_path, target


def run_deploy(tmp_path, *extra, workflow=None):
    args = [
        "deploy",
        "--workflow",
        str(workflow or tmp_path / "attrition.py"),
        "--tf-outputs",
        str(tmp_path / "outputs.json"),
        "--glue-dir",
        str(tmp_path / "glue"),
        *extra,
    ]
    return CliRunner().invoke(main, args, catch_exceptions=False, terminal_width=200)


def machine(target, name):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = target.state_machine_arn(name)
    return sfn.describe_state_machine(stateMachineArn=arn), sfn.describe_state_machine_alias(
        stateMachineAliasArn=f"{arn}:live"
    )


def test_first_run_creates_everything(project):
    tmp_path, target = project
    result = run_deploy(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.count("created") == 4  # two state machines and two aliases
    for name in ("attrition-training", "attrition-scoring"):
        described, alias = machine(target, name)
        assert json.loads(described["definition"])["StartAt"] == "ValidateInput"
        assert described["roleArn"] == target.step_functions_role_arn
        assert described["tracingConfiguration"] == {"enabled": True}
        assert alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith(f"{name}:1")
    body = boto3.client("s3").get_object(
        Bucket=target.source_repository_bucket, Key="glue_transforms/attrition_transform.py"
    )
    assert body["Body"].read() == b"print('transform')\n"


def test_second_run_changes_nothing_and_says_so(project):
    tmp_path, target = project
    run_deploy(tmp_path)
    result = run_deploy(tmp_path)
    assert result.exit_code == 0, result.output
    assert "Nothing to change" in result.output
    assert "created" not in result.output and "updated" not in result.output
    _, alias = machine(target, "attrition-training")
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith(":1")


def changed_workflow(tmp_path):
    path = tmp_path / "changed.py"
    path.write_text((tmp_path / "attrition.py").read_text().replace("threshold=0.70", "threshold=0.75"))
    return path


def test_changed_workflow_updates_and_moves_the_alias_to_a_new_version(project):
    tmp_path, target = project
    run_deploy(tmp_path)
    result = run_deploy(tmp_path, workflow=changed_workflow(tmp_path))
    assert result.exit_code == 0, result.output
    training, alias = machine(target, "attrition-training")
    threshold = json.loads(training["definition"])["States"]["QualityGate"]["Choices"][1]["Condition"]
    assert threshold.endswith(">= 0.75) %}")
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith("attrition-training:2")
    scoring, scoring_alias = machine(target, "attrition-scoring")
    assert scoring_alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith(":1")  # unchanged


def test_dry_run_shows_the_diff_and_changes_nothing(project):
    tmp_path, target = project
    run_deploy(tmp_path)
    before, _ = machine(target, "attrition-training")
    (tmp_path / "glue" / "attrition_transform.py").write_text("print('changed')\n")
    result = run_deploy(tmp_path, "--dry-run", workflow=changed_workflow(tmp_path))
    assert result.exit_code == 0, result.output
    assert "would update" in result.output and "would be replaced" in result.output
    changed = [line for line in result.output.splitlines() if line.startswith(("-", "+")) and "Condition" in line]
    assert [line[0] for line in changed] == ["-", "+"]
    assert changed[0].endswith('>= 0.7) %}",') and changed[1].endswith('>= 0.75) %}",')
    assert "Dry run: nothing was changed." in result.output
    after, alias = machine(target, "attrition-training")
    assert after["definition"] == before["definition"]
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith(":1")
    body = boto3.client("s3").get_object(
        Bucket=target.source_repository_bucket, Key="glue_transforms/attrition_transform.py"
    )
    assert body["Body"].read() == b"print('transform')\n"


def test_dry_run_before_anything_exists_creates_nothing(project):
    tmp_path, target = project
    result = run_deploy(tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.count("would create") == 2
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []


def test_missing_outputs_are_named_in_one_line(project):
    tmp_path, target = project
    outputs = terraform_outputs(target)
    del outputs["glue_job_name"], outputs["sagemaker_role_arn"]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    result = CliRunner().invoke(
        main, ["deploy", "--workflow", str(tmp_path / "attrition.py"), "--tf-outputs", str(tmp_path / "outputs.json")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'outputs.json'}: terraform outputs lack sagemaker_role_arn, glue_job_name — "
        "run `terraform -chdir=infra/terraform apply` first"
    ]


def test_pipeline_name_must_match_terraform(project):
    tmp_path, target = project
    (tmp_path / "outputs.json").write_text(json.dumps(terraform_outputs(replace(target, pipeline_name="churn"))))
    result = run_deploy(tmp_path)
    assert result.exit_code == 1
    assert "Terraform was applied with pipeline_name 'churn'" in result.output


def test_render_with_terraform_outputs_names_the_terraform_stores(project):
    tmp_path, target = project
    renamed = replace(target, extracts_bucket="acme-extracts-7f3a")
    (tmp_path / "outputs.json").write_text(json.dumps(terraform_outputs(renamed)))
    result = run_deploy(tmp_path, "--only-json", "--out", str(tmp_path / "rendered"))
    assert result.exit_code == 0, result.output
    assert "s3://acme-extracts-7f3a/attrition/" in (tmp_path / "rendered" / "training.asl.json").read_text()
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []  # rendering deploys nothing


def test_clients_honour_aws_endpoint_url(project, monkeypatch):
    tmp_path, _ = project
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run_deploy(tmp_path)
    assert result.exit_code == 1
    assert "http://127.0.0.1:9" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "code, status",
    [("500", 500), ("InternalFailure", 500), ("ServiceUnavailable", 503), ("UnknownOperationException", 400)],
)
def test_validation_an_endpoint_cannot_answer_is_not_offered(code, status):
    from botocore.stub import Stubber

    from mlops_pipeline.deploy import UNVALIDATED, validate_definition

    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sfn) as stub:
        stub.add_client_error("validate_state_machine_definition", service_error_code=code, http_status_code=status)
        assert validate_definition(sfn, "attrition-training", '{"StartAt": "A", "States": {}}') == UNVALIDATED


def test_validation_refusing_the_request_still_stops_deploy():
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    from mlops_pipeline.deploy import validate_definition

    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sfn) as stub:
        stub.add_client_error(
            "validate_state_machine_definition", service_error_code="AccessDeniedException", http_status_code=400
        )
        with pytest.raises(ClientError):
            validate_definition(sfn, "attrition-training", '{"StartAt": "A", "States": {}}')


def role_without_the_crawler(tmp_path):
    """A copy of infra/terraform whose Step Functions role may not start the output crawler."""
    import shutil

    from test_validation import TERRAFORM

    folder = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, folder, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    iam = folder / "iam.tf"
    iam.write_text(iam.read_text().replace('actions   = ["glue:StartCrawler"]', 'actions   = ["glue:GetJobRun"]'))
    return folder


def with_an_unknown_parameter(monkeypatch):
    """Definitions whose CreateModel takes a member SageMaker does not have."""
    from mlops_pipeline import deploy as deploying

    build = deploying.build_definitions

    def mutated(config, target):
        definitions = build(config, target)
        for definition in definitions.values():
            if "CreateModel" in definition["States"]:
                definition["States"]["CreateModel"]["Parameters"]["ModelNam"] = "x"
        return definitions

    monkeypatch.setattr(deploying, "build_definitions", mutated)


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(
    "break_it, first",
    [
        (
            lambda tmp_path, monkeypatch: ["--terraform-dir", str(role_without_the_crawler(tmp_path))],
            "error: scoring CatalogPredictions.Resource: the Step Functions role must allow glue:StartCrawler on "
            "arn:aws:glue:us-east-1:123456789012:crawler/attrition-output (found no statement granting it)",
        ),
        (
            lambda tmp_path, monkeypatch: with_an_unknown_parameter(monkeypatch) or [],
            "error: training CreateModel.Parameters.ModelNam: SageMaker CreateModel takes no such member in "
            "CreateModelInput; did you mean ModelName? (found ModelNam)",
        ),
    ],
    ids=["role-lacks-a-grant", "unknown-task-parameter"],
)
def test_a_definition_that_fails_validation_deploys_nothing(project, monkeypatch, break_it, first, dry_run):
    tmp_path, target = project
    extra = break_it(tmp_path, monkeypatch) + (["--dry-run"] if dry_run else [])
    result = run_deploy(tmp_path, *extra)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        first,
        f"Error: validation found 1 error, nothing was deployed; first: {first}",
    ]
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert boto3.client("s3").list_objects_v2(Bucket=target.source_repository_bucket).get("KeyCount") == 0


def test_deploy_says_the_definitions_passed_validation(project):
    tmp_path, _ = project
    result = run_deploy(tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.output.splitlines() if line.startswith("definitions"))
    assert row[:4] == ["definitions", "training,", "scoring", "valid"]
    assert " ".join(row[4:]) == "rules and IAM: 0 errors, 0 warnings"


def test_deploy_subscribes_the_workflows_notification_subscribers_once(project):
    tmp_path, target = project
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="mlops-attrition-failures")["TopicArn"]
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    outputs["failure_topic_arn"] = {"sensitive": False, "type": "string", "value": topic}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    workflow = tmp_path / "attrition.py"
    workflow.write_text(
        workflow.read_text().replace(
            "PIPELINE = PipelineConfig(",
            "from mlops_pipeline.config import NotificationSettings\n\nPIPELINE = PipelineConfig(\n"
            "    notifications=NotificationSettings(email=('ml-team@example.com',), https=('https://hooks.example.com/a',)),",
        )
    )
    first = run_deploy(tmp_path)
    assert first.exit_code == 0, first.output
    assert first.output.count("subscribed") == 2 and "confirmation" in first.output
    config = load_workflow(workflow, containers=REPO / "containers")
    again = notifications.subscribe(sns, topic, config.notifications, dry_run=False)  # what a second deploy does
    assert [action for _, action, _ in again] == ["unchanged", "unchanged"]
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in listed) == [
        ("email", "ml-team@example.com"),
        ("https", "https://hooks.example.com/a"),
    ]


def test_subscribers_without_the_topic_stop_deploy_before_any_change(project):
    tmp_path, target = project
    workflow = tmp_path / "attrition.py"
    workflow.write_text(
        workflow.read_text().replace(
            "PIPELINE = PipelineConfig(",
            "from mlops_pipeline.config import NotificationSettings\n\n"
            "PIPELINE = PipelineConfig(\n    notifications=NotificationSettings(email=('ml-team@example.com',)),",
        )
    )
    result = run_deploy(tmp_path)
    assert result.exit_code == 1
    assert "lack failure_topic_arn: run `terraform -chdir=infra/terraform apply` first" in result.output
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert sfn.list_state_machines()["stateMachines"] == []


# -- schedules: deploy creates, updates and deletes them in the group Terraform made -----------------


def with_schedules(tmp_path, name: str, **schedules) -> object:
    """The example workflow with ``schedules=Schedules(...)``, written as a user writes it."""
    arguments = ", ".join(f"{key}={value!r}" for key, value in schedules.items())
    text = (tmp_path / "attrition.py").read_text()
    text = text.replace(
        "from mlops_pipeline.config import (\n", "from mlops_pipeline.config import (\n    Schedules,\n"
    )
    text = text.replace(
        "    inference=InferenceSettings(", f"    schedules=Schedules({arguments}),\n    inference=InferenceSettings("
    )
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def scheduled_project(project):
    """Terraform outputs that name the schedule group, the scheduler's role and the landing Lambda."""
    tmp_path, target = project
    target = replace(
        target,
        schedule_group_name="mlops-attrition",
        scheduler_role_arn="arn:aws:iam::123456789012:role/mlops-attrition-scheduler",
        landing_function_arn="arn:aws:lambda:us-east-1:123456789012:function:mlops-attrition-landing",
    )
    (tmp_path / "outputs.json").write_text(json.dumps(terraform_outputs(target)))
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name=target.schedule_group_name)
    return tmp_path, target


def schedule(target, name):
    return boto3.client("scheduler", region_name="us-east-1").get_schedule(
        Name=name, GroupName=target.schedule_group_name
    )


def test_deploy_creates_the_schedules_that_invoke_the_landing_handler_with_the_scheduled_time(scheduled_project):
    tmp_path, target = scheduled_project
    workflow = with_schedules(tmp_path, "scheduled.py", retraining="cron(0 3 ? * MON *)", timezone="Europe/Paris")
    result = run_deploy(tmp_path, workflow=workflow)
    assert result.exit_code == 0, result.output
    created = schedule(target, "attrition-retraining")
    assert created["ScheduleExpression"] == "cron(0 3 ? * MON *)"
    assert created["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert created["Target"]["Arn"] == target.landing_function_arn
    assert created["Target"]["RoleArn"] == target.scheduler_role_arn
    assert json.loads(created["Target"]["Input"]) == {
        "source": "mlops-pipeline.schedule",
        "schedule": "attrition-retraining",
        "kind": "train",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    again = sync_schedules(scheduler, load_workflow(workflow), target, dry_run=False)
    assert [(c.name, c.action) for c in again] == [("attrition-retraining", "unchanged")]


def test_deploy_updates_a_changed_schedule_and_deletes_one_the_workflow_no_longer_gives(scheduled_project):
    tmp_path, target = scheduled_project
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    both = load_workflow(with_schedules(tmp_path, "one.py", retraining="rate(1 day)", batch_scoring="rate(6 hours)"))
    assert [c.action for c in sync_schedules(scheduler, both, target, dry_run=False)] == ["created", "created"]
    one = load_workflow(with_schedules(tmp_path, "two.py", retraining="rate(7 days)"))
    planned = sync_schedules(scheduler, one, target, dry_run=True)
    assert [(c.name, c.action) for c in planned] == [
        ("attrition-retraining", "would update"),
        ("attrition-batch-scoring", "would delete"),
    ]
    assert [c.action for c in sync_schedules(scheduler, one, target, dry_run=False)] == ["updated", "deleted"]
    assert schedule(target, "attrition-retraining")["ScheduleExpression"] == "rate(7 days)"
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        schedule(target, "attrition-batch-scoring")


def test_schedules_on_a_stack_without_the_schedule_group_ask_for_terraform_apply(project):
    tmp_path, target = project
    scheduled = load_workflow(with_schedules(tmp_path, "s.py", retraining="rate(1 day)"))
    with pytest.raises(PipelineError, match=r"lack schedule_group_name: run `terraform -chdir=infra/terraform apply`"):
        sync_schedules(boto3.client("scheduler", region_name="us-east-1"), scheduled, target, dry_run=False)
