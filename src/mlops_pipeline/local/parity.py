"""What AWS Step Functions shows where moto's interpreter differs: timestamps, Lambda answers, JSONata error
locations and definition limits, as pure functions beside their sources.

The engine adapter (``engine.py``) calls these from its seams; nothing here imports moto. Sources named
``LS:<path>`` are LocalStack's snapshots recorded against AWS (``tests/aws/services/stepfunctions/<path>``,
``@markers.aws.validated``, date of recording given); ``awslambdaric`` is AWS's Python runtime interface
client (github.com/aws/aws-lambda-python-runtime-interface-client), the code that runs a handler on Lambda.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

from mlops_pipeline.validation.asl import all_states, top_machine

# ---------------------------------------------------------------------------------------------- timestamps


def aws_timestamp(moment: datetime.datetime) -> str:
    """``$$.Execution.StartTime`` and ``$$.State.EnteredTime`` as AWS writes them: ISO 8601 in UTC to the
    millisecond with ``Z`` ("2019-03-26T20:14:13.192Z", AWS docs "Accessing execution data from the Context
    object"). A whole second has no fraction ("2025-02-03T04:05:06Z"): AWS Support, quoted in
    zenn.dev/hr0k/articles/a663524f5ec88e, as Java's ``Instant`` prints it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    utc = moment.astimezone(datetime.timezone.utc)
    millis = utc.microsecond // 1000
    whole = utc.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{millis:03d}Z" if millis else f"{whole}Z"


# ---------------------------------------------------------------------------------------------- Lambda

#: ``ExecutedVersion`` of an unqualified invocation (AWS docs "Invoke an AWS Lambda function with Step
#: Functions", result example; LS:v2/services/test_lambda_task_service.snapshot.json ``test_invoke``).
LATEST = "$LATEST"


class LambdaError(Exception):
    """A function error as the Python runtime reports it (awslambdaric ``bootstrap.make_error``)."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.stack_trace = list(stack_trace or [])

    def document(self, request_id: str) -> str:
        """The ``Cause`` Step Functions records: the runtime's JSON, Python's ``", "``/``": "`` separators and
        this key order (LS:v2/error_handling/test_task_service_lambda.snapshot.json ``test_raise_exception``,
        28-11-2024; awslambdaric ``bootstrap.make_error``)."""
        return json.dumps(
            {
                "errorMessage": self.message,
                "errorType": self.error_type,
                "requestId": request_id,
                "stackTrace": self.stack_trace,
            }
        )


def handler_error(error: BaseException) -> LambdaError:
    """An exception a handler raised: its class name, message and the frames from the handler down
    (awslambdaric ``bootstrap.handle_event_request`` drops the runtime's own frames)."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # the first frame is the caller's
    return LambdaError(type(error).__name__, str(error), traceback.format_list(frames))


def marshal(result: Any) -> bytes:
    """The bytes the Python runtime sends for a handler's return value: ``bytes`` unchanged, anything else
    as JSON (not ASCII-escaped, as in the python3.12 runtime), else ``Runtime.MarshalError``
    (awslambdaric ``lambda_runtime_marshaller.marshal_response``)."""
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise LambdaError("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


def payload_value(raw: bytes) -> Any:
    """``Payload`` as Step Functions passes it on: the function's JSON parsed ("HelloWorld", 0.0, {}, null...:
    LS:v2/services/test_lambda_task_service.snapshot.json ``test_invoke_json_values``, ``test_invoke_bytes_payload``,
    06-11-2025). Bytes that are not JSON: not found recorded; they pass as text, never as a Python repr."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def invoke_response(raw: bytes, request_id: str, now: datetime.datetime) -> dict:
    """The optimised ``lambda:invoke`` result: the payload inside the SDK's response metadata (AWS docs "Invoke
    an AWS Lambda function with Step Functions"; LS:v2/services/test_lambda_task_service.snapshot.json
    ``test_invoke``, 06-11-2025, whose ``AllHttpHeaders`` order is kept)."""
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(len(raw)),
        "Content-Type": "application/json",
        "Date": email.utils.format_datetime(now.astimezone(datetime.timezone.utc), usegmt=True),
        "X-Amz-Executed-Version": LATEST,
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        # The form of the docs' example "root=1-1a1a000a2a2-fe0101aa10ab;sampled=0".
        "X-Amzn-Trace-Id": f"root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]};sampled=0",
    }
    order = [
        "X-Amz-Executed-Version",
        "x-amzn-Remapped-Content-Length",
        "Connection",
        "x-amzn-RequestId",
        "Content-Length",
        "Date",
        "X-Amzn-Trace-Id",
        "Content-Type",
    ]
    return {
        "ExecutedVersion": LATEST,
        "Payload": payload_value(raw),
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [headers[name]] for name in order},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


@dataclass(frozen=True)
class FunctionName:
    """A ``FunctionName`` (name, ``name:qualifier``, partial or full ARN) taken apart."""

    name: str
    qualifier: str | None
    region: str | None
    account: str | None

    @classmethod
    def parse(cls, text: str, qualifier: str | None = None) -> "FunctionName":
        head, _, tail = text.rpartition(":function:")
        name, _, own_qualifier = (tail or text).partition(":")
        parts = head.split(":")
        region, account = (parts[3], parts[4]) if len(parts) >= 5 else (None, parts[-1] if head else None)
        return cls(name, qualifier or own_qualifier or None, region or None, account or None)

    def not_found(self, region: str, account: str) -> str:
        """Lambda's message for a function that does not exist (LS:v2/error_handling/
        test_task_service_lambda.snapshot.json ``test_no_such_function``, 25-11-2025)."""
        arn = f"arn:aws:lambda:{self.region or region}:{self.account or account}:function:{self.name}"
        return f"Function not found: {arn}:{self.qualifier or LATEST}"


# ---------------------------------------------------------------------------------------------- JSONata


def find_state(definition: dict, name: str) -> dict | None:
    """A state by name anywhere in a definition (names are unique in a state machine)."""
    return next((state for found, state, _ in all_states(top_machine(definition)) if found == name), None)


def expression_location(state: dict, expression: str, nearest_field: str | None) -> str | None:
    """The field a JSONata expression is written in, as AWS names it in ``States.QueryEvaluationError`` causes:
    "Output", "Output/result", "Arguments/FunctionName", "Assign/result", "Items"
    (LS:v2/assign/test_assign_reference_variables.snapshot.json, 21-11-2024;
    LS:v2/intrinsic_functions/test_math_operations_jsonata.snapshot.json, 15-11-2024). Where the same
    expression is written twice, the one under ``nearest_field`` (the key being evaluated) is meant."""
    paths = [path for path, text in _strings(state, "") if _is_expression(text, expression)]
    named = [path for path in paths if path.rsplit("/", 1)[-1] == nearest_field]
    return (named or paths or [nearest_field])[0]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}/{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}" if path else str(index))


def _is_expression(text: str, expression: str) -> bool:
    """``{% expression %}``; the interpreter evaluates the body without its surrounding spaces."""
    return text.startswith("{%") and text.endswith("%}") and text[2:-2].strip() == expression


# ---------------------------------------------------------------------------------------------- definitions

#: The largest Wait ``Seconds`` AWS accepts. CreateStateMachine (through CloudFormation) answered "Invalid State
#: Machine Definition: 'SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/Wait/Seconds'"
#: (github.com/aws-cloudformation/cfn-lint/issues/4075, 2025-04).
WAIT_SECONDS_MAX = 99999999


def definition_errors(definition: dict, at: str = "") -> list[str]:
    """The schema errors AWS reports for a definition the ASL grammar accepts (Wait ``Seconds`` beyond
    ``WAIT_SECONDS_MAX``), each ending in the JSON pointer of the field, nested states included."""
    errors: list[str] = []
    for name, state in definition.get("States", {}).items():
        where = f"{at}/States/{name}"
        seconds = state.get("Seconds")
        if state.get("Type") == "Wait" and _is_number(seconds) and seconds > WAIT_SECONDS_MAX:
            errors.append(f"SCHEMA_VALIDATION_FAILED: Maximum value is {WAIT_SECONDS_MAX} at {where}/Seconds")
        for index, branch in enumerate(state.get("Branches", [])):
            errors.extend(definition_errors(branch, f"{where}/Branches/{index}"))
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                errors.extend(definition_errors(state[key], f"{where}/{key}"))
    return errors


def invalid_definition_message(errors: list[str]) -> str:
    """The ``InvalidDefinition`` message: every error inside one quoted list (an AWS CLI answer quoted in
    github.com/localstack/localstack/pull/12487: "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET:
    ... at /States/pass1/Next, MISSING_TRANSITION_TARGET: ... at /States/pass2'")."""
    return f"Invalid State Machine Definition: '{', '.join(errors)}'"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
