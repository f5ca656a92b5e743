"""``sagemaker:createModel`` and ``describeModel``: a model is a record naming an image and its artifact."""

from __future__ import annotations

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import RecordKind, now
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TaskControl

MODELS = RecordKind(
    folder="models",
    name_field="ModelName",
    not_found_code="ValidationException",
    not_found_message='Could not find model "{name}".',
    in_use_code="ValidationException",
)
CLIENT_ERROR = "ValidationException"


@serves("sagemaker:createModel", client_error=CLIENT_ERROR)
def create_model(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """Checked as SageMaker does at creation: the image must be known and the artifact must exist."""
    name = params["ModelName"]
    container = params.get("PrimaryContainer") or {}
    services.containers.prepare(container.get("Image", ""))
    artifact = container.get("ModelDataUrl")
    if artifact and not services.workspace.path_of(artifact).is_file():
        raise AwsError("ValidationException", f"model {name}: ModelDataUrl {artifact} does not exist")
    arn = services.arn("sagemaker", f"model/{name}")
    record = {
        "ModelName": name,
        "ModelArn": arn,
        "PrimaryContainer": container,
        "ExecutionRoleArn": params.get("ExecutionRoleArn"),
        "CreationTime": now().isoformat(),
    }
    MODELS.claim(services, record)
    return {"ModelArn": arn}


@serves("aws-sdk:sagemaker:describeModel", client_error=CLIENT_ERROR)
def describe_model(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return MODELS.describe(services, params["ModelName"])
