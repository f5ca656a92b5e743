"""The SageMaker model registry: Model Package Groups and their versions (``createModelPackage``,
``listModelPackages``, ``describeModelPackage``, ``updateModelPackage``).

A group and its versions are one record, ``<workspace>/services/model-package-groups/<group>.json``
(DescribeModelPackageGroup's shape, the versions under ``Local``), rewritten atomically under a file lock,
so a session registering a version and ``mlops-pipeline models approve`` in another process never lose
each other's change. As SageMaker does (API reference, CreateModelPackage and ModelPackage): versions are
numbered 1, 2, 3... per group, their ARN is ``arn:aws:sagemaker:<region>:<account>:model-package/<group>/<n>``,
a versioned package's approval status defaults to ``PendingManualApproval``, a repeated ``ClientToken``
answers the version it created, and ``CustomerMetadataProperties`` holds at most 50 entries of
``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`` (keys up to 128 characters, values up to 256; botocore's
``CustomerMetadataMap``). An unknown group or version is a ``ValidationException``; the messages follow
moto's SageMaker backend, AWS's own texts not being documented. ListModelPackages of a group that does not
exist lists nothing, as moto answers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import aws_shape, now
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import exclusively
from mlops_pipeline.local.tasks import TaskControl
from mlops_pipeline.target import LOCAL_ACCOUNT_ID, LOCAL_REGION

GROUPS = "model-package-groups"
CLIENT_ERROR = "ValidationException"
STATUSES = ("Approved", "Rejected", "PendingManualApproval")
DEFAULT_STATUS = "PendingManualApproval"
METADATA_ENTRIES_MAX, METADATA_KEY_MAX, METADATA_VALUE_MAX = 50, 128, 256
METADATA_PUNCTUATION = set("_.:/=+-@")
DESCRIPTION_MAX = 1024
LIST_MAX_RESULTS = 100
#: What ListModelPackages answers of each version (botocore: ModelPackageSummary).
SUMMARY_FIELDS = (
    "ModelPackageName",
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "ModelPackageStatus",
    "ModelApprovalStatus",
)


def group_arn(services: LocalServices, group: str) -> str:
    return services.arn("sagemaker", f"model-package-group/{group.lower()}")


def define_group(services: LocalServices, name: str, description: str) -> None:
    """The local counterpart of Terraform's ``aws_sagemaker_model_package_group``: create it if it is new."""
    with _locked(services.records, name):
        if services.records.get(GROUPS, name) is not None:
            return
        services.records.put(
            GROUPS,
            name,
            {
                "ModelPackageGroupName": name,
                "ModelPackageGroupArn": group_arn(services, name),
                "ModelPackageGroupDescription": description,
                "CreationTime": now().isoformat(),
                "ModelPackageGroupStatus": "Completed",
                "Local": {"Versions": [], "ClientTokens": {}},
            },
        )


@serves("aws-sdk:sagemaker:createModelPackage", client_error=CLIENT_ERROR)
def create_model_package(services: LocalServices, params: dict, control: TaskControl | None = None) -> dict:
    """A new version of the group, or the one a repeated ``ClientToken`` created."""
    group = _group_of(params["ModelPackageGroupName"])
    spec = params["InferenceSpecification"]
    if not spec.get("Containers"):
        raise AwsError("ValidationException", "InferenceSpecification.Containers must name at least one container")
    status = params.get("ModelApprovalStatus", DEFAULT_STATUS)
    _check_status(status)
    _check_description("ModelPackageDescription", params.get("ModelPackageDescription", ""))
    metadata = params.get("CustomerMetadataProperties")
    if metadata is not None:
        _check_metadata(metadata)
    with _locked(services.records, group):
        record = _group_record(services.records, group, f"Model Package Group {group} does not exist.")
        token = params.get("ClientToken")
        known = record["Local"]["ClientTokens"].get(token) if token else None
        if known is not None:
            return {"ModelPackageArn": record["Local"]["Versions"][known - 1]["ModelPackageArn"]}
        version = len(record["Local"]["Versions"]) + 1
        created = now().isoformat()
        package = {
            "ModelPackageName": group,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": services.arn("sagemaker", f"model-package/{group.lower()}/{version}"),
            "ModelPackageDescription": params.get("ModelPackageDescription", ""),
            "CreationTime": created,
            "InferenceSpecification": spec,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
            "CertifyForMarketplace": False,
            "LastModifiedTime": created,
            **{
                field: params[field]
                for field in ("MetadataProperties", "ModelMetrics", "CustomerMetadataProperties")
                if field in params
            },
        }
        record["Local"]["Versions"].append(package)
        if token:
            record["Local"]["ClientTokens"][token] = version
        services.records.put(GROUPS, group, record)
    return {"ModelPackageArn": package["ModelPackageArn"]}


@serves("aws-sdk:sagemaker:listModelPackages", client_error=CLIENT_ERROR)
def list_model_packages(services: LocalServices, params: dict, control: TaskControl | None = None) -> dict:
    """The group's versions, filtered by approval status, sorted by ``CreationTime`` (the default) or name,
    ascending unless asked otherwise, at most ``MaxResults`` (100) a page."""
    if "ModelApprovalStatus" in params:
        _check_status(params["ModelApprovalStatus"])
    limit = int(params.get("MaxResults", LIST_MAX_RESULTS))
    if not 1 <= limit <= LIST_MAX_RESULTS:
        raise AwsError("ValidationException", f"MaxResults must be between 1 and {LIST_MAX_RESULTS}, got {limit}")
    versions = _versions(services.records, _group_of(params["ModelPackageGroupName"]))
    if "ModelApprovalStatus" in params:
        versions = [v for v in versions if v["ModelApprovalStatus"] == params["ModelApprovalStatus"]]
    by_name = params.get("SortBy") == "Name"
    versions.sort(
        key=lambda v: (
            (v["ModelPackageName"], v["ModelPackageVersion"])
            if by_name
            else (v["CreationTime"], v["ModelPackageVersion"])
        ),
        reverse=params.get("SortOrder") == "Descending",
    )
    start = int(params.get("NextToken") or 0)
    page = versions[start : start + limit]
    answer: dict = {"ModelPackageSummaryList": [{k: v[k] for k in SUMMARY_FIELDS if k in v} for v in page]}
    if start + limit < len(versions):
        answer["NextToken"] = str(start + limit)
    return answer


@serves("aws-sdk:sagemaker:describeModelPackage", client_error=CLIENT_ERROR)
def describe_model_package(services: LocalServices, params: dict, control: TaskControl | None = None) -> dict:
    """One version, by its ARN or ``<group>/<version>``."""
    group, version = _version_of(params["ModelPackageName"])
    return _version(services.records, group, version, params["ModelPackageName"])


@serves("aws-sdk:sagemaker:updateModelPackage", client_error=CLIENT_ERROR)
def update_model_package(services: LocalServices, params: dict, control: TaskControl | None = None) -> dict:
    """Change a version's approval status (with the reason as ``ApprovalDescription``) or its metadata."""
    arn = params["ModelPackageArn"]
    group, number = _version_of(arn)
    if "ModelApprovalStatus" in params:
        _check_status(params["ModelApprovalStatus"])
    _check_description("ApprovalDescription", params.get("ApprovalDescription", ""))
    with _locked(services.records, group):
        record = _group_record(services.records, group, f"Model package {arn} not found")
        versions = record["Local"]["Versions"]
        if not 1 <= number <= len(versions):
            raise AwsError("ValidationException", f"Model package {arn} not found")
        package = versions[number - 1]
        for field in ("ModelApprovalStatus", "ApprovalDescription"):
            if field in params:
                package[field] = params[field]
        if "CustomerMetadataProperties" in params:
            merged = {**package.get("CustomerMetadataProperties", {}), **params["CustomerMetadataProperties"]}
            _check_metadata(merged)
            package["CustomerMetadataProperties"] = merged
        package["LastModifiedTime"] = now().isoformat()
        services.records.put(GROUPS, group, record)
    return {"ModelPackageArn": package["ModelPackageArn"]}


def group_versions(records: Records, group: str) -> list[dict]:
    """Every version of ``group`` in version order (what ``mlops-pipeline models`` lists); none if it does not exist."""
    return _versions(records, group)


# -- the record ---------------------------------------------------------------------------------------


def _locked(records: Records, group: str):
    """One writer at a time for a group, across processes (a session and the CLI)."""
    return exclusively(records.root / GROUPS / f"{group}.lock")


def _group_record(records: Records, group: str, missing: str) -> dict:
    record = records.get(GROUPS, group)
    if record is None:
        raise AwsError("ValidationException", missing)
    return record


def _versions(records: Records, group: str) -> list[dict]:
    record = records.get(GROUPS, group)
    return [aws_shape(v) for v in record["Local"]["Versions"]] if record else []


def _version(records: Records, group: str, number: int, asked: str) -> dict:
    versions = _versions(records, group)
    if not 1 <= number <= len(versions):
        raise AwsError("ValidationException", f"Model package {asked} not found")
    return versions[number - 1]


def _group_of(name_or_arn: str) -> str:
    """A group's name, from its name or its ARN (``...:model-package-group/<name>``)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def _version_of(name_or_arn: str) -> tuple[str, int]:
    """(group, version) of ``arn:...:model-package/<group>/<n>`` or ``<group>/<n>``."""
    tail = name_or_arn.split(":model-package/", 1)[-1]
    group, _, number = tail.rpartition("/")
    if not group or not number.isdigit():
        raise AwsError("ValidationException", f"Model package {name_or_arn} not found")
    return group, int(number)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise AwsError(
            "ValidationException",
            f"Value '{status}' at 'modelApprovalStatus' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(STATUSES)}]",
        )


def _check_description(field: str, text: str) -> None:
    if len(text) > DESCRIPTION_MAX:
        raise AwsError("ValidationException", f"{field} is {len(text)} characters; at most {DESCRIPTION_MAX}")


def _check_metadata(metadata: dict) -> None:
    if not 1 <= len(metadata) <= METADATA_ENTRIES_MAX:
        raise AwsError(
            "ValidationException",
            f"CustomerMetadataProperties has {len(metadata)} entries; 1 to {METADATA_ENTRIES_MAX} are allowed",
        )
    for key, value in metadata.items():
        for what, text, limit in (("key", key, METADATA_KEY_MAX), ("value", value, METADATA_VALUE_MAX)):
            if not isinstance(text, str) or not 1 <= len(text) <= limit or not all(map(_metadata_char, text)):
                raise AwsError(
                    "ValidationException",
                    f"CustomerMetadataProperties {what} '{text}' of '{key}' must be 1 to {limit} letters, digits, "
                    "spaces or _.:/=+-@",
                )


def _metadata_char(char: str) -> bool:
    """``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``: a letter, separator or number, or one of those marks."""
    return char in METADATA_PUNCTUATION or unicodedata.category(char)[0] in "LZN"


@dataclass(frozen=True)
class RegistryServices:
    """What the registry calls use of a session's services (its records and ARNs), for a workspace without a
    session (``mlops-pipeline models``)."""

    records: Records
    account_id: str = LOCAL_ACCOUNT_ID
    region: str = LOCAL_REGION

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


class LocalRegistryClient:
    """The workspace's registry behind boto3's method names, so ``model_registry`` serves both."""

    def __init__(self, workspace_root: Path):
        self.services = RegistryServices(Records.of_workspace(workspace_root))

    def list_model_packages(self, **params: Any) -> dict:
        return list_model_packages(self.services, params)  # type: ignore[arg-type]

    def describe_model_package(self, **params: Any) -> dict:
        return describe_model_package(self.services, params)  # type: ignore[arg-type]

    def update_model_package(self, **params: Any) -> dict:
        return update_model_package(self.services, params)  # type: ignore[arg-type]
