"""Render the pipeline's state machines and deploy them on top of the Terraform stores.

``python -m mlops_pipeline.deploy --only-json --out DIR`` renders only (no AWS, no credentials).
Without ``--only-json`` it validates both definitions offline (``mlops_pipeline.validation``; an error
stops it before any AWS call), uploads ``glue_transforms/``, validates them with AWS, creates or
updates the state machines by name, publishes a version and points the ``live`` alias at it, then
creates, updates or deletes the workflow's schedules in the EventBridge Scheduler group Terraform made.
It also subscribes the workflow's failure-notification addresses to the failures topic.
Running it twice changes nothing the second time; ``--dry-run`` shows what would change.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from mlops_pipeline import notifications
from mlops_pipeline.aws_errors import aws_error_code, aws_error_summary
from mlops_pipeline.builders import build_definitions, definition_json
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.layout import GLUE_SCRIPTS_PREFIX, TERRAFORM_DIR, glue_scripts
from mlops_pipeline.naming import KINDS, STATE_MACHINE_ALIAS, schedule_name
from mlops_pipeline.target import Target

ALIAS = STATE_MACHINE_ALIAS
UNVALIDATED = "endpoint does not offer ValidateStateMachineDefinition"


@dataclass(frozen=True)
class Change:
    """One row of the deploy summary."""

    resource: str
    name: str
    action: str  # created | updated | unchanged | would create | would update | uploaded | ...
    detail: str = ""
    diff: str = ""  # for "would update": the definition change, printed below the table


def render(config: PipelineConfig, target: Target, out_dir: Path) -> list[Path]:
    """Write ``training.asl.json`` and ``scoring.asl.json``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for workflow, definition in build_definitions(config, target).items():
        path = out_dir / f"{workflow}.asl.json"
        path.write_text(definition_json(definition), encoding="utf-8")
        paths.append(path)
    return paths


def check_target_matches(config: PipelineConfig, target: Target) -> None:
    """IAM scopes job names to the Terraform pipeline name, so the workflow must use the same one."""
    if target.pipeline_name != config.name:
        raise PipelineError(
            f"the workflow's name is {config.name!r} but Terraform was applied with pipeline_name "
            f"{target.pipeline_name!r}: make them equal (IAM policies are scoped to that name)"
        )


def upload_glue_scripts(s3, target: Target, glue_dir: Path, dry_run: bool) -> list[Change]:
    """Upload each ``glue_transforms/*.py`` whose content changed (compared by SHA-256 metadata)."""
    if not glue_dir.is_dir():
        raise PipelineError(f"Glue scripts folder not found: {glue_dir}")
    bucket = target.source_repository_bucket
    changes = []
    for name, path in glue_scripts(glue_dir):
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        key = f"{GLUE_SCRIPTS_PREFIX}{name}"
        current = _object_sha256(s3, bucket, key)
        if current == digest:
            changes.append(Change("glue script", f"s3://{bucket}/{key}", "unchanged"))
            continue
        action = "uploaded" if current is None else "replaced"
        if dry_run:
            changes.append(Change("glue script", f"s3://{bucket}/{key}", f"would be {action}"))
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest}, ContentType="text/x-python")
        changes.append(Change("glue script", f"s3://{bucket}/{key}", action))
    return changes


def _object_sha256(s3, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256", "")
    except ClientError as error:
        if aws_error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def validate_definition(sfn, name: str, text: str) -> str:
    """``ValidateStateMachineDefinition`` where the endpoint has it; an invalid one stops deploy.

    An endpoint that does not know the call, or answers it with a server error (an emulator that
    has not implemented it answers HTTP 500), is taken as not offering it: deploy goes on.
    """
    from botocore.exceptions import ClientError

    try:
        result = sfn.validate_state_machine_definition(definition=text, type="STANDARD")
    except NotImplementedError:
        return UNVALIDATED
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if aws_error_code(error) in ("UnknownOperationException", "InvalidAction", "NotImplemented") or status >= 500:
            return UNVALIDATED
        raise
    if result.get("result") == "FAIL":
        first = result.get("diagnostics", [{}])[0]
        raise PipelineError(
            f"state machine {name} is invalid: {first.get('code')} at {first.get('location')}: {first.get('message')}"
        )
    return "valid"


def sync_state_machine(sfn, target: Target, name: str, text: str, dry_run: bool) -> list[Change]:
    """Create or update one state machine, publish a version, point the alias at it."""
    from botocore.exceptions import ClientError

    arn = target.state_machine_arn(name)
    try:
        current = sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as error:
        if aws_error_code(error) != "StateMachineDoesNotExist":
            raise
        current = None
    if current is None:
        if dry_run:
            return [Change("state machine", name, "would create", f"{len(text)} bytes")]
        created = sfn.create_state_machine(
            name=name, definition=text, type="STANDARD", publish=True, **state_machine_settings(target)
        )
        return [
            Change("state machine", name, "created", _version(created)),
            _point_alias(sfn, arn, created["stateMachineVersionArn"]),
        ]
    unchanged = _same_json(current["definition"], text) and current.get("roleArn") == target.step_functions_role_arn
    alias = _alias(sfn, arn)
    if unchanged and alias is not None:
        return [Change("state machine", name, "unchanged"), Change("alias", f"{name}:{ALIAS}", "unchanged", alias)]
    if dry_run:
        diff = definition_diff(current["definition"], text, name)
        return [Change("state machine", name, "would update", "diff below", diff)]
    updated = sfn.update_state_machine(
        stateMachineArn=arn, definition=text, publish=True, **state_machine_settings(target)
    )
    return [
        Change("state machine", name, "updated", _version(updated)),
        _point_alias(sfn, arn, updated["stateMachineVersionArn"]),
    ]


def state_machine_settings(target: Target) -> dict:
    return {
        "roleArn": target.step_functions_role_arn,
        "loggingConfiguration": {
            "level": "ERROR",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": target.state_machine_log_group_arn}}],
        },
        "tracingConfiguration": {"enabled": True},
    }


def _version(response: dict) -> str:
    return "version " + response["stateMachineVersionArn"].rsplit(":", 1)[-1]


def _alias(sfn, arn: str) -> str | None:
    """The version ARN the alias routes to, or None when there is no alias yet."""
    from botocore.exceptions import ClientError

    try:
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:{ALIAS}")
    except ClientError as error:
        if aws_error_code(error) in ("ResourceNotFound", "ResourceNotFoundException"):
            return None
        raise
    return alias["routingConfiguration"][0]["stateMachineVersionArn"]


def _point_alias(sfn, arn: str, version_arn: str) -> Change:
    routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    name = f"{arn.rsplit(':', 1)[-1]}:{ALIAS}"
    if _alias(sfn, arn) is None:
        sfn.create_state_machine_alias(name=ALIAS, routingConfiguration=routing)
        return Change("alias", name, "created", version_arn)
    sfn.update_state_machine_alias(stateMachineAliasArn=f"{arn}:{ALIAS}", routingConfiguration=routing)
    return Change("alias", name, "moved", version_arn)


def _same_json(left: str, right: str) -> bool:
    return json.loads(left) == json.loads(right)


def definition_diff(old: str, new: str, name: str) -> str:
    """Unified diff of two definitions, both pretty-printed, so the change reads line by line."""
    before = definition_json(json.loads(old)).splitlines()
    after = definition_json(json.loads(new)).splitlines()
    lines = difflib.unified_diff(before, after, f"{name} (deployed)", f"{name} (rendered)", lineterm="", n=2)
    return "\n".join(lines)


#: Scheduler's own retries of a fire it could not deliver to the Lambda: its maximums (EventBridge Scheduler
#: API reference, "RetryPolicy": at most 185 attempts, events at most 86400 s old).
SCHEDULE_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
#: Replaced by EventBridge Scheduler with the time the fire was due (User Guide, "Adding context attributes").
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
#: What deploy compares to tell an unchanged schedule from one to update.
SCHEDULE_FIELDS = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "State", "Target")


def schedule_request(config: PipelineConfig, target: Target, kind: str, expression: str) -> dict:
    """CreateSchedule/UpdateSchedule for one of the workflow's schedules: invoke the landing Lambda with the
    scheduled event, whose ``scheduled_time`` Scheduler fills in at every fire."""
    from mlops_pipeline.handlers.s3_landing import scheduled_event

    name = schedule_name(config.name, kind)
    return {
        "Name": name,
        "GroupName": target.schedule_group_name,
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": config.schedules.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": f"Starts {config.name} {'training' if kind == 'train' else 'scoring'} on the latest file.",
        "Target": {
            "Arn": target.landing_function_arn,
            "RoleArn": target.scheduler_role_arn,
            "Input": json.dumps(scheduled_event(name, kind, SCHEDULED_TIME)),
            "RetryPolicy": SCHEDULE_RETRY_POLICY,
        },
    }


def sync_schedules(scheduler, config: PipelineConfig, target: Target, dry_run: bool) -> list[Change]:
    """Create or update the schedules the workflow gives, delete the ones it no longer gives."""
    wanted = config.schedules.by_kind() if config.schedules else {}
    if not target.schedule_group_name:
        if wanted:
            raise PipelineError(
                "the workflow has schedules but the Terraform outputs lack schedule_group_name: "
                "run `terraform -chdir=infra/terraform apply` (schedules.tf) first"
            )
        return []
    changes = []
    for kind in KINDS:
        name = schedule_name(config.name, kind)
        current = _schedule(scheduler, target.schedule_group_name, name)
        if kind in wanted:
            changes.append(
                _put_schedule(scheduler, schedule_request(config, target, kind, wanted[kind]), current, dry_run)
            )
        elif current is not None:
            if not dry_run:
                scheduler.delete_schedule(Name=name, GroupName=target.schedule_group_name)
            changes.append(Change("schedule", name, "would delete" if dry_run else "deleted"))
    return changes


def _schedule(scheduler, group: str, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return scheduler.get_schedule(Name=name, GroupName=group)
    except ClientError as error:
        if aws_error_code(error) == "ResourceNotFoundException":
            return None
        raise


def _put_schedule(scheduler, request: dict, current: dict | None, dry_run: bool) -> Change:
    name, expression = request["Name"], request["ScheduleExpression"]
    if current is not None and all(_holds(current.get(key), request[key]) for key in SCHEDULE_FIELDS):
        return Change("schedule", name, "unchanged", expression)
    action = "created" if current is None else "updated"
    if dry_run:
        return Change("schedule", name, f"would {action.removesuffix('d')}", expression)
    (scheduler.create_schedule if current is None else scheduler.update_schedule)(**request)
    return Change("schedule", name, action, expression)


def _holds(current: object, wanted: object) -> bool:
    """``current`` (GetSchedule's answer) has every field ``wanted`` sets, with the same value; fields AWS adds
    with their defaults do not count as a change."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(_holds(current.get(key), value) for key, value in wanted.items())
    return current == wanted


class DefinitionsInvalid(PipelineError):
    """Offline validation found errors: nothing was deployed. ``findings`` are all of them, one line each."""

    def __init__(self, findings: list):
        errors = [finding for finding in findings if finding.is_error]
        count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
        super().__init__(f"validation found {count}, nothing was deployed; first: {errors[0]}")
        self.findings = findings


def check_definitions(definitions: dict[str, dict], target: Target, terraform_dir: Path | None) -> Change:
    """Offline validation (docs/validation.md) before any AWS call: an error stops deploy, warnings do not.
    The Step Functions role is checked when ``terraform_dir`` is a folder."""
    from mlops_pipeline.validation import summary, validate_definitions

    terraform = terraform_dir if terraform_dir is not None and Path(terraform_dir).is_dir() else None
    findings = validate_definitions(definitions, target, terraform)
    if any(finding.is_error for finding in findings):
        raise DefinitionsInvalid(findings)
    checked = "rules and IAM" if terraform else "rules (IAM not checked: no Terraform folder)"
    return Change("definitions", "training, scoring", "valid", summary(findings, checked))


def deploy(
    config: PipelineConfig,
    target: Target,
    glue_dir: Path,
    dry_run: bool = False,
    terraform_dir: Path | None = TERRAFORM_DIR,
) -> list[Change]:
    """Validate offline, upload scripts, validate with AWS, sync both state machines and the workflow's
    schedules; return what changed."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    check_target_matches(config, target)
    notifications.check_topic(config.notifications, target.failure_topic_arn)
    rendered = {str(workflow): (workflow, d) for workflow, d in build_definitions(config, target).items()}
    checked = check_definitions({kind: d for kind, (_, d) in rendered.items()}, target, terraform_dir)
    names = {workflow.state_machine_name(config.name): definition_json(d) for workflow, d in rendered.values()}
    try:
        s3 = boto3.client("s3", region_name=target.region)
        sfn = boto3.client("stepfunctions", region_name=target.region)
        changes = [checked]
        changes += [Change("definition", name, validate_definition(sfn, name, text)) for name, text in names.items()]
        changes += upload_glue_scripts(s3, target, glue_dir, dry_run)  # only once both definitions are valid
        for name, text in names.items():
            changes.extend(sync_state_machine(sfn, target, name, text, dry_run))
        changes += subscribe_notifications(config, target, dry_run)
        if config.schedules or target.schedule_group_name:  # after the aliases the schedules start through
            scheduler = boto3.client("scheduler", region_name=target.region)
            changes += sync_schedules(scheduler, config, target, dry_run)
    except NoCredentialsError:
        raise PipelineError(
            "no AWS credentials found: configure a profile or AWS_* variables, or use --only-json"
        ) from None
    except ClientError as error:
        raise PipelineError(f"AWS refused {error.operation_name}: {aws_error_summary(error)}") from None
    except BotoCoreError as error:
        raise PipelineError(f"AWS call failed: {error}") from None
    return changes


def subscribe_notifications(config: PipelineConfig, target: Target, dry_run: bool) -> list[Change]:
    """The workflow's failure-notification subscribers on the failures topic (``mlops_pipeline.notifications``)."""
    if not notifications.wanted(config.notifications):
        return []
    import boto3

    sns = boto3.client("sns", region_name=target.region)
    rows = notifications.subscribe(sns, target.failure_topic_arn, config.notifications, dry_run)
    return [Change("subscription", endpoint, action, detail) for endpoint, action, detail in rows]


def nothing_changed(changes: list[Change]) -> bool:
    return all(c.action in ("unchanged", "valid", UNVALIDATED) for c in changes)


if __name__ == "__main__":
    from mlops_pipeline.cli import run_deploy_entry

    run_deploy_entry()
