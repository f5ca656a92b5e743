"""infra/terraform: formatted, clean under checkov, secure by construction, and in contract with deploy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import hcl2
import pytest
from terraform_support import (
    init_offline,
    module_copy,
    require_terraform_and_mirror,
    resent_requests,
    run_terraform,
    terraform_env,
)

from conftest import EXAMPLE_WORKFLOW, REPO
from mlops_pipeline import layout
from mlops_pipeline.deploy import ALIAS
from mlops_pipeline.layout import GLUE_SCRIPTS_PREFIX
from mlops_pipeline.naming import state_machine_name
from mlops_pipeline.target import TERRAFORM_OUTPUT_KEYS, local_target

TERRAFORM = REPO / "infra" / "terraform"


def plain(value):
    """python-hcl2 keeps string quotes and block markers; drop them for readable assertions."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@pytest.fixture(scope="module")
def tf() -> dict:
    """{"resource": {type: {name: body}}, "data": {...}, "variable": {...}, "output": {...}, "locals": {...}}."""
    merged: dict = {"resource": {}, "data": {}, "variable": {}, "output": {}, "locals": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with open(path) as handle:
            parsed = plain(hcl2.load(handle))
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_, named in block.items():
                    merged[kind].setdefault(type_, {}).update(named)
        for kind in ("variable", "output"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
    return merged


def policy_documents(tf) -> dict[str, list[dict]]:
    """Each document's statements, the ones ``dynamic "statement"`` blocks add included."""
    documents = {}
    for name, body in tf["data"]["aws_iam_policy_document"].items():
        dynamic = [c for block in body.get("dynamic", []) for c in block.get("statement", {}).get("content", [])]
        documents[name] = body.get("statement", []) + dynamic
    return documents


def statement(tf, document: str, sid: str) -> dict:
    return next(s for s in policy_documents(tf)[document] if s.get("sid") == sid)


def statements_of(tf, reference: str) -> list[dict]:
    """The statements behind ``${data.aws_iam_policy_document.NAME[...].json}``, with its source documents."""
    name = reference.split("data.aws_iam_policy_document.")[1].split("[")[0].split(".")[0]
    document = tf["data"]["aws_iam_policy_document"][name]
    sources = [s for source in document.get("source_policy_documents", []) for s in statements_of(tf, source)]
    return document.get("statement", []) + sources


def test_terraform_files_are_formatted():
    terraform = shutil.which("terraform")
    assert terraform, "terraform is needed (README: Python 3.11, make, git and Terraform)"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_validate_with_the_provider_on_disk():
    """The real hashicorp/aws provider checks every resource's arguments; init never downloads it."""
    mirror = require_terraform_and_mirror()
    users_folder_before = sorted(p.name for p in TERRAFORM.iterdir())
    with tempfile.TemporaryDirectory(prefix="mlops-tf-validate-") as work:
        module = module_copy(Path(work) / "module")
        env = terraform_env()
        init_offline(module, mirror, env)
        result = run_terraform(module, "validate", "-json", "-no-color", env=env, timeout=300)
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["error_count"] == 0, report["diagnostics"]
    assert report["warning_count"] == 0, report["diagnostics"]
    assert sorted(p.name for p in TERRAFORM.iterdir()) == users_folder_before  # no .terraform/ or lock file left there


def test_checkov_finds_no_failed_check_and_every_skip_says_why(tmp_path):
    checkov = str(Path(os.environ.get("CHECKOV") or REPO / ".venv-checkov" / "bin" / "checkov").absolute())
    assert Path(checkov).exists(), f"{checkov} is missing: `make test` installs checkov in .venv-checkov"
    result = subprocess.run(
        [checkov, "-d", str(TERRAFORM), "--framework", "terraform", "--skip-download", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]]
    assert failed == []
    assert len(results["passed_checks"]) > 100  # the scan really ran over the resources
    assert all(c["check_result"].get("suppress_comment", "").strip() for c in results["skipped_checks"])


def test_every_bucket_is_encrypted_versioned_private_and_tls_only(tf):
    resources = tf["resource"]
    for bucket in resources["aws_s3_bucket"]:
        reference = f"aws_s3_bucket.{bucket}"
        encryption = resources["aws_s3_bucket_server_side_encryption_configuration"][bucket]
        algorithm = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
        assert algorithm in ("aws:kms", "AES256"), bucket
        assert resources["aws_s3_bucket_versioning"][bucket]["versioning_configuration"][0]["status"] == "Enabled"
        block = resources["aws_s3_bucket_public_access_block"][bucket]
        assert all(
            block[flag] is True
            for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        ), bucket
        assert (
            resources["aws_s3_bucket_ownership_controls"][bucket]["rule"][0]["object_ownership"]
            == "BucketOwnerEnforced"
        )
        policy = resources["aws_s3_bucket_policy"][bucket]["policy"]
        denies = [s for s in statements_of(tf, policy) if s.get("effect") == "Deny"]
        conditions = {(c["test"], c["variable"], c["values"][0]) for s in denies for c in s.get("condition", [])}
        assert ("Bool", "aws:SecureTransport", "false") in conditions, bucket
        assert ("NumericLessThan", "s3:TlsVersion", "1.2") in conditions, bucket
        assert reference in encryption["bucket"] or "each.value.id" in encryption["bucket"]


def test_stores_use_the_customer_managed_key_with_rotation(tf):
    key = tf["resource"]["aws_kms_key"]["pipeline"]
    assert key["enable_key_rotation"] is True
    store = tf["resource"]["aws_s3_bucket_server_side_encryption_configuration"]["store"]
    assert (
        store["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"]
        == "${aws_kms_key.pipeline.arn}"
    )


def test_no_statement_grants_a_wildcard_action(tf):
    for document, statements in policy_documents(tf).items():
        for statement in statements:
            actions = statement.get("actions", [])
            assert "*" not in actions, document
            if statement.get("effect", "Allow") == "Allow":
                assert not [a for a in actions if "*" in a], f"{document}: {statement.get('sid')} grants a wildcard"


def test_star_resources_are_only_where_aws_requires_them(tf):
    for document, statements in policy_documents(tf).items():
        for statement in statements:
            resources = statement.get("resources", [])
            resources = resources if isinstance(resources, list) else [resources]  # an expression is one string
            if "*" in resources and statement.get("effect", "Allow") == "Allow":
                assert document == "kms" or statement["sid"].endswith("AwsRequiresStar"), (
                    f"{document}: {statement.get('sid')}"
                )


def test_pass_role_is_conditioned_and_only_passes_the_sagemaker_or_glue_role(tf):
    passing = [
        s for statements in policy_documents(tf).values() for s in statements if "iam:PassRole" in s.get("actions", [])
    ]
    assert passing
    for statement in passing:
        assert {c["variable"] for c in statement.get("condition", [])} == {"iam:PassedToService"}
        assert all(r in ("${aws_iam_role.sagemaker.arn}", "${aws_iam_role.glue.arn}") for r in statement["resources"])


def test_the_lambda_starts_exactly_the_two_state_machines_through_their_alias(tf):
    statements = [s for s in policy_documents(tf)["lambda"] if "states:StartExecution" in s["actions"]]
    assert len(statements) == 1 and statements[0]["actions"] == ["states:StartExecution"]
    assert statements[0]["resources"] == [
        "${local.training_state_machine_alias_arn}",
        "${local.scoring_state_machine_alias_arn}",
    ]
    pipeline = "${var.pipeline_name}"
    assert tf["locals"]["training_state_machine_arn"].endswith(state_machine_name(pipeline, "train"))
    assert tf["locals"]["scoring_state_machine_arn"].endswith(state_machine_name(pipeline, "score"))
    assert tf["locals"]["state_machine_alias"] == ALIAS  # the alias deploy points at the version it publishes
    for kind in ("training", "scoring"):
        assert (
            tf["locals"][f"{kind}_state_machine_alias_arn"]
            == f"${{local.{kind}_state_machine_arn}}:${{local.state_machine_alias}}"
        )
    environment = tf["resource"]["aws_lambda_function"]["landing"]["environment"][0]["variables"]
    assert environment["TRAINING_STATE_MACHINE_ARN"] == "${local.training_state_machine_alias_arn}"
    assert environment["SCORING_STATE_MACHINE_ARN"] == "${local.scoring_state_machine_alias_arn}"


def test_lambda_reserved_concurrency_is_optional_and_off_by_default(tf):
    variable = tf["variable"]["lambda_reserved_concurrency"]
    assert variable["default"] is None
    assert "== null" in variable["validation"][0]["condition"]
    function = tf["resource"]["aws_lambda_function"]["landing"]
    assert function["reserved_concurrent_executions"] == "${var.lambda_reserved_concurrency}"


def sagemaker_needs(resource: str) -> tuple[set[str], str | None]:
    """What a SageMaker Task resource needs from the Step Functions role: the call itself and, for an
    optimised .sync integration, the Describe/Stop calls and the managed EventBridge rule of that job type
    (one table, ``validation.iam.TASK_NEEDS``; an aws-sdk Task needs its own action)."""
    from mlops_pipeline.validation.asl import integration
    from mlops_pipeline.validation.iam import TASK_NEEDS

    key = integration(resource)
    if key in TASK_NEEDS:
        return set(TASK_NEEDS[key].actions), TASK_NEEDS[key].events_rule
    kind, service, api = key.split(":")
    assert kind == "aws-sdk", resource
    return {f"{service}:{api[:1].upper()}{api[1:]}"}, None


def task_resources(config) -> set[str]:
    from mlops_pipeline.builders import build_definitions

    found = set()

    def walk(states: dict) -> None:
        for state in states.values():
            if state.get("Type") == "Task":
                found.add(state["Resource"])
            for branch in state.get("Branches", []):
                walk(branch["States"])
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key]["States"])

    for definition in build_definitions(config, local_target(config.name)).values():
        walk(definition["States"] if isinstance(definition, dict) else json.loads(definition)["States"])
    return found


def test_the_step_functions_role_grants_exactly_what_the_sagemaker_tasks_need(tf, example_config):
    used = {r for r in task_resources(example_config) if ":sagemaker:" in r}
    assert used
    needed_actions = set().union(*(sagemaker_needs(r)[0] for r in used)) | {
        "sagemaker:ListTags",
        "sagemaker:AddTags",
    }
    needed_rules = {sagemaker_needs(r)[1] for r in used} - {None}
    statements = policy_documents(tf)["states"]
    granted = {a for s in statements for a in s["actions"] if a.startswith("sagemaker:")}
    assert granted == needed_actions
    for gone in (
        "sagemaker:CreateTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:DescribeModel",
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    ):
        assert gone not in granted
    jobs = {f"${{local.sagemaker_jobs.{kind}}}" for kind in ("training", "tuning", "model", "batch")}
    registry = ("RegisterAndReadModelVersions", "FindTheLatestApprovedVersion")  # the model registry's own test
    for s in statements:
        if any(a.startswith("sagemaker:") for a in s["actions"]) and s["sid"] not in registry:
            resources = s["resources"] if isinstance(s["resources"], list) else [s["resources"]]
            assert set(resources) <= jobs or resources == ["${values(local.sagemaker_jobs)}"], s["sid"]
    assert statement(tf, "states", "TagsOfThisPipelinesJobs")["resources"] == "${values(local.sagemaker_jobs)}"
    rules = statement(tf, "states", "EventBridgeRulesThatSyncTasksUse")["resources"]
    assert {r.rsplit("/", 1)[-1] for r in rules} == needed_rules


def test_the_endpoint_grants_are_optional_and_exactly_what_the_endpoint_tasks_need(tf, example_config):
    from mlops_pipeline.config import EndpointSettings

    config = example_config.model_copy(update={"endpoint": EndpointSettings()})
    added = {r for r in task_resources(config) if ":sagemaker:" in r} - task_resources(example_config)
    needed = set().union(*(sagemaker_needs(r)[0] for r in added))
    assert needed == {
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DescribeEndpoint",
    }
    attached = tf["resource"]["aws_iam_role_policy"]["states_endpoint"]
    assert (
        attached["count"] == "${var.enable_api_endpoint ? 1 : 0}"
        and tf["variable"]["enable_api_endpoint"]["default"] is False
    )
    assert attached["role"] == "${aws_iam_role.states.id}"
    statements = policy_documents(tf)["states_endpoint"]
    assert {a for s in statements for a in s["actions"]} == needed
    assert not {a for s in policy_documents(tf)["states"] for a in s["actions"]} & needed  # only when enabled
    assert tf["locals"]["pipeline_endpoints"] == [
        "${local.sagemaker_arn}:endpoint/${var.pipeline_name}",
        "${local.sagemaker_arn}:endpoint/${var.pipeline_name}-*",
    ]
    assert tf["locals"]["pipeline_endpoint_configs"] == "${local.sagemaker_arn}:endpoint-config/${var.pipeline_name}-*"
    scoped = {"${local.pipeline_endpoint_configs}", "${local.pipeline_endpoints}"}
    for s in statements:
        assert set(s["resources"] if isinstance(s["resources"], list) else [s["resources"]]) <= scoped | {
            "${concat(local.pipeline_endpoints, [local.pipeline_endpoint_configs])}"
        }, s["sid"]


def test_network_isolated_jobs_are_an_option_that_iam_then_requires(tf):
    variable = tf["variable"]["sagemaker_job_network"]
    assert variable["default"] is None
    conditions = tf["locals"]["job_network_conditions"]
    for key in ("sagemaker:NetworkIsolation", "sagemaker:VpcSubnets", "sagemaker:VpcSecurityGroupIds"):
        assert key in conditions
    assert conditions.startswith("${var.sagemaker_job_network == null ? []")  # no condition when off
    for sid in ("CreateTuningJobsOfThisPipeline", "CreateModelsOfThisPipeline"):
        dynamic = statement(tf, "states", sid)["dynamic"][0]["condition"]
        assert dynamic["for_each"] == "${local.job_network_conditions}", sid
    transform = statement(tf, "states", "CreateTransformJobsOfThisPipeline")["dynamic"][0]["condition"]
    assert transform["content"][0]["variable"] == "sagemaker:ModelArn"
    sids = {s["sid"] for s in policy_documents(tf)["sagemaker"]}
    assert {"JobNetworkInterfacesInTheVpc", "VpcLookupsAwsRequiresStar"} <= sids
    outputs = {name: body["value"] for name, body in tf["output"].items()}
    for output, field in (("job_subnet_ids", "subnet_ids"), ("job_security_group_ids", "security_group_ids")):
        assert outputs[output] == (  # deploy renders EnableNetworkIsolation and this VPC from them
            f'${{var.sagemaker_job_network == null ? "" : join(",", var.sagemaker_job_network.{field})}}'
        )


def test_the_glue_job_timeout_is_a_variable(tf):
    assert tf["resource"]["aws_glue_job"]["transform"]["timeout"] == "${var.glue_job_timeout_minutes}"
    assert tf["variable"]["glue_job_timeout_minutes"]["default"] == 60


def test_only_providers_on_disk_are_needed(tf):
    with open(TERRAFORM / "versions.tf") as handle:
        required = plain(hcl2.load(handle))["terraform"][0]["required_providers"][0]
    assert set(required) == {"aws"}
    assert not [t for kind in ("resource", "data") for t in tf[kind] if not t.startswith("aws_")]
    assert "random_" not in "".join(path.read_text() for path in TERRAFORM.glob("*.tf"))


def test_bucket_logging_waits_for_the_grant_to_the_logging_service(tf):
    logging = tf["resource"]["aws_s3_bucket_logging"]["store"]
    assert "${aws_s3_bucket_policy.access_logs}" in logging["depends_on"]
    grant = statement(tf, "access_logs", "S3ServerAccessLogsFromTheStores")
    assert grant["principals"][0]["identifiers"] == ["logging.s3.amazonaws.com"]


def test_the_lambda_and_glue_job_run_the_projects_code(tf):
    function = tf["resource"]["aws_lambda_function"]["landing"]
    assert function["handler"] == "mlops_pipeline.handlers.s3_landing.lambda_handler"
    assert function["runtime"] == "python3.12" and function["tracing_config"][0]["mode"] == "Active"
    assert tf["variable"]["lambda_zip_path"]["default"].endswith("build/landing_handler.zip")
    job = tf["resource"]["aws_glue_job"]["transform"]
    command = job["command"][0]
    assert command["script_location"].endswith(f"/{GLUE_SCRIPTS_PREFIX}run_transform.py")
    assert (command["name"], command["python_version"]) == ("pythonshell", "3.9")
    assert job["default_arguments"]["library-set"] == "analytics"
    assert (REPO / "glue_transforms" / "run_transform.py").exists()


def test_the_landing_notification_waits_for_a_scoped_permission(tf):
    notification = tf["resource"]["aws_s3_bucket_notification"]["feature_store"]
    assert notification["depends_on"] == ["${aws_lambda_permission.feature_store}"]
    prefixes = {f["filter_prefix"] for f in notification["lambda_function"]}
    assert prefixes == {"${var.training_prefix}", "${var.scoring_prefix}"}
    permission = tf["resource"]["aws_lambda_permission"]["feature_store"]
    assert permission["source_arn"] and permission["source_account"]


def test_every_variable_has_a_description_a_type_and_a_validation(tf):
    for name, variable in tf["variable"].items():
        assert variable.get("description") and variable.get("type") and variable.get("validation"), name


def test_outputs_declare_every_key_deploy_reads_and_nothing_else(tf):
    assert set(tf["output"]) == set(TERRAFORM_OUTPUT_KEYS)
    assert all(output.get("description") for output in tf["output"].values())


def test_deploy_accepts_an_outputs_file_with_exactly_the_declared_outputs(tf, tmp_path, aws_credentials):
    import boto3
    from click.testing import CliRunner
    from moto import mock_aws

    from mlops_pipeline.cli import main

    values = local_target("attrition")
    outputs = {name: {"sensitive": False, "type": "string", "value": getattr(values, name)} for name in tf["output"]}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (values.source_repository_bucket, values.metadata_bucket):
            s3.create_bucket(Bucket=bucket)
        result = CliRunner().invoke(
            main,
            [
                "deploy",
                "--workflow",
                str(EXAMPLE_WORKFLOW),
                "--tf-outputs",
                str(tmp_path / "outputs.json"),
                "--glue-dir",
                str(REPO / "glue_transforms"),
            ],
            catch_exceptions=False,
        )
        machines = {
            m["name"]
            for m in boto3.client("stepfunctions", region_name="us-east-1").list_state_machines()["stateMachines"]
        }
    assert result.exit_code == 0, result.output
    assert machines == {"attrition-training", "attrition-scoring"}


STORE_PATH = re.compile(r'(?:\$\{local\.bucket_arns\["(\w+)"\]\}|s3://\$\{local\.bucket_names\["(\w+)"\]\})/([^"]*)"')


def test_every_store_path_terraform_grants_or_configures_is_one_the_layout_owns(tf):
    """IAM grants, the Glue script location and the crawler target name the same paths the code uses."""
    prefixes = layout.store_prefixes("attrition")
    found = []
    for path in sorted(TERRAFORM.glob("*.tf")):
        for arn_store, uri_store, tail in STORE_PATH.findall(path.read_text()):
            store = arn_store or uri_store
            relative = tail.replace("${var.pipeline_name}", "attrition").removesuffix("*")
            found.append((path.name, store, relative))
            assert relative in prefixes[store], (
                f"{path.name}: {store} path {relative!r} is not in layout.store_prefixes"
            )
    assert {(store, relative) for _, store, relative in found} >= {
        ("feature_store", ""),
        ("source_repository", f"{layout.GLUE_SCRIPTS_PREFIX}{layout.GLUE_ENTRY_SCRIPT}"),
        ("metadata", layout.models_prefix("attrition")),
        ("output", layout.predictions_prefix("attrition")),
    }
    assert tf["variable"]["training_prefix"]["default"] == layout.TRAINING_PREFIX
    assert tf["variable"]["scoring_prefix"]["default"] == layout.SCORING_PREFIX


# -- landing failures: the dead-letter queue, its alarms and their topic ------------------------------

TOPIC = "${aws_sns_topic.alarms.arn}"
ALARMS = {
    # alarm: (namespace, metric, dimension, dimension value, statistic, missing data)
    "landing_dead_letters": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "${aws_sqs_queue.landing_dead_letters.name}",
        "Maximum",
        "ignore",  # an idle queue may stop reporting: keep ALARM while a message may wait
    ),
    "landing_errors": (
        "AWS/Lambda",
        "Errors",
        "FunctionName",
        "${aws_lambda_function.landing.function_name}",
        "Sum",
        "notBreaching",
    ),
    "landing_dead_letter_errors": (
        "AWS/Lambda",
        "DeadLetterErrors",
        "FunctionName",
        "${aws_lambda_function.landing.function_name}",
        "Sum",
        "notBreaching",
    ),
}


def test_the_alarms_topic_is_encrypted_with_the_pipeline_key(tf):
    topic = tf["resource"]["aws_sns_topic"]["alarms"]
    assert topic["kms_master_key_id"] == "${aws_kms_key.pipeline.arn}"
    assert topic["name"] == "${local.alarm_prefix}-alarms"


def test_the_key_policy_lets_cloudwatch_publish_to_the_encrypted_topic(tf):
    grants = [
        s
        for s in policy_documents(tf)["kms"]
        if any("cloudwatch.amazonaws.com" in p["identifiers"] for p in s.get("principals", []))
    ]
    assert len(grants) == 1
    assert sorted(grants[0]["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"]  # what an SNS publisher needs
    assert grants[0]["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]


def test_only_this_pipelines_alarms_may_publish_to_the_topic(tf):
    assert tf["resource"]["aws_sns_topic_policy"]["alarms"] == {
        "arn": TOPIC,
        "policy": "${data.aws_iam_policy_document.alarms_topic.json}",
    }
    (grant,) = policy_documents(tf)["alarms_topic"]
    assert grant["actions"] == ["sns:Publish"] and grant["resources"] == [TOPIC]
    assert grant["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]
    (condition,) = grant["condition"]
    assert (condition["test"], condition["variable"]) == ("ArnLike", "aws:SourceArn")
    assert condition["values"] == [
        "arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${local.alarm_prefix}-*"
    ]
    for name in ALARMS:  # every alarm's name is one the condition lets publish
        assert tf["resource"]["aws_cloudwatch_metric_alarm"][name]["alarm_name"].startswith("${local.alarm_prefix}-")


@pytest.mark.parametrize("name", ALARMS)
def test_each_landing_alarm_fires_on_the_first_event_and_notifies_the_topic(tf, name):
    namespace, metric, dimension, value, statistic, missing = ALARMS[name]
    alarm = tf["resource"]["aws_cloudwatch_metric_alarm"][name]
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == (namespace, metric, statistic)
    assert alarm["dimensions"] == {dimension: value}
    assert (alarm["comparison_operator"], alarm["threshold"], alarm["evaluation_periods"]) == (
        "GreaterThanThreshold",
        0,
        1,
    )
    assert alarm["treat_missing_data"] == missing
    assert alarm["actions_enabled"] is True and alarm["alarm_actions"] == [TOPIC]


def test_the_dead_letter_alarm_also_says_when_the_queue_is_empty_again(tf):
    assert tf["resource"]["aws_cloudwatch_metric_alarm"]["landing_dead_letters"]["ok_actions"] == [TOPIC]


def test_email_subscribers_are_optional(tf):
    variable = tf["variable"]["alarm_email_addresses"]
    assert variable["default"] == [] and variable["type"] == "${list(string)}"
    subscription = tf["resource"]["aws_sns_topic_subscription"]["alarm_email"]
    assert subscription == {
        "for_each": "${toset(var.alarm_email_addresses)}",
        "topic_arn": TOPIC,
        "protocol": "email",
        "endpoint": "${each.value}",
    }


def test_the_dead_letter_queue_is_encrypted_and_the_lambdas(tf):
    queue = tf["resource"]["aws_sqs_queue"]["landing_dead_letters"]
    assert queue["kms_master_key_id"] == "${aws_kms_key.pipeline.arn}"
    function = tf["resource"]["aws_lambda_function"]["landing"]
    assert function["dead_letter_config"][0]["target_arn"] == "${aws_sqs_queue.landing_dead_letters.arn}"
    assert statement(tf, "lambda", "DeadLetters")["actions"] == ["sqs:SendMessage"]


def test_outputs_name_the_queue_the_topic_and_the_suffix_replay_reads(tf):
    outputs = {name: body["value"] for name, body in tf["output"].items()}
    assert outputs["landing_dead_letter_queue_url"] == "${aws_sqs_queue.landing_dead_letters.url}"
    assert outputs["alarm_topic_arn"] == TOPIC
    assert outputs["landing_suffix"] == "${var.landing_suffix}"


def test_replay_gives_the_handler_the_lambdas_environment(tf):
    """replay-dead-letters builds the Lambda's environment from the outputs: the same variables and values."""
    from mlops_pipeline.dead_letters import landing_environment

    environment = tf["resource"]["aws_lambda_function"]["landing"]["environment"][0]["variables"]
    assert environment["FEATURE_STORE_BUCKET"] == "${local.feature_store_bucket}"
    assert set(environment) == set(landing_environment(local_target("attrition")))
    outputs = {name: body["value"] for name, body in tf["output"].items()}
    # each variable's Terraform value is the value of the output replay builds it from
    assert environment["TRAINING_PREFIX"] == outputs["training_prefix"]
    assert environment["SCORING_PREFIX"] == outputs["scoring_prefix"]
    assert environment["ACCEPTED_SUFFIXES"] == outputs["landing_suffix"]
    assert outputs["feature_store_bucket"] == '${local.bucket_names["feature_store"]}'


# -- failure notifications: the rule, the notifier and its topic ----------------------------------------

FAILURES = "${aws_sns_topic.failures.arn}"
MACHINES = ["${local.training_state_machine_arn}", "${local.scoring_state_machine_arn}"]


def event_pattern(tf) -> dict:
    """The rule's ``jsonencode({...})`` as JSON, each Terraform reference kept as its ``${...}`` text."""
    text = tf["resource"]["aws_cloudwatch_event_rule"]["execution_failed"]["event_pattern"]
    body = text.removeprefix("${jsonencode(").removesuffix(")}")
    body = re.sub(r"\b(local\.[a-z_]+)", r'"${\1}"', body)
    body = re.sub(r'(?<=[{,])\s*("?[A-Za-z-]+"?)\s*=', lambda m: f' "{m.group(1).strip(chr(34))}":', body)
    return json.loads(body)


def test_the_failures_topic_is_its_own_and_encrypted_with_the_pipeline_key(tf):
    topic = tf["resource"]["aws_sns_topic"]["failures"]
    assert topic["kms_master_key_id"] == "${aws_kms_key.pipeline.arn}"
    assert topic["name"] == "${var.prefix}-${var.pipeline_name}-failures"
    assert tf["output"]["failure_topic_arn"]["value"] == FAILURES


def test_the_rule_sends_failed_timed_out_and_aborted_executions_of_the_two_state_machines(tf):
    assert event_pattern(tf) == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": MACHINES},
    }
    target = tf["resource"]["aws_cloudwatch_event_target"]["failure_notifier"]
    assert target["rule"] == "${aws_cloudwatch_event_rule.execution_failed.name}"
    assert target["arn"] == "${aws_lambda_function.failure_notifier.arn}"
    permission = tf["resource"]["aws_lambda_permission"]["failure_events"]
    assert (permission["principal"], permission["source_arn"]) == (
        "events.amazonaws.com",
        "${aws_cloudwatch_event_rule.execution_failed.arn}",
    )


def test_the_pattern_matches_the_documented_event_of_a_failed_execution_only(tf, aws_credentials):
    """The rendered pattern on an emulated default bus (moto's EventBridge rule matching), with events shaped
    as AWS documents them (tests/test_failure_notice.py); what matches reaches the rule's queue target."""
    import boto3
    from moto import mock_aws
    from test_failure_notice import status_change

    target = local_target("attrition")
    arns = [target.state_machine_arn(state_machine_name("attrition", kind)) for kind in ("train", "score")]
    pattern = json.dumps(event_pattern(tf)).replace(MACHINES[0], arns[0]).replace(MACHINES[1], arns[1])
    with mock_aws():
        events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="execution-failed", EventPattern=pattern)
        events.put_targets(Rule="execution-failed", Targets=[{"Id": "queue", "Arn": queue_arn}])
        sent = [(s, arn) for s in ("FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED", "RUNNING") for arn in arns]
        sent.append(("FAILED", arns[0].replace("attrition-training", "other-training")))
        for status, machine in sent:
            event = status_change(status, stateMachineArn=machine, name=f"{status}-{machine.split(':')[-1]}")
            entry = {k: event[k] for k in ("source", "resources")}
            entry.update(DetailType=event["detail-type"], Detail=json.dumps(event["detail"]))
            events.put_events(Entries=[{k[0].upper() + k[1:]: v for k, v in entry.items()}])
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    matched = sorted(json.loads(m["Body"])["detail"]["name"] for m in received)
    assert matched == sorted(f"{s}-{arn.split(':')[-1]}" for s in ("FAILED", "TIMED_OUT", "ABORTED") for arn in arns)


def test_the_notifier_runs_the_projects_handler_from_the_landing_zip_and_dead_letters(tf):
    function = tf["resource"]["aws_lambda_function"]["failure_notifier"]
    assert function["handler"] == "mlops_pipeline.handlers.failure_notice.lambda_handler"
    assert function["filename"] == "${var.lambda_zip_path}"
    assert function["kms_key_arn"] == "${aws_kms_key.pipeline.arn}"
    assert function["environment"][0]["variables"] == {
        "FAILURES_TOPIC_ARN": FAILURES,
        "STATE_MACHINE_ARNS": '${join(",", [local.training_state_machine_arn, local.scoring_state_machine_arn])}',
    }
    queue = tf["resource"]["aws_sqs_queue"]["failure_notifier_dead_letters"]
    assert queue["kms_master_key_id"] == "${aws_kms_key.pipeline.arn}"
    assert function["dead_letter_config"][0]["target_arn"] == "${aws_sqs_queue.failure_notifier_dead_letters.arn}"


def test_the_notifier_may_read_this_pipelines_histories_and_publish_to_its_topic_only(tf):
    grants = {s["sid"]: (s["actions"], s["resources"]) for s in policy_documents(tf)["failure_notifier"]}
    assert grants == {
        "ReadTheHistoryOfThisPipelinesExecutions": (["states:GetExecutionHistory"], "${local.pipeline_executions}"),
        "PublishToTheFailuresTopic": (["sns:Publish"], [FAILURES]),
        "EncryptMessagesAndDecryptEnvironment": (
            ["kms:Decrypt", "kms:GenerateDataKey"],
            ["${aws_kms_key.pipeline.arn}"],
        ),
        "OwnLogs": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            ["${aws_cloudwatch_log_group.failure_notifier.arn}:*"],
        ),
        "DeadLetters": (["sqs:SendMessage"], ["${aws_sqs_queue.failure_notifier_dead_letters.arn}"]),
        "TracesAwsRequiresStar": (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    }
    role = tf["resource"]["aws_iam_role"]["failure_notifier"]
    assert role["assume_role_policy"] == '${data.aws_iam_policy_document.trust["lambda"].json}'
    # An execution ARN is its state machine's with ":execution:" and the execution's name (Step Functions ARNs).
    assert 'replace(arn, ":stateMachine:", ":execution:")}:*' in tf["locals"]["pipeline_executions"]


def test_the_key_policy_lets_the_accounts_iam_policies_grant_the_publisher_the_key(tf):
    """The notifier publishes as its role, an IAM principal of the account: the key policy delegates to IAM
    (the root statement), and the role's policy grants the two actions an SNS publisher needs."""
    (root,) = [s for s in policy_documents(tf)["kms"] if s["sid"] == "AccountAdministersAndDelegatesThroughIam"]
    assert root["principals"] == [
        {"type": "AWS", "identifiers": ["arn:${local.partition}:iam::${local.account_id}:root"]}
    ]
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(root["actions"])


def test_a_failing_notifier_raises_an_alarm_on_the_alarms_topic(tf):
    alarm = tf["resource"]["aws_cloudwatch_metric_alarm"]["failure_notifier_errors"]
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["dimensions"] == {"FunctionName": "${aws_lambda_function.failure_notifier.function_name}"}
    assert (alarm["comparison_operator"], alarm["threshold"], alarm["treat_missing_data"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )
    assert alarm["alarm_name"].startswith("${local.alarm_prefix}-")  # the topic's policy lets it publish
    assert alarm["alarm_actions"] == [TOPIC]


def test_the_scheduler_role_may_only_invoke_the_landing_handler_and_only_the_groups_schedules_assume_it(tf):
    role = tf["resource"]["aws_iam_role"]["scheduler"]
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.scheduler_trust.json}"
    (trust,) = policy_documents(tf)["scheduler_trust"]
    assert trust["actions"] == ["sts:AssumeRole"]
    assert trust["principals"][0]["identifiers"] == ["scheduler.amazonaws.com"]
    conditions = {c["variable"]: c for c in trust["condition"]}
    assert conditions["aws:SourceAccount"]["values"] == ["${local.account_id}"]
    assert conditions["aws:SourceArn"]["test"] == "ArnLike"
    assert conditions["aws:SourceArn"]["values"] == ["${local.schedule_arns}"]
    group = "${aws_scheduler_schedule_group.pipeline.name}"
    assert tf["locals"]["schedule_arns"].endswith(f":schedule/{group}/*")
    (grant,) = policy_documents(tf)["scheduler"]
    assert grant["actions"] == ["lambda:InvokeFunction"]
    assert grant["resources"] == ["${local.landing_function_arn}"]
    function = tf["resource"]["aws_lambda_function"]["landing"]["function_name"]
    assert tf["locals"]["landing_function_arn"].endswith(
        f":lambda:${{var.region}}:${{local.account_id}}:function:{function}"
    )
    attached = [
        p for p in tf["resource"]["aws_iam_role_policy"].values() if p["role"] == "${aws_iam_role.scheduler.id}"
    ]
    assert [p["policy"] for p in attached] == ["${data.aws_iam_policy_document.scheduler.json}"]


def test_the_landing_handler_may_list_the_feature_store_only_under_the_two_prefixes(tf):
    (listing,) = policy_documents(tf)["landing_lists_feature_store"]
    assert listing["actions"] == ["s3:ListBucketVersions"]
    assert listing["resources"] == ['${local.bucket_arns["feature_store"]}']
    (prefixes,) = listing["condition"]
    assert prefixes["variable"] == "s3:prefix"
    assert prefixes["values"] == ["${var.training_prefix}", "${var.scoring_prefix}"]
    policy = tf["resource"]["aws_iam_role_policy"]["landing_lists_feature_store"]
    assert policy["role"] == "${aws_iam_role.lambda.id}"


def test_deploy_finds_the_schedule_group_the_role_and_the_function_in_the_outputs(tf):
    outputs = {name: body["value"] for name, body in tf["output"].items()}
    assert outputs["schedule_group_name"] == "${aws_scheduler_schedule_group.pipeline.name}"
    assert outputs["scheduler_role_arn"] == "${aws_iam_role.scheduler.arn}"
    assert outputs["landing_function_arn"] == "${aws_lambda_function.landing.arn}"
    group = tf["resource"]["aws_scheduler_schedule_group"]["pipeline"]["name"]
    assert group == "${var.prefix}-${var.pipeline_name}"


# -- the model registry ---------------------------------------------------------------------------------


def test_the_model_registry_is_one_group_per_pipeline_the_step_functions_role_may_use(tf):
    from mlops_pipeline.naming import model_package_group_name

    group = tf["resource"]["aws_sagemaker_model_package_group"]["registry"]
    assert group["model_package_group_name"] == "${local.model_package_group_name}"
    name = tf["locals"]["model_package_group_name"]
    assert name.replace("${var.pipeline_name}", "attrition") == model_package_group_name("attrition")
    assert tf["locals"]["model_packages"] == (
        "${local.sagemaker_arn}:model-package/${local.model_package_group_name}/*"
    )
    register = statement(tf, "states", "RegisterAndReadModelVersions")
    assert register["actions"] == ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"]
    assert register["resources"] == ["${local.model_package_group_arn}", "${local.model_packages}"]
    listing = statement(tf, "states", "FindTheLatestApprovedVersion")
    assert listing["actions"] == ["sagemaker:ListModelPackages"]
    assert listing["resources"] == ["${local.sagemaker_arn}:model-package/*"]
    granted = {a for s in policy_documents(tf)["states"] for a in s.get("actions", [])}
    assert "sagemaker:UpdateModelPackage" not in granted  # a person approves or rejects by hand, not the pipeline


def test_a_request_the_provider_sent_again_is_shown_with_each_attempt_and_answer(tmp_path):
    """What a failed command against the emulator shows besides Terraform's words (the provider's log format)."""
    prefix = "[DEBUG] provider.terraform-provider-aws_v5.100.0_x5:"
    records = [
        ("08:08:16.812Z", 'HTTP Request Sent: rpc.method=CreateCrawler amz_sdk_request="attempt=1; max=25"'),
        ("08:08:16.900Z", 'HTTP Request Sent: rpc.method=GetRole amz_sdk_request="attempt=1; max=25"'),
        ("08:08:46.812Z", 'HTTP Request Sent: rpc.method=CreateCrawler amz_sdk_request="attempt=2; max=25"'),
        ("08:08:46.816Z", "HTTP Response Received: http.duration=4 rpc.method=CreateCrawler\n   http.status_code=400"),
    ]
    log = tmp_path / "provider.log"
    log.write_text("".join(f"2026-11-26T{when} {prefix} {text}\n" for when, text in records))
    assert resent_requests(log).splitlines()[2:] == [
        "  2026-11-26T08:08:16.812Z CreateCrawler sent attempt 1",
        "  2026-11-26T08:08:46.812Z CreateCrawler sent attempt 2",
        "  2026-11-26T08:08:46.816Z CreateCrawler answered 400",
    ]
    log.write_text("".join(f"2026-11-26T{when} {prefix} {text}\n" for when, text in records[:2]))
    assert resent_requests(log) == "\nThe provider sent no request twice."
