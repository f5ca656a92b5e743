"""Guard tests for the one module that touches moto internals: version, seams, a smoke run."""

from __future__ import annotations

import inspect
import json
import threading
import time

import pytest

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local import engine as engine_module
from mlops_pipeline.local import parity
from mlops_pipeline.local.engine import Engine, resource_key, task_resources
from mlops_pipeline.local.tasks import TaskFailure, TaskStopped

ROLE = "arn:aws:iam::123456789012:role/states"


def test_moto_is_the_exact_version_the_seams_were_verified_with():
    assert engine_module.installed_moto_version() == engine_module.MOTO_VERSION


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_patched_seams_keep_their_signatures():
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    string_expression = engine_module.string_expression
    state = engine_module.state_module
    assert parameters(state_task_factory.state_task_service_for) == ["service_name"]
    assert parameters(StateTaskService._eval_service_task) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]
    # overridden by LocalServiceTask: moto calls it after the service task, and it records TaskSucceeded
    assert parameters(StateTaskService._after_eval_execution) == parameters(StateTaskService._eval_service_task)
    assert "self._after_eval_execution(" in inspect.getsource(StateTaskService._eval_execution)
    assert "HistoryEventType.TaskSucceeded" in inspect.getsource(StateTaskService._after_eval_execution)
    assert parameters(lambda_eval_utils.execute_lambda_function_integration) == [
        "env",
        "parameters",
        "region",
        "state_credentials",
    ]
    assert parameters(lambda_eval_utils.LambdaFunctionErrorException) == ["function_error", "payload"]
    assert parameters(ExecutionWorker._get_evaluation_environment) == ["self"]
    assert state.StateData is states.StateData and "EnteredTime=" in inspect.getsource(
        state.CommonStateField._eval_body
    )
    assert parameters(string_expression.eval_jsonata_expression) == ["jsonata_expression"]
    assert parameters(string_expression.StringJSONata) == ["expression"]
    assert parameters(string_expression.StringJSONata._eval_body) == ["self", "env"]
    assert parameters(string_expression.validate_jsonata_expression_output) == [
        "env",
        "expression",
        "rich_jsonata_expression",
        "jsonata_result",
    ]
    assert isinstance(Preprocessor.__dict__["_inner_string_of"], staticmethod)
    assert parameters(Preprocessor._inner_string_of) == ["parser_rule_context"]
    for module in (states, variable_store):
        assert parameters(module.encode_jsonata_variable_declarations) == ["bindings"]
    assert parameters(AssignDecl) == ["declaration_bindings"]
    assert parameters(AssignDecl._eval_body) == ["self", "env"]
    assert parameters(state.CommonStateField._get_state_exited_event_details) == ["self", "env"]
    assert isinstance(StepFunctionsParserBackend.__dict__["_validate_definition"], staticmethod)
    assert parameters(StepFunctionsParserBackend._validate_definition) == ["definition"]
    assert parameters(BaseExecutionWorkerCommunication._reflect_execution_status) == ["self"]
    # read (not patched) by Engine.describe and Engine.history to tell whether anything changed
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import Execution

    assert "_history_event_list" in inspect.getsource(EventManager.__init__)
    assert isinstance(Execution.status, property)
    assert "get_event_history()" in inspect.getsource(Execution.to_history_output)
    # RetrierDecl._eval_body is replaced by a copy that announces the wait: moto's must still be the steps copied
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsDecl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl

    steps = [
        "self.error_equals.eval(env)",
        "self.max_attempts.eval(env=env)",
        "self.interval_seconds.eval(env=env)",
        "self.backoff_rate.eval(env=env)",
        "self.max_delay_seconds.eval(env=env)",
        "self.jitter_strategy.eval(env=env)",
        "time.sleep(interval_seconds)",
        "env.stack.append(RetrierOutcome.Executed)",
    ]
    body = inspect.getsource(RetrierDecl._eval_body)
    assert [body.find(step) for step in steps] == sorted(body.find(step) for step in steps) and -1 not in [
        body.find(step) for step in steps
    ]
    assert parameters(MaxAttemptsDecl._access_attempt_number) == ["self", "env"]


def machine(*states: tuple[str, dict]) -> str:
    """A definition of Task states run in order."""
    names = [name for name, _ in states]
    body = {
        name: {**spec, **({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})}
        for i, (name, spec) in enumerate(states)
    }
    return json.dumps({"StartAt": names[0], "States": body})


def run(engine: Engine, definition: str, payload: dict, name: str = "run-1", redrive_count: int = 0) -> dict:
    arn = engine.create_state_machine("sm", definition, ROLE)
    execution = engine.start_execution(arn, name, payload, redrive_count=redrive_count)
    deadline = time.monotonic() + 30
    while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"describe": engine.describe(execution), "history": engine.history(execution)}


def test_polling_a_running_execution_asks_the_api_again_only_when_it_has_moved_on():
    """A Task that runs for a while is polled many times; moto serializes the whole answer on every API call,
    so describe answers from what it read while nothing changed, history never asks (it reads moto's events,
    ``test_the_history_is_what_get_execution_history_answers``), and both see every change."""
    release = threading.Event()

    def dispatch(resource, parameters, control):
        release.wait(30)
        return {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}

    definition = machine(("Create", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel"}))
    with Engine(dispatch, ["sagemaker:createModel"]) as engine:
        arn = engine.start_execution(engine.create_state_machine("sm", definition, ROLE), "run-1", {})
        deadline = time.monotonic() + 30
        while not any(e["type"] == "TaskScheduled" for e in engine.history(arn)) and time.monotonic() < deadline:
            time.sleep(0.02)
        engine.describe(arn)
        calls = []
        original = engine.client._make_api_call
        engine.client._make_api_call = lambda operation, request: (
            calls.append(operation) or original(operation, request)
        )
        running = [(engine.describe(arn)["status"], len(engine.history(arn))) for _ in range(20)]
        assert set(running) == {running[0]} and running[0][0] == "RUNNING" and calls == []
        release.set()
        while engine.describe(arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.02)
        events = engine.history(arn)
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert len(events) > running[0][1] and "DescribeExecution" in calls and "GetExecutionHistory" not in calls


def typed(value):
    """``value`` with the type of each part beside it: a str enum equals its text, and a datetime its instant."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value), value.isoformat() if hasattr(value, "isoformat") else value)


def test_the_history_is_what_get_execution_history_answers():
    """Engine.history reads moto's events instead of asking the API: the same events, fields and timestamps
    (botocore's datetimes in the local zone), across Parallel and Map branches, a retry, a caught failure,
    variables and a failed end; an execution moto does not have is refused by the API, as AWS refuses it."""
    from botocore.exceptions import ClientError

    calls = []
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel"}
    caught = {
        **task,
        "Retry": [{"ErrorEquals": [THROTTLED], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Branches", "ResultPath": "$.error"}],
    }
    branch = {"StartAt": "Create", "States": {"Create": {**task, "End": True}}}
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {"Type": "Pass", "Assign": {"size": 3}, "Next": "Throttled"},
            "Throttled": {**caught, "Next": "Branches"},
            "Branches": {"Type": "Parallel", "Branches": [branch, branch], "Next": "Each"},
            "Each": {"Type": "Map", "ItemProcessor": branch, "Next": "Give up"},
            "Give up": {"Type": "Fail", "Error": "Done", "Cause": "the end of the test"},
        },
    }
    with Engine(failing(2, calls), ["sagemaker:createModel"]) as engine:
        result = run(engine, json.dumps(definition), {})
        arn = result["describe"]["executionArn"]
        pages = engine.client.get_paginator("get_execution_history").paginate(executionArn=arn)
        answered = [event for page in pages for event in page["events"]]
        with pytest.raises(ClientError) as missing:
            engine.history(arn.replace("run-1", "run-2"))
    events = result["history"]
    assert result["describe"]["status"] == "FAILED" and len(events) > 30
    assert {"MapIterationSucceeded", "ParallelStateSucceeded", "TaskFailed"} <= {event["type"] for event in events}
    assert typed(events) == typed(answered)
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_local_tasks_get_their_parameters_and_return_aws_shapes_unchanged():
    calls = []

    def dispatch(resource, parameters, control):
        calls.append((resource, parameters, control.execution_name))
        return {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}

    definition = machine(
        (
            "Create",
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Parameters": {"ModelName.$": "States.Format('m-{}-{}', $.stem, $$.Execution.RedriveCount)"},
                "ResultSelector": {"arn.$": "$.ModelArn"},
            },
        )
    )
    with Engine(dispatch, ["sagemaker:createModel"]) as engine:
        outcome = run(engine, definition, {"stem": "abc"}, redrive_count=2)
    assert outcome["describe"]["status"] == "SUCCEEDED"
    assert json.loads(outcome["describe"]["output"]) == {"arn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}
    assert calls == [("sagemaker:createModel", {"ModelName": "m-abc-2"}, "run-1")]


def test_task_failures_keep_their_aws_names_for_retry_and_catch():
    attempts = []

    def dispatch(resource, parameters, control):
        attempts.append(resource)
        raise TaskFailure("States.TaskFailed", '{"FailureReason": "boom"}')

    definition = json.dumps(
        {
            "StartAt": "Train",
            "States": {
                "Train": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                    "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    "Catch": [
                        {"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Wrong"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"},
                    ],
                    "End": True,
                },
                "Wrong": {"Type": "Fail", "Error": "Wrong"},
                "Failed": {"Type": "Fail", "Error": "TrainingFailed", "CausePath": "$.error.Cause"},
            },
        }
    )
    with Engine(dispatch, ["sagemaker:createTrainingJob.sync"]) as engine:
        outcome = run(engine, definition, {})
    assert len(attempts) == 2  # the first try and one retry
    assert outcome["describe"]["status"] == "FAILED"
    assert outcome["describe"]["error"] == "TrainingFailed"
    assert json.loads(outcome["describe"]["cause"]) == {"FailureReason": "boom"}


def test_a_state_timeout_tells_the_running_job_to_stop():
    stopped = threading.Event()

    def dispatch(resource, parameters, control):
        while control.running():
            time.sleep(0.05)
        stopped.set()
        raise TaskStopped("killed")

    definition = machine(
        ("Slow", {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "TimeoutSeconds": 1})
    )
    with Engine(dispatch, ["glue:startJobRun.sync"]) as engine:
        outcome = run(engine, definition, {})
        assert stopped.wait(5)
        time.sleep(0.3)  # what the stopped job's thread could still record
        history = engine.history(outcome["describe"]["executionArn"])
    assert outcome["describe"]["status"] == "FAILED" and outcome["describe"]["error"] == "States.Timeout"
    assert [event["type"] for event in history][-3:] == ["TaskStarted", "TaskTimedOut", "ExecutionFailed"]


@pytest.mark.parametrize("stop_how", ["StopExecution", "session end"])
def test_stopping_the_execution_tells_the_running_job_to_stop(stop_how):
    started, stopped = threading.Event(), threading.Event()

    def dispatch(resource, parameters, control):
        started.set()
        while control.running():
            time.sleep(0.05)
        stopped.set()
        raise TaskStopped("killed")

    definition = machine(("Slow", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync"}))
    with Engine(dispatch, ["sagemaker:createTrainingJob.sync"]) as engine:
        execution = engine.start_execution(engine.create_state_machine("sm", definition, ROLE), "run-1", {})
        assert started.wait(10)
        if stop_how == "StopExecution":
            engine.stop(execution, cause="its landing was replaced")
            assert stopped.wait(5)
            deadline = time.monotonic() + 5
            while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert engine.describe(execution)["status"] == "ABORTED"
            assert_aborted_in_its_task(engine.history(execution))
            # the cause given, and no error (none was given; AWS writes neither when neither is given)
            assert engine.history(execution)[-1]["executionAbortedEventDetails"] == {
                "cause": "its landing was replaced"
            }
    assert stopped.is_set()


def assert_aborted_in_its_task(history: list[dict]) -> None:
    """An execution stopped while its Task ran ends with the Task's TaskStarted and then ExecutionAborted: no
    TaskSucceeded for a Task that was stopped (AWS records none; moto recorded one with an empty output).
    ExecutionAborted's previousEventId is 0, as AWS records it (LocalStack's AWS-validated snapshot
    tests/aws/services/stepfunctions/v2/test_sfn_api.snapshot.json, ``test_stop_execution``, 06-05-2024)."""
    assert [event["type"] for event in history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "ExecutionAborted",
    ]
    assert [event["id"] for event in history] == [1, 2, 3, 4, 5]
    assert [event["previousEventId"] for event in history] == [0, 0, 2, 3, 0]


def test_lambda_tasks_call_in_process_handlers():
    definition = machine(
        (
            "Hello",
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "greet", "Payload": {"who.$": "$.who"}},
                "OutputPath": "$.Payload",
            },
        )
    )
    handlers = {"greet": lambda event: {"greeting": f"hello {event['who']}"}}
    with Engine(lambda *a: None, [], handlers) as engine:
        outcome = run(engine, definition, {"who": "you"})
    assert json.loads(outcome["describe"]["output"]) == {"greeting": "hello you"}


def test_a_resource_the_runtime_cannot_serve_is_refused_when_the_machine_is_created():
    definition = machine(("Crawl", {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync"}))
    with Engine(lambda *a: None, ["sagemaker:createModel"]) as engine:
        with pytest.raises(PipelineError, match=r"athena:startQueryExecution\.sync.*supports: sagemaker:createModel"):
            engine.create_state_machine("sm", definition, ROLE)


def test_task_resources_are_found_in_nested_branches():
    nested = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "T",
                        "States": {
                            "T": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True}
                        },
                    }
                ],
            }
        },
    }
    assert task_resources(nested) == ["arn:aws:states:::glue:startJobRun.sync"]
    assert resource_key("arn:aws:states:::aws-sdk:s3:getObject") == "aws-sdk:s3:getObject"


def seam_points() -> list[tuple[object, str]]:
    """Every attribute the engine replaces, named here so a seam added without a guard fails the test below."""
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    string_expression = engine_module.string_expression
    state = engine_module.state_module
    return [
        (state_task_factory, "state_task_service_for"),
        (lambda_eval_utils, "execute_lambda_function_integration"),
        (ExecutionWorker, "_get_evaluation_environment"),
        (state, "StateData"),
        (string_expression, "eval_jsonata_expression"),
        (string_expression.StringJSONata, "_eval_body"),
        (string_expression, "validate_jsonata_expression_output"),
        (Preprocessor, "_inner_string_of"),
        (states, "encode_jsonata_variable_declarations"),
        (variable_store, "encode_jsonata_variable_declarations"),
        (AssignDecl, "_eval_body"),
        (state.CommonStateField, "_get_state_exited_event_details"),
        (StepFunctionsParserBackend, "_validate_definition"),
        (BaseExecutionWorkerCommunication, "_reflect_execution_status"),
        (RetrierDecl, "_eval_body"),
        (AmazonStateLanguageParser, "parse"),
    ]


THROTTLED = "SageMaker.AmazonSageMakerException"


def failing(times: int, calls: list):
    """A dispatcher whose first ``times`` calls fail as a throttled SageMaker call does."""

    def dispatch(resource, parameters, control):
        calls.append(time.monotonic())
        if len(calls) <= times:
            raise TaskFailure(THROTTLED, "Rate exceeded")
        return {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}

    return dispatch


def retried(interval: float, backoff: float, attempts: int) -> str:
    retry = {"ErrorEquals": [THROTTLED], "IntervalSeconds": interval, "BackoffRate": backoff, "MaxAttempts": attempts}
    return machine(("Create", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel", "Retry": [retry]}))


def test_each_retry_is_announced_as_its_wait_starts_and_still_waits():
    calls, heard = [], []
    with Engine(failing(2, calls), ["sagemaker:createModel"], on_retry=heard.append) as engine:
        result = run(engine, retried(1, 1.5, 4), {})
    assert result["describe"]["status"] == "SUCCEEDED"
    told = [(e.execution, e.state, e.error, e.seconds, e.attempt, e.max_attempts) for e in heard]
    assert told == [("run-1", "Create", THROTTLED, 1.0, 1, 4), ("run-1", "Create", THROTTLED, 1.5, 2, 4)]
    assert calls[1] - calls[0] >= 1.0 and calls[2] - calls[1] >= 1.5


def test_a_definition_is_parsed_once_per_session_and_each_execution_runs_its_own_copy(monkeypatch):
    """Each execution retries its own first failure: nothing one run did is left in the program the next gets."""
    parsed, calls = [], []
    original = engine_module._ORIGINAL_PARSE
    monkeypatch.setattr(engine_module, "_ORIGINAL_PARSE", lambda text: parsed.append(text) or original(text))

    def every_first_call_fails(resource, parameters, control):
        calls.append(control.execution_name)
        if calls.count(control.execution_name) == 1:
            raise TaskFailure(THROTTLED, "Rate exceeded")
        return {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}

    with Engine(every_first_call_fails, ["sagemaker:createModel"]) as engine:
        results = [run(engine, retried(1, 1, 2), {}, name=name) for name in ("run-1", "run-2")]
    assert [result["describe"]["status"] for result in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert [[e["type"] for e in r["history"]].count("TaskFailed") for r in results] == [1, 1]
    assert calls == ["run-1", "run-1", "run-2", "run-2"] and parsed == [retried(1, 1, 2)]


def test_stopping_an_execution_ends_its_retry_wait():
    """moto slept a retry's wait out whatever happened: a session ended during a long backoff kept a thread for
    the 15 s grace, and left it behind."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    calls, waiting = [], threading.Event()
    with Engine(failing(9, calls), ["sagemaker:createModel"], on_retry=lambda event: waiting.set()) as engine:
        arn = engine.start_execution(engine.create_state_machine("sm", retried(600, 1, 3), ROLE), "run-1", {})
        assert waiting.wait(30)
        workers = [thread for thread in TMP_THREADS if thread.is_alive()]
        engine.stop(arn)
        for thread in workers:
            thread.join(10)
        assert workers and not [thread for thread in workers if thread.is_alive()]
        assert len(calls) == 1 and engine.history(arn)[-1]["type"] == "ExecutionAborted"


def test_the_engine_restores_every_seam_on_exit():
    points = seam_points()

    def seams():
        return [getattr(owner, attribute) for owner, attribute in points]

    before = seams()
    with Engine(lambda *a: None, []) as engine:
        assert [(owner, attribute) for owner, attribute, _ in engine._seams()] == points
        assert all(now is not then for now, then in zip(seams(), before, strict=True))
    assert seams() == before
    assert all(now is then for now, then in zip(seams(), before, strict=True))


def test_jsonata_states_evaluate_their_conditions_and_outputs():
    """A Choice and a Pass in JSONata, from the Step Functions developer guide's "Transforming data with
    JSONata" (Condition with $states.input; Output computed from the input)."""
    definition = json.dumps(
        {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "QueryLanguage": "JSONata",
                    "Choices": [{"Condition": "{% $states.input.value > 10 %}", "Next": "Big"}],
                    "Default": "Small",
                },
                "Big": {
                    "Type": "Pass",
                    "QueryLanguage": "JSONata",
                    "Output": {"size": "{% 'big ' & $string($states.input.value * 2) %}"},
                    "End": True,
                },
                "Small": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% {'size': 'small'} %}", "End": True},
            },
        }
    )
    with Engine(lambda *a: None, []) as engine:
        big = run(engine, definition, {"value": 21}, name="big")
        small = run(engine, definition, {"value": 1}, name="small")
    assert json.loads(big["describe"]["output"]) == {"size": "big 42"}
    assert json.loads(small["describe"]["output"]) == {"size": "small"}


def test_an_execution_stopped_right_after_it_starts_is_aborted(monkeypatch):
    """moto begins an execution on a thread; a stop that comes before it waits for it instead of failing."""
    import threading

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    begin, began = ExecutionWorker.start, threading.Event()

    def late_start(worker):  # the worker thread begins only after the stop was asked for
        threading.Timer(0.3, lambda: (began.set(), begin(worker))).start()  # set first: the stop waits for begin

    waiting = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    with Engine(lambda *a: None, []) as engine:
        machine = engine.create_state_machine("m", waiting, ROLE)
        with monkeypatch.context() as patched:
            patched.setattr(ExecutionWorker, "start", late_start)
            arn = engine.start_execution(machine, "e1", {})
            assert not began.is_set()
            engine.stop(arn)
        assert began.is_set()
        deadline = time.monotonic() + 10
        while engine.describe(arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.describe(arn)["status"] == "ABORTED"


@pytest.mark.parametrize(
    "text, qualifier, expected",
    [
        ("greet", None, ("greet", None, None, None)),
        ("greet:live", None, ("greet", "live", None, None)),
        ("greet", "7", ("greet", "7", None, None)),
        ("123456789012:function:greet", None, ("greet", None, None, "123456789012")),
        ("arn:aws:lambda:eu-west-1:210987654321:function:greet:3", None, ("greet", "3", "eu-west-1", "210987654321")),
    ],
)
def test_function_names_are_taken_apart_as_lambda_reads_them(text, qualifier, expected):
    function = parity.FunctionName.parse(text, qualifier)
    assert (function.name, function.qualifier, function.region, function.account) == expected


def test_a_missing_function_is_named_by_its_full_arn():
    missing = parity.FunctionName.parse("greet")
    assert missing.not_found("us-east-1", "123456789012") == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:greet:$LATEST"
    )


def test_the_location_of_an_expression_is_its_field_path_in_the_state():
    state = {
        "Type": "Pass",
        "Assign": {"a": "{% $x %}"},
        "Output": {"list": [1, "{%  $x  %}"], "b": "{% $y %}"},
    }
    assert parity.expression_location(state, "$y", "b") == "Output/b"
    assert parity.expression_location(state, "$x", "a") == "Assign/a"
    assert parity.expression_location(state, "$x", "1") == "Output/list/1"
    assert parity.expression_location(state, "$x", "Output") == "Assign/a"  # the first where it is written
    assert parity.expression_location({}, "$x", "result") == "result"  # the definition could not be read


def test_definition_errors_name_every_wait_beyond_the_maximum_and_are_quoted_together():
    wait = {"Type": "Wait", "Seconds": 100000000, "End": True}
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Wait", "Seconds": 100000000, "Next": "M"},
            "M": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "W", "States": {"W": wait}}},
        },
    }
    errors = parity.definition_errors(definition)
    assert errors == [
        "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/A/Seconds",
        "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/M/ItemProcessor/States/W/Seconds",
    ]
    assert parity.invalid_definition_message(errors) == f"Invalid State Machine Definition: '{', '.join(errors)}'"
    with pytest.raises(engine_module.InvalidDefinition, match="at /States/A/Seconds"):
        engine_module.parse_definition(json.dumps({"StartAt": "A", "States": {"A": wait}}))
