"""What validation reports: one line per finding, errors and warnings, and the closing summary."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """A rule a definition (or the Terraform role) breaks, located as ``<workflow> <State>.<field>``.

    ``workflow`` is the definition's name (``training``, ``scoring``), ``terraform`` for the role's
    policy, ``deploy`` for the state machines' settings, or the workflow file when it does not load.
    """

    severity: str
    workflow: str
    state: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.state}.{self.field}" if self.state and self.field else self.state or self.field
        return f"{self.severity}: {self.workflow}{' ' + where if where else ''}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def error(workflow: str, state: str, field: str, message: str) -> Finding:
    return Finding(ERROR, workflow, state, field, message)


def warning(workflow: str, state: str, field: str, message: str) -> Finding:
    return Finding(WARNING, workflow, state, field, message)


def summary(findings: list[Finding], what: str) -> str:
    """``<what>: N errors, M warnings`` (the line the command ends with)."""
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    return f"{what}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def found(value: object, limit: int = 60) -> str:
    """A value as the ``(found ...)`` part of a message: JSON-like, cut to ``limit`` characters."""
    import json

    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 3] + "..."
        return text if _is_plain(value) else json.dumps(text, ensure_ascii=False)
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_plain(text: str) -> bool:
    """Paths and expressions read better unquoted; other strings are quoted as JSON."""
    return text.startswith(("$", "States.", "{%"))
