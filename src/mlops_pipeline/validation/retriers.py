"""Retry and Catch error names: each one must be an error the state can report.

``States.*`` names are the ones the developer guide's "Error handling" page defines (plus the Map and
JSONata ones of its current version); ``States.ALL`` "must appear alone in the ErrorEquals array and
must appear in the last retrier". A Task's other names must be ones its API can raise, by the one
naming rule of ``aws_errors.raisable`` (botocore's error shapes, Step Functions' prefixes). A Lambda
Task reports its handler's own error names, so those are not checked; nor are names on Parallel and
Map states (any state inside may raise them).
"""

from __future__ import annotations

import difflib

from mlops_pipeline import aws_errors
from mlops_pipeline.validation.asl import integration
from mlops_pipeline.validation.findings import Finding, error, found, warning

STATES_ERRORS = (
    "States.ALL",
    "States.TaskFailed",
    "States.Timeout",
    "States.Runtime",
    "States.DataLimitExceeded",
    "States.HeartbeatTimeout",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.QueryEvaluationError",
)
#: Integrations whose error names are not the service's: a Lambda function raises its own.
UNCHECKED_SERVICES = ("lambda",)


def check(workflow: str, name: str, state: dict) -> list[Finding]:
    findings = []
    raisable = _raisable(state)
    for key in ("Retry", "Catch"):
        handlers = state.get(key) or []
        for index, handler in enumerate(handlers):
            names = handler.get("ErrorEquals") if isinstance(handler, dict) else None
            where = f"{key}[{index}].ErrorEquals"
            if not isinstance(names, list) or not names:
                findings.append(
                    error(workflow, name, where, f"must be a non-empty array of error names (found {found(names)})")
                )
                continue
            if "States.ALL" in names and (len(names) > 1 or index != len(handlers) - 1):
                message = f"States.ALL must be alone in the last {'retrier' if key == 'Retry' else 'catcher'}"
                findings.append(error(workflow, name, where, f"{message} (found {found(names)})"))
            for position, error_name in enumerate(names):
                findings += _name(workflow, name, f"{where}[{position}]", error_name, state, raisable)
    return findings


def _name(workflow: str, name: str, where: str, error_name: object, state: dict, raisable) -> list[Finding]:
    if not isinstance(error_name, str):
        return [error(workflow, name, where, f"must be an error name (found {found(error_name)})")]
    if error_name.startswith("States."):
        if error_name in STATES_ERRORS:
            return []
        close = difflib.get_close_matches(error_name, STATES_ERRORS, n=3)
        hint = f"; closest: {', '.join(close)}" if close else ""
        return [error(workflow, name, where, f"not an error Step Functions defines{hint} (found {error_name})")]
    if raisable is None or isinstance(raisable, str):
        if isinstance(raisable, str):
            return [warning(workflow, name, where, f"{raisable} (found {error_name})")]
        return []
    if error_name in raisable:
        return []
    resource = integration(state.get("Resource"))
    close = difflib.get_close_matches(error_name, sorted(raisable), n=3, cutoff=0.0)
    return [
        error(
            workflow,
            name,
            where,
            f"no call of {resource} raises this error; closest it can raise: {', '.join(close)} (found {error_name})",
        )
    ]


def _raisable(state: dict) -> set[str] | str | None:
    """What a Task's integration can raise; None when not checked; a message when it cannot be known."""
    if state.get("Type") != "Task":
        return None
    resource = integration(state.get("Resource"))
    if resource is None:
        return None
    kind, service = aws_errors.integration_of(resource)
    if kind == "optimised" and service in UNCHECKED_SERVICES:
        return None
    try:
        return aws_errors.raisable(resource)
    except Exception:  # a service aws_errors or botocore does not know
        return f"the errors {resource} can raise are not known here, so this name is not checked"
