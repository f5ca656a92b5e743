"""The Data Science SDK's state classes, loaded without the SDK's package, plus the ASL fields it lacks.

The builders need only ``stepfunctions.steps.states`` and ``choice_rule`` (and the small ``inputs``,
``fields`` and ``exceptions`` modules they import). The packages ``stepfunctions`` and
``stepfunctions.steps`` import everything else on the way: the service-integration steps, which import
the SageMaker SDK (over a second of start-up, INFO lines about its config files and a deprecation
warning), and ``pkg_resources``; and they set the root logger to ERROR. :func:`_load_state_modules`
therefore runs those two ``__init__`` files not at all: while it imports the modules above, it
stands bare packages (right name and ``__path__``, nothing run) in for them, then takes every
``stepfunctions`` module back out of ``sys.modules``, so the process is left as it was and a later
``import stepfunctions`` loads the whole SDK as usual. This is the only module that touches the SDK;
the landing handler and the local runtime never need it.

The SDK's service-integration steps resolve the AWS partition from the ambient boto3 session
(``get_aws_partition``), so the builders use plain :class:`Task` states with resource ARNs
built from the deploy target instead. ``ResultSelector`` and ``ErrorPath``/``CausePath`` are
newer than SDK 2.3.0 and are added by the small subclasses below, as are the JSONata fields
(``QueryLanguage``, ``Output``, Choice ``Condition`` rules).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

_SDK = "stepfunctions"
_BARE_PACKAGES = ("", "steps")  # the SDK's packages whose __init__ imports the SageMaker SDK
_STATE_MODULES = ("stepfunctions.steps.states", "stepfunctions.steps.choice_rule")


def _bare_package(name: str, path: Path) -> types.ModuleType:
    """A package module that only knows where its files are, so its submodules import and its
    ``__init__`` never runs."""
    package = types.ModuleType(name)
    package.__path__ = [str(path)]
    package.__package__ = name
    return package


def _sdk_modules() -> list[str]:
    return [name for name in sys.modules if name == _SDK or name.startswith(_SDK + ".")]


def _load_state_modules() -> list[types.ModuleType]:
    """The modules of ``_STATE_MODULES``; loaded on their own (the module docstring says why), or taken
    from the whole SDK when something in the process has imported it already."""
    if _SDK in sys.modules:
        return [importlib.import_module(name) for name in _STATE_MODULES]
    spec = importlib.util.find_spec(_SDK)  # finds the package's directory without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the {_SDK} package (AWS Step Functions Data Science SDK) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for part in _BARE_PACKAGES:
        name = ".".join(filter(None, (_SDK, part)))
        sys.modules[name] = _bare_package(name, root / part)
    try:
        return [importlib.import_module(name) for name in _STATE_MODULES]
    finally:
        for name in _sdk_modules():
            del sys.modules[name]


_states, _choice_rule = _load_state_modules()
ChoiceRule = _choice_rule.ChoiceRule

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
