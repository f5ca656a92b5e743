"""The model registry as people use it: a pipeline's versions, the one scoring uses, and a manual approval or
rejection (``mlops-pipeline models``).

The same calls reach SageMaker (a boto3 client) or the local runtime's registry in a workspace
(:class:`LocalRegistryClient`, the integration functions behind the same method names). The version
scoring uses is the rule the workflows apply (``builders.registry``): the approved version created last.
Changing a status needs ``sagemaker:UpdateModelPackage`` on the version (a permission of the person or
role running the command, not of the pipeline's roles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mlops_pipeline.aws_errors import AwsError, aws_error_summary
from mlops_pipeline.errors import PipelineError

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
#: The ``CustomerMetadataProperties`` keys the training workflow writes and scoring, the gate and ``models`` read.
MODEL_NAME, SCHEMA_URI, GATE_METRIC, GATE_VALUE = "model_name", "schema_uri", "gate_metric", "gate_value"
EXECUTION, TRAINING_JOB = "execution", "training_job"
#: UpdateModelPackage's ``ApprovalDescription`` (botocore: at most 1024 characters).
REASON_MAX = 1024
PAGE = 100


class RegistryClient(Protocol):
    def list_model_packages(self, **params: Any) -> dict: ...
    def describe_model_package(self, **params: Any) -> dict: ...
    def update_model_package(self, **params: Any) -> dict: ...


@dataclass(frozen=True)
class Version:
    """One model package version as ``models`` lists it."""

    number: int
    status: str
    created: str
    metric: str  # the gate metric and its value, e.g. ``roc_auc = 0.87``
    execution: str  # the execution's name
    description: str  # the approval reason if a person gave one, else the package's description
    arn: str


def versions(client: RegistryClient, group: str) -> list[Version]:
    """Every version of ``group``, oldest first."""
    summaries, token = [], None
    while True:
        page = _call(
            client.list_model_packages,
            ModelPackageGroupName=group,
            SortBy="CreationTime",
            SortOrder="Ascending",
            MaxResults=PAGE,
            **({"NextToken": token} if token else {}),
        )
        summaries += page.get("ModelPackageSummaryList", [])
        token = page.get("NextToken")
        if not token:
            break
    return [_version(_call(client.describe_model_package, ModelPackageName=s["ModelPackageArn"])) for s in summaries]


def serving(listed: list[Version]) -> Version | None:
    """The version scoring uses: the approved one created last (the workflows' ``ListModelPackages`` query)."""
    approved = [v for v in listed if v.status == APPROVED]
    return max(approved, key=lambda v: (v.created, v.number)) if approved else None


def set_status(client: RegistryClient, group: str, number: int, status: str, reason: str) -> Version:
    """Approve or reject version ``number`` with ``reason`` as its approval description; the version after."""
    if len(reason) > REASON_MAX:
        raise PipelineError(f"--reason is {len(reason)} characters; SageMaker keeps at most {REASON_MAX}")
    listed = versions(client, group)
    chosen = next((v for v in listed if v.number == number), None)
    if chosen is None:
        known = f"versions 1 to {len(listed)}" if listed else "no versions yet"
        raise PipelineError(f"model package group {group} has no version {number} ({known})")
    _call(
        client.update_model_package,
        ModelPackageArn=chosen.arn,
        ModelApprovalStatus=status,
        ApprovalDescription=reason,
    )
    return _version(_call(client.describe_model_package, ModelPackageName=chosen.arn))


def _version(package: dict) -> Version:
    meta = package.get("CustomerMetadataProperties") or {}
    metric = f"{meta[GATE_METRIC]} = {meta.get(GATE_VALUE, '?')}" if GATE_METRIC in meta else ""
    created = package.get("CreationTime", "")
    return Version(
        number=int(package.get("ModelPackageVersion", 0)),
        status=package.get("ModelApprovalStatus", ""),
        created=created.isoformat() if hasattr(created, "isoformat") else str(created),
        metric=metric,
        execution=meta.get(EXECUTION, "").rsplit(":", 1)[-1],
        description=package.get("ApprovalDescription") or package.get("ModelPackageDescription", ""),
        arn=package["ModelPackageArn"],
    )


def _call(method, **params: Any) -> dict:
    """One registry call; an AWS error becomes one line."""
    try:
        return method(**params)
    except AwsError as error:
        raise PipelineError(f"{error.code}: {error.message}") from None
    except Exception as error:
        if getattr(error, "response", None) is not None:  # botocore's ClientError
            raise PipelineError(aws_error_summary(error)) from None
        if type(error).__module__.startswith("botocore"):  # no credentials, no connection, ...
            raise PipelineError(f"SageMaker: {' '.join(str(error).split())}") from None
        raise
