"""Parity with AWS Step Functions: each test runs an example from the AWS documentation page its docstring
names and asserts what AWS documents. Where a page shows no output, the docstring names what AWS recorded
instead (``LS:<path>``: LocalStack snapshots recorded against AWS, tests/aws/services/stepfunctions/<path>)."""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local import parity
from mlops_pipeline.local.engine import Engine

ROLE = "arn:aws:iam::123456789012:role/states"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
#: "2019-03-26T20:14:13.192Z" (the Context object page); a whole second has no fraction (parity.aws_timestamp).
AWS_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"


class CustomError(Exception):
    """The tutorial's function error, named by its class."""


def fail_function(event):
    raise CustomError("This is a custom error!")


def raise_exception(event):
    raise Exception("Some exception was raised.")


HANDLERS = {
    "echo": lambda event: event,
    "price": lambda event: {"current_price": 9.5},
    "order": lambda event: {"order": {"items": [{"sku": "A-1"}, {"sku": "B-2"}]}, "result": {"code": 200}},
    "FailFunction": fail_function,
    "raise_exception": raise_exception,
    "bytes_json": lambda event: b'"HelloWorld!"',
    "bytes_text": lambda event: b"not json",
    "json_value": lambda event: event["value"],
}


@pytest.fixture(scope="module")
def engine():
    with Engine(lambda *a: None, [], HANDLERS) as running:
        yield running


@dataclass
class Outcome:
    describe: dict
    history: list[dict]

    @property
    def output(self):
        return json.loads(self.describe["output"])

    def entered(self) -> list[str]:
        """The names of the states entered, in order."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.history if e["type"] == kind]


def lambda_task(function: str, state: str = "Start", **fields) -> dict:
    """A definition of one ``lambda:invoke`` Task passing the execution input as the payload."""
    task = {"Type": "Task", "Resource": LAMBDA_INVOKE, "Parameters": {"FunctionName": function, "Payload.$": "$"}}
    return {"StartAt": state, "States": {state: {**task, **fields, "End": True}}}


def run(engine: Engine, definition: dict, payload) -> Outcome:
    name = f"e-{uuid.uuid4().hex[:12]}"
    arn = engine.create_state_machine(f"sm-{name}", json.dumps(definition), ROLE)
    execution = engine.start_execution(arn, name, payload)
    deadline = time.monotonic() + 30
    while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.02)
    return Outcome(engine.describe(execution), engine.history(execution))


# ---------------------------------------------------------------------------------------------- JSONata


def test_jsonata_input_and_output(engine):
    """AWS docs "Transforming data with JSONata in Step Functions", Example: Input and Output."""
    definition = {
        "Comment": "Input and Output example using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "Basic Input and Output",
        "States": {
            "Basic Input and Output": {
                "QueryLanguage": "JSONata",
                "Type": "Succeed",
                "Output": {
                    "lastName": "{% 'Last=>' & $states.input.customer.lastName %}",
                    "orderValue": "{% $states.input.order.total %}",
                },
            }
        },
    }
    payload = {"customer": {"firstName": "Martha", "lastName": "Rivera"}, "order": {"items": 7, "total": 27.91}}
    assert run(engine, definition, payload).output == {"lastName": "Last=>Rivera", "orderValue": 27.91}


def test_jsonata_filtering(engine):
    """AWS docs "Transforming data with JSONata in Step Functions", Example: Filtering with JSONata."""
    definition = {
        "Comment": "Filter products using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "FilterDietProducts",
        "States": {
            "FilterDietProducts": {
                "Type": "Pass",
                "Output": {"dietProducts": "{% $states.input.products[calories=0] %}"},
                "End": True,
            }
        },
    }
    products = [
        {"calories": 140, "flavour": "Cola", "name": "Product-1"},
        {"calories": 0, "flavour": "Cola", "name": "Product-2"},
        {"calories": 160, "flavour": "Orange", "name": "Product-3"},
        {"calories": 100, "flavour": "Orange", "name": "Product-4"},
        {"calories": 0, "flavour": "Lime", "name": "Product-5"},
    ]
    assert run(engine, definition, {"products": products}).output == {
        "dietProducts": [
            {"calories": 0, "flavour": "Cola", "name": "Product-2"},
            {"calories": 0, "flavour": "Lime", "name": "Product-5"},
        ]
    }


def test_jsonata_arguments_and_the_jsonpath_parameters_they_replace(engine):
    """AWS docs "Transforming data with JSONata in Step Functions": the JSONPath ``Parameters`` sample and its JSONata
    ``Arguments`` conversion, given input {"title": "Doctor"} and ``customerName`` "María", "both produce" the
    same result (here each Task sends it to a function that returns its event)."""
    definition = {
        "StartAt": "Store customer",
        "States": {
            "Store customer": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "Original sample"},
            "Original sample": {
                "QueryLanguage": "JSONPath",
                "Type": "Task",
                "Resource": function_arn("echo"),
                "Parameters": {
                    "static": "Hello",
                    "title.$": "$.title",
                    "name.$": "$customerName",
                    "not-evaluated": "$customerName",
                },
                "ResultPath": "$.fromJsonPath",
                "Next": "Sample after conversion",
            },
            "Sample after conversion": {
                "QueryLanguage": "JSONata",
                "Type": "Task",
                "Resource": function_arn("echo"),
                "Arguments": {
                    "static": "Hello",
                    "title": "{% $states.input.title %}",
                    "name": "{% $customerName %}",
                    "not-evaluated": "$customerName",
                },
                "Output": {"jsonpath": "{% $states.input.fromJsonPath %}", "jsonata": "{% $states.result %}"},
                "End": True,
            },
        },
    }
    documented = {"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"}
    assert run(engine, definition, {"title": "Doctor"}).output == {"jsonpath": documented, "jsonata": documented}


def price_watch(desired_price: float) -> dict:
    """The price-watch states of the two pages: "Store inputs" and the Task assigning from its result
    ("Passing data between states with variables"), then "Check Price" ("Transforming data with JSONata",
    Choice state after JSONata conversion)."""
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Store inputs",
        "States": {
            "Store inputs": {
                "Type": "Pass",
                "Assign": {
                    "desiredPrice": "{% $states.input.desired_price %}",
                    "maximumWait": "{% $states.input.max_days %}",
                },
                "Next": "Get Current Price",
            },
            "Get Current Price": {
                "Type": "Task",
                "Resource": LAMBDA_INVOKE,
                "Arguments": {"FunctionName": "price", "Payload": {"product": "{% $states.input.order.product %}"}},
                "Assign": {
                    "product": "{% $states.input.order.product %}",
                    "currentPrice": "{% $states.result.Payload.current_price %}",
                    "current_price": "{% $states.result.Payload.current_price %}",
                },
                "Output": "{% $states.input %}",
                "Next": "Check Price",
            },
            "Check Price": {
                "Type": "Choice",
                "Default": "Pause",
                "Choices": [
                    {"Condition": "{% $current_price <= $states.input.desired_price %}", "Next": "Send Notification"}
                ],
            },
            "Send Notification": {
                "Type": "Pass",
                "Output": {
                    "product": "{% $product %}",
                    "currentPrice": "{% $currentPrice %}",
                    "desiredPrice": "{% $desiredPrice %}",
                    "maximumWait": "{% $maximumWait %}",
                },
                "End": True,
            },
            "Pause": {"Type": "Succeed", "Output": {"waitedFor": "{% $product %}"}},
        },
    }


def test_task_result_assigned_to_variables(engine):
    """AWS docs "Passing data between states with variables": "Store inputs" assigns from ``$states.input``, the Task
    assigns ``product`` from its input and ``currentPrice`` from ``$states.result.Payload.current_price``."""
    payload = {"desired_price": 10, "max_days": 3, "order": {"product": "p-1"}}
    outcome = run(engine, price_watch(10), payload)
    assert outcome.output == {"product": "p-1", "currentPrice": 9.5, "desiredPrice": 10, "maximumWait": 3}


@pytest.mark.parametrize("desired_price, branch", [(10, "Send Notification"), (9, "Pause")])
def test_choice_condition(engine, desired_price, branch):
    """AWS docs "Transforming data with JSONata in Step Functions", Choice state: ``Condition`` compares a variable with
    ``$states.input``; true takes the rule's ``Next``, otherwise ``Default``."""
    payload = {"desired_price": desired_price, "max_days": 3, "order": {"product": "p-1"}}
    outcome = run(engine, price_watch(desired_price), payload)
    assert outcome.entered() == ["Store inputs", "Get Current Price", "Check Price", branch]


def test_map_items_with_an_expression_element(engine):
    """AWS docs "Transforming data with JSONata in Step Functions", Writing JSONata expressions: ``"Items": [1,
    "{% $two %}", 3]`` in a Map state."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Two",
        "States": {
            "Two": {"Type": "Pass", "Assign": {"two": 2}, "Next": "Map"},
            "Map": {
                "Type": "Map",
                "Items": [1, "{% $two %}", 3],
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Square",
                    "States": {
                        "Square": {"Type": "Pass", "Output": "{% $states.input * $states.input %}", "End": True}
                    },
                },
                "End": True,
            },
        },
    }
    assert run(engine, definition, {}).output == [1, 4, 9]


def test_an_undefined_result_is_a_query_evaluation_error(engine):
    """AWS docs "Transforming data with JSONata in Step Functions", Handling expression errors: ``{%
    $data.thisFieldDoesNotExist %}`` fails with ``States.QueryEvaluationError``. Cause and event as AWS
    recorded them (LS:v2/assign/test_assign_reference_variables.snapshot.json, 21-11-2024)."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "State0",
        "States": {"State0": {"Type": "Pass", "Output": {"result": "{% $data.thisFieldDoesNotExist %}"}, "End": True}},
    }
    outcome = run(engine, definition, {})
    cause = (
        "An error occurred while executing the state 'State0' (entered at the event id #2). The JSONata expression "
        "'$data.thisFieldDoesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    )
    assert (outcome.describe["status"], outcome.describe["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert outcome.describe["cause"] == cause
    [event] = outcome.events("EvaluationFailed")
    assert event["evaluationFailedEventDetails"] == {
        "error": "States.QueryEvaluationError",
        "cause": cause,
        "location": "Output/result",
        "state": "State0",
    }


def test_a_type_error_is_a_query_evaluation_error_a_task_can_catch(engine):
    """AWS docs "Transforming data with JSONata in Step Functions", Handling expression errors: ``{% $x + $y %}`` fails
    when ``$x`` is not a number; a Task can Catch ``States.QueryEvaluationError``. The cause's form is AWS's
    for an expression that throws ("... threw an error during evaluation. T1006: ...":
    LS:v2/intrinsic_functions/test_math_operations_jsonata.snapshot.json, 15-11-2024)."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Values",
        "States": {
            "Values": {"Type": "Pass", "Assign": {"x": "a", "y": 1}, "Next": "Add"},
            "Add": {
                "Type": "Task",
                "Resource": LAMBDA_INVOKE,
                "Arguments": {"FunctionName": "echo", "Payload": {"sum": "{% $x + $y %}"}},
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    outcome = run(engine, definition, {})
    assert outcome.describe["status"] == "SUCCEEDED"
    assert outcome.output["Error"] == "States.QueryEvaluationError"
    assert outcome.output["Cause"].endswith(
        "The JSONata expression '$x + $y' specified for the field 'Arguments/Payload/sum' threw an error during "
        "evaluation. T2001: The left side of the + operator must evaluate to a number"
    )
    assert len(outcome.events("EvaluationFailed")) == 1


# ---------------------------------------------------------------------------------------------- Variables


def test_assign_evaluates_with_the_values_of_state_entry(engine):
    """AWS docs "Passing data between states with variables", Evaluation order in an assign field: starting values
    ``$x=3, $a=6``; ``{"x": "{% $a %}", "nextX": "{% $x %}"}`` ends with ``$x=6, $nextX=3``."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Starting values",
        "States": {
            "Starting values": {"Type": "Pass", "Assign": {"x": 3, "a": 6}, "Next": "Assign"},
            "Assign": {"Type": "Pass", "Assign": {"x": "{% $a %}", "nextX": "{% $x %}"}, "Next": "Ending values"},
            "Ending values": {"Type": "Pass", "Output": {"x": "{% $x %}", "nextX": "{% $nextX %}"}, "End": True},
        },
    }
    assert run(engine, definition, {}).output == {"x": 6, "nextX": 3}


def test_assigning_from_a_variable_never_assigned_fails(engine):
    """AWS docs "Passing data between states with variables": "If ``$x`` had not been previously assigned, the example
    would fail because ``$x`` would be undefined" (``States.QueryEvaluationError``, AWS's cause form as above)."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Assign",
        "States": {"Assign": {"Type": "Pass", "Assign": {"x": "{% $a %}", "nextX": "{% $x %}"}, "End": True}},
    }
    outcome = run(engine, definition, {})
    assert outcome.describe["error"] == "States.QueryEvaluationError"
    assert outcome.describe["cause"].endswith(
        "The JSONata expression '$a' specified for the field 'Assign/x' returned nothing (undefined)."
    )


def test_assign_and_output_are_evaluated_in_parallel(engine):
    """AWS docs "Transforming data with JSONata in Step Functions": Assign and Output "occur in parallel"; a value
    assigned in a state is not available to its own Output, only from the next state."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Second"},
            "Second": {"Type": "Pass", "Assign": {"x": 2}, "Output": {"x": "{% $x %}"}, "Next": "Third"},
            "Third": {
                "Type": "Pass",
                "Output": {"inSecond": "{% $states.input.x %}", "inThird": "{% $x %}"},
                "End": True,
            },
        },
    }
    assert run(engine, definition, {}).output == {"inSecond": 1, "inThird": 2}


def test_jsonpath_assign(engine):
    """AWS docs "Passing data between states with variables", Assigning variables in JSONPath: in a Task, ``$`` is the
    API result; ``States.Format`` reads a variable; ``startTime`` comes from the Context object."""
    definition = {
        "StartAt": "Customer",
        "States": {
            "Customer": {"Type": "Pass", "Assign": {"customer": {"name": "María"}}, "Next": "Task"},
            "Task": {
                "Type": "Task",
                "Resource": function_arn("order"),
                "Assign": {
                    "details": {"status": "SUCCESS", "lineItems.$": "$.order.items"},
                    "resultCode.$": "$.result.code",
                    "message.$": "States.Format('Hello {}', $customer.name)",
                    "startTime.$": "$$.Execution.StartTime",
                },
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {
                    "details.$": "$details",
                    "resultCode.$": "$resultCode",
                    "message.$": "$message",
                    "startTime.$": "$startTime",
                    "contextStartTime.$": "$$.Execution.StartTime",
                },
                "End": True,
            },
        },
    }
    output = run(engine, definition, {}).output
    assert {key: value for key, value in output.items() if "tartTime" not in key} == {
        "details": {"status": "SUCCESS", "lineItems": [{"sku": "A-1"}, {"sku": "B-2"}]},
        "resultCode": 200,
        "message": "Hello María",
    }
    assert output["startTime"] == output["contextStartTime"] and AWS_TIMESTAMP.fullmatch(output["startTime"])


def test_jsonpath_paths_and_intrinsics_read_variables(engine):
    """AWS docs "Passing data between states with variables", Using variables in JSONPath states: ``$order.numItems``
    and ``States.Format('The order number is {}', $order.number)``; the ``$`` of ``$.`` is still the input."""
    definition = {
        "StartAt": "Order",
        "States": {
            "Order": {"Type": "Pass", "Assign": {"order": {"number": 42, "numItems": 3}}, "Next": "Use"},
            "Use": {
                "Type": "Pass",
                "Parameters": {
                    "items.$": "$order.numItems",
                    "message.$": "States.Format('The order number is {}', $order.number)",
                    "name.$": "$.customer.name",
                },
                "End": True,
            },
        },
    }
    assert run(engine, definition, {"customer": {"name": "Martha"}}).output == {
        "items": 3,
        "message": "The order number is 42",
        "name": "Martha",
    }


def test_variable_scope(engine):
    """AWS docs "Passing data between states with variables", Variable scope: Map iterations and Parallel branches read
    outer variables; their own variables go out of scope when the state completes; a ``Catch`` assigns in the
    outer scope."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Outer",
        "States": {
            "Outer": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Map"},
            "Map": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Scale",
                    "States": {
                        "Scale": {"Type": "Pass", "Assign": {"scaled": "{% $states.input * $factor %}"}, "Next": "Out"},
                        "Out": {"Type": "Pass", "Output": "{% $scaled %}", "End": True},
                    },
                },
                "Output": {"scaled": "{% $states.result %}"},
                "Next": "Parallel",
            },
            "Parallel": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Read",
                        "States": {"Read": {"Type": "Pass", "Output": "{% $factor %}", "End": True}},
                    },
                    {
                        "StartAt": "Fail",
                        "States": {"Fail": {"Type": "Fail", "Error": "Branch.Failed", "Cause": "on purpose"}},
                    },
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                        "Output": "{% $states.input %}",
                        "Next": "After",
                    }
                ],
                "Next": "After",
            },
            "After": {
                "Type": "Pass",
                "Output": {
                    "scaled": "{% $states.input.scaled %}",
                    "innerGone": "{% $not($exists($scaled)) %}",
                    "caught": "{% $caught %}",
                },
                "End": True,
            },
        },
    }
    assert run(engine, definition, {"items": [1, 2, 3]}).output == {
        "scaled": [10, 20, 30],
        "innerGone": True,
        "caught": "Branch.Failed",
    }


def test_variables_and_input_keep_quotes_and_backslashes(engine):
    """AWS docs "Passing data between states with variables": a variable holds a JSON value, so a string with quotes
    or backslashes reads back unchanged."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Store",
        "States": {
            "Store": {"Type": "Pass", "Assign": {"said": "{% $states.input.said %}"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Output": {"said": "{% $said %}", "input": "{% $states.input %}"}, "End": True},
        },
    }
    said = 'She said "hi" \\ then left'
    assert run(engine, definition, {"said": said}).output == {"said": said, "input": {"said": said}}


# ---------------------------------------------------------------------------------------------- Lambda


def test_lambda_invoke_nests_the_function_output_in_metadata(engine):
    """AWS docs "Invoke an AWS Lambda function with Step Functions": "the function output is nested inside a dictionary
    of metadata" (the page's example; header names and ``AllHttpHeaders`` as AWS recorded them in
    LS:v2/services/test_lambda_task_service.snapshot.json ``test_invoke``, 06-11-2025)."""
    definition = lambda_task("echo", state="CallLambda")
    result = run(engine, definition, {"hello": "world"}).output
    request_id = result["SdkResponseMetadata"]["RequestId"]
    headers = result["SdkHttpMetadata"]["HttpHeaders"]
    assert set(result) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
    assert (result["ExecutedVersion"], result["Payload"], result["StatusCode"]) == ("$LATEST", {"hello": "world"}, 200)
    assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert {k: v for k, v in headers.items() if k not in ("Date", "X-Amzn-Trace-Id")} == {
        "Connection": "keep-alive",
        "Content-Length": str(len(json.dumps({"hello": "world"}))),
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    assert re.fullmatch(
        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Date"]
    )  # "Fri, 26 Mar 2021 07:42:02 GMT"
    assert re.fullmatch(r"root=1-[0-9a-f]{8}-[0-9a-f]{24};sampled=0", headers["X-Amzn-Trace-Id"])
    assert result["SdkHttpMetadata"]["AllHttpHeaders"] == {name: [value] for name, value in headers.items()}
    assert uuid.UUID(request_id)


def test_a_function_arn_resource_returns_only_the_function_output(engine):
    """AWS docs "Invoke an AWS Lambda function with Step Functions": with the function ARN as ``Resource`` "the task
    result contains only the function output"."""
    definition = {
        "StartAt": "CallFunction",
        "States": {"CallFunction": {"Type": "Task", "Resource": function_arn("echo"), "End": True}},
    }
    outcome = run(engine, definition, {"hello": "world"})
    assert outcome.output == {"hello": "world"}
    assert [e["type"] for e in outcome.history][2:5] == [
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
    ]


def tutorial_machine(catch_result_path: str | None = None) -> dict:
    """The "CreateAccount" state machine of "Handling error conditions in a Step Functions state machine"."""
    custom = {"ErrorEquals": ["CustomError"], "Next": "CustomErrorFallback"}
    if catch_result_path:
        custom["ResultPath"] = catch_result_path
    return {
        "Comment": "A Catch example of the Amazon States Language using an AWS Lambda function",
        "StartAt": "CreateAccount",
        "States": {
            "CreateAccount": {
                "Type": "Task",
                "Resource": function_arn("FailFunction"),
                "Catch": [
                    custom,
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "ReservedTypeFallback"},
                    {"ErrorEquals": ["States.ALL"], "Next": "CatchAllFallback"},
                ],
                "End": True,
            },
            "CustomErrorFallback": {
                "Type": "Pass",
                "Result": "This is a fallback from a custom Lambda function exception",
                **({"ResultPath": "$.fallback"} if catch_result_path else {}),
                "End": True,
            },
            "ReservedTypeFallback": {
                "Type": "Pass",
                "Result": "This is a fallback from a reserved error code",
                "End": True,
            },
            "CatchAllFallback": {"Type": "Pass", "Result": "This is a fallback from any error code", "End": True},
        },
    }


def test_a_function_error_is_caught_by_its_exception_name(engine):
    """AWS docs "Handling error conditions in a Step Functions state machine": the function throws ``CustomError`` and
    the ``Catch`` on ``CustomError`` (not ``States.TaskFailed``) takes over."""
    assert run(engine, tutorial_machine(), {}).output == "This is a fallback from a custom Lambda function exception"


def test_a_function_error_output_is_the_runtime_error_document(engine):
    """AWS docs "Processing input and output in Step Functions", Use ResultPath to include both error and input in a
    Catch: ``{"foo": "bar"}`` gains an ``error`` node with ``Error``; its ``Cause`` is the Python runtime's
    error document, as AWS recorded it (LS:v2/error_handling/test_task_lambda.snapshot.json
    ``test_raise_exception``, 28-11-2024: keys errorMessage, errorType, requestId, stackTrace; ``", "``)."""
    output = run(engine, tutorial_machine(catch_result_path="$.error"), {"foo": "bar"}).output
    cause = output["error"]["Cause"]
    document = json.loads(cause)
    assert output["foo"] == "bar" and output["error"]["Error"] == "CustomError"
    assert cause == json.dumps(document)  # Python's separators, this key order
    assert list(document) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (document["errorMessage"], document["errorType"]) == ("This is a custom error!", "CustomError")
    assert uuid.UUID(document["requestId"])
    assert all(isinstance(line, str) for line in document["stackTrace"])
    assert 'in fail_function\n    raise CustomError("This is a custom error!")\n' in document["stackTrace"][-1]


def test_lambda_invoke_fails_with_the_exception_name_and_no_lambda_prefix(engine):
    """AWS docs "Invoke an AWS Lambda function with Step Functions": an exception raised within the function fails the
    task. Error and Cause as AWS recorded them (LS:v2/error_handling/test_task_service_lambda.snapshot.json
    ``test_raise_exception``, 28-11-2024): ``Exception``, the runtime's error document."""
    definition = lambda_task("raise_exception")
    outcome = run(engine, definition, {})
    document = json.loads(outcome.describe["cause"])
    assert (outcome.describe["status"], outcome.describe["error"]) == ("FAILED", "Exception")
    assert (document["errorMessage"], document["errorType"]) == ("Some exception was raised.", "Exception")
    [failed] = outcome.events("TaskFailed")
    assert failed["taskFailedEventDetails"]["resource"] == "invoke"
    assert failed["taskFailedEventDetails"]["resourceType"] == "lambda"


def test_lambda_invoke_of_a_function_that_does_not_exist(engine):
    """AWS docs "Invoke an AWS Lambda function with Step Functions"; Error and Cause as AWS recorded them
    (LS:v2/error_handling/test_task_service_lambda.snapshot.json ``test_no_such_function``, 25-11-2025)."""
    definition = lambda_task("no_such_function")
    outcome = run(engine, definition, {})
    assert outcome.describe["error"] == "Lambda.ResourceNotFoundException"
    assert re.fullmatch(
        r"Function not found: arn:aws:lambda:us-east-1:123456789012:function:no_such_function:\$LATEST "
        r"\(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
        r"Request ID: [0-9a-f-]{36}; Proxy: null\)",
        outcome.describe["cause"],
    )


@pytest.mark.parametrize("value", ["HelloWorld", 0.0, 0, True, [], {}, None])
def test_lambda_invoke_payload_is_the_functions_json(engine, value):
    """AWS docs "Invoke an AWS Lambda function with Step Functions": "The Payload field of the response is parsed from
    escaped Json to Json" (each value as AWS recorded it: LS:v2/services/test_lambda_task_service.snapshot.json
    ``test_invoke_json_values``, 06-11-2025)."""
    definition = lambda_task("json_value", OutputPath="$.Payload")
    outcome = run(engine, definition, {"value": value})
    assert outcome.output == value and type(outcome.output) is type(value)


def test_bytes_a_function_returns_are_its_json_payload(engine):
    """AWS docs "Invoke an AWS Lambda function with Step Functions": a handler returning ``b'"HelloWorld!"'`` gives
    ``"HelloWorld!"`` in both forms (LS:v2/services/test_lambda_task_service.snapshot.json and
    test_lambda_task.snapshot.json ``test_invoke_bytes_payload``, 06-11-2025). Bytes that are not JSON (not
    recorded) pass as their text, never as a Python repr."""

    def invoke(name: str) -> dict:
        return {
            "StartAt": "Start",
            "States": {
                "Start": {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": name},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        }

    plain = {
        "StartAt": "Start",
        "States": {"Start": {"Type": "Task", "Resource": function_arn("bytes_json"), "End": True}},
    }
    assert run(engine, invoke("bytes_json"), {}).output == "HelloWorld!"
    assert run(engine, plain, {}).describe["output"] == '"HelloWorld!"'
    assert run(engine, invoke("bytes_text"), {}).output == "not json"


# ---------------------------------------------------------------------------------------------- Context object


def test_context_object_start_time_in_a_pass_state(engine):
    """AWS docs "Accessing execution data from the Context object in Step Functions": the example that passes the
    execution start time and name from a Pass state; ``StartTime`` is ISO 8601 ("2019-03-26T20:14:13.192Z")
    and DescribeExecution returns the output."""
    definition = {
        "Comment": "Accessing context object in a state machine",
        "StartAt": "Get execution context data",
        "States": {
            "Get execution context data": {
                "Type": "Pass",
                "Parameters": {"startTime.$": "$$.Execution.StartTime", "execName.$": "$$.Execution.Name"},
                "ResultPath": "$.executionContext",
                "End": True,
            }
        },
    }
    outcome = run(engine, definition, {"key": "value"})
    start_time = outcome.output["executionContext"]["startTime"]
    assert outcome.describe["status"] == "SUCCEEDED"
    assert outcome.output == {
        "key": "value",
        "executionContext": {"startTime": start_time, "execName": outcome.describe["name"]},
    }
    assert AWS_TIMESTAMP.fullmatch(start_time)
    started = datetime.datetime.fromisoformat(start_time.replace("Z", "+00:00"))
    assert abs(started - outcome.describe["startDate"]) < datetime.timedelta(milliseconds=2)


def test_context_object_entered_time(engine):
    """AWS docs "Accessing execution data from the Context object in Step Functions": ``$$.State.EnteredTime`` is ISO
    8601 like ``StartTime``, and in JSONata the same object is ``$states.context``."""
    definition = {
        "StartAt": "Test",
        "States": {
            "Test": {
                "Type": "Pass",
                "Parameters": {"entered.$": "$$.State.EnteredTime", "start.$": "$$.Execution.StartTime"},
                "Next": "Read in JSONata",
            },
            "Read in JSONata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {
                    "previous": "{% $states.input %}",
                    "entered": "{% $states.context.State.EnteredTime %}",
                    "start": "{% $states.context.Execution.StartTime %}",
                },
                "End": True,
            },
        },
    }
    output = run(engine, definition, {}).output
    times = [output["previous"]["start"], output["previous"]["entered"], output["start"], output["entered"]]
    assert all(AWS_TIMESTAMP.fullmatch(moment) for moment in times)
    assert output["start"] == output["previous"]["start"] <= output["previous"]["entered"] <= output["entered"]


def test_aws_timestamps():
    """AWS docs "Accessing execution data from the Context object in Step Functions": "2019-03-26T20:14:13.192Z" (UTC,
    milliseconds, ``Z``); a whole second has no fraction (AWS Support, quoted in
    zenn.dev/hr0k/articles/a663524f5ec88e)."""
    utc = datetime.timezone.utc
    assert parity.aws_timestamp(datetime.datetime(2019, 3, 26, 20, 14, 13, 192999, utc)) == "2019-03-26T20:14:13.192Z"
    assert parity.aws_timestamp(datetime.datetime(2025, 2, 3, 4, 5, 6, 0, utc)) == "2025-02-03T04:05:06Z"
    assert parity.aws_timestamp(datetime.datetime(2025, 2, 3, 4, 5, 6, 120000, utc)) == "2025-02-03T04:05:06.120Z"
    paris = datetime.timezone(datetime.timedelta(hours=1))
    assert parity.aws_timestamp(datetime.datetime(2025, 2, 3, 5, 5, 6, 1000, paris)) == "2025-02-03T04:05:06.001Z"


# ---------------------------------------------------------------------------------------------- Wait


def test_wait_seconds_above_the_maximum_are_refused_when_the_machine_is_created(engine):
    """AWS docs "Wait workflow state": ``Seconds`` beyond AWS's maximum is refused by CreateStateMachine with
    ``InvalidDefinition`` naming the field (the definition and message of
    github.com/aws-cloudformation/cfn-lint/issues/4075, 2025-04); 99999999 itself is accepted."""

    def waiting(seconds: int) -> dict:
        return {
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": seconds, "Next": "Success"}, "Success": {"Type": "Succeed"}},
        }

    schema_error = "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/Wait/Seconds"
    message = f"Invalid State Machine Definition: '{schema_error}'"
    with pytest.raises(ClientError) as refused:
        engine.client.create_state_machine(name="too-long", definition=json.dumps(waiting(10**16)), roleArn=ROLE)
    assert refused.value.response["Error"] == {"Code": "InvalidDefinition", "Message": message}
    with pytest.raises(PipelineError, match=re.escape(message)):
        engine.create_state_machine("too-long", json.dumps(waiting(10**16)), ROLE)
    arn = engine.create_state_machine("longest", json.dumps(waiting(99999999)), ROLE)
    with pytest.raises(ClientError, match="InvalidDefinition"):
        engine.client.update_state_machine(stateMachineArn=arn, definition=json.dumps(waiting(100000000)))


def test_wait_seconds_limits_apply_inside_branches():
    """AWS docs "Wait workflow state": the limit holds for every Wait, named by its JSON pointer (the pointer form of
    the recorded message; nested paths derived from it)."""
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000000, "End": True}}}],
            }
        },
    }
    assert parity.definition_errors(definition) == [
        "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/P/Branches/0/States/W/Seconds"
    ]


@pytest.mark.parametrize(
    "seconds, cause",
    [
        (-1, "The SecondsPath parameter references a negative value: $.input.waitSeconds == -1"),
        (1.5, "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5"),
        (0, None),
    ],
)
def test_wait_seconds_path_out_of_range(engine, seconds, cause):
    """AWS docs "Wait workflow state", ``SecondsPath``: a value that is not a non-negative integer fails the execution
    with ``States.Runtime``, as AWS recorded (LS:v2/base/test_wait.snapshot.json ``test_base_wait_seconds_path``,
    22-03-2024, template WAIT_SECONDS_PATH); 0 waits no time."""
    definition = {
        "Comment": "WAIT_SECONDS_PATH",
        "StartAt": "WaitState",
        "States": {"WaitState": {"Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": True}},
    }
    outcome = run(engine, definition, {"input": {"waitSeconds": seconds}})
    if cause is None:
        assert outcome.describe["status"] == "SUCCEEDED"
        return
    assert outcome.describe["error"] == "States.Runtime"
    assert outcome.describe["cause"] == (
        f"An error occurred while executing the state 'WaitState' (entered at the event id #2). {cause}"
    )
