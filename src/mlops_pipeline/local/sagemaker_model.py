"""``sagemaker:createModel`` and ``describeModel``: a model is a record naming an image and its artifact."""

from __future__ import annotations

from mlops_pipeline.local.services import LocalServices, describe, now
from mlops_pipeline.local.tasks import TaskControl, TaskFailure

KIND = "models"


def create_model(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """Checked as SageMaker does at creation: the image must be known and the artifact must exist."""
    name = params["ModelName"]
    container = params.get("PrimaryContainer") or {}
    services.program_dir(container.get("Image", ""))
    artifact = container.get("ModelDataUrl")
    if artifact and not services.workspace.path_of(artifact).is_file():
        raise TaskFailure("SageMaker.ValidationException", f"model {name}: ModelDataUrl {artifact} does not exist")
    arn = services.arn("sagemaker", f"model/{name}")
    record = {"ModelName": name, "ModelArn": arn, "PrimaryContainer": container,
              "ExecutionRoleArn": params.get("ExecutionRoleArn"), "CreationTime": now().isoformat()}
    services.records.create(KIND, name, record, "SageMaker.ValidationException")
    return {"ModelArn": arn}


def describe_model(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name = params["ModelName"]
    return describe(services, KIND, name, "SageMaker.ValidationException", f"Could not find model \"{name}\".")
