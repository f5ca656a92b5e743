"""A Task's static parameters against its API's request shape in botocore's model.

Each rule is the model's: members (``structure``), ``required``, ``enum``, ``pattern``, ``min``/``max``
(string lengths, list and map sizes, numeric ranges) and the type of each member. Values given by
``Key.$`` (or a ``{% %}`` expression in a JSONata state) are known only at run time: ``Key.$`` provides
``Key`` and is not type-checked here (the data-flow check reads its path). Patterns are the services'
Java regular expressions, matched whole; one Python cannot compile is skipped.
"""

from __future__ import annotations

import difflib
import re

from mlops_pipeline.validation.findings import found
from mlops_pipeline.validation.models import Binding, pascal

Problem = tuple[str, str]  # (field path, message)


def check(binding: Binding, parameters: object, field: str, jsonata: bool) -> list[Problem]:
    """Every way ``parameters`` (at ``field``: Parameters or Arguments) breaks the request shape."""
    if jsonata and _is_expression(parameters):
        return []
    return _value(parameters, binding.input, field, binding, jsonata)


def _value(value: object, shape, where: str, binding: Binding, jsonata: bool) -> list[Problem]:
    if jsonata and _is_expression(value):
        return []
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, where, binding, jsonata)
    if kind == "list":
        return _list(value, shape, where, binding, jsonata)
    if kind == "map":
        return _map(value, shape, where, binding, jsonata)
    return _scalar(value, shape, where)


def _structure(value: object, shape, where: str, binding: Binding, jsonata: bool) -> list[Problem]:
    if not isinstance(value, dict):
        return [(where, f"must be an object ({shape.name}) (found {found(value)})")]
    members = {(pascal(name) if binding.pascal else name): member for name, member in shape.members.items()}
    problems = []
    given = set()
    for key, item in value.items():
        dynamic = key.endswith(".$") and not jsonata
        name = key[:-2] if dynamic else key
        given.add(name)
        if name not in members:
            problems.append((f"{where}.{key}", _unknown_member(name, shape.name, members, binding)))
        elif not dynamic:
            problems += _value(item, members[name], f"{where}.{key}", binding, jsonata)
    for required in shape.required_members:
        name = pascal(required) if binding.pascal else required
        if name not in given:
            present = ", ".join(sorted(given)) or "no members"
            problems.append((where, f"required member {name} of {shape.name} is missing (found {present})"))
    return problems


def _unknown_member(name: str, shape_name: str, members: dict, binding: Binding) -> str:
    close = difflib.get_close_matches(name, members, n=1)
    if close:
        hint = f"did you mean {close[0]}?"
    else:
        names = sorted(members)
        hint = f"it has {', '.join(names[:15])}{', ...' if len(names) > 15 else ''}"
    return f"{binding.label} takes no such member in {shape_name}; {hint} (found {name})"


def _list(value: object, shape, where: str, binding: Binding, jsonata: bool) -> list[Problem]:
    if not isinstance(value, list):
        return [(where, f"must be an array ({shape.name}) (found {found(value)})")]
    problems = _size(len(value), shape.metadata, where, "items")
    for index, item in enumerate(value):
        problems += _value(item, shape.member, f"{where}[{index}]", binding, jsonata)
    return problems


def _map(value: object, shape, where: str, binding: Binding, jsonata: bool) -> list[Problem]:
    if not isinstance(value, dict):
        return [(where, f"must be an object ({shape.name}) (found {found(value)})")]
    problems = _size(len(value), shape.metadata, where, "entries")
    for key, item in value.items():
        dynamic = key.endswith(".$") and not jsonata
        name = key[:-2] if dynamic else key
        problems += [(f"{where}.{key}", f"key {message}") for _, message in _scalar(name, shape.key, where)]
        if not dynamic:
            problems += _value(item, shape.value, f"{where}.{key}", binding, jsonata)
    return problems


def _size(count: int, metadata: dict, where: str, unit: str) -> list[Problem]:
    if "max" in metadata and count > metadata["max"]:
        return [(where, f"must have at most {metadata['max']} {unit} (found {count})")]
    if "min" in metadata and count < metadata["min"]:
        return [(where, f"must have at least {metadata['min']} {unit} (found {count})")]
    return []


def _scalar(value: object, shape, where: str) -> list[Problem]:
    kind, metadata = shape.type_name, shape.metadata
    if kind in ("string", "blob"):
        if not isinstance(value, str):
            return [(where, f"must be a string (found {found(value)})")]
        if kind == "string":
            return _string(value, shape, where)
        return []
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [(where, f"must be an integer (found {found(value)})")]
        return _range(value, metadata, where)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [(where, f"must be a number (found {found(value)})")]
        return _range(value, metadata, where)
    if kind == "boolean" and not isinstance(value, bool):
        return [(where, f"must be true or false (found {found(value)})")]
    if kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
        return [(where, f"must be a timestamp (found {found(value)})")]
    return []


def _string(value: str, shape, where: str) -> list[Problem]:
    metadata = shape.metadata
    if shape.enum and value not in shape.enum:
        return [(where, f"must be one of {', '.join(shape.enum)} (found {found(value)})")]
    if "max" in metadata and len(value) > metadata["max"]:
        return [(where, f"must be at most {metadata['max']} characters (found {len(value)}: {found(value, 40)})")]
    if "min" in metadata and len(value) < metadata["min"]:
        return [(where, f"must be at least {metadata['min']} characters (found {len(value)}: {found(value, 40)})")]
    pattern = metadata.get("pattern")
    if pattern and not _matches(pattern, value):
        return [(where, f"must match the pattern {pattern} (found {found(value)})")]
    return []


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value, re.DOTALL) is not None
    except re.error:
        return True  # a Java-only construct: not checked


def _range(value: float, metadata: dict, where: str) -> list[Problem]:
    low, high = metadata.get("min"), metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else f"at least {low}"
            if low is not None
            else f"at most {high}"
        )
        return [(where, f"must be {bounds} (found {value})")]
    return []


def _is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")
