"""Reading an Amazon States Language definition: its states, transitions, integrations and structure.

The structural rules are the Amazon States Language's as AWS's own linter checks them (awslabs/statelint,
``lib/statelint/state_node.rb``): ``StartAt`` and every ``Next``/``Default``/Catch target name a state,
every state but the first has a transition to it, and a machine has a terminal state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from mlops_pipeline.validation.findings import Finding, error

STATE_TYPES = ("Pass", "Succeed", "Fail", "Task", "Choice", "Wait", "Parallel", "Map")
JSONPATH, JSONATA = "JSONPath", "JSONata"
_INTEGRATION = re.compile(r"^arn:[a-z-]+:states:::(?P<key>.+)$")


@dataclass(frozen=True)
class Machine:
    """One ``{"StartAt", "States"}`` object: the whole definition, a Parallel branch or a Map's processor."""

    states: dict
    start_at: str
    query_language: str


def integration(resource: object) -> str | None:
    """``arn:aws:states:::sagemaker:createModel`` -> ``sagemaker:createModel``; None for other resources."""
    match = _INTEGRATION.match(resource) if isinstance(resource, str) else None
    return match.group("key") if match else None


def query_language(state: dict, machine: Machine) -> str:
    """A state's own ``QueryLanguage``, else its machine's (JSONPath when neither says)."""
    return state.get("QueryLanguage") or machine.query_language


def top_machine(definition: dict) -> Machine:
    return Machine(
        definition.get("States") or {}, definition.get("StartAt", ""), definition.get("QueryLanguage", JSONPATH)
    )


def nested_machines(state: dict, parent: Machine) -> Iterator[tuple[str, Machine]]:
    """(field, machine) for a Parallel's branches and a Map's item processor."""
    language = query_language(state, parent)
    for index, branch in enumerate(state.get("Branches") or []):
        if isinstance(branch, dict):
            yield f"Branches[{index}]", _machine(branch, language)
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            yield key, _machine(state[key], language)


def _machine(body: dict, language: str) -> Machine:
    return Machine(body.get("States") or {}, body.get("StartAt", ""), body.get("QueryLanguage", language))


def transitions(state: dict) -> list[tuple[str, str]]:
    """(field, target state) of every way out of a state."""
    out = []
    if isinstance(state.get("Next"), str):
        out.append(("Next", state["Next"]))
    if isinstance(state.get("Default"), str):
        out.append(("Default", state["Default"]))
    for index, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            out.append((f"Choices[{index}].Next", rule["Next"]))
    for index, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            out.append((f"Catch[{index}].Next", catcher["Next"]))
    return out


def all_states(machine: Machine) -> Iterator[tuple[str, dict, Machine]]:
    """Every (name, state, its machine), nested machines included."""
    for name, state in machine.states.items():
        if isinstance(state, dict):
            yield name, state, machine
            for _, nested in nested_machines(state, machine):
                yield from all_states(nested)


def structure_findings(workflow: str, definition: object) -> list[Finding]:
    """What makes a definition unreadable as a state machine; other checks run only without these."""
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        return [error(workflow, "", "States", "a definition is an object with a States object (found none)")]
    return _machine_findings(workflow, top_machine(definition), "")


def _machine_findings(workflow: str, machine: Machine, where: str) -> list[Finding]:
    findings = []
    if not machine.states:
        return [error(workflow, where, "States", "a state machine needs at least one state (found none)")]
    if machine.start_at not in machine.states:
        found = machine.start_at or "nothing"
        findings.append(error(workflow, where, "StartAt", f"must name one of the states (found {found})"))
    incoming = {machine.start_at}
    terminal = False
    for name, state in machine.states.items():
        if not isinstance(state, dict) or state.get("Type") not in STATE_TYPES:
            kind = state.get("Type") if isinstance(state, dict) else type(state).__name__
            findings.append(error(workflow, name, "Type", f"must be one of {', '.join(STATE_TYPES)} (found {kind})"))
            continue
        terminal = terminal or state.get("End") is True or state["Type"] in ("Succeed", "Fail")
        for field, target in transitions(state):
            if target not in machine.states:
                findings.append(error(workflow, name, field, f"must name a state of this machine (found {target})"))
            incoming.add(target)
        if state["Type"] not in ("Choice", "Succeed", "Fail") and state.get("End") is not True and "Next" not in state:
            findings.append(
                error(workflow, name, "Next", "a non-terminal state needs Next or End: true (found neither)")
            )
        for field, nested in nested_machines(state, machine):
            findings += _machine_findings(workflow, nested, f"{name}.{field}")
    for name in machine.states:
        if name not in incoming:
            findings.append(error(workflow, name, "", "no transition leads to this state (found it unreachable)"))
    if not terminal:
        findings.append(error(workflow, where, "States", "a state machine needs a terminal state (found none)"))
    return findings
