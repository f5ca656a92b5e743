"""The Tasks ahead of a running state, and their Parameters as far as that state already tells them.

While a Task runs (the scoring Glue job), the Tasks that follow it along ``Next`` (the batch transform) can
prepare what they will need (start the model server), when what they need is already known: written out in
the definition, or a plain path into the running state's input or the execution's part of the context object
(``$.approved.record.model_name``, ``$$.Execution.Name``). Anything else (an intrinsic function, a path the
input does not answer yet, ``$$.State``, which belongs to the state that will run) stays unknown: its
``.$`` key is kept as written, so a preparation that needs it sees it is not known and does nothing. Reading
ahead never fails a state and never decides anything: the Task itself evaluates its Parameters when it runs.
"""

from __future__ import annotations

from typing import Any, Iterator

from mlops_pipeline.validation import jsonpath
from mlops_pipeline.validation.asl import all_states, top_machine

#: The states a look ahead passes through: their ``Next`` is always the state that follows.
_PASSED_THROUGH = ("Task", "Pass")
_MISSING = object()


def tasks(definition: dict) -> Iterator[tuple[str, dict]]:
    """(name, state) of every Task state, those of Parallel branches and Map processors included."""
    return ((name, state) for name, state, _ in all_states(top_machine(definition)) if state.get("Type") == "Task")


def tasks_ahead(definition: dict, state_name: str) -> Iterator[tuple[str, dict]]:
    """(name, state) of each Task that follows ``state_name`` along ``Next``, through Task and Pass states only
    (a Choice, Wait, Map or Parallel ends the look ahead), in the machine (or branch) that holds the state."""
    holder = next((machine for name, _, machine in all_states(top_machine(definition)) if name == state_name), None)
    states = holder.states if holder is not None else {}
    seen = {state_name}
    name = states.get(state_name, {}).get("Next")
    while isinstance(name, str) and name not in seen and states.get(name, {}).get("Type") in _PASSED_THROUGH:
        seen.add(name)
        state = states[name]
        if state["Type"] == "Task":
            yield name, state
        name = state.get("Next")


def known_parameters(parameters: Any, state_input: Any, context: dict | None) -> Any:
    """``parameters`` with each ``Key.$`` the input (``$``) or the execution's context (``$$.Execution``)
    answers replaced by ``Key`` and its value; every other ``.$`` key kept as written."""
    if isinstance(parameters, list):
        return [known_parameters(item, state_input, context) for item in parameters]
    if not isinstance(parameters, dict):
        return parameters
    known: dict = {}
    for key, value in parameters.items():
        if not key.endswith(".$"):
            known[key] = known_parameters(value, state_input, context)
        elif (found := _read(value, state_input, context)) is _MISSING:
            known[key] = value
        else:
            known[key.removesuffix(".$")] = found
    return known


def _read(text: Any, state_input: Any, context: dict | None) -> Any:
    """The value a plain path (only ``.name`` and ``[n]`` steps) selects, or _MISSING."""
    try:
        path = jsonpath.parse(text)
    except jsonpath.PathError:
        return _MISSING  # an intrinsic function
    if path.is_variable or not path.definite:
        return _MISSING
    if path.is_context:
        if not path.steps or path.steps[0].value != "Execution":
            return _MISSING  # $$.State, $$.Task... are the state's own, not known ahead
        data: Any = context or {}
    else:
        data = state_input
    for step in path.steps:
        container = dict if step.kind == "field" else list
        if not isinstance(data, container):
            return _MISSING
        try:
            data = data[step.value]
        except (KeyError, IndexError):
            return _MISSING
    return data


def part_of(parameters: dict, names: tuple[str, ...]) -> dict:
    """The entries of ``parameters`` for ``names``, whether known (``Key``) or not yet (``Key.$``): the part a
    preparation keys what it prepares by."""
    return {key: value for key, value in parameters.items() if key.removesuffix(".$") in names}


def written_out(value: object) -> bool:
    """Whether a Parameters value is known in full: no ``.$`` key anywhere in it."""
    if isinstance(value, dict):
        return all(not key.endswith(".$") and written_out(item) for key, item in value.items())
    if isinstance(value, list):
        return all(written_out(item) for item in value)
    return True
