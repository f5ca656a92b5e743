"""infra/terraform in an AWS emulator: the plan reviewed, apply, deploy, land a file, destroy.

moto_server (``moto[server]``, the pinned moto) plays AWS on a free localhost port. The test
works in a temporary copy of the module, into which it writes the provider override that points
every service at the emulator (infra/terraform itself is never touched), and then does what a
user does on AWS (infra/terraform/README.md, "Apply, deploy, land"):

1. ``terraform plan -out`` / ``terraform show -json``: the security properties the HCL tests
   check in the source hold in the planned values, once variables, ``for_each`` and defaults
   are resolved (again after apply, when every value is known);
2. ``terraform apply`` and ``terraform output -json``;
3. ``python -m mlops_pipeline.deploy --tf-outputs``: state machines, versions, the ``live``
   aliases, the Glue scripts in the source-repository store;
4. a training file put into the feature store over the S3 API, and the notification that bucket
   sends handed to the landing handler with the Lambda's environment as Terraform configured it
   (moto cannot run a Lambda without Docker): exactly one training execution starts, through
   the alias, with the expected input;
5. ``terraform destroy``.

What the emulator cannot model is listed in ``EMULATOR_LEAVES_OUT`` (left out of the apply)
and ``EMULATOR_DRIFT`` (reported back differently), each with the reason; the test checks that
nothing else is left out or differs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
from aws_emulator import EmulatorFailed, emulator_environment, moto_server
from terraform_support import init_offline, module_copy, require_terraform_and_mirror, run_terraform, terraform_env

from conftest import EXAMPLE_WORKFLOW, GLUE_DIR
from mlops_pipeline import layout
from mlops_pipeline.deploy import ALIAS
from mlops_pipeline.naming import job_stem
from mlops_pipeline.target import TERRAFORM_OUTPUT_KEYS

pytestmark = pytest.mark.slow

REGION = "us-east-1"
PIPELINE = "attrition"  # the example workflow's name and the module's default pipeline_name
SERVICES = ("cloudwatch", "ecr", "glue", "iam", "kms", "lambda", "logs", "s3", "sfn", "sns", "sqs", "sts")

# Resources of infra/terraform the emulated stack is applied without, each with the reason and the
# override that leaves it out. Nothing else is left out (checked against the reviewed plan).
EMULATOR_LEAVES_OUT = {
    "aws_s3_bucket_policy.store": (
        "moto 5.2.5 evaluates bucket policies on object requests without the request's context, and counts a "
        "statement whose Condition it cannot evaluate as a Deny whatever its Effect: the stores' TLS-only Deny "
        "statements would refuse every object request (deploy's upload, the landed file), over TLS or not. "
        "The planned policies are reviewed instead (test step 1).",
        'resource "aws_s3_bucket_policy" "store" {\n  for_each = {}\n}\n',
    ),
    "aws_sagemaker_model_package_group.registry": (
        "moto 5.2.5 has no DeleteModelPackageGroup: destroy would wait for the group to go until its timeout. "
        "The planned group and the grants on it are reviewed instead (test step 1, tests/test_terraform.py).",
        'resource "aws_sagemaker_model_package_group" "registry" {\n  count = 0\n}\n',
    ),
}

# Resources the emulator reports back other than Terraform wrote them: the plan after apply would
# update these and nothing else (that plan is never applied: moto 5.2.5 has no glue UpdateJob).
EMULATOR_DRIFT = {
    "aws_glue_job.transform": "moto reports ExecutionClass STANDARD for a Python shell job that never set one",
    "aws_lambda_function.landing": "moto's GetFunction does not return the DeadLetterConfig it was given",
    "aws_lambda_function.failure_notifier": "moto's GetFunction does not return the DeadLetterConfig it was given",
}

# The sagemaker_job_network option, planned against the applied stack (its values only need the right shape).
JOB_NETWORK = {"subnet_ids": ["subnet-0a1b2c3d4e5f60718"], "security_group_ids": ["sg-0a1b2c3d4e5f60718"]}


def emulator_override(endpoint: str) -> str:
    """The provider pointed at the emulator; a throwaway stack whose destroy empties its buckets."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return f"""# Written by tests/test_terraform_emulator.py into a temporary copy of infra/terraform.
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}

# The module never empties a bucket on destroy (so a destroy cannot delete data); this throwaway
# stack does. The access-log bucket must be: moto delivers access logs into it, and deletes them
# only once Terraform has removed its policy (see EMULATOR_LEAVES_OUT for why).
resource "aws_s3_bucket" "store" {{
  force_destroy = true
}}

resource "aws_s3_bucket" "access_logs" {{
  force_destroy = true
}}
"""


def leave_out_override() -> str:
    blocks = [f"# {address}: {reason}\n{block}" for address, (reason, block) in EMULATOR_LEAVES_OUT.items()]
    return "# Written by tests/test_terraform_emulator.py: what the emulator cannot model.\n\n" + "\n".join(blocks)


# -- the emulator ---------------------------------------------------------------------------------


@pytest.fixture
def workdir():
    """A temporary folder, removed even when the test fails."""
    with tempfile.TemporaryDirectory(prefix="mlops-emulator-") as path:
        yield Path(path)


@pytest.fixture
def mirror():
    """The provider on disk (checked first: a test that cannot run starts no emulator)."""
    return require_terraform_and_mirror()


@pytest.fixture
def emulator(mirror, workdir):
    """moto_server on a free localhost port; stopped even when the test fails."""
    try:
        with moto_server(workdir / "moto_server.log") as endpoint:
            yield endpoint
    except EmulatorFailed as failed:
        pytest.fail(str(failed))


@pytest.fixture
def aws_env(emulator, workdir, monkeypatch) -> dict[str, str]:
    """Fake credentials and the emulator's endpoint, for this process and the commands it runs."""
    values = emulator_environment(emulator, workdir, REGION)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return values


# -- reading plans ----------------------------------------------------------------------------------


def show_json(module: Path, plan_file: str, env) -> dict:
    return json.loads(run_terraform(module, "show", "-json", plan_file, env=env).stdout)


def planned(plan: dict) -> dict[str, dict]:
    """address -> planned values of every resource (values unknown until apply are absent)."""
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            if resource["mode"] == "managed":
                found[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return found


def resource_of(address: str) -> str:
    """``aws_s3_bucket.store["model"]`` -> ``aws_s3_bucket.store``."""
    return address.split("[", 1)[0]


def changes(plan: dict) -> dict[str, list[str]]:
    return {c["address"]: c["change"]["actions"] for c in plan["resource_changes"] if c["mode"] == "managed"}


def review_security(values: dict[str, dict], complete: bool) -> None:
    """The properties tests/test_terraform.py asserts on the HCL source, on planned values.

    Before apply (``complete=False``) values Terraform learns only from AWS (ARNs, hence the
    policies) are absent; after it, every one of them must be there.
    """
    buckets = {
        address.split(".", 1)[1]: v
        for address, v in values.items()
        if resource_of(address) in ("aws_s3_bucket.store", "aws_s3_bucket.access_logs")
    }
    assert len(buckets) == 7, sorted(buckets)  # six stores and the access-log bucket
    key_arn = values["aws_kms_key.pipeline"].get("arn")
    assert values["aws_kms_key.pipeline"]["enable_key_rotation"] is True
    for name, bucket in buckets.items():
        store = name.startswith("store[")
        rule = values[f"aws_s3_bucket_server_side_encryption_configuration.{name}"]["rule"][0]
        default = rule["apply_server_side_encryption_by_default"][0]
        assert default["sse_algorithm"] == ("aws:kms" if store else "AES256"), name
        if store:
            assert rule["bucket_key_enabled"] is True, name
            assert default.get("kms_master_key_id") == key_arn or not complete, name
        versioning = values[f"aws_s3_bucket_versioning.{name}"]["versioning_configuration"][0]
        assert versioning["status"] == "Enabled", name
        block = values[f"aws_s3_bucket_public_access_block.{name}"]
        assert all(
            block[flag] is True
            for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        ), name
        ownership = values[f"aws_s3_bucket_ownership_controls.{name}"]["rule"][0]["object_ownership"]
        assert ownership == "BucketOwnerEnforced", name
        policy = values[f"aws_s3_bucket_policy.{name}"].get("policy")
        if complete:
            assert_tls_only(json.loads(policy), bucket["arn"], name)
            if store:
                logging = values[f"aws_s3_bucket_logging.{name}"]
                assert logging["target_bucket"] == buckets["access_logs"]["bucket"], name
    function = values["aws_lambda_function.landing"]
    assert function["reserved_concurrent_executions"] == -1  # null: no reservation
    # Before apply the environment is unknown as a whole: FEATURE_STORE_BUCKET is the created bucket's name.
    environment = function["environment"][0].get("variables")
    assert environment is not None or not complete
    for kind in ("training", "scoring") if environment else ():
        arn = environment[f"{kind.upper()}_STATE_MACHINE_ARN"]
        assert arn.endswith(f":stateMachine:{PIPELINE}-{kind}:{ALIAS}"), arn
    assert values["aws_glue_job.transform"]["timeout"] == 60
    if not complete:
        return
    assert environment["FEATURE_STORE_BUCKET"] == buckets['store["feature_store"]']["bucket"]
    passable = {values["aws_iam_role.sagemaker"]["arn"], values["aws_iam_role.glue"]["arn"]}
    role_policies = {
        address: json.loads(v["policy"]) for address, v in values.items() if address.startswith("aws_iam_role_policy.")
    }
    # the four roles', the failure notifier's, the scheduler's and the landing Lambda's listing (schedules.tf)
    assert len(role_policies) == 7
    for address, document in role_policies.items():
        for statement in statements_of(document):
            actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
            assert statement["Effect"] == "Allow", address
            assert not [a for a in actions if "*" in a], f"{address}: {statement.get('Sid')} grants a wildcard"
            if "*" in resources:
                assert statement["Sid"].endswith("AwsRequiresStar"), f"{address}: {statement.get('Sid')}"
            if "iam:PassRole" in actions:
                assert set(statement["Condition"]) == {"StringEquals"}, address
                assert set(statement["Condition"]["StringEquals"]) == {"iam:PassedToService"}, address
                assert set(resources) <= passable, address
    lambda_grants = [
        s
        for s in statements_of(role_policies["aws_iam_role_policy.lambda"])
        if "states:StartExecution" in as_list(s["Action"])
    ]
    assert len(lambda_grants) == 1 and as_list(lambda_grants[0]["Action"]) == ["states:StartExecution"]
    assert set(as_list(lambda_grants[0]["Resource"])) == {
        environment["TRAINING_STATE_MACHINE_ARN"],
        environment["SCORING_STATE_MACHINE_ARN"],
    }
    notifier = {s["Sid"]: s for s in statements_of(role_policies["aws_iam_role_policy.failure_notifier"])}
    machines = environment["TRAINING_STATE_MACHINE_ARN"], environment["SCORING_STATE_MACHINE_ARN"]
    executions = {arn.rsplit(":", 1)[0].replace(":stateMachine:", ":execution:") + ":*" for arn in machines}
    assert set(as_list(notifier["ReadTheHistoryOfThisPipelinesExecutions"]["Resource"])) == executions
    assert notifier["PublishToTheFailuresTopic"]["Resource"] == values["aws_sns_topic.failures"]["arn"]
    (invoke,) = statements_of(role_policies["aws_iam_role_policy.scheduler"])
    assert as_list(invoke["Action"]) == ["lambda:InvokeFunction"]
    assert as_list(invoke["Resource"]) == [values["aws_lambda_function.landing"]["arn"]]  # the schedules' target
    states = statements_of(role_policies["aws_iam_role_policy.states"])
    sagemaker = {a for s in states for a in as_list(s["Action"]) if a.startswith("sagemaker:")}
    assert "sagemaker:ListTags" in sagemaker
    assert not sagemaker & {
        "sagemaker:CreateTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:DescribeModel",
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    }
    # the model registry: this pipeline's group and its versions; a listing is checked on model-package ARNs
    registry = (f"/{PIPELINE}-models", f"/{PIPELINE}-models/*", ":model-package/*")
    for s in states:
        if any(a.startswith("sagemaker:") for a in as_list(s["Action"])):
            ends = registry if "ModelPackage" in " ".join(as_list(s["Action"])) else (f"/{PIPELINE}-*",)
            assert all(
                r.startswith(f"arn:aws:sagemaker:{REGION}:") and r.endswith(ends) for r in as_list(s["Resource"])
            ), s["Sid"]
    rules = {
        r.rsplit("/", 1)[-1] for s in states if "events:PutRule" in as_list(s["Action"]) for r in as_list(s["Resource"])
    }
    assert rules == {
        "StepFunctionsGetEventsForSageMakerTuningJobsRule",
        "StepFunctionsGetEventsForSageMakerTransformJobsRule",
    }


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements_of(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def assert_tls_only(document: dict, bucket_arn: str, name: str) -> None:
    denies = [s for s in statements_of(document) if s["Effect"] == "Deny"]
    conditions = set()
    for statement in denies:
        assert as_list(statement["Action"]) == ["s3:*"] and statement["Principal"] == {"AWS": "*"}, name
        assert set(as_list(statement["Resource"])) == {bucket_arn, f"{bucket_arn}/*"}, name
        conditions |= {
            (test, key, str(as_list(value)[0]))
            for test, pairs in statement["Condition"].items()
            for key, value in pairs.items()
        }
    assert ("Bool", "aws:SecureTransport", "false") in conditions, name
    assert ("NumericLessThan", "s3:TlsVersion", "1.2") in conditions, name


# -- the S3 notification and the handler --------------------------------------------------------------


def notification_for(bucket: str, key: str) -> dict:
    """The feature store's Lambda notification whose filter takes this key (as S3 would choose it)."""
    configuration = boto3.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    matching = []
    for candidate in configuration.get("LambdaFunctionConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in candidate["Filter"]["Key"]["FilterRules"]}
        if key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
            matching.append(candidate)
    assert len(matching) == 1, configuration
    assert matching[0]["Events"] == ["s3:ObjectCreated:*"]
    return matching[0]


def s3_event(bucket: str, key: str, head: dict, configuration_id: str) -> dict:
    """The event S3 sends for a PutObject (event message structure 2.1): the key URL-encoded."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": head["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEMULATOR"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": head["ResponseMetadata"]["RequestId"],
                    "x-amz-id-2": "emulator",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "AEMULATOR"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "versionId": head["VersionId"],
                        "sequencer": "0065A1B2C3D4E5F607",
                    },
                },
            }
        ]
    }


def handle_as_the_lambda(event: dict, environment: dict[str, str], monkeypatch) -> tuple[list[dict], list[str]]:
    """Run the landing handler in this process with the Lambda's environment.

    moto 5.2.5 refuses StartExecution on an alias ARN (``StateMachineDoesNotExist``: it resolves
    only unqualified and numeric version ARNs) and its DescribeExecution reports neither
    stateMachineAliasArn nor stateMachineVersionArn. So the handler's own client records the ARN
    each StartExecution names and resolves an alias the way Step Functions does: the alias must
    exist and route all traffic to one version whose definition is the state machine's; the
    execution then starts on that state machine. Returns the handler's summaries and the ARNs.
    """
    from mlops_pipeline.handlers import s3_landing

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    sfn = boto3.client("stepfunctions")
    requested: list[str] = []

    def through_the_alias(params, **_):
        arn = params["stateMachineArn"]
        requested.append(arn)
        machine, _, qualifier = arn.rpartition(":")
        if not machine.endswith(f"{PIPELINE}-training") and not machine.endswith(f"{PIPELINE}-scoring"):
            return  # unqualified: nothing to resolve
        routing = sfn.describe_state_machine_alias(stateMachineAliasArn=arn)["routingConfiguration"]
        assert [r["weight"] for r in routing] == [100], routing
        version = sfn.describe_state_machine(stateMachineArn=routing[0]["stateMachineVersionArn"])
        assert json.loads(version["definition"]) == json.loads(
            sfn.describe_state_machine(stateMachineArn=machine)["definition"]
        )
        params["stateMachineArn"] = machine

    s3_landing._stepfunctions_client.cache_clear()
    client = s3_landing._stepfunctions_client()
    client.meta.events.register("provide-client-params.sfn.StartExecution", through_the_alias)
    root_level = logging.getLogger().level  # the handler sets INFO, as Lambda's runtime would keep it
    try:
        summaries = [s3_landing.lambda_handler(event, None), s3_landing.lambda_handler(event, None)]  # delivered twice
    finally:
        logging.getLogger().setLevel(root_level)
        client.meta.events.unregister("provide-client-params.sfn.StartExecution", through_the_alias)
        s3_landing._stepfunctions_client.cache_clear()
    return summaries, requested


# -- the test -----------------------------------------------------------------------------------------


def test_apply_deploy_land_destroy_in_an_aws_emulator(mirror, workdir, emulator, aws_env, monkeypatch):
    module = module_copy(workdir / "module")
    (module / "emulator_override.tf").write_text(emulator_override(emulator))
    from mlops_pipeline.lambda_zip import build

    zip_path = build(workdir / "landing_handler.zip")
    env = terraform_env(**aws_env, TF_VAR_lambda_zip_path=str(zip_path))
    timings: dict[str, float] = {}

    def terraform(label: str, *args: str):
        started = time.monotonic()
        log = workdir / f"provider requests of {label}.log"  # shown if the command fails
        result = run_terraform(module, *args, "-no-color", env=env, timeout=600, request_log=log)
        timings[label] = round(time.monotonic() - started, 1)
        return result

    init_offline(module, mirror, env)

    # 1. The plan of the module as users apply it, reviewed.
    terraform("plan", "plan", "-input=false", "-out=review.tfplan")
    review = show_json(module, "review.tfplan", env)
    assert all(actions == ["create"] for actions in changes(review).values())
    review_security(planned(review), complete=False)

    # 2. Apply without what the emulator cannot model, and nothing else.
    (module / "emulator_leave_out_override.tf").write_text(leave_out_override())
    terraform("plan to apply", "plan", "-input=false", "-out=apply.tfplan")
    applied_plan = show_json(module, "apply.tfplan", env)
    left_out = set(changes(review)) - set(changes(applied_plan))
    assert set(changes(applied_plan)) <= set(changes(review))
    assert {resource_of(a) for a in left_out} == set(EMULATOR_LEAVES_OUT), sorted(left_out)
    terraform("apply", "apply", "-input=false", "apply.tfplan")

    # After apply every value is known: the full review, on the module as users apply it. The plan
    # would add what the emulator was not given and undo what it reports back differently; nothing else.
    (module / "emulator_leave_out_override.tf").rename(workdir / "leave_out_override.tf")
    terraform("plan after apply", "plan", "-input=false", "-out=after.tfplan")
    after = show_json(module, "after.tfplan", env)
    pending = {a: actions for a, actions in changes(after).items() if actions != ["no-op"]}
    assert pending == {**{a: ["create"] for a in left_out}, **{a: ["update"] for a in EMULATOR_DRIFT}}, pending
    review_security(planned(after), complete=True)

    # The network-isolation option, planned on the applied stack: IAM then requires it.
    terraform(
        "plan with network isolation",
        "plan",
        "-input=false",
        "-refresh=false",
        "-out=isolated.tfplan",
        f"-var=sagemaker_job_network={json.dumps(JOB_NETWORK)}",
    )
    isolated = planned(show_json(module, "isolated.tfplan", env))
    states = statements_of(json.loads(isolated["aws_iam_role_policy.states"]["policy"]))
    for sid in ("CreateTuningJobsOfThisPipeline", "CreateModelsOfThisPipeline"):
        condition = next(s for s in states if s["Sid"] == sid)["Condition"]
        assert condition["Bool"] == {"sagemaker:NetworkIsolation": "true"}, sid
        assert condition["ForAllValues:StringEquals"] == {
            "sagemaker:VpcSubnets": JOB_NETWORK["subnet_ids"][0],
            "sagemaker:VpcSecurityGroupIds": JOB_NETWORK["security_group_ids"][0],
        }
        assert condition["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}
    transform = next(s for s in states if s["Sid"] == "CreateTransformJobsOfThisPipeline")["Condition"]
    account = isolated["aws_iam_role.states"]["arn"].split(":")[4]
    assert transform == {"ArnLike": {"sagemaker:ModelArn": f"arn:aws:sagemaker:{REGION}:{account}:model/{PIPELINE}-*"}}
    sagemaker_role = {s["Sid"] for s in statements_of(json.loads(isolated["aws_iam_role_policy.sagemaker"]["policy"]))}
    assert {"JobNetworkInterfacesInTheVpc", "VpcLookupsAwsRequiresStar"} <= sagemaker_role
    (workdir / "leave_out_override.tf").rename(module / "emulator_leave_out_override.tf")

    outputs_file = workdir / "outputs.json"
    outputs_file.write_text(terraform("output", "output", "-json").stdout)
    outputs = {key: item["value"] for key, item in json.loads(outputs_file.read_text()).items()}
    assert set(outputs) == set(TERRAFORM_OUTPUT_KEYS)

    # 3. Deploy against the same emulator.
    started = time.monotonic()
    deployed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_pipeline.deploy",
            "--workflow",
            str(EXAMPLE_WORKFLOW),
            "--tf-outputs",
            str(outputs_file),
            "--glue-dir",
            str(GLUE_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **aws_env},
        cwd=workdir,
    )
    timings["deploy"] = round(time.monotonic() - started, 1)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    sfn, s3 = boto3.client("stepfunctions"), boto3.client("s3")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    assert set(machines) == {f"{PIPELINE}-training", f"{PIPELINE}-scoring"}
    for arn in machines.values():
        described = sfn.describe_state_machine(stateMachineArn=arn)
        assert described["roleArn"] == outputs["step_functions_role_arn"]
        destinations = described["loggingConfiguration"]["destinations"]
        assert destinations[0]["cloudWatchLogsLogGroup"]["logGroupArn"] == outputs["state_machine_log_group_arn"]
        assert f"s3://{outputs['extracts_bucket']}/{PIPELINE}/" in described["definition"]
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:{ALIAS}")
        assert alias["routingConfiguration"] == [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    scripts = s3.list_objects_v2(Bucket=outputs["source_repository_bucket"], Prefix="glue_transforms/")["Contents"]
    shipped = layout.glue_scripts(GLUE_DIR)
    assert {o["Key"] for o in scripts} == {f"{layout.GLUE_SCRIPTS_PREFIX}{name}" for name, _ in shipped}
    for name, path in shipped:
        key = f"{layout.GLUE_SCRIPTS_PREFIX}{name}"
        assert s3.get_object(Bucket=outputs["source_repository_bucket"], Key=key)["Body"].read() == path.read_bytes()

    # 4. Land a training file; the feature store's notification goes to the landing handler.
    from mlops_pipeline.demo_data import write_demo_pair

    train, _ = write_demo_pair(workdir / "data", 200, 20)
    bucket, key = outputs["feature_store_bucket"], f"{outputs['training_prefix']}employees 2026.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=train.read_bytes())
    head = s3.head_object(Bucket=bucket, Key=key)
    notification = notification_for(bucket, key)
    function = boto3.client("lambda").get_function_configuration(FunctionName=notification["LambdaFunctionArn"])
    environment = function["Environment"]["Variables"]
    training_alias = f"{machines[f'{PIPELINE}-training']}:{ALIAS}"
    assert environment["TRAINING_STATE_MACHINE_ARN"] == training_alias
    assert environment["SCORING_STATE_MACHINE_ARN"] == f"{machines[f'{PIPELINE}-scoring']}:{ALIAS}"
    assert function["Handler"] == "mlops_pipeline.handlers.s3_landing.lambda_handler"
    summaries, requested = handle_as_the_lambda(
        s3_event(bucket, key, head, notification["Id"]), environment, monkeypatch
    )

    name = summaries[0]["started"][0]
    assert all(s["started"] == [name] and not s["rejected"] and not s["ignored"] for s in summaries), summaries
    assert name.startswith("train-employees-2026-")
    assert requested == [training_alias, training_alias]  # started through the alias, both deliveries
    executions = sfn.list_executions(stateMachineArn=machines[f"{PIPELINE}-training"])["executions"]
    assert [e["name"] for e in executions] == [name]  # the redelivered event started nothing more
    assert sfn.list_executions(stateMachineArn=machines[f"{PIPELINE}-scoring"])["executions"] == []
    payload = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    version = head["VersionId"]
    assert {k: payload[k] for k in ("kind", "bucket", "key", "version_id", "size", "etag")} == {
        "kind": "train",
        "bucket": bucket,
        "key": key,
        "version_id": version,
        "size": train.stat().st_size,
        "etag": head["ETag"].strip('"'),
    }
    assert payload["job_stem"] == job_stem("train", f"{bucket}\0{key}\0{version}")

    # 5. Destroy.
    terraform("destroy", "destroy", "-input=false", "-auto-approve")
    assert not [
        b
        for b in s3.list_buckets()["Buckets"]
        if b["Name"]
        in {
            outputs[f"{s}_bucket"]
            for s in ("feature_store", "source_repository", "extracts", "model", "metadata", "output")
        }
    ]
    assert json.loads(run_terraform(module, "show", "-json", env=env).stdout).get("values") is None
    print(f"\nterraform and deploy timings (s): {timings}")
