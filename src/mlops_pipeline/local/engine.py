"""The one module that touches moto's internals: moto's Step Functions interpreter runs the rendered
definitions unchanged, and the Task states it cannot serve are routed to the local integrations.

Seams (moto ``MOTO_VERSION``, checked by tests/test_engine.py):
- ``state_task_factory.state_task_service_for``: Task states of the services the routing table names
  (``sagemaker``, ``glue``, ``aws-sdk``...) become a ``LocalServiceTask`` that calls the dispatcher.
- ``lambda_eval_utils._invoke_lambda_function``: Lambda Task states call in-process handlers.
- ``ExecutionWorker._get_evaluation_environment``: adds ``$$.Execution.RedriveCount`` to the context
  object, which moto does not have and the job names use.
- ``eval_jsonata_expression`` (in ``string_expression`` and ``jsonata.validations``): moto parses JSONata
  (``QueryLanguage: "JSONata"``, ``{% ... %}``) and composes the expression with ``$states`` and the
  variables, but has no evaluator; jsonata-python (a port of the JSONata reference) evaluates it.
Everything else goes through the public Step Functions API of ``mock_aws``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from typing import Any, Callable, Iterable, Iterator
from unittest import mock

import boto3
import moto
from moto import mock_aws
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata import validations as jsonata_validations
from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.tasks import Dispatcher, TaskControl, TaskFailure, TaskStopped

MOTO_VERSION = "5.2.5"
_STATES_PREFIX = ":::"
LAMBDA_INVOKE = "lambda:invoke"


def resource_key(resource_arn: str) -> str:
    """``arn:aws:states:::glue:startJobRun.sync`` -> ``glue:startJobRun.sync``; function ARNs stay whole."""
    return resource_arn.split(_STATES_PREFIX, 1)[1] if _STATES_PREFIX in resource_arn else resource_arn


class InvalidDefinition(ValueError):
    """The ASL grammar rejects the definition."""


def parse_definition(text: str) -> list[str]:
    """The state names of a definition that the ASL grammar accepts; InvalidDefinition for anything it rejects."""
    try:
        program, _ = AmazonStateLanguageParser.parse(text)
    except ASLParserException as error:
        raise InvalidDefinition(str(error)) from None
    return list(program.states.states)


def task_resources(definition: dict) -> list[str]:
    """Every Task state's Resource, including those inside Parallel branches and Map iterators."""
    found: list[str] = []
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Task":
            found.append(state["Resource"])
        for branch in state.get("Branches", []):
            found.extend(task_resources(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.extend(task_resources(state[key]))
    return found


class LocalServiceTask(StateTaskService):
    """A Task state served by a local integration; errors keep their AWS names so Retry/Catch match."""

    def __init__(self, dispatcher: Dispatcher):
        super().__init__()
        self._dispatcher = dispatcher

    def _get_supported_parameters(self) -> set[str] | None:
        return set()  # not None: accepted at creation; the dispatcher checks the parameters

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:
        context = env.states.context_object.context_object_data
        control = TaskControl(
            running=env.is_running, execution_name=context["Execution"]["Name"], state_name=context["State"]["Name"]
        )
        try:
            response = self._dispatcher(resource_key(self.resource.resource_arn), normalised_parameters, control)
        except TaskFailure as failure:
            raise FailureEventException(self._failure_event(env, failure.error, failure.cause)) from None
        except TaskStopped:
            response = {}  # the frame has ended: moto reports the timeout or the stop, not this task
        env.stack.append(response)

    def _failure_event(self, env, error: str, cause: str) -> FailureEvent:
        name = StatesErrorName.from_name(error) if error.startswith("States.") else CustomErrorName(error)
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=error,
                    cause=cause,
                )
            ),
        )

    def _get_sfn_resource_type(self) -> str:
        return (
            self.resource.service_name
            if self.resource.service_name != "aws-sdk"
            else f"aws-sdk:{self.resource.api_name}"
        )

    def _get_sfn_resource(self) -> str:
        action = self.resource.api_action
        return f"{action}.{self.resource.condition}" if self.resource.condition else action


class Engine:
    """An in-process Step Functions service; use as a context manager, one per runtime session."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        resources: Iterable[str],
        lambda_handlers: dict[str, Callable[[Any], Any]] | None = None,
        region: str = "us-east-1",
    ):
        """``resources`` are what ``dispatcher`` serves (the routing table's keys); the engine intercepts
        exactly their services and refuses a definition with any other Task."""
        self._dispatcher = dispatcher
        self._resources = sorted(resources)
        self._services = {resource.split(":", 1)[0] for resource in self._resources}
        self._lambda_handlers = dict(lambda_handlers or {})
        self._redrive_counts: dict[str, int] = {}
        self._region = region
        self._stack: contextlib.ExitStack | None = None
        self.client = None

    def __enter__(self) -> "Engine":
        stack = contextlib.ExitStack()
        stack.enter_context(mock.patch.dict(os.environ, _OFFLINE_CREDENTIALS))
        for name in _leaky_variables():
            del os.environ[name]  # restored by patch.dict on exit
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        stack.enter_context(mock.patch.object(state_task_factory, "state_task_service_for", self._service_for))
        stack.enter_context(mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", self._invoke_lambda))
        for module in (string_expression, jsonata_validations):
            stack.enter_context(mock.patch.object(module, "eval_jsonata_expression", evaluate_jsonata))
        original = ExecutionWorker._get_evaluation_environment
        stack.enter_context(
            mock.patch.object(ExecutionWorker, "_get_evaluation_environment", self._with_redrive_count(original))
        )
        stack.enter_context(_quiet_moto())
        self._stack = stack
        self.client = boto3.client("stepfunctions", region_name=self._region)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stop_running_executions()
            self._stack.close()
        self._stack = None

    def _stop_running_executions(self, grace: float = 15.0) -> None:
        """No job outlives the session: stop what still runs and give its jobs time to be killed."""
        for machine in self.client.list_state_machines()["stateMachines"]:
            running = self.client.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
            for execution in running["executions"]:
                self.stop(execution["executionArn"], cause="the local runtime session ended")
        deadline = time.monotonic() + grace
        for thread in list(TMP_THREADS):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        _forget_finished_threads()

    def _service_for(self, service_name: str):
        if service_name in self._services:
            return LocalServiceTask(self._dispatcher)
        return _ORIGINAL_SERVICE_FOR(service_name)

    def _invoke_lambda(self, parameters: dict, region: str, state_credentials: Any) -> dict:
        name = parameters.get("FunctionName", "").split(":function:")[-1].split(":")[0]
        handler = self._lambda_handlers.get(name)
        if handler is None:
            raise TaskFailure(
                "Lambda.ResourceNotFoundException",
                f"Function not found: {name} (local handlers: {', '.join(sorted(self._lambda_handlers)) or 'none'})",
            )
        payload = parameters.get("Payload")
        event = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
        try:
            result = handler(event)
        except Exception as error:  # a Lambda reports handler exceptions as FunctionError
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "ExecutedVersion": "$LATEST",
                "Payload": {"errorMessage": str(error), "errorType": type(error).__name__},
            }
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}

    def _with_redrive_count(self, original):
        counts = self._redrive_counts

        def environment(worker: ExecutionWorker):
            env = original(worker)
            execution = env.states.context_object.context_object_data["Execution"]
            execution["RedriveCount"] = counts.get(execution["Name"], 0)
            return env

        return environment

    def check_definition(self, definition: dict) -> None:
        """Refuse a definition with a Task the runtime cannot serve, naming it and what is supported."""
        for arn in task_resources(definition):
            if not (resource_key(arn) in self._resources or self._is_local_lambda(arn)):
                raise PipelineError(
                    f"the local runtime cannot run Task resource {arn}; it supports: "
                    f"{', '.join(self._resources)} and Lambda functions "
                    f"({', '.join(sorted(self._lambda_handlers)) or 'none registered'})"
                )

    def _is_local_lambda(self, arn: str) -> bool:
        """``lambda:invoke`` (its FunctionName picks the handler) or a registered function's ARN."""
        if resource_key(arn) == LAMBDA_INVOKE:
            return bool(self._lambda_handlers)
        return ":function:" in arn and arn.split(":function:")[-1].split(":")[0] in self._lambda_handlers

    def create_state_machine(self, name: str, definition: str, role_arn: str) -> str:
        self.check_definition(json.loads(definition))
        existing = {m["name"]: m["stateMachineArn"] for m in self.client.list_state_machines()["stateMachines"]}
        if name in existing:
            self.client.update_state_machine(stateMachineArn=existing[name], definition=definition)
            return existing[name]
        return self.client.create_state_machine(name=name, definition=definition, roleArn=role_arn)["stateMachineArn"]

    def start_execution(self, state_machine_arn: str, name: str, payload: dict, redrive_count: int = 0) -> str:
        """Always named: moto gives unnamed executions the same ``:None`` ARN."""
        _forget_finished_threads()
        self._redrive_counts[name] = redrive_count
        return self.client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]

    def describe(self, execution_arn: str) -> dict:
        return self.client.describe_execution(executionArn=execution_arn)

    def history(self, execution_arn: str) -> list[dict]:
        pages = self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return [event for page in pages for event in page["events"]]

    def stop(self, execution_arn: str, cause: str = "stopped by the user") -> None:
        """StopExecution, once moto's worker thread has begun the execution (its first event): stopping one
        whose thread has not run yet fails inside moto."""
        deadline = time.monotonic() + STARTING_SECONDS
        while not self.history(execution_arn) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.client.stop_execution(executionArn=execution_arn, cause=cause)


_ORIGINAL_SERVICE_FOR = state_task_factory.state_task_service_for
#: How long an execution may take to begin after StartExecution before a stop goes ahead anyway.
STARTING_SECONDS = 10


def evaluate_jsonata(expression: str) -> Any:
    """A composed JSONata expression (moto prefixes ``$states`` and the variables), evaluated."""
    import jsonata

    try:
        return jsonata.Jsonata(expression).evaluate(None)
    except Exception as error:  # jsonata-python raises its own JException for every evaluation error
        raise JSONataException("States.QueryEvaluationError", str(error)) from None


_OFFLINE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _leaky_variables() -> list[str]:
    """A profile or endpoint override would send the in-process service's calls elsewhere."""
    return [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")]


@contextlib.contextmanager
def _quiet_moto() -> Iterator[None]:
    """moto logs a full stack trace for every failed state; the runtime reports failures itself."""
    logger = logging.getLogger("moto")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _forget_finished_threads() -> None:
    """moto appends every worker thread to TMP_THREADS and never removes them."""
    with _THREADS_LOCK:
        TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]


_THREADS_LOCK = threading.Lock()


def installed_moto_version() -> str:
    return moto.__version__
