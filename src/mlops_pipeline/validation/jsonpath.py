"""JSONPath as Step Functions reads it: ``$`` (the data), ``$$`` (the context object), ``$name`` (a variable).

Step Functions follows Jayway JsonPath ("Paths" in the developer guide): dot and bracket steps, ``*``,
``..``, slices, unions and filters ``[?(...)]``, which AWS accepts in ``Parameters``/``ResultSelector``
values, ``InputPath`` and ``OutputPath`` and which always select a list (Jayway's rule, see
docs/validation.md). Reference paths (``ResultPath``, ``SecondsPath``, ``ItemsPath``...) select one node:
only ``.name``, ``['name']`` and ``[n]`` steps ("The operators ``@``, ``,``, ``:`` and ``?`` are not
supported").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[^.\[\]\s()'\"]+")
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class PathError(ValueError):
    """A string that is not a JSONPath; the message says what is wrong."""


@dataclass(frozen=True)
class Step:
    """``field`` (value: name), ``index`` (int), ``wildcard``, ``slice``, ``union``, ``filter`` (text),
    ``deep`` (name or ``*``) or ``function`` (name)."""

    kind: str
    value: object = None

    def text(self) -> str:
        if self.kind == "field":
            return f".{self.value}" if _NAME.fullmatch(str(self.value)) else f"['{self.value}']"
        if self.kind == "index":
            return f"[{self.value}]"
        if self.kind == "wildcard":
            return "[*]"
        if self.kind == "deep":
            return f"..{self.value}"
        if self.kind == "function":
            return f".{self.value}()"
        return f"[{self.value}]"


@dataclass(frozen=True)
class Path:
    text: str
    root: str  # "$", "$$" or a variable's name
    steps: tuple[Step, ...]

    @property
    def is_context(self) -> bool:
        return self.root == "$$"

    @property
    def is_variable(self) -> bool:
        return self.root not in ("$", "$$")

    @property
    def definite(self) -> bool:
        return all(step.kind in ("field", "index") for step in self.steps)


def is_path(text: object) -> bool:
    return isinstance(text, str) and text.startswith("$")


def parse(text: str) -> Path:
    """The steps of a JSONPath; PathError when it is not one."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathError("a path starts with $")
    if text.startswith("$$"):
        root, position = "$$", 2
    elif variable := _VARIABLE.match(text):
        root, position = variable.group(1), variable.end()
    else:
        root, position = "$", 1
    steps = []
    while position < len(text):
        step, position = _step(text, position)
        steps.append(step)
    return Path(text, root, tuple(steps))


def _step(text: str, position: int) -> tuple[Step, int]:
    if text.startswith("..", position):
        if text.startswith("*", position + 2):
            return Step("deep", "*"), position + 3
        if text.startswith("[", position + 2):
            step, end = _bracket(text, position + 2)
            return Step("deep", step.value), end
        name = _NAME.match(text, position + 2)
        if not name:
            raise PathError(f"a name must follow .. at character {position + 3}")
        return Step("deep", name.group()), name.end()
    if text.startswith(".", position):
        if text.startswith("*", position + 1):
            return Step("wildcard"), position + 2
        name = _NAME.match(text, position + 1)
        if not name:
            raise PathError(f"a name must follow . at character {position + 2}")
        if text.startswith("()", name.end()):
            return Step("function", name.group()), name.end() + 2
        return Step("field", name.group()), name.end()
    if text.startswith("[", position):
        return _bracket(text, position)
    raise PathError(f"unexpected {text[position]!r} at character {position + 1}")


def _bracket(text: str, position: int) -> tuple[Step, int]:
    end = _closing(text, position)
    inner = text[position + 1 : end].strip()
    after = end + 1
    if inner == "*":
        return Step("wildcard"), after
    if inner.startswith("?(") and inner.endswith(")"):
        return Step("filter", inner), after
    quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", inner)
    if quoted and re.fullmatch(r"\s*(('[^']*'|\"[^\"]*\")\s*,\s*)*('[^']*'|\"[^\"]*\")\s*", inner):
        names = [single or double for single, double in quoted]
        return (Step("field", names[0]) if len(names) == 1 else Step("union", inner)), after
    if re.fullmatch(r"-?\d+", inner):
        return Step("index", int(inner)), after
    if re.fullmatch(r"\s*-?\d+\s*(,\s*-?\d+\s*)+", inner):
        return Step("union", inner), after
    if re.fullmatch(r"\s*(-?\d+)?\s*:\s*(-?\d+)?\s*(:\s*-?\d+\s*)?", inner):
        return Step("slice", inner), after
    raise PathError(f"[{inner}] is not an index, a quoted name, a slice, * or a filter [?(...)]")


def _closing(text: str, position: int) -> int:
    """Index of the ``]`` closing the ``[`` at ``position`` (quotes and parentheses respected)."""
    depth, quote = 0, ""
    for index in range(position, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0:
                if char != "]":
                    break
                return index
    raise PathError(f"the [ at character {position + 1} is not closed")


def reference_problem(path: Path) -> str | None:
    """Why a path cannot be a reference path (one node of the data), or None."""
    if path.is_context:
        return "a reference path selects from the data ($...), not the context object"
    if not path.definite:
        return "a reference path takes only .name, ['name'] and [n] steps (no *, .., slices, unions or filters)"
    return None
