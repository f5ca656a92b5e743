"""Intrinsic functions (``States.Format(...)``) parsed as Step Functions reads them in ``.$`` values.

The 18 names and their argument counts are the developer guide's "Intrinsic functions" page (the same
18 the ASL intrinsic grammar of LocalStack and moto knows). Strings are single-quoted; ``\\'``, ``\\{``,
``\\}`` and ``\\\\`` are the only escapes ("an open escape backslash ... the interpreter will throw a
runtime error"); ``States.Format`` needs as many values as its template has ``{}``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

#: name -> (fewest, most) arguments (None: no most) and, per argument, the JSON type it must be (None: any).
FUNCTIONS: dict[str, tuple[int, int | None, tuple[str | None, ...]]] = {
    "States.Format": (1, None, ("string",)),
    "States.StringToJson": (1, 1, ("string",)),
    "States.JsonToString": (1, 1, (None,)),
    "States.Array": (0, None, ()),
    "States.ArrayPartition": (2, 2, ("array", "integer")),
    "States.ArrayContains": (2, 2, ("array", None)),
    "States.ArrayRange": (3, 3, ("integer", "integer", "integer")),
    "States.ArrayGetItem": (2, 2, ("array", "integer")),
    "States.ArrayLength": (1, 1, ("array",)),
    "States.ArrayUnique": (1, 1, ("array",)),
    "States.Base64Encode": (1, 1, ("string",)),
    "States.Base64Decode": (1, 1, ("string",)),
    "States.Hash": (2, 2, (None, "string")),
    "States.JsonMerge": (3, 3, ("object", "object", "boolean")),
    "States.MathRandom": (2, 3, ("integer", "integer", "integer")),
    "States.MathAdd": (2, 2, ("integer", "integer")),
    "States.StringSplit": (2, 2, ("string", "string")),
    "States.UUID": (0, 0, ()),
}
_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_LITERAL = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|null|true|false")


class IntrinsicError(ValueError):
    """Not a valid intrinsic function call; the message says what is wrong."""


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple  # of Call | Literal | PathArg


@dataclass(frozen=True)
class Literal:
    value: object  # str, int, float, bool or None


@dataclass(frozen=True)
class PathArg:
    text: str


def is_call(text: object) -> bool:
    return isinstance(text, str) and text.startswith("States.")


def parse(text: str) -> Call:
    """The call tree of ``text``; IntrinsicError when it is not a valid call."""
    call, position = _call(text, 0)
    if text[position:].strip():
        raise IntrinsicError(f"unexpected {text[position:].strip()[:20]!r} after the call's closing parenthesis")
    return call


def _call(text: str, position: int) -> tuple[Call, int]:
    name = _NAME.match(text, position)
    if not name:
        raise IntrinsicError("an intrinsic function call starts with States.<Name>(")
    if name.group() not in FUNCTIONS:
        close = difflib.get_close_matches(name.group(), FUNCTIONS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise IntrinsicError(f"{name.group()} is not an intrinsic function{hint}")
    position = _skip(text, name.end())
    if not text.startswith("(", position):
        raise IntrinsicError(f"{name.group()} must be followed by (")
    args, position = [], _skip(text, position + 1)
    if text.startswith(")", position):
        return _checked(Call(name.group(), ())), position + 1
    while True:
        arg, position = _argument(text, position)
        args.append(arg)
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
            continue
        if text.startswith(")", position):
            return _checked(Call(name.group(), tuple(args))), position + 1
        raise IntrinsicError(f"unbalanced parentheses: {name.group()}( is not closed")


def _argument(text: str, position: int):
    if text.startswith("'", position):
        return _string(text, position)
    if text.startswith("States.", position):
        return _call(text, position)
    if text.startswith("$", position):
        return _path(text, position)
    literal = _LITERAL.match(text, position)
    if literal:
        return Literal(_literal_value(literal.group())), literal.end()
    raise IntrinsicError(
        f"unexpected {text[position : position + 10]!r}: an argument is a 'string', number, path or call"
    )


def _string(text: str, position: int) -> tuple[Literal, int]:
    out, index = [], position + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in "'{}\\":
                raise IntrinsicError("a backslash in a string must escape ', {, } or \\")
            out.append(text[index : index + 2] if text[index + 1] in "{}" else text[index + 1])
            index += 2
            continue
        if char == "'":
            return Literal("".join(out)), index + 1
        out.append(char)
        index += 1
    raise IntrinsicError("unterminated string: a ' is not closed")


def _path(text: str, position: int) -> tuple[PathArg, int]:
    depth, quote, index = 0, "", position
    while index < len(text):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"" and depth:
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        index += 1
    return PathArg(text[position:index].strip()), index


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _literal_value(text: str) -> object:
    if text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    return float(text) if any(c in text for c in ".eE") else int(text)


def _checked(call: Call) -> Call:
    fewest, most, _ = FUNCTIONS[call.name]
    count = len(call.args)
    if count < fewest or (most is not None and count > most):
        expected = str(fewest) if fewest == most else f"{fewest} or more" if most is None else f"{fewest} to {most}"
        raise IntrinsicError(f"{call.name} takes {expected} argument{'s' if expected != '1' else ''} (found {count})")
    if call.name == "States.Format" and isinstance(call.args[0], Literal) and isinstance(call.args[0].value, str):
        slots = len(re.findall(r"(?<!\\){}", call.args[0].value))
        if slots != count - 1:
            raise IntrinsicError(f"the States.Format template has {slots} {{}} for {count - 1} values")
    return call


def format_pattern(template: str) -> list[str]:
    """The literal pieces of a States.Format template around its ``{}`` slots (escapes resolved)."""
    pieces = re.split(r"(?<!\\){}", template)
    return [piece.replace("\\{", "{").replace("\\}", "}") for piece in pieces]
