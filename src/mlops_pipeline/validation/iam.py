"""IAM: what the definitions' Tasks (and the state machines' settings) need from the Step Functions role,
against what Terraform grants it.

Sources, per integration (docs/validation.md has the table):
- Optimised ``.sync`` SageMaker jobs: Create/Describe/Stop of the job, ``sagemaker:ListTags``, the managed
  EventBridge rule ``StepFunctionsGetEventsForSageMaker<Kind>JobsRule`` (developer guide, "IAM policies
  for Amazon SageMaker AI"; the tuning rule's name from AWS's samples), ``iam:PassRole`` for each role a
  request passes (SageMaker "API Permissions: Actions, Permissions, and Resources Reference": CreateModel,
  CreateTrainingJob and CreateHyperParameterTuningJob pass one, CreateTransformJob none).
  ``sagemaker:AddTags`` is this project's choice: no AWS policy template names it.
- ``glue:startJobRun.sync``: StartJobRun, GetJobRun, GetJobRuns, BatchStopJobRun ("IAM policies for AWS
  Glue"); request-response StartJobRun only.
- ``aws-sdk:<service>:<api>``: the API's own action (``sfn`` is IAM's ``states``); S3's CopyObject is
  GetObject (and GetObjectVersion for a ``versionId``: S3 API reference, CopyObject) on the source and
  PutObject on the target, GetObject with a Catch on ``S3.NoSuchKeyException`` also needs
  ``s3:ListBucket`` (without it S3 answers 403, not 404: botocore's GetObject documentation),
  and objects in SSE-KMS stores need ``kms:Decrypt`` to read and ``kms:GenerateDataKey`` to write (S3
  User Guide, "Using server-side encryption with AWS KMS keys").
- The settings deploy creates the state machines with (``deploy.state_machine_settings``): CloudWatch
  Logs delivery ("Logging using CloudWatch Logs") and X-Ray tracing ("IAM policies for AWS X-Ray").
Resources are ARNs with ``*`` where the definition fills in a value at run time; a name known only at
run time (a path) leaves the resource undecided and only the action is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlops_pipeline.target import Target
from mlops_pipeline.validation import shapes, terraform
from mlops_pipeline.validation.asl import all_states, integration, top_machine
from mlops_pipeline.validation.dataflow import Flow
from mlops_pipeline.validation.findings import Finding, error, warning

SAGEMAKER_ARN = "arn:{partition}:sagemaker:{region}:{account}"
GLUE_ARN = "arn:{partition}:glue:{region}:{account}"
EVENTS_RULE = "arn:{partition}:events:{region}:{account}:rule/"


@dataclass(frozen=True)
class JobNeeds:
    """What an optimised integration calls on the job it starts."""

    actions: tuple[str, ...]
    arn: str  # the job's ARN, ``{Member}`` filled from the request
    events_rule: str | None = None  # the managed rule a .sync task follows the job with
    tags: bool = False  # SageMaker: ListTags (and this project's AddTags)


def _sagemaker(kind: str, name_member: str, resource: str, sync: bool, rule: str) -> JobNeeds:
    calls = (f"sagemaker:Create{kind}",) + ((f"sagemaker:Describe{kind}", f"sagemaker:Stop{kind}") if sync else ())
    arn = f"{SAGEMAKER_ARN}:{resource}/{{{name_member}}}"
    return JobNeeds(calls, arn, f"StepFunctionsGetEventsForSageMaker{rule}JobsRule" if sync else None, tags=True)


#: Optimised integrations (the resource after ``arn:<partition>:states:::``) -> what they call.
TASK_NEEDS: dict[str, JobNeeds] = {
    "sagemaker:createTrainingJob.sync": _sagemaker("TrainingJob", "TrainingJobName", "training-job", True, "Training"),
    "sagemaker:createTrainingJob": _sagemaker("TrainingJob", "TrainingJobName", "training-job", False, "Training"),
    "sagemaker:createTransformJob.sync": _sagemaker(
        "TransformJob", "TransformJobName", "transform-job", True, "Transform"
    ),
    "sagemaker:createTransformJob": _sagemaker("TransformJob", "TransformJobName", "transform-job", False, "Transform"),
    "sagemaker:createHyperParameterTuningJob.sync": _sagemaker(
        "HyperParameterTuningJob", "HyperParameterTuningJobName", "hyper-parameter-tuning-job", True, "Tuning"
    ),
    "sagemaker:createHyperParameterTuningJob": _sagemaker(
        "HyperParameterTuningJob", "HyperParameterTuningJobName", "hyper-parameter-tuning-job", False, "Tuning"
    ),
    "sagemaker:createModel": JobNeeds(("sagemaker:CreateModel",), f"{SAGEMAKER_ARN}:model/{{ModelName}}", tags=True),
    # The real-time endpoint (Service Authorization Reference, Amazon SageMaker: CreateEndpointConfig on
    # endpoint-config/${EndpointConfigName}, CreateEndpoint and UpdateEndpoint on endpoint/${EndpointName}).
    "sagemaker:createEndpointConfig": JobNeeds(
        ("sagemaker:CreateEndpointConfig",), f"{SAGEMAKER_ARN}:endpoint-config/{{EndpointConfigName}}"
    ),
    "sagemaker:createEndpoint": JobNeeds(("sagemaker:CreateEndpoint",), f"{SAGEMAKER_ARN}:endpoint/{{EndpointName}}"),
    "sagemaker:updateEndpoint": JobNeeds(("sagemaker:UpdateEndpoint",), f"{SAGEMAKER_ARN}:endpoint/{{EndpointName}}"),
    "glue:startJobRun.sync": JobNeeds(
        ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"), f"{GLUE_ARN}:job/{{JobName}}"
    ),
    "glue:startJobRun": JobNeeds(("glue:StartJobRun",), f"{GLUE_ARN}:job/{{JobName}}"),
}
#: aws-sdk service -> IAM service prefix.
IAM_PREFIXES = {"sfn": "states", "sagemakerruntime": "sagemaker"}
#: aws-sdk (service, API) -> the resource its action is on.
SDK_RESOURCES = {
    ("sagemaker", "DescribeTrainingJob"): f"{SAGEMAKER_ARN}:training-job/{{TrainingJobName}}",
    ("sagemaker", "DescribeTransformJob"): f"{SAGEMAKER_ARN}:transform-job/{{TransformJobName}}",
    ("sagemaker", "DescribeHyperParameterTuningJob"): (
        f"{SAGEMAKER_ARN}:hyper-parameter-tuning-job/{{HyperParameterTuningJobName}}"
    ),
    ("sagemaker", "DescribeModel"): f"{SAGEMAKER_ARN}:model/{{ModelName}}",
    ("sagemaker", "DescribeEndpoint"): f"{SAGEMAKER_ARN}:endpoint/{{EndpointName}}",
    ("sagemakerruntime", "InvokeEndpoint"): f"{SAGEMAKER_ARN}:endpoint/{{EndpointName}}",
    # A version of a Model Package Group is model-package/<group>/<version> (API reference, ModelPackageArn);
    # ListModelPackages is authorized on model-package resources (Service Authorization Reference), the ARN
    # a listing is checked against being undocumented: any of the region's.
    ("sagemaker", "CreateModelPackage"): f"{SAGEMAKER_ARN}:model-package/{{ModelPackageGroupName}}/*",
    ("sagemaker", "DescribeModelPackage"): "{ModelPackageName}",
    ("sagemaker", "ListModelPackages"): f"{SAGEMAKER_ARN}:model-package/*",
    ("glue", "StartCrawler"): f"{GLUE_ARN}:crawler/{{Name}}",
    ("glue", "StartJobRun"): f"{GLUE_ARN}:job/{{JobName}}",
    ("glue", "GetJobRun"): f"{GLUE_ARN}:job/{{JobName}}",
    ("sfn", "ListExecutions"): "{StateMachineArn}",
    ("sfn", "StartExecution"): "{StateMachineArn}",
    ("s3", "GetObject"): "arn:{partition}:s3:::{Bucket}/{Key}",
    ("s3", "PutObject"): "arn:{partition}:s3:::{Bucket}/{Key}",
    ("s3", "HeadObject"): "arn:{partition}:s3:::{Bucket}/{Key}",
    ("s3", "DeleteObject"): "arn:{partition}:s3:::{Bucket}/{Key}",
}
S3_READS, S3_WRITES = ("GetObject", "HeadObject"), ("PutObject",)
#: "Logging using CloudWatch Logs" (Step Functions developer guide): the role's permissions for log delivery.
#: Step Functions delivers the events itself (vended logs), so the role needs no logs:PutLogEvents.
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACING = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


@dataclass(frozen=True)
class Need:
    """One action on one resource (an ARN glob; None: decided at run time) that a place needs."""

    workflow: str
    state: str
    field: str
    action: str
    resource: str | None


def check(definitions: dict[str, dict], flows: dict[str, Flow], target: Target, directory: Path) -> list[Finding]:
    role = terraform.read(directory, target)
    needs = settings_needs(target)
    for workflow, definition in definitions.items():
        needs += definition_needs(workflow, definition, flows.get(workflow), target, role.stores_use_kms)
    return _missing(needs, role) + _unused(needs, role)


def settings_needs(target: Target) -> list[Need]:
    """What the logging and tracing deploy sets on every state machine need of the role."""
    from mlops_pipeline.deploy import state_machine_settings

    settings = state_machine_settings(target)
    needs = []
    if settings.get("loggingConfiguration", {}).get("level", "OFF") != "OFF":
        needs += [Need("deploy", "settings", "loggingConfiguration", action, "*") for action in LOG_DELIVERY]
    if settings.get("tracingConfiguration", {}).get("enabled"):
        needs += [Need("deploy", "settings", "tracingConfiguration", action, "*") for action in TRACING]
    return needs


def definition_needs(workflow: str, definition: dict, flow: Flow | None, target: Target, kms: bool) -> list[Need]:
    needs = []
    for name, state, _ in all_states(top_machine(definition)):
        resource = integration(state.get("Resource")) if state.get("Type") == "Task" else None
        if resource is None:
            continue
        facts = flow.states.get(name) if flow else None
        payload = facts.payload if facts and isinstance(facts.payload, shapes.Obj) else shapes.Obj({}, open=True)
        for action, arn in task_needs(resource, payload, state, target, kms):
            needs.append(Need(workflow, name, "Resource", action, arn))
    return needs


def task_needs(resource: str, payload: shapes.Obj, state: dict, target: Target, kms: bool) -> list:
    """(action, resource ARN glob or None) a Task on ``resource`` with this request needs."""
    values = {"partition": target.partition, "region": target.region, "account": target.account_id}
    if resource in TASK_NEEDS:
        job = TASK_NEEDS[resource]
        arn = _fill(job.arn, values, payload)
        needs = [(action, arn) for action in job.actions]
        if job.tags:
            needs += [("sagemaker:ListTags", arn), ("sagemaker:AddTags", arn)]
        if job.events_rule:
            rule = EVENTS_RULE.format(**values) + job.events_rule
            needs += [(action, rule) for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule")]
        needs += [("iam:PassRole", role) for role in _passed_roles(payload)]
        return needs
    parts = resource.split(":")
    if parts[0] != "aws-sdk" or len(parts) != 3:
        return [(f"(unknown: {resource})", None)]
    service, api = parts[1], parts[2].split(".")[0]
    operation = api[:1].upper() + api[1:]
    prefix = IAM_PREFIXES.get(service, service)
    if (service, operation) == ("s3", "CopyObject"):
        return _copy_needs(values, payload, kms)
    template = SDK_RESOURCES.get((service, operation))
    needs = [(f"{prefix}:{operation}", _fill(template, values, payload) if template else None)]
    if service == "s3" and operation == "GetObject" and _catches(state, "S3.NoSuchKeyException"):
        needs.append(("s3:ListBucket", _fill("arn:{partition}:s3:::{Bucket}", values, payload)))
    if service == "s3" and kms and operation in S3_READS:
        needs.append(("kms:Decrypt", None))
    if service == "s3" and kms and operation in S3_WRITES:
        needs.append(("kms:GenerateDataKey", None))
    return needs


def _copy_needs(values: dict, payload: shapes.Obj, kms: bool) -> list:
    """CopyObject reads its source and writes its target. "To copy a specific version of an object, you
    need s3:GetObjectVersion" (S3 API reference, CopyObject): a source that may end in ``?versionId=``
    (one whose end is known only at run time, or that names a version) needs it as well as s3:GetObject."""
    field = payload.fields.get("CopySource")
    pattern = field.shape.pattern if field and isinstance(field.shape, shapes.Scalar) else None
    source = None
    if pattern is not None:
        source = "arn:{partition}:s3:::".format(**values) + pattern.lstrip("/").split("?", 1)[0]
    target_object = _fill("arn:{partition}:s3:::{Bucket}/{Key}", values, payload)
    needs = [("s3:GetObject", source), ("s3:PutObject", target_object)]
    if pattern is None or pattern.endswith("*") or "versionId=" in pattern:
        needs.append(("s3:GetObjectVersion", source))
    return needs + ([("kms:Decrypt", None), ("kms:GenerateDataKey", None)] if kms else [])


def _fill(template: str, values: dict, payload: shapes.Obj) -> str | None:
    """``template`` with the target's values and the request's members; None when a member is unknown."""
    text = template
    for member in re.findall(r"\{([A-Z]\w*)\}", template):
        field = payload.fields.get(member)
        shape = field.shape if field else None
        if not isinstance(shape, shapes.Scalar) or shape.pattern is None:
            return None
        text = text.replace("{" + member + "}", shape.pattern)
    return text.format(**values)


def _passed_roles(payload: shapes.Shape) -> list[str | None]:
    """Each role ARN a request passes (members named ``RoleArn``/``ExecutionRoleArn``, at any depth)."""
    roles = []
    if isinstance(payload, shapes.Obj):
        for name, field in payload.fields.items():
            if name.endswith("RoleArn") and isinstance(field.shape, shapes.Scalar):
                roles.append(field.shape.pattern)
            else:
                roles += _passed_roles(field.shape)
    elif isinstance(payload, shapes.ListOf):
        roles += _passed_roles(payload.item)
    return roles


def _catches(state: dict, name: str) -> bool:
    return any(isinstance(c, dict) and name in (c.get("ErrorEquals") or []) for c in state.get("Catch") or [])


def _missing(needs: list[Need], role: terraform.RoleGrants) -> list[Finding]:
    findings, seen = [], set()
    conditional: dict[str, list[Need]] = {}
    for need in needs:
        key = (need.workflow, need.state, need.action, need.resource)
        if key in seen:
            continue
        seen.add(key)
        if need.action.startswith("(unknown"):
            resource = need.action[len("(unknown: ") : -1]
            message = f"the IAM actions {resource} needs are not known here, so they are not checked (found {resource})"
            findings.append(warning(need.workflow, need.state, need.field, message))
            continue
        granting = [g for g in role.grants if any(_matches(pattern, need.action) for pattern in g.actions)]
        where = need.resource or "its resource"
        if not granting:
            message = f"the Step Functions role must allow {need.action} on {where} (found no statement granting it)"
            findings.append(error(need.workflow, need.state, need.field, message))
            continue
        resources = [r for g in granting for r in g.resources]
        covering = [g for g in granting if need.resource is None or any(_covers(r, need.resource) for r in g.resources)]
        if covering and all(g.only_if for g in covering):
            conditional.setdefault(covering[0].only_if, []).append(need)
            continue
        if covering:
            continue
        shown = ", ".join(dict.fromkeys(resources))
        message = f"the Step Functions role must allow {need.action} on {need.resource} (found it only on {shown})"
        findings.append(error(need.workflow, need.state, need.field, message))
    return findings + [_conditional(condition, met) for condition, met in conditional.items()]


def _conditional(condition: str, needs: list[Need]) -> Finding:
    """One line for the needs only a conditionally attached policy grants: the Terraform setting they need."""
    toggle = re.fullmatch(r"(var\.\w+) \? 1 : 0", condition)
    when = f"{toggle.group(1)} is true" if toggle else condition
    actions = ", ".join(dict.fromkeys(need.action for need in needs))
    first = needs[0]
    return warning(first.workflow, first.state, first.field, f"{actions}: granted only when {when} in Terraform")


def _unused(needs: list[Need], role: terraform.RoleGrants) -> list[Finding]:
    findings = []
    for grant in role.grants:
        if grant.only_if:  # an optional feature's grants: needed only by workflows that use it
            continue
        for action in grant.actions:
            if not any(_matches(action, need.action) for need in needs):
                where = f"statement[{grant.sid or '?'}].actions"
                findings.append(
                    warning("terraform", role.document, where, f"granted but needed by no state (found {action})")
                )
    return findings


def _matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return re.fullmatch(_glob(pattern), action, re.IGNORECASE) is not None


def _covers(granted: str, needed: str) -> bool:
    """Whether a granted resource pattern covers a needed one (``*`` in the needed one stands for a typical
    run-time value); an unresolved grant is taken to cover it."""
    if isinstance(granted, terraform.Unresolved):
        return True
    sample = needed.replace("*", "x").replace("?", "x")
    return re.fullmatch(_glob(granted), sample) is not None


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
