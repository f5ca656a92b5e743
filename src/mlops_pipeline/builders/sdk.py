"""The Data Science SDK, imported without its side effects, plus the ASL fields it lacks.

Importing ``stepfunctions`` sets the root logger to ERROR and pulls in the SageMaker SDK, which
logs config lookups at INFO and warns about its v2 deprecation. The import here restores the
root level and keeps that noise out of users' terminals. This is the only module that imports
the SDK; the landing handler and the local runtime never need it.

The SDK's service-integration steps resolve the AWS partition from the ambient boto3 session
(``get_aws_partition``), so the builders use plain :class:`Task` states with resource ARNs
built from the deploy target instead. ``ResultSelector`` and ``ErrorPath``/``CausePath`` are
newer than SDK 2.3.0 and are added by the small subclasses below, as are the JSONata fields
(``QueryLanguage``, ``Output``, Choice ``Condition`` rules).
"""

from __future__ import annotations

import logging
import warnings


def _import_sdk():
    root = logging.getLogger()
    level = root.level
    sagemaker_config_logger = logging.getLogger("sagemaker.config")
    sagemaker_config_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from stepfunctions.steps import states
            from stepfunctions.steps.choice_rule import ChoiceRule
    finally:
        root.setLevel(level)
    return states, ChoiceRule


_states, ChoiceRule = _import_sdk()

Catch = _states.Catch
Chain = _states.Chain
Graph = _states.Graph
Retry = _states.Retry
Succeed = _states.Succeed
Wait = _states.Wait


class _ExtraFields:
    """Accept a few ASL fields the SDK predates; they render in PascalCase like the others."""

    extra_fields: tuple[str, ...] = ()

    def is_field_allowed(self, field_name: str) -> bool:
        return field_name in self.extra_fields or super().is_field_allowed(field_name)  # type: ignore[misc]


class Task(_ExtraFields, _states.Task):
    extra_fields = ("result_selector",)


class Fail(_ExtraFields, _states.Fail):
    extra_fields = ("error_path", "cause_path", "query_language")


class Choice(_ExtraFields, _states.Choice):
    extra_fields = ("query_language",)


class Pass(_ExtraFields, _states.Pass):
    extra_fields = ("query_language", "output")


JSONATA = "JSONata"


def jsonata(expression: str) -> str:
    """A JSONata expression as a field value of a ``QueryLanguage: JSONata`` state."""
    return f"{{% {expression} %}}"


class Condition:
    """A JSONata Choice rule: ``{"Condition": "{% ... %}"}`` (the SDK predates them)."""

    def __init__(self, expression: str):
        self.expression = expression

    def to_dict(self) -> dict:
        return {"Condition": jsonata(self.expression)}


def render(start) -> dict:
    """The ASL document (as a dict) of the graph that starts at ``start``."""
    return Graph(start).to_dict()
