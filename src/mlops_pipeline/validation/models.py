"""Which AWS API a Task resource calls, read from botocore's service models (no network, no credentials).

- ``aws-sdk:<service>:<api>``: the service's model (``sfn`` is ``stepfunctions``, see
  ``aws_errors.SDK_SERVICES``); "The API action will always be camel case, and parameter names will be
  Pascal case" (developer guide, "AWS SDK service integrations"), for requests and results alike.
- Optimised SageMaker and Glue integrations take the model's own member names. A ``.sync`` job's result
  is what its Describe call answers (``createTransformJob.sync`` -> DescribeTransformJob), Glue's
  ``startJobRun.sync`` the ``JobRun`` of GetJobRun; request-response Glue adds ``JobName`` ("Manage AWS
  Glue Jobs with Step Functions").
- Other optimised integrations (Lambda, SNS, ...) are not modelled here: their parameters and results
  differ from the service APIs.

botocore is imported when the first model is read, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_pipeline.aws_errors import SDK_SERVICES
from mlops_pipeline.validation import shapes

#: Optimised ``.sync`` SageMaker job APIs -> the Describe call whose answer is the state's result.
SAGEMAKER_SYNC_RESULTS = {
    "CreateTrainingJob": "DescribeTrainingJob",
    "CreateTransformJob": "DescribeTransformJob",
    "CreateHyperParameterTuningJob": "DescribeHyperParameterTuningJob",
    "CreateProcessingJob": "DescribeProcessingJob",
    "CreateLabelingJob": "DescribeLabelingJob",
}
#: Optimised integrations whose parameters are the model's request members: service -> botocore service.
OPTIMISED_MODELLED = {"sagemaker": "sagemaker", "glue": "glue"}


@dataclass(frozen=True)
class Binding:
    """A Task resource bound to its API: where its parameters and its result come from."""

    resource: str  # the integration key, e.g. sagemaker:createTransformJob.sync
    service: str  # botocore service name
    operation: str  # e.g. CreateTransformJob
    pascal: bool  # aws-sdk: members in PascalCase
    input: object  # botocore shape of the request
    result: shapes.Shape  # what the state's result looks like
    label: str  # the API, e.g. "SageMaker CreateTransformJob"
    result_label: str  # where the result comes from, e.g. "... (its DescribeTransformJob answer)"


class UnknownApi(LookupError):
    """The resource names an API its service's model does not have."""


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


class ServiceModels:
    """botocore's models, loaded once per validation (not kept between runs)."""

    def __init__(self):
        self._session = None
        self._models: dict[str, object] = {}

    def model(self, service: str):
        if service not in self._models:
            if self._session is None:
                import botocore.session

                self._session = botocore.session.get_session()
            self._models[service] = self._session.get_service_model(service)
        return self._models[service]

    def bind(self, resource: str) -> Binding | None:
        """The API behind an integration key; None when it is not one validation models; UnknownApi when the
        service has no such API."""
        parts = resource.split(":")
        if parts[0] == "aws-sdk" and len(parts) == 3:
            service = SDK_SERVICES.get(parts[1], (parts[1], ""))[0]
            api = parts[2].split(".")[0]
            return self._binding(resource, service, pascal(api), None, pascal_members=True)
        if len(parts) == 2 and parts[0] in OPTIMISED_MODELLED:
            service = OPTIMISED_MODELLED[parts[0]]
            api, _, pattern = parts[1].partition(".")
            return self._binding(resource, service, pascal(api), pattern, pascal_members=False)
        return None

    def _binding(self, resource: str, service: str, operation: str, pattern: str | None, pascal_members: bool):
        from botocore.exceptions import UnknownServiceError
        from botocore.model import OperationNotFoundError

        try:
            model = self.model(service)
        except UnknownServiceError:
            return None
        if operation not in model.operation_names:
            raise UnknownApi(f"{model.metadata.get('serviceId', service)} has no API {operation}")
        request = model.operation_model(operation)
        label = f"{model.metadata.get('serviceId', service)} {operation}"
        try:
            result, result_label = self._result(model, request, service, operation, pattern, pascal_members)
        except OperationNotFoundError:
            result, result_label = shapes.UNKNOWN, label
        return Binding(resource, service, operation, pascal_members, request.input_shape, result, label, result_label)

    def _result(self, model, request, service: str, operation: str, pattern: str | None, pascal_members: bool):
        label = f"{model.metadata.get('serviceId', service)} {operation}"
        if service == "sagemaker" and pattern == "sync" and operation in SAGEMAKER_SYNC_RESULTS:
            describe = SAGEMAKER_SYNC_RESULTS[operation]
            return convert(model.operation_model(describe).output_shape, False), f"{label} (its {describe} answer)"
        if service == "glue" and operation == "StartJobRun" and not pascal_members:
            if pattern == "sync":
                run = model.operation_model("GetJobRun").output_shape.members["JobRun"]
                return convert(run, False), f"{label} (its GetJobRun JobRun)"
            output = convert(request.output_shape, False)
            return shapes.Obj({**output.fields, "JobName": shapes.Field(shapes.STRING)}), label
        return convert(request.output_shape, pascal_members), label


def convert(shape, pascal_members: bool, depth: int = 0) -> shapes.Shape:
    """A botocore output shape as a data shape (members absent from ``required`` may be missing)."""
    if shape is None:
        return shapes.EMPTY
    if depth > 10:
        return shapes.UNKNOWN
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        fields = {}
        for name, member in shape.members.items():
            key = pascal(name) if pascal_members else name
            always = name in required
            fields[key] = shapes.Field(convert(member, pascal_members, depth + 1), always)
        return shapes.Obj(fields)
    if kind == "list":
        return shapes.ListOf(convert(shape.member, pascal_members, depth + 1))
    if kind == "map":
        return shapes.MapOf(convert(shape.value, pascal_members, depth + 1))
    if kind in ("integer", "long"):
        return shapes.INTEGER
    if kind in ("float", "double"):
        return shapes.Scalar("number")
    if kind == "boolean":
        return shapes.Scalar("boolean")
    if kind == "timestamp":
        return shapes.Scalar("timestamp")
    return shapes.STRING  # string, and blobs (GetObject's Body) as Step Functions returns them
