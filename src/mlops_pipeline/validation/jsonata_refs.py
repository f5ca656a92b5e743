"""JSONata expressions (``QueryLanguage: JSONata``): what they read of ``$states`` and what they build.

Parsed with jsonata-python (the local engine's evaluator), so the grammar is JSONata's own. Checked:
every ``$states.input...`` reference (after names, predicates keep the array; names map over arrays,
as JSONata does) and the ``$states`` scopes a field may read (``result`` in a Task's, Parallel's or
Map's Output/Assign, ``errorOutput`` in a Catch's: "Referencing them elsewhere is rejected", developer
guide "Transforming data with JSONata"). References guarded by ``$exists(...)`` of the same field, in
the expression or in the Choice rule that leads to the state, are not required on every way in.
Not checked: variables (``$name``), functions' argument types, ``$states.context`` paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_pipeline.validation import shapes

NUMERIC = {"+", "-", "*", "/", "%"}
BOOLEAN = {"=", "!=", "<", "<=", ">", ">=", "and", "or", "in"}


class JsonataError(ValueError):
    """Not a JSONata expression; the message is the parser's."""


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def expressions(value: object, where: str) -> list[tuple[str, str]]:
    """(field path, expression text) of every ``{% %}`` string in a field's value."""
    if is_expression(value):
        return [(where, value[2:-2].strip())]
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in expressions(inner, f"{where}.{key}")]
    if isinstance(value, list):
        return [item for index, inner in enumerate(value) for item in expressions(inner, f"{where}[{index}]")]
    return []


def parse(text: str):
    from jsonata import Jsonata
    from jsonata.jexception import JException

    try:
        return Jsonata(text).ast
    except JException as problem:
        raise JsonataError(str(problem)) from None
    except Exception as problem:  # the parser's own failures are its message too
        raise JsonataError(str(problem) or type(problem).__name__) from None


@dataclass(frozen=True)
class Ref:
    scope: str  # input | result | errorOutput | context
    names: tuple[str, ...]
    text: str
    inside_exists: bool


def _children(node):
    from jsonata.parser import Parser

    for key, value in vars(node).items():
        if key in ("_outer_instance", "ancestor", "tuple", "group", "focus", "slot"):
            continue
        if isinstance(value, Parser.Symbol):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Parser.Symbol):
                    yield item
                elif isinstance(item, list):  # object constructors: [key, value] pairs
                    yield from (pair for pair in item if isinstance(pair, Parser.Symbol))


def references(node, inside_exists: bool = False) -> list[Ref]:
    """Every ``$states.<scope>...`` path in an expression."""
    found = []
    children = list(_children(node))
    if node.type == "path" and node.steps and _is_states(node.steps[0]):
        steps = node.steps
        scope = steps[1].value if len(steps) > 1 and steps[1].type == "name" else ""
        names = tuple(step.value for step in steps[2:] if step.type == "name")
        text = "$states" + "".join(f".{step.value}" + ("[...]" if step.stages else "") for step in steps[1:])
        found.append(Ref(scope, names, text, inside_exists))
        children = [stage for step in steps for stage in (step.stages or [])]
    elif node.type == "variable" and node.value == "states":
        found.append(Ref("", (), "$states", inside_exists))
    is_exists = node.type == "function" and _procedure(node) == "exists"
    for child in children:
        found += references(child, inside_exists or is_exists)
    return found


def exists_guards(node) -> list[tuple[str, ...]]:
    """The ``$states.input`` fields an expression tests with ``$exists(...)`` anywhere in it."""
    return [ref.names for ref in references(node) if ref.inside_exists and ref.scope == "input"]


def positive_guards(node) -> list[tuple[str, ...]]:
    """Fields that exist when the condition is true: ``$exists(P)`` conjuncts of its top-level ``and``."""
    if node.type == "binary" and node.value == "and":
        return positive_guards(node.lhs) + positive_guards(node.rhs)
    if node.type == "function" and _procedure(node) == "exists" and node.arguments:
        return [ref.names for ref in references(node.arguments[0]) if ref.scope == "input"]
    return []


def negative_guards(node) -> list[tuple[str, ...]]:
    """Fields that exist when the condition is false: it is exactly ``$not($exists(P))``."""
    if node.type == "function" and _procedure(node) == "not" and node.arguments:
        return positive_guards(node.arguments[0]) if _procedure(node.arguments[0]) == "exists" else []
    return []


def resolve(shape: shapes.Shape, ref: Ref, guards: list[tuple[str, ...]]) -> shapes.Problem | None:
    """Why ``$states.input.<names>`` finds nothing on some way in (JSONata maps names over arrays)."""
    current, text = shape, "$states.input"
    for index, name in enumerate(ref.names):
        text += f".{name}"
        while isinstance(current, shapes.ListOf):
            current = current.item
        if isinstance(current, (shapes.Unknown, shapes.MapOf)):
            return None
        if not isinstance(current, shapes.Obj):
            return shapes.Problem("type", text, f"{text.rsplit('.', 1)[0]} is {shapes.kind_of(current)}, no fields")
        if name not in current.fields:
            if current.open:
                return None
            return shapes.Problem("absent", text, f"{text.rsplit('.', 1)[0]} has {', '.join(sorted(current.fields))}")
        found = current.fields[name]
        guarded = any(len(g) > index and g[: index + 1] == ref.names[: index + 1] for g in guards)
        if found.missing_after and not guarded:
            after = ", ".join(sorted(found.missing_after))
            return shapes.Problem("branch", text, f"{text} is missing on the way from {after}")
        current = found.shape
    return None


def shape_of(node, data: shapes.Shape) -> shapes.Shape:
    """What an expression (an ``Output``) builds from ``data`` ($states.input), as far as it is plain."""
    kind = node.type
    if kind == "path" and node.steps and _is_states(node.steps[0]):
        return _input_path(node.steps, data)
    if kind == "string":
        return shapes.STRING
    if kind == "number":
        return shapes.INTEGER if isinstance(node.value, int) else shapes.Scalar("number")
    if kind == "value":
        return shapes.Scalar("null") if node.value is None else shapes.Scalar("boolean")
    if kind == "unary" and node.value == "{":
        return _object(node, data)
    if kind == "unary" and node.value == "[":
        items = [shape_of(item, data) for item in node.expressions or []]
        return shapes.ListOf(shapes.join([(frozenset(), item) for item in items]) if items else shapes.UNKNOWN)
    if kind == "condition":
        branches = [node.then] + ([node._else] if node._else is not None else [])
        return shapes.join([(frozenset(), shape_of(branch, data)) for branch in branches])
    if kind == "binary":
        return (
            shapes.STRING
            if node.value == "&"
            else shapes.Scalar("number")
            if node.value in NUMERIC
            else (shapes.Scalar("boolean") if node.value in BOOLEAN else shapes.UNKNOWN)
        )
    if kind == "function":
        return _function(node, data)
    return shapes.UNKNOWN


def _input_path(steps, data: shapes.Shape) -> shapes.Shape:
    if len(steps) < 2 or steps[1].type != "name" or steps[1].value != "input":
        return shapes.UNKNOWN
    current = data
    for step in steps[2:]:
        if step.type != "name" or step.stages:
            return shapes.UNKNOWN
        while isinstance(current, shapes.ListOf):
            current = current.item
        if isinstance(current, shapes.MapOf):
            current = current.value
        elif isinstance(current, shapes.Obj) and step.value in current.fields:
            current = current.fields[step.value].shape
        else:
            return shapes.UNKNOWN
    return current


def _object(node, data: shapes.Shape) -> shapes.Shape:
    fields = {}
    for pair in node.lhs_object or []:
        key, value = pair[0], pair[1]
        if key.type != "string":
            return shapes.Obj(fields, open=True)
        fields[key.value] = shapes.Field(shape_of(value, data))
    return shapes.Obj(fields)


def _function(node, data: shapes.Shape) -> shapes.Shape:
    name = _procedure(node)
    if name == "merge" and len(node.arguments or []) == 1 and node.arguments[0].type == "unary":
        fields, open_ = {}, False
        for part in node.arguments[0].expressions or []:
            shape = shape_of(part, data)
            if isinstance(shape, shapes.Obj):
                fields.update(shape.fields)
                open_ = open_ or shape.open
            else:
                open_ = True
        return shapes.Obj(fields, open_)
    if name in ("string", "substring", "uppercase", "lowercase", "join", "trim"):
        return shapes.STRING
    if name in ("number", "round", "sum", "count", "max", "min", "average", "abs", "floor", "ceil"):
        return shapes.Scalar("number")
    if name in ("exists", "not", "boolean", "contains"):
        return shapes.Scalar("boolean")
    return shapes.UNKNOWN


def _procedure(node) -> str:
    procedure = getattr(node, "procedure", None)
    return procedure.value if node.type == "function" and procedure is not None else ""


def _is_states(step) -> bool:
    return step.type == "variable" and step.value == "states"
