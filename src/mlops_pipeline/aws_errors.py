"""The error names Step Functions reports for AWS API errors, and the ones worth retrying.

A Task that calls an AWS API fails with ``<Prefix>.<ExceptionName>``, and Retry/Catch match that string
exactly, so a name no call can raise is a retrier that never fires. The rule, by integration:

- ``aws-sdk:<service>:<api>``: "the service name and the error name, separated by a period character
  (``ServiceName.ErrorName``), both in Pascal case" (Step Functions developer guide, "Using AWS SDK
  service integrations", with its table of exception prefixes: ``S3``, ``SageMaker``, ``Glue``, ``Sfn``,
  ``Lambda``, ``Sns``). The error name is the AWS SDK for Java v2 exception class of the operation's
  modelled error (a shape name without ``Exception`` gets it appended: ``S3.NoSuchKeyException``,
  recorded against AWS); an error the service's model does not declare is the service's base class
  (``S3.S3Exception``, ``SageMaker.SageMakerException``; recorded for DynamoDb and SecretsManager).
- Optimised integrations (``sagemaker:createModel``, ``glue:startJobRun.sync``...): the AWS SDK for
  Java v1 classes: ``SageMaker.ResourceLimitExceededException`` and, for anything not modelled (such
  as throttling), ``SageMaker.AmazonSageMakerException`` (both retried by AWS's own example in the
  developer guide, "Create and manage Amazon SageMaker AI jobs with Step Functions");
  ``Glue.AWSGlueException``, ``Lambda.AWSLambdaException`` ("Handle transient Lambda service
  exceptions"), ``SNS.AmazonSNSException``, ``StepFunctions.AWSStepFunctionsException``.
- A ``.sync`` job that ends unsuccessfully is ``States.TaskFailed`` with the job's Describe* answer as
  its cause (see ``local/tasks.py``).

Which errors a service declares comes from botocore's service models, read when a name is asked for
(never at import). The causes follow what Step Functions records: ``<message> (Service: S3,
Status Code: 404, Request ID: <id>)`` for ``aws-sdk`` calls and ``<message> (Service: AmazonSageMaker;
Status Code: 400; Error Code: <code>; Request ID: <id>; Proxy: null)`` for optimised ones.
"""

from __future__ import annotations

import functools
import uuid

#: aws-sdk integrations: the resource's service -> (botocore service name, exception prefix).
SDK_SERVICES = {
    "s3": ("s3", "S3"),
    "sagemaker": ("sagemaker", "SageMaker"),
    "glue": ("glue", "Glue"),
    "sfn": ("stepfunctions", "Sfn"),
    "lambda": ("lambda", "Lambda"),
    "sns": ("sns", "Sns"),
    "sagemakerruntime": ("sagemaker-runtime", "SageMakerRuntime"),
    "dynamodb": ("dynamodb", "DynamoDb"),
    "secretsmanager": ("secretsmanager", "SecretsManager"),
}

#: Optimised integrations: service -> (botocore service name, prefix, base exception, the name in causes).
OPTIMISED_SERVICES = {
    "sagemaker": ("sagemaker", "SageMaker", "AmazonSageMakerException", "AmazonSageMaker"),
    "glue": ("glue", "Glue", "AWSGlueException", "AWSGlue"),
    "lambda": ("lambda", "Lambda", "AWSLambdaException", "AWSLambda"),
    "sns": ("sns", "SNS", "AmazonSNSException", "AmazonSNS"),
    "states": ("stepfunctions", "StepFunctions", "AWSStepFunctionsException", "AWSStepFunctions"),
    "dynamodb": ("dynamodb", "DynamoDB", "AmazonDynamoDBException", "AmazonDynamoDBv2"),
}

# -- the transient errors the workflows retry (each is a name ``raisable`` traces to its integration) --

#: ``glue:startJobRun.sync``: the StartJobRun errors that pass (concurrency, limits, Glue's own faults),
#: throttling (Glue's model declares ``ThrottlingException``) and Glue's base class for the unmodelled.
GLUE_JOB_TRANSIENT_ERRORS = (
    "Glue.ConcurrentRunsExceededException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
    "Glue.ResourceNumberLimitExceededException",
    "Glue.ThrottlingException",
    "Glue.AWSGlueException",
)
#: ``aws-sdk:glue:startCrawler``: its modelled timeout, throttling and the base class.
GLUE_SDK_TRANSIENT_ERRORS = ("Glue.OperationTimeoutException", "Glue.ThrottlingException", "Glue.GlueException")
#: Optimised SageMaker calls: as AWS's example retries them (throttling, then capacity).
SAGEMAKER_JOB_TRANSIENT_ERRORS = ("SageMaker.AmazonSageMakerException", "SageMaker.ResourceLimitExceededException")
#: ``aws-sdk:sagemaker:describe*``: throttling is not modelled, so it is the base class.
SAGEMAKER_SDK_TRANSIENT_ERRORS = ("SageMaker.SageMakerException",)
#: ``aws-sdk:s3:*``: SlowDown, InternalError and ServiceUnavailable are not modelled.
S3_TRANSIENT_ERRORS = ("S3.S3Exception",)
#: ``aws-sdk:sfn:*``: throttling is not modelled.
SFN_TRANSIENT_ERRORS = ("Sfn.SfnException",)

#: HTTP status of the unmodelled errors the local runtime raises (botocore's retry tables list these codes).
_STATUS = {"ThrottlingException": 400, "ValidationException": 400, "SlowDown": 503, "InternalError": 500}


class AwsError(Exception):
    """What an AWS API answers: its wire error code (``ResourceInUse``, ``NoSuchKey``) and message."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def integration_of(resource: str) -> tuple[str, str]:
    """``aws-sdk:s3:getObject`` -> (``aws-sdk``, ``s3``); ``glue:startJobRun.sync`` -> (``optimised``, ``glue``)."""
    parts = resource.split(":")
    return ("aws-sdk", parts[1]) if parts[0] == "aws-sdk" else ("optimised", parts[0])


@functools.lru_cache(maxsize=None)
def _declared(botocore_service: str) -> dict[str, tuple[str, int | None]]:
    """wire code -> (shape name, HTTP status) of the errors the service's model declares. Service-wide, as
    the SDKs unmarshal them: S3's CopyObject declares no NoSuchKey, yet a missing source raises it."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(botocore_service)
    declared = {}
    for shape in model.error_shapes:
        error = shape.metadata.get("error", {})
        declared[error.get("code", shape.name)] = (shape.name, error.get("httpStatusCode"))
    return declared


def _class_name(shape: str) -> str:
    """The SDK's exception class for an error shape (``ResourceInUse`` -> ``ResourceInUseException``)."""
    if shape.endswith("Fault"):
        return shape[: -len("Fault")] + "Exception"
    return shape if shape.endswith("Exception") else shape + "Exception"


def _names(resource: str) -> tuple[str, str, str, str]:
    """(botocore service, prefix, base class, the service as causes name it) of a Task resource."""
    kind, service = integration_of(resource)
    if kind == "aws-sdk":
        botocore_service, prefix = SDK_SERVICES[service]
        return botocore_service, prefix, f"{prefix}Exception", prefix
    return OPTIMISED_SERVICES[service]


def step_functions_error(resource: str, code: str) -> str:
    """The Error a Task on ``resource`` reports when its API answers ``code``."""
    botocore_service, prefix, base, _ = _names(resource)
    declared = _declared(botocore_service)
    return f"{prefix}.{_class_name(declared[code][0])}" if code in declared else f"{prefix}.{base}"


def raisable(resource: str) -> set[str]:
    """Every API error name a Task on ``resource`` can report (besides the ``States.*`` errors)."""
    botocore_service, prefix, base, _ = _names(resource)
    declared = _declared(botocore_service)
    return {f"{prefix}.{_class_name(shape)}" for shape, _ in declared.values()} | {f"{prefix}.{base}"}


#: Error codes services answer outside their models (S3 throttles with SlowDown, others with
#: ThrottlingException), tried in order to raise a base class on purpose.
_UNMODELLED = ("SlowDown", "ThrottlingException", "ValidationException", "InternalFailure")


def code_for(resource: str, error: str) -> str:
    """An API error code that a Task on ``resource`` reports as ``error`` (a code is returned as it is);
    KeyError when no call of that resource can report it."""
    if "." not in error:
        return error
    botocore_service, prefix, base, _ = _names(resource)
    declared = _declared(botocore_service)
    if error == f"{prefix}.{base}":
        candidates = _UNMODELLED if botocore_service == "s3" else _UNMODELLED[1:]
        return next(code for code in candidates if code not in declared)
    for code, (shape, _) in declared.items():
        if error == f"{prefix}.{_class_name(shape)}":
            return code
    raise KeyError(error)


def step_functions_cause(resource: str, error: AwsError) -> str:
    """The Cause Step Functions records for ``error``, in the integration's format."""
    kind, _ = integration_of(resource)
    botocore_service, _, _, service = _names(resource)
    declared = _declared(botocore_service)
    status = error.status or declared.get(error.code, (None, None))[1] or _STATUS.get(error.code, 400)
    request = str(uuid.uuid4())
    if kind == "aws-sdk":
        return f"{error.message} (Service: {service}, Status Code: {status}, Request ID: {request})"
    return (
        f"{error.message} (Service: {service}; Status Code: {status}; Error Code: {error.code}; "
        f"Request ID: {request}; Proxy: null)"
    )


def aws_error_code(error: Exception) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``NoSuchKey``, ``StateMachineDoesNotExist``...), else None."""
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code")


def aws_error_summary(error: Exception) -> str:
    """``Code: message`` on one line; an answer that is a web page (a proxy's or an emulator's) is
    summarised by its HTTP status instead of being printed."""
    response = getattr(error, "response", None) or {}
    message = " ".join(str(response.get("Error", {}).get("Message") or "").split())
    if message.startswith("<") or not message:
        message = f"HTTP {response.get('ResponseMetadata', {}).get('HTTPStatusCode', '?')}"
    return f"{aws_error_code(error)}: {message[:300]}"
