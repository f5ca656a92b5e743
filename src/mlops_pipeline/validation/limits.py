"""Step Functions' own limits on a definition, where AWS states them.

- State names: 1-80 characters (botocore ``stepfunctions`` model, the ``Name`` of
  ``StateEnteredEventDetails``); a definition at most the ``definition`` length ``CreateStateMachine``
  takes (1,048,576, same model; "Maximum request size: 1 MB", developer guide "Quotas").
- Wait ``Seconds``: "Maximum value is 99999999" (AWS's answer to a larger one, ``SCHEMA_VALIDATION_FAILED``,
  recorded in cfn-lint issue 4075); Task ``TimeoutSeconds``/``HeartbeatSeconds``: positive integers,
  heartbeat below the timeout (developer guide, "Task"), at most 99999999 (awslabs/statelint's schema).
- Retriers: ``IntervalSeconds`` 1..99999999 and ``MaxAttempts`` 0..99999999 (developer guide, "Error
  handling"), ``BackoffRate`` >= 1, ``MaxDelaySeconds`` a positive integer, ``JitterStrategy`` FULL or
  NONE (awslabs/statelint's schema).
"""

from __future__ import annotations

import json

from mlops_pipeline.validation.asl import all_states, top_machine
from mlops_pipeline.validation.findings import Finding, error, found
from mlops_pipeline.validation.models import ServiceModels

MAX_SECONDS = 99999999


def check(workflow: str, definition: dict, models: ServiceModels) -> list[Finding]:
    findings = _size(workflow, definition, models)
    machine = top_machine(definition)
    if "TimeoutSeconds" in definition:
        findings += _seconds(workflow, "", "TimeoutSeconds", definition["TimeoutSeconds"], minimum=1)
    longest = _state_name_limit(models)
    for name, state, _ in all_states(machine):
        if len(name) > longest:
            findings.append(
                error(workflow, name, "", f"state names must be at most {longest} characters (found {len(name)})")
            )
        findings += _state(workflow, name, state)
    return findings


def _size(workflow: str, definition: dict, models: ServiceModels) -> list[Finding]:
    limit = models.model("stepfunctions").operation_model("CreateStateMachine").input_shape.members["definition"]
    size = len(json.dumps(definition, indent=2, ensure_ascii=False).encode("utf-8"))
    maximum = limit.metadata.get("max")
    if maximum and size > maximum:
        return [error(workflow, "", "definition", f"must be at most {maximum} bytes (found {size})")]
    return []


def _state_name_limit(models: ServiceModels) -> int:
    details = models.model("stepfunctions").shape_for("StateEnteredEventDetails")
    return details.members["name"].metadata.get("max", 80)


def _state(workflow: str, name: str, state: dict) -> list[Finding]:
    findings = []
    if state.get("Type") == "Wait" and "Seconds" in state:
        findings += _seconds(workflow, name, "Seconds", state["Seconds"], minimum=0)
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        if key in state and state.get("Type") in ("Task",):
            findings += _seconds(workflow, name, key, state[key], minimum=1)
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
        findings.append(
            error(workflow, name, "HeartbeatSeconds", f"must be less than TimeoutSeconds {timeout} (found {heartbeat})")
        )
    for index, retrier in enumerate(state.get("Retry") or []):
        if isinstance(retrier, dict):
            findings += _retrier(workflow, name, f"Retry[{index}]", retrier)
    return findings


def _retrier(workflow: str, name: str, where: str, retrier: dict) -> list[Finding]:
    findings = []
    if "IntervalSeconds" in retrier:
        findings += _seconds(workflow, name, f"{where}.IntervalSeconds", retrier["IntervalSeconds"], minimum=1)
    if "MaxAttempts" in retrier:
        findings += _seconds(workflow, name, f"{where}.MaxAttempts", retrier["MaxAttempts"], minimum=0)
    if "MaxDelaySeconds" in retrier:
        findings += _seconds(workflow, name, f"{where}.MaxDelaySeconds", retrier["MaxDelaySeconds"], minimum=1)
    rate = retrier.get("BackoffRate", 2.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 1.0:
        findings.append(error(workflow, name, f"{where}.BackoffRate", f"must be a number >= 1.0 (found {found(rate)})"))
    jitter = retrier.get("JitterStrategy", "NONE")
    if jitter not in ("FULL", "NONE"):
        findings.append(
            error(workflow, name, f"{where}.JitterStrategy", f"must be FULL or NONE (found {found(jitter)})")
        )
    return findings


def _seconds(workflow: str, name: str, where: str, value: object, minimum: int) -> list[Finding]:
    if not _is_int(value) or not minimum <= value <= MAX_SECONDS:
        return [
            error(workflow, name, where, f"must be an integer from {minimum} to {MAX_SECONDS} (found {found(value)})")
        ]
    return []


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
