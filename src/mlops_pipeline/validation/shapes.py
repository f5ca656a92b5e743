"""What the data may look like at a point of a state machine, and reading paths out of it.

A shape is ``Unknown`` (any JSON: a parsed string, a variable), a ``Scalar`` (a string may carry the
text it is known to have, ``*`` for the unknown parts), a ``ListOf``, a ``MapOf`` (any key) or an
``Obj`` whose fields say whether every way into the state has them. Joining the shapes that reach a
state records, per field, the states after which it is missing: a path through such a field fails on
that way in (``States.Runtime``) and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union

from mlops_pipeline.validation import jsonpath

MAX_DEPTH = 16


@dataclass(frozen=True)
class Unknown:
    pass


@dataclass(frozen=True)
class Scalar:
    kind: str  # string | integer | number | boolean | null | timestamp
    pattern: str | None = None  # strings: the known text, '*' where it is unknown


@dataclass(frozen=True)
class ListOf:
    item: "Shape"


@dataclass(frozen=True)
class MapOf:
    value: "Shape"


@dataclass(frozen=True)
class Field:
    shape: "Shape"
    always: bool = True  # False: optional in its model, or absent on some way in
    missing_after: frozenset = frozenset()  # states after which it is absent


@dataclass(frozen=True)
class Obj:
    fields: dict = field(default_factory=dict)  # name -> Field
    open: bool = False  # other fields may exist (a model we cannot see)


Shape = Union[Unknown, Scalar, ListOf, MapOf, Obj]
UNKNOWN = Unknown()
STRING = Scalar("string")
INTEGER = Scalar("integer")
EMPTY = Obj({})


def obj(**members: "Shape") -> Obj:
    return Obj({name: Field(shape) for name, shape in members.items()})


def from_json(value: object, depth: int = 0) -> Shape:
    """The shape of a literal JSON value (a Pass state's Result, a static parameter)."""
    if depth > MAX_DEPTH:
        return UNKNOWN
    if isinstance(value, dict):
        return Obj({k: Field(from_json(v, depth + 1)) for k, v in value.items()})
    if isinstance(value, list):
        return ListOf(join([(frozenset(), from_json(v, depth + 1)) for v in value]) if value else UNKNOWN)
    if isinstance(value, bool):
        return Scalar("boolean")
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return Scalar("number")
    if value is None:
        return Scalar("null")
    return Scalar("string", str(value).replace("*", "?"))


def kind_of(shape: Shape) -> str:
    """A JSON type name for messages: object, array, string, integer, number, boolean, null."""
    if isinstance(shape, Obj) or isinstance(shape, MapOf):
        return "object"
    if isinstance(shape, ListOf):
        return "array"
    if isinstance(shape, Scalar):
        return {"timestamp": "string"}.get(shape.kind, shape.kind)
    return "unknown"


def join(sides: list[tuple[frozenset, Shape]], depth: int = 0) -> Shape:
    """The shape of data that is one of ``sides`` (each labelled with the states it comes after)."""
    shapes = [shape for _, shape in sides]
    if not shapes:
        return UNKNOWN
    if all(shape == shapes[0] for shape in shapes):
        return shapes[0]
    if depth > MAX_DEPTH or any(isinstance(shape, Unknown) for shape in shapes):
        return UNKNOWN
    if all(isinstance(shape, Obj) for shape in shapes):
        return _join_objects(sides, depth)
    if all(isinstance(shape, Scalar) for shape in shapes):
        kinds = {shape.kind for shape in shapes}
        if kinds <= {"integer", "number"} and len(kinds) == 2:
            return Scalar("number")
        if len(kinds) > 1:
            return UNKNOWN
        patterns = {shape.pattern for shape in shapes}
        return Scalar(shapes[0].kind, patterns.pop() if len(patterns) == 1 else None)
    if all(isinstance(shape, ListOf) for shape in shapes):
        return ListOf(join([(labels, shape.item) for labels, shape in sides], depth + 1))
    if all(isinstance(shape, MapOf) for shape in shapes):
        return MapOf(join([(labels, shape.value) for labels, shape in sides], depth + 1))
    return UNKNOWN


def _join_objects(sides: list[tuple[frozenset, Obj]], depth: int) -> Obj:
    names: list[str] = []
    for _, shape in sides:
        names += [name for name in shape.fields if name not in names]
    fields = {}
    for name in names:
        present = [(labels, shape.fields[name]) for labels, shape in sides if name in shape.fields]
        absent = [labels for labels, shape in sides if name not in shape.fields and not shape.open]
        missing = frozenset().union(*(f.missing_after for _, f in present), *absent)
        always = not absent and all(f.always for _, f in present) and len(present) == len(sides)
        merged = join([(labels, f.shape) for labels, f in present], depth + 1)
        fields[name] = Field(merged, always, missing)
    return Obj(fields, any(shape.open for _, shape in sides))


def place(target: Shape, steps: tuple, value: Shape, depth: int = 0) -> Shape:
    """``target`` with ``value`` written at a reference path (``ResultPath``); None steps: replace."""
    if not steps:
        return value
    step = steps[0]
    if step.kind != "field" or depth > MAX_DEPTH:
        return UNKNOWN
    if isinstance(target, Unknown):
        target = Obj({}, open=True)
    if not isinstance(target, Obj):
        return target  # reported by the caller: ResultPath cannot be applied
    inner = target.fields[step.value].shape if step.value in target.fields else EMPTY
    fields = dict(target.fields)
    fields[step.value] = Field(place(inner, steps[1:], value, depth + 1))
    return replace(target, fields=fields)


def narrow(shape: Shape, names: tuple[str, ...]) -> Shape:
    """``shape`` where the fields along ``names`` are known to exist (a Choice rule tested them)."""
    if not names or not isinstance(shape, Obj) or names[0] not in shape.fields:
        return shape
    current = shape.fields[names[0]]
    fields = dict(shape.fields)
    fields[names[0]] = Field(narrow(current.shape, names[1:]), True, frozenset())
    return replace(shape, fields=fields)


@dataclass(frozen=True)
class Problem:
    """Why a path finds nothing: ``absent`` (no such field anywhere), ``branch`` (absent on some way in) or
    ``type`` (the step does not apply to what is there)."""

    kind: str
    at: str  # the path up to and including the failing step
    detail: str


def select(shape: Shape, steps: tuple, start: str = "$") -> tuple[Shape, Problem | None]:
    """What ``steps`` select in ``shape`` (a list after a filter, wildcard, slice or union)."""
    current, plural, where = shape, False, start
    for step in steps:
        here = where + step.text()
        if isinstance(current, Unknown):
            return UNKNOWN, None
        if step.kind in ("deep", "function"):
            return UNKNOWN, None
        if step.kind == "field":
            current, problem = _field(current, step.value, where, here, plural)
            if problem:
                return UNKNOWN, problem
        elif step.kind == "index":
            if not isinstance(current, ListOf):
                return UNKNOWN, Problem("type", here, f"{_name(where)} is {_article(current)}, not an array")
            current = current.item
        else:  # wildcard, slice, union, filter: a list of what they pick
            if isinstance(current, ListOf):
                current = current.item
            elif step.kind == "wildcard" and isinstance(current, Obj):
                current = join([(frozenset(), f.shape) for f in current.fields.values()]) if current.fields else UNKNOWN
            elif step.kind == "wildcard" and isinstance(current, MapOf):
                current = current.value
            else:
                return UNKNOWN, Problem("type", here, f"{_name(where)} is {_article(current)}, not an array")
            plural = True
        where = here
    return (ListOf(current) if plural else current), None


def _field(current: Shape, name: str, where: str, here: str, plural: bool) -> tuple[Shape, Problem | None]:
    if isinstance(current, MapOf):
        return current.value, None
    if isinstance(current, ListOf) and not plural:
        return UNKNOWN, Problem("type", here, f"{_name(where)} is an array: select items with [n], [*] or a filter")
    if isinstance(current, ListOf):
        current = current.item
    if not isinstance(current, Obj):
        return UNKNOWN, Problem("type", here, f"{_name(where)} is {_article(current)}, which has no fields")
    if name not in current.fields:
        if current.open:
            return UNKNOWN, None
        return UNKNOWN, Problem("absent", here, f"{_name(where)} has {_members(current)}")
    found = current.fields[name]
    if found.missing_after:
        after = ", ".join(sorted(found.missing_after))
        return UNKNOWN, Problem("branch", here, f"{_name(here)} is missing on the way from {after}")
    return found.shape, None


def _name(path: str) -> str:
    return "the data" if path in ("$", "") else "the context object" if path == "$$" else path


def _members(shape: Obj) -> str:
    names = sorted(shape.fields)
    if not names:
        return "no fields"
    shown = ", ".join(names[:12])
    return f"{shown}{', ...' if len(names) > 12 else ''}"


def _article(shape: Shape) -> str:
    kind = kind_of(shape)
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def describe_problem(problem: Problem, text: str, what: str) -> str:
    """A finding's message for a path that finds nothing in ``what`` (the state's input, the result...)."""
    if problem.kind == "absent":
        return f"path must exist in {what}; {problem.detail} (found {text})"
    if problem.kind == "branch":
        return f"path must exist on every way into the state; {problem.detail} (found {text})"
    return f"path must select something in {what}; {problem.detail} (found {text})"


def parse_steps(text: str) -> tuple:
    return jsonpath.parse(text).steps
