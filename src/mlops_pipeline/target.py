"""Where a pipeline runs: account, region, store names and roles, fixed at deploy time.

On AWS these come from ``terraform output -json`` (see ``infra/terraform/outputs.tf``); on one
machine :func:`local_target` supplies names the local runtime serves. The definitions built for
either differ only in these values.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.layout import SCORING_PREFIX, TRAINING_PREFIX
from mlops_pipeline.naming import STATE_MACHINE_ALIAS, Workflow

STORES = ("feature_store", "source_repository", "extracts", "model", "metadata", "output")
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account, so local ARNs resolve
LOCAL_REGION = "us-east-1"


@dataclass(frozen=True)
class Target:
    """Every deploy-time value a definition may contain."""

    pipeline_name: str
    partition: str
    region: str
    account_id: str
    feature_store_bucket: str
    source_repository_bucket: str
    extracts_bucket: str
    model_bucket: str
    metadata_bucket: str
    output_bucket: str
    sagemaker_role_arn: str
    step_functions_role_arn: str
    glue_job_name: str
    glue_crawler_name: str
    ecr_registry: str
    state_machine_log_group_arn: str
    training_prefix: str = TRAINING_PREFIX
    scoring_prefix: str = SCORING_PREFIX
    #: Terraform's ``sagemaker_job_network``: the VPC subnets and security groups (comma-separated) SageMaker
    #: jobs must run in, network-isolated; empty when jobs run in SageMaker's own network.
    job_subnet_ids: str = ""
    job_security_group_ids: str = ""
    #: The landing Lambda's ACCEPTED_SUFFIXES; ``mlops-pipeline replay-dead-letters`` gives its handler the same.
    landing_suffix: str = ".csv"
    #: The landing Lambda's dead-letter queue and the SNS topic its alarms notify (empty for a stack
    #: applied before they existed: ``replay-dead-letters`` then asks for ``terraform apply``).
    landing_dead_letter_queue_url: str = ""
    alarm_topic_arn: str = ""
    #: The topic of failure notifications (empty for a stack applied before it existed: deploy then asks for
    #: ``terraform apply`` when the workflow has subscribers).
    failure_topic_arn: str = ""
    #: The EventBridge Scheduler group deploy puts the workflow's schedules in, the role they run as and the
    #: landing Lambda they invoke (empty for a stack applied before schedules.tf: deploy then asks for
    #: ``terraform apply`` when the workflow has schedules).
    schedule_group_name: str = ""
    scheduler_role_arn: str = ""
    landing_function_arn: str = ""

    def bucket(self, store: str) -> str:
        """Bucket name of one of the six stores."""
        return getattr(self, f"{store}_bucket")

    def job_network(self) -> dict:
        """The network settings every training job and model gets (``EnableNetworkIsolation``, ``VpcConfig``)."""
        if not self.job_subnet_ids:
            return {}
        return {
            "EnableNetworkIsolation": True,
            "VpcConfig": {
                "Subnets": self.job_subnet_ids.split(","),
                "SecurityGroupIds": self.job_security_group_ids.split(","),
            },
        }

    def state_machine_arn(self, name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def state_machine_alias_arn(self, workflow: Workflow) -> str:
        """The ``live`` alias deploy points at the version it publishes; the landing Lambda starts executions there."""
        return f"{self.state_machine_arn(workflow.state_machine_name(self.pipeline_name))}:{STATE_MACHINE_ALIAS}"


#: Keys deploy reads from ``terraform output -json``; outputs.tf must declare each of them.
TERRAFORM_OUTPUT_KEYS = tuple(f.name for f in fields(Target))


def local_target(pipeline_name: str) -> Target:
    """The target the local runtime serves: fixed store names under the workspace."""
    role = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{pipeline_name}"
    return Target(
        pipeline_name=pipeline_name,
        partition="aws",
        region=LOCAL_REGION,
        account_id=LOCAL_ACCOUNT_ID,
        **{f"{store}_bucket": f"{pipeline_name}-{store.replace('_', '-')}" for store in STORES},
        sagemaker_role_arn=f"{role}-sagemaker",
        step_functions_role_arn=f"{role}-states",
        glue_job_name=f"{pipeline_name}-transform",
        glue_crawler_name=f"{pipeline_name}-output",
        ecr_registry=f"{LOCAL_ACCOUNT_ID}.dkr.ecr.{LOCAL_REGION}.amazonaws.com",
        state_machine_log_group_arn=(
            f"arn:aws:logs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:log-group:/aws/vendedlogs/states/{pipeline_name}:*"
        ),
    )


def target_from_terraform_outputs(outputs: dict[str, Any], source: str) -> Target:
    """Build a Target from parsed ``terraform output -json``; name every missing key at once."""
    values = {key: item.get("value") if isinstance(item, dict) else item for key, item in outputs.items()}
    missing = [f.name for f in fields(Target) if f.default is MISSING and f.name not in values]
    if missing:
        apply = "run `terraform -chdir=infra/terraform apply` first"
        raise PipelineError(f"{source}: terraform outputs lack {', '.join(missing)} — {apply}")
    wrong = [key for key in TERRAFORM_OUTPUT_KEYS if key in values and not isinstance(values[key], str)]
    if wrong:
        raise PipelineError(f"{source}: terraform outputs {', '.join(wrong)} must be strings")
    return Target(**{key: values[key] for key in TERRAFORM_OUTPUT_KEYS if key in values})


def read_terraform_outputs_file(path: str | Path) -> Target:
    """Parse a file written by ``terraform output -json``."""
    path = Path(path)
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"terraform outputs file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise PipelineError(
            f"{path}: not JSON from `terraform output -json` ({error.msg} at line {error.lineno})"
        ) from None
    if not isinstance(outputs, dict):
        raise PipelineError(f"{path}: expected a JSON object from `terraform output -json`")
    return target_from_terraform_outputs(outputs, str(path))


def terraform_target(tf_outputs: Path | None, terraform_dir: Path) -> Target:
    """Target from an outputs file, or from ``terraform output -json`` run here."""
    if tf_outputs is not None:
        return read_terraform_outputs_file(tf_outputs)
    if shutil.which("terraform") is None:
        raise PipelineError(
            "terraform is not on PATH: install it or pass --tf-outputs FILE (from `terraform output -json`)"
        )
    command = ["terraform", f"-chdir={terraform_dir}", "output", "-json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PipelineError(f"`{' '.join(command)}` failed: {reason}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise PipelineError(f"`{' '.join(command)}` did not print JSON") from None
    return target_from_terraform_outputs(outputs, f"{terraform_dir} (terraform output)")
