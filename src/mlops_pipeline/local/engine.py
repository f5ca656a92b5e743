"""The one module that touches moto's internals: moto's Step Functions interpreter runs the rendered
definitions unchanged, the Task states it cannot serve are routed to the local integrations, and where it
differs from AWS the seams below make it answer as AWS does (the AWS facts and their sources are in
``parity.py``).

Seams (moto ``MOTO_VERSION``; each patched for the session only, pinned by tests/test_engine.py):
- ``state_task_factory.state_task_service_for``: Task states of the services the routing table names
  (``sagemaker``, ``glue``, ``aws-sdk``...) become a ``LocalServiceTask`` that calls the dispatcher.
- ``lambda_eval_utils.execute_lambda_function_integration``: both Lambda forms (a function ARN Resource and
  ``lambda:invoke``) call in-process handlers and answer as Lambda does: the ``lambda:invoke`` envelope
  (``SdkHttpMetadata``...), the runtime's error document, ``Lambda.ResourceNotFoundException``.
- ``ExecutionWorker._get_evaluation_environment``: the context object gains ``$$.Execution.RedriveCount``,
  which moto lacks and the job names use, and ``StartTime`` becomes AWS's text (moto leaves a datetime).
- ``state.StateData``: ``$$.State.EnteredTime`` in AWS's format (moto writes Python's ``isoformat``).
- ``eval_jsonata_expression`` (in ``string_expression``): moto parses JSONata and composes the expression
  with ``$states`` and the variables, but has no evaluator; jsonata-python (a port of the JSONata
  reference) evaluates it.
- ``StringJSONata._eval_body`` and ``validate_jsonata_expression_output`` (in ``string_expression``): an
  expression that throws or returns nothing fails the state with ``States.QueryEvaluationError`` and AWS's
  cause, naming the field (moto reports ``States.Runtime`` or no field).
- ``Preprocessor._inner_string_of`` and ``encode_jsonata_variable_declarations`` (in ``states`` and
  ``variable_store``): a string of the definition means what JSON says (moto kept ``\\u00ed`` escapes in
  ``Assign`` literals) and string values reach JSONata as JSON string literals (moto quoted them
  unescaped, so a ``"`` or ``\\`` in a variable or the state input broke the expression).
- ``AssignDecl._eval_body`` and ``CommonStateField._get_state_exited_event_details``: ``Assign`` is
  evaluated with the values of state entry and takes effect when the state exits, so ``Output`` and the
  other fields of the same state still see the old values (moto assigned at once).
- ``StepFunctionsParserBackend._validate_definition``: CreateStateMachine and UpdateStateMachine refuse what
  AWS's schema refuses beyond the grammar (a Wait ``Seconds`` above 99999999), and every refusal carries
  the ``InvalidDefinition`` code (moto's had none).
- ``BaseExecutionWorkerCommunication._reflect_execution_status``: the output DescribeExecution returns is
  JSON text for every value (moto returned a string output without its quotes).
- ``AmazonStateLanguageParser.parse``: a definition is parsed once per session, and each execution runs its
  own copy of that program (moto parsed it at CreateStateMachine and again at every StartExecution).
- ``RetrierDecl._eval_body``: a retry's wait is announced when it starts (``on_retry``: the history has no
  event for it, so a long backoff looked like a Task still running) and ends when the execution stops (moto
  slept it out).
- ``state_task_service_batch`` (the one seam set for the whole process, before moto's parser is imported, by
  :func:`_defer_batch_service`): moto's Task-service factory imports its Batch service when it is imported,
  and that imports ``moto.batch`` and with it ``moto.ec2`` (most of a second of every start); no workflow
  has a Batch Task, so a stand-in module imports the real service when a Batch Task is first built.
One method is overridden rather than patched: ``LocalServiceTask._after_eval_execution`` (moto's
``StateTaskService``), so that a Task stopped with its execution, or by its state's timeout, records no
``TaskSucceeded``.
Everything else goes through the public Step Functions API of ``mock_aws``; two reads look inside without
patching anything: an execution's status and how many events it has (``Execution.status``,
``EventManager._history_event_list``), so that :meth:`Engine.describe` asks the API again only when something
changed; and its events (``Execution.to_history_output``, what moto's GetExecutionHistory serializes), which
:meth:`Engine.history` turns into the API's answer itself. moto's serializer walks every member of the event
shape for each event: polling ten times a second, and a checkpoint as each Task starts, spent most of a second
of CPU per run on it, taken from the jobs and from the execution's own thread.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib
import json
import logging
import os
import sys
import threading
import time
import types
import uuid
from typing import Any, Callable, Iterable, Iterator
from unittest import mock

import boto3
import moto
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp
from moto import mock_aws

_BATCH_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch"
_SERVICE_FACTORY = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory"
_BATCH_IMPORT = threading.Lock()


def _batch_service():
    """moto's Batch Task service, imported (with ``moto.batch`` and ``moto.ec2``) the first time one is built."""
    with _BATCH_IMPORT:
        if getattr(sys.modules.get(_BATCH_SERVICE), "__stand_in__", False):
            del sys.modules[_BATCH_SERVICE]
        return importlib.import_module(_BATCH_SERVICE).StateTaskServiceBatch()


def _defer_batch_service() -> None:
    """Stand a module in for moto's Batch Task service until a Batch Task needs it (the module docstring
    says why); nothing to do when moto's service factory is already imported."""
    if _SERVICE_FACTORY in sys.modules or _BATCH_SERVICE in sys.modules:
        return
    stand_in = types.ModuleType(_BATCH_SERVICE, "Stands in for moto's Batch Task service until one is built.")
    stand_in.__stand_in__ = True
    stand_in.StateTaskServiceBatch = _batch_service
    sys.modules[_BATCH_SERVICE] = stand_in


_defer_batch_service()

from moto.stepfunctions.parser import api as sfn_api
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.eval import states as states_module
from moto.stepfunctions.parser.asl.eval import variable_store
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.states import StateData
from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.parser.utils import TMP_THREADS

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local import parity
from mlops_pipeline.local.ahead import tasks
from mlops_pipeline.local.events import RetryEvent
from mlops_pipeline.local.tasks import Dispatcher, TaskControl, TaskFailure, TaskStopped

MOTO_VERSION = "5.2.5"
_STATES_PREFIX = ":::"
LAMBDA_INVOKE = "lambda:invoke"


def resource_key(resource_arn: str) -> str:
    """``arn:aws:states:::glue:startJobRun.sync`` -> ``glue:startJobRun.sync``; function ARNs stay whole."""
    return resource_arn.split(_STATES_PREFIX, 1)[1] if _STATES_PREFIX in resource_arn else resource_arn


class InvalidDefinition(ValueError):
    """AWS would refuse the definition: the ASL grammar rejects it or it breaks a schema limit."""


def parse_definition(text: str) -> list[str]:
    """The state names of a definition that AWS would accept; InvalidDefinition (with AWS's words for a
    schema limit) for anything the ASL grammar or the schema limits reject."""
    try:
        program, _ = AmazonStateLanguageParser.parse(text)
    except ASLParserException as error:
        raise InvalidDefinition(str(error)) from None
    errors = parity.definition_errors(json.loads(text))
    if errors:
        raise InvalidDefinition(parity.invalid_definition_message(errors))
    return list(program.states.states)


def task_resources(definition: dict) -> list[str]:
    """Every Task state's Resource, including those inside Parallel branches and Map processors."""
    return [state["Resource"] for _, state in tasks(definition)]


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
            running=env.is_running,
            execution_name=context["Execution"]["Name"],
            state_name=context["State"]["Name"],
            state_input=env.states.get_input(),
            context=env.states.get_context(),
        )
        try:
            response = self._dispatcher(resource_key(self.resource.resource_arn), normalised_parameters, control)
        except TaskFailure as failure:
            raise FailureEventException(self._failure_event(env, failure.error, failure.cause)) from None
        except TaskStopped:
            response = {}  # the frame has ended: moto reports the timeout or the stop, not this task
        env.stack.append(response)

    def _after_eval_execution(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:
        """TaskSucceeded only for a Task whose state still runs: one ended by StopExecution or its timeout
        while the job ran records none (moto recorded one with the stopped job's empty result, after the
        TaskTimedOut, or before the ExecutionAborted). On AWS such a history ends with the Task's TaskStarted
        and then TaskTimedOut and ExecutionFailed, or ExecutionAborted, which no event of the stopped state
        follows (AWS-recorded histories in LocalStack's snapshots: timeouts/test_timeouts.snapshot.json
        ``test_fixed_timeout_service_lambda``, 10-03-2024; test_sfn_api.snapshot.json ``test_stop_execution``,
        06-05-2024)."""
        if env.is_running():
            super()._after_eval_execution(env, resource_runtime_part, normalised_parameters, state_credentials)

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


def _announced_retrier(on_retry: Callable[[RetryEvent], None]):
    """moto's ``RetrierDecl._eval_body``, step for step, except that the wait is announced before it starts
    and ends early when the execution stops."""

    def _eval_body(self: RetrierDecl, env) -> None:
        error = env.stack[-1].error_name  # the ErrorName that ErrorEquals pops
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        for part in (self.interval_seconds, self.backoff_rate, self.max_delay_seconds, self.jitter_strategy):
            part.eval(env=env)
        seconds = env.stack.pop()
        context = env.states.context_object.context_object_data
        on_retry(
            RetryEvent(
                execution=context["Execution"]["Name"],
                state=context["State"]["Name"],
                error=error,
                seconds=seconds,
                attempt=self.max_attempts._access_attempt_number(env) + 1,
                max_attempts=self.max_attempts.attempts,
            )
        )
        _wait_while_running(env, seconds)
        env.stack.append(RetrierOutcome.Executed)

    return _eval_body


def _wait_while_running(env, seconds: float) -> None:
    """Wait ``seconds``, or until the execution stops (moto pulses ``program_state_event`` when it does); the
    state's loop then sees the stop and calls nothing again."""
    deadline = time.monotonic() + seconds
    while env.is_running() and (left := deadline - time.monotonic()) > 0:
        env.program_state_event.wait(min(left, 0.5))


class Engine:
    """An in-process Step Functions service; use as a context manager, one per runtime session."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        resources: Iterable[str],
        lambda_handlers: dict[str, Callable[[Any], Any]] | None = None,
        region: str = "us-east-1",
        on_retry: Callable[[RetryEvent], None] = lambda event: None,
    ):
        """``resources`` are what ``dispatcher`` serves (the routing table's keys); the engine intercepts
        exactly their services and refuses a definition with any other Task. ``on_retry`` hears of each
        retry as its wait starts (from the execution's thread)."""
        self._dispatcher = dispatcher
        self._on_retry = on_retry
        self._resources = sorted(resources)
        self._services = {resource.split(":", 1)[0] for resource in self._resources}
        self._lambda_handlers = dict(lambda_handlers or {})
        self._redrive_counts: dict[str, int] = {}
        self._region = region
        self._stack: contextlib.ExitStack | None = None
        self._histories: dict[str, tuple[object, list[dict]]] = {}  # arn -> (moto's execution, its events)
        self._descriptions: dict[str, tuple[tuple | None, dict]] = {}  # arn -> (probe, DescribeExecution answer)
        self._programs: dict[str, tuple[Any, Any]] = {}  # definition -> moto's parse of it (``_parse``)
        self._cache_lock = threading.Lock()
        self.client = None

    def __enter__(self) -> "Engine":
        stack = contextlib.ExitStack()
        stack.enter_context(mock.patch.dict(os.environ, _OFFLINE_CREDENTIALS))
        for name in _leaky_variables():
            del os.environ[name]  # restored by patch.dict on exit
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        for owner, attribute, replacement in self._seams():
            stack.enter_context(mock.patch.object(owner, attribute, replacement))
        stack.enter_context(_quiet_moto())
        self._stack = stack
        self.client = boto3.client("stepfunctions", region_name=self._region)
        return self

    def _seams(self) -> list[tuple[Any, str, Any]]:
        """Every moto attribute the session replaces, with its replacement (the module docstring says why)."""
        jsonata = string_expression.StringJSONata
        exited = state_module.CommonStateField._get_state_exited_event_details
        context = ExecutionWorker._get_evaluation_environment
        reflect = BaseExecutionWorkerCommunication._reflect_execution_status
        return [
            (state_task_factory, "state_task_service_for", self._service_for),
            (lambda_eval_utils, "execute_lambda_function_integration", self._execute_lambda),
            (ExecutionWorker, "_get_evaluation_environment", self._aws_context(context)),
            (state_module, "StateData", _state_data),
            (string_expression, "eval_jsonata_expression", evaluate_jsonata),
            (jsonata, "_eval_body", self._failing_as_aws(jsonata._eval_body)),
            (string_expression, "validate_jsonata_expression_output", self._validate_jsonata_output),
            (Preprocessor, "_inner_string_of", staticmethod(_json_string)),
            (states_module, "encode_jsonata_variable_declarations", encode_variable_declarations),
            (variable_store, "encode_jsonata_variable_declarations", encode_variable_declarations),
            (AssignDecl, "_eval_body", _assign_on_exit),
            (state_module.CommonStateField, "_get_state_exited_event_details", _assigning_on_exit(exited)),
            (StepFunctionsParserBackend, "_validate_definition", staticmethod(_validate_definition)),
            (BaseExecutionWorkerCommunication, "_reflect_execution_status", _output_as_json(reflect)),
            (RetrierDecl, "_eval_body", _announced_retrier(self._on_retry)),
            (AmazonStateLanguageParser, "parse", staticmethod(self._parse)),
        ]

    def _parse(self, definition: str) -> tuple[Any, Any]:
        """moto's parse of a definition, made once per session; each caller gets its own copy of the program.
        moto parses a definition when the state machine is created and again as each execution starts, 0.2-0.4 s
        of CPU each time (four times in every ``local run``); a copy takes about 10 ms. The program parsed first
        is never evaluated itself, so every copy starts as a fresh parse would."""
        with self._cache_lock:
            parsed = self._programs.get(definition)
        if parsed is None:
            parsed = _ORIGINAL_PARSE(definition)
            with self._cache_lock:
                self._programs[definition] = parsed
        program, tree = parsed
        return copy.deepcopy(program), tree

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

    def _execute_lambda(self, env, parameters: dict, region: str, state_credentials: Any) -> None:
        """A Lambda Task (a function ARN Resource or ``lambda:invoke``) served by an in-process handler: the
        answer goes on the stack as moto's Lambda tasks read it; a function error or a missing function is
        raised as Lambda reports it, and moto's tasks turn it into AWS's Error and Cause."""
        function = parity.FunctionName.parse(parameters.get("FunctionName", ""), parameters.get("Qualifier"))
        request_id = str(uuid.uuid4())
        handler = self._lambda_handlers.get(function.name)
        if handler is None:
            raise _lambda_not_found(function.not_found(region, env.aws_execution_details.account), request_id)
        raw = _call_handler(handler, parameters.get("Payload"), request_id)
        env.stack.append(parity.invoke_response(raw, request_id, datetime.datetime.now(datetime.timezone.utc)))

    def _aws_context(self, original):
        """The context object as AWS fills it: ``RedriveCount`` (the session's count for the execution) and
        ``StartTime`` as text."""
        counts = self._redrive_counts

        def environment(worker: ExecutionWorker):
            env = original(worker)
            execution = env.states.context_object.context_object_data["Execution"]
            execution["RedriveCount"] = counts.get(execution["Name"], 0)
            if isinstance(execution["StartTime"], datetime.datetime):
                execution["StartTime"] = parity.aws_timestamp(execution["StartTime"])
            return env

        return environment

    def _failing_as_aws(self, original):
        """``StringJSONata._eval_body``: an expression that throws fails the state as on AWS, not as a
        ``States.Runtime`` error with a Python repr."""

        def eval_body(component, env) -> None:
            try:
                original(component, env)
            except JSONataEvaluationError as error:
                outcome = f"threw an error during evaluation. {error.details}"
                raise self._query_evaluation_error(env, component.expression, outcome) from None

        return eval_body

    def _validate_jsonata_output(self, env, expression: str, rich_jsonata_expression: str, jsonata_result: Any):
        """An expression that returns nothing (undefined; ``null`` is a value) fails the state as on AWS."""
        if jsonata_result is None and not evaluate_jsonata(f"$exists({rich_jsonata_expression})"):
            raise self._query_evaluation_error(env, expression, "returned nothing (undefined).")

    def _query_evaluation_error(self, env, expression: str, outcome: str) -> FailureEventException:
        """``States.QueryEvaluationError`` with AWS's cause, which names the field (AWS docs "Transforming
        data with JSONata", "Handling expression errors"; the causes parity.expression_location cites), and
        one ``EvaluationFailed`` event: Task, Parallel and Map states record the failure themselves."""
        state = self._failing_state(env)
        location = parity.expression_location(state, expression, env.next_field_name)
        error = StatesErrorNameType.StatesQueryEvaluationError
        failure = FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=error),
                event_type=HistoryEventType.EvaluationFailed,
                event_details=EventDetails(
                    evaluationFailedEventDetails=EvaluationFailedEventDetails(
                        error=error.to_name(),
                        cause=f"The JSONata expression '{expression}' specified for the field '{location}' {outcome}",
                        location=location,
                    )
                ),
            )
        )
        if state.get("Type") not in _RECORDING_THEIR_FAILURES:
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.EvaluationFailed,
                event_details=EventDetails(evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()),
            )
        return failure

    def _failing_state(self, env) -> dict:
        """The definition of the state being evaluated, read from its execution (empty if it cannot be read)."""
        try:
            execution_arn = env.states.context_object.context_object_data["Execution"]["Id"]
            answer = self.client.describe_state_machine_for_execution(executionArn=execution_arn)
            return parity.find_state(json.loads(answer["definition"]), env.next_state_name) or {}
        except (ClientError, KeyError, ValueError):  # the state only words the cause
            return {}

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
        return ":function:" in arn and parity.FunctionName.parse(arn).name in self._lambda_handlers

    def create_state_machine(self, name: str, definition: str, role_arn: str) -> str:
        """Create or update; a definition AWS would refuse is refused with AWS's ``InvalidDefinition`` words."""
        self.check_definition(json.loads(definition))
        existing = {m["name"]: m["stateMachineArn"] for m in self.client.list_state_machines()["stateMachines"]}
        try:
            if name in existing:
                self.client.update_state_machine(stateMachineArn=existing[name], definition=definition)
                return existing[name]
            return self.client.create_state_machine(name=name, definition=definition, roleArn=role_arn)[
                "stateMachineArn"
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidDefinition":
                raise
            message = error.response["Error"]["Message"]
            raise PipelineError(f"state machine {name}: InvalidDefinition: {message}") from None

    def start_execution(self, state_machine_arn: str, name: str, payload: dict, redrive_count: int = 0) -> str:
        """Always named: moto gives unnamed executions the same ``:None`` ARN."""
        _forget_finished_threads()
        self._redrive_counts[name] = redrive_count
        return self.client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]

    def redrive_count(self, name: str) -> int:
        """How many times this session redrove the execution it last started as ``name`` (DescribeExecution's
        ``redriveCount``): known before its first state runs, so a record written from its own thread has it."""
        return self._redrive_counts.get(name, 0)

    def describe(self, execution_arn: str) -> dict:
        """DescribeExecution; while the execution runs and has no new event, the answer read before."""
        probe = self._probe(execution_arn)
        with self._cache_lock:
            known = self._descriptions.get(execution_arn)
        if probe is not None and probe[1] == "RUNNING" and known is not None and known[0] == probe:
            return dict(known[1])
        answer = self.client.describe_execution(executionArn=execution_arn)
        with self._cache_lock:
            self._descriptions[execution_arn] = (probe, answer)
        return dict(answer)

    def history(self, execution_arn: str) -> list[dict]:
        """GetExecutionHistory's events as the API answers them; those read before when the execution has had
        none since. They are read from moto's execution, the list its GetExecutionHistory serializes: that
        serializer took ~25 ms for a few dozen events on each read after a new one (most of a second of CPU per
        run, part of it on the execution's own thread as each Task checkpoints). An execution moto cannot find
        asks the API, which answers as AWS does (``ExecutionDoesNotExist``)."""
        probe = self._probe(execution_arn)
        if probe is None:
            pages = self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            return [event for page in pages for event in page["events"]]
        execution, _, count = probe
        with self._cache_lock:
            known = self._histories.get(execution_arn)
        if known is not None and known[0] is execution and len(known[1]) == count:
            return list(known[1])
        # no event yet: moto's worker may not exist yet, and to_history_output needs it
        events = [_as_answered(event) for event in execution.to_history_output()["events"]] if count else []
        with self._cache_lock:
            self._histories[execution_arn] = (execution, events)
        return list(events)

    def _probe(self, execution_arn: str) -> tuple[object, str, int] | None:
        """(moto's execution, its status, how many events it has), read without serializing anything; None
        when it cannot be read (the API call that follows says why)."""
        try:
            backend = stepfunctions_parser_backends[_account_of(execution_arn)][self._region]
            execution = backend.describe_execution(execution_arn)
            environment = getattr(execution.exec_worker, "env", None)
            count = 0 if environment is None else len(environment.event_manager._history_event_list)
            return execution, execution.status, count
        except Exception:  # noqa: BLE001 - a probe only: anything unexpected means asking the API
            return None

    def stop(self, execution_arn: str, cause: str = "stopped by the user") -> None:
        """StopExecution, once moto's worker thread has begun the execution (its first event): stopping one
        whose thread has not run yet fails inside moto. ``cause`` is kept as AWS keeps it, in ExecutionAborted's
        details, with no ``error`` (none was given): moto's StopExecution drops both and writes them empty, where
        AWS writes neither when none is given (LocalStack's AWS-validated snapshot
        tests/aws/services/stepfunctions/v2/test_sfn_api.snapshot.json, ``test_stop_execution``, 06-05-2024:
        ``"executionAbortedEventDetails": {}``). One moto cannot find running asks the API, which answers as
        AWS does."""
        deadline = time.monotonic() + STARTING_SECONDS
        while not self.history(execution_arn) and time.monotonic() < deadline:
            time.sleep(0.01)
        probe = self._probe(execution_arn)
        if probe is None or probe[1] != "RUNNING":
            self.client.stop_execution(executionArn=execution_arn, cause=cause)
            return
        probe[0].stop(stop_date=datetime.datetime.now(datetime.timezone.utc), error=None, cause=cause)


def _as_answered(event: dict) -> dict:
    """One of moto's history events as GetExecutionHistory answers it through botocore: plain JSON values
    (moto keeps ``type`` and other names as str enums, whose ``str()`` is not their text), and the timestamp,
    which moto keeps as ISO 8601 text and its serializer sends as epoch seconds, parsed by botocore's own
    ``parse_timestamp`` (a datetime in the local zone)."""
    answered = json.loads(json.dumps(event))
    for name, value in answered.items():  # a member moto holds as None is absent, as the API leaves it out
        if name.endswith("EventDetails") and isinstance(value, dict):
            answered[name] = {member: given for member, given in value.items() if given is not None}
    answered["timestamp"] = parse_timestamp(datetime.datetime.fromisoformat(answered["timestamp"]).timestamp())
    return answered


def _account_of(arn: str) -> str:
    """The account field of an ARN (``arn:aws:states:<region>:<account>:...``)."""
    return arn.split(":")[4]


_ORIGINAL_SERVICE_FOR = state_task_factory.state_task_service_for
#: How long an execution may take to begin after StartExecution before a stop goes ahead anyway.
STARTING_SECONDS = 10


class JSONataEvaluationError(JSONataException):
    """jsonata-python could not evaluate an expression; ``details`` is the reason as AWS prints it."""


def evaluate_jsonata(expression: str) -> Any:
    """A composed JSONata expression (moto prefixes ``$states`` and the variables), evaluated."""
    import jsonata

    try:
        return jsonata.Jsonata(expression).evaluate(None)
    except Exception as error:  # jsonata-python raises JException (with its code: T1006...) and plain errors
        code = getattr(error, "error", None)
        details = f"{code}: {error}" if isinstance(code, str) else str(error)
        raise JSONataEvaluationError(StatesErrorNameType.StatesQueryEvaluationError.to_name(), details) from None


def encode_variable_declarations(bindings: dict[str, Any]) -> str:
    """``$name:=value;`` for each binding, every value a JSON literal: a JSON string is a JSONata string, so
    quotes and backslashes in a variable or the state input survive (moto wraps strings in bare quotes)."""
    return "".join(f"{name}:={to_json_str(value, separators=(',', ':'))};" for name, value in bindings.items())


def _json_string(parser_rule_context) -> str | None:
    """``Preprocessor._inner_string_of``: a string of the definition as JSON reads it. moto kept its escapes,
    so an ``Assign`` literal written ``"Mar\\u00eda"`` (as ``json.dumps`` writes "María") kept its escape."""
    text = _ORIGINAL_INNER_STRING_OF(parser_rule_context)
    try:
        return json.loads(f'"{text}"') if text is not None else None
    except ValueError:  # not a JSON string body: moto's text as it was
        return text


_ORIGINAL_INNER_STRING_OF = Preprocessor._inner_string_of


def _state_data(**fields: Any) -> dict:
    """``$$.State`` with ``EnteredTime`` as AWS writes it (parity.aws_timestamp; moto writes ``isoformat()``)."""
    entered = datetime.datetime.fromisoformat(fields["EnteredTime"])
    return StateData(**{**fields, "EnteredTime": parity.aws_timestamp(entered)})


#: The state types whose failures moto records as events itself (``ExecuteState``, ``StateMap``).
_RECORDING_THEIR_FAILURES = ("Task", "Parallel", "Map")

#: Where a state keeps the values its ``Assign`` fields computed until it exits (moto's per-state heap).
_PENDING_ASSIGNMENTS = "mlops_pipeline.pending-assignments"


def _assign_on_exit(assign: AssignDecl, env) -> None:
    """``AssignDecl._eval_body``: every expression is evaluated with the values of state entry; the new values
    are set when the state exits, so ``Output`` does not see them (AWS docs "Passing data between states
    with variables", "Evaluation order in an assign field"; "Transforming data with JSONata": Assign and
    Output "occur in parallel")."""
    pending = env.heap.setdefault(_PENDING_ASSIGNMENTS, {})
    for binding in assign.declaration_bindings:
        binding.eval(env=env)
        pending.update(env.stack.pop())


def _assigning_on_exit(original):
    """``CommonStateField._get_state_exited_event_details``: the state's assignments take effect as it exits, before
    its StateExited event lists them; the next state sees them."""

    def exited_event_details(state, env):
        for name, value in env.heap.pop(_PENDING_ASSIGNMENTS, {}).items():
            env.variable_store.set(variable_identifier=name, variable_value=value)
        return original(state, env)

    return exited_event_details


def _validate_definition(definition: str) -> None:
    """CreateStateMachine/UpdateStateMachine: moto's grammar check, then the schema limits AWS adds; either
    refusal reaches the client as ``InvalidDefinition`` (moto's own left the error code empty)."""
    try:
        _ORIGINAL_VALIDATE_DEFINITION(definition=definition)
    except sfn_api.InvalidDefinition as refused:
        raise _invalid_definition(refused.message) from None
    errors = parity.definition_errors(json.loads(definition))
    if errors:
        raise _invalid_definition(parity.invalid_definition_message(errors))


def _invalid_definition(message: str) -> Exception:
    return sfn_api.InvalidDefinition(message=message, exception_type="InvalidDefinition")


_ORIGINAL_VALIDATE_DEFINITION = StepFunctionsParserBackend._validate_definition
_ORIGINAL_PARSE = AmazonStateLanguageParser.parse


def _output_as_json(original):
    """``BaseExecutionWorkerCommunication._reflect_execution_status``: an execution's output is kept as JSON
    text, so DescribeExecution answers ``"HelloWorld!"`` for a string output (moto's answer lost the
    quotes) and never fails on a value JSON cannot hold."""

    def reflect(communication) -> None:
        original(communication)
        execution = communication.execution
        if execution.exec_status == sfn_api.ExecutionStatus.SUCCEEDED:
            execution.output = to_json_str(execution.output, separators=(",", ":"))

    return reflect


def _call_handler(handler: Callable[[Any], Any], payload: bytes | None, request_id: str) -> bytes:
    """The handler's answer as the Python runtime sends it; its exception raised as Lambda's function error."""
    event = json.loads(payload) if payload else {}
    try:
        return parity.marshal(handler(event))
    except parity.LambdaError as refused:
        error = refused
    except Exception as raised:  # whatever the handler raises is the function's error, as on Lambda
        error = parity.handler_error(raised)
    raise lambda_eval_utils.LambdaFunctionErrorException("Unhandled", error.document(request_id))


def _lambda_not_found(message: str, request_id: str) -> ClientError:
    """Lambda's answer for a function that does not exist; moto's ``lambda:invoke`` task reports it as
    ``Lambda.ResourceNotFoundException`` with the SDK's cause ("... (Service: AWSLambda; Status Code: 404;
    Error Code: ResourceNotFoundException; Request ID: ...; Proxy: null)": LS:v2/error_handling/
    test_task_service_lambda.snapshot.json ``test_no_such_function``, 25-11-2025)."""
    return ClientError(
        {
            "Error": {"Code": "ResourceNotFoundException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": request_id},
        },
        "Invoke",
    )


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
