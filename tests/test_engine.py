"""Guard tests for the one module that touches moto internals: version, seams, a smoke run."""

from __future__ import annotations

import inspect
import json
import threading
import time

import pytest

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local import engine as engine_module
from mlops_pipeline.local.engine import Engine, resource_key, task_resources
from mlops_pipeline.local.tasks import TaskFailure, TaskStopped

ROLE = "arn:aws:iam::123456789012:role/states"


def test_moto_is_the_exact_version_the_seams_were_verified_with():
    assert engine_module.installed_moto_version() == engine_module.MOTO_VERSION


def test_the_patched_seams_keep_their_signatures():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert list(inspect.signature(state_task_factory.state_task_service_for).parameters) == ["service_name"]
    assert list(inspect.signature(lambda_eval_utils._invoke_lambda_function).parameters) == [
        "parameters",
        "region",
        "state_credentials",
    ]
    assert list(inspect.signature(ExecutionWorker._get_evaluation_environment).parameters) == ["self"]
    assert list(inspect.signature(StateTaskService._eval_service_task).parameters) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]
    for module in (engine_module.string_expression, engine_module.jsonata_validations):
        assert list(inspect.signature(module.eval_jsonata_expression).parameters) == ["jsonata_expression"]


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
    assert outcome["describe"]["status"] == "FAILED" and outcome["describe"]["error"] == "States.Timeout"
    assert stopped.wait(5)


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
            engine.stop(execution)
            assert stopped.wait(5)
            deadline = time.monotonic() + 5
            while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert engine.describe(execution)["status"] == "ABORTED"
    assert stopped.is_set()


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


def test_the_engine_restores_every_seam_on_exit():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def seams():
        return (
            state_task_factory.state_task_service_for,
            lambda_eval_utils._invoke_lambda_function,
            ExecutionWorker._get_evaluation_environment,
            engine_module.string_expression.eval_jsonata_expression,
            engine_module.jsonata_validations.eval_jsonata_expression,
        )

    before = seams()
    with Engine(lambda *a: None, []):
        assert all(now is not then for now, then in zip(seams(), before, strict=True))
    after = seams()
    assert after == before


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
        threading.Timer(0.3, lambda: (begin(worker), began.set())).start()

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
