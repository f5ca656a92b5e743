"""Paths exist: the data traced through a definition, from the execution input to every state.

Each state's input is what its ways in deliver: the execution input (the landing handler's, see
``handlers.s3_landing.execution_input``) at ``StartAt``, then per state type as the developer guide's
"Input and output processing" describes it: ``InputPath`` -> ``Parameters`` -> the task's result (its
API's output shape, see ``models``) -> ``ResultSelector`` -> ``ResultPath`` -> ``OutputPath``; a Pass
state's ``Result``/``Parameters``; Choice, Wait and Succeed pass their input on; a Catch writes
``{Error, Cause}`` at its ``ResultPath`` into the state's input. Loops are followed until nothing
changes. Then every path a state reads is resolved against that input: a path that finds nothing is
``States.Runtime`` at run time (an error here), and so is one that finds nothing on some way into the
state. A Choice rule that tests ``IsPresent: true`` (or a JSONata ``$exists``) narrows what its target
receives. Not traced: variables (``Assign``), ``..`` paths, JSONPath functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from mlops_pipeline.validation import intrinsics, jsonata_refs, jsonpath, shapes
from mlops_pipeline.validation.asl import JSONATA, Machine, integration, nested_machines, query_language, top_machine
from mlops_pipeline.validation.findings import Finding, error, found, warning
from mlops_pipeline.validation.models import Binding, ServiceModels, UnknownApi

ERROR_OUTPUT = shapes.obj(Error=shapes.STRING, Cause=shapes.STRING)
_DEFAULT = object()
MAX_VISITS_PER_STATE = 40


@dataclass
class StateFacts:
    """What the final pass learned about a state (the IAM check reads the Task payloads)."""

    input: shapes.Shape
    payload: shapes.Shape | None = None
    binding: Binding | None = None


@dataclass
class Flow:
    findings: list[Finding] = field(default_factory=list)
    states: dict[str, StateFacts] = field(default_factory=dict)


def execution_input() -> shapes.Obj:
    """What the landing handler starts executions with: ``REQUIRED_INPUT`` always, the rest as it writes it."""
    from mlops_pipeline.builders.common import REQUIRED_INPUT
    from mlops_pipeline.handlers.s3_landing import LandedObject, execution_input

    sample = LandedObject("bucket", "key", 1, "etag", "version", "sequencer", "time", "ObjectCreated:Put")
    fields = {}
    for name, value in execution_input("train", sample).items():
        kind = shapes.from_json(value)
        kind = shapes.Scalar(kind.kind) if isinstance(kind, shapes.Scalar) else kind
        fields[name] = shapes.Field(kind, always=name in REQUIRED_INPUT)
    return shapes.Obj(fields)


def analyse(workflow: str, definition: dict, models: ServiceModels, start: shapes.Shape) -> Flow:
    flow = Flow()
    _Analysis(workflow, models, start, flow).machine(top_machine(definition), start, final=True)
    return flow


Report = Callable[[Finding], None]


class _Analysis:
    def __init__(self, workflow: str, models: ServiceModels, start: shapes.Shape, flow: Flow):
        self.workflow, self.models, self.flow = workflow, models, flow
        self.execution_input = start
        self.bindings: dict[str, Binding | None | str] = {}

    # -- the fixpoint over one machine -----------------------------------------------------------

    def machine(self, machine: Machine, start: shapes.Shape, final: bool, item: shapes.Shape | None = None):
        """Trace ``start`` through ``machine``; on the final pass, check every state. Returns its output."""
        incoming: dict[str, dict] = {machine.start_at: {("(execution input)", ""): start}}
        queue, visits = [machine.start_at], {}
        while queue:
            name = queue.pop(0)
            visits[name] = visits.get(name, 0) + 1
            if visits[name] > MAX_VISITS_PER_STATE or name not in machine.states:
                continue
            edges, _ = self.state(name, machine, self._input(incoming[name]), None, item)
            for target, key, shape in edges:
                if incoming.setdefault(target, {}).get(key) != shape:
                    incoming[target][key] = shape
                    if target not in queue:
                        queue.append(target)
        outputs = []
        for name in machine.states:
            if name in incoming and isinstance(machine.states[name], dict):
                report = self.flow.findings.append if final else None
                _, output = self.state(name, machine, self._input(incoming[name]), report, item)
                if output is not None:
                    outputs.append((frozenset({name}), output))
        return shapes.join(outputs) if outputs else shapes.UNKNOWN

    @staticmethod
    def _input(ways: dict) -> shapes.Shape:
        return shapes.join([(frozenset({label}), shape) for (label, _), shape in ways.items()])

    # -- one state ---------------------------------------------------------------------------------

    def state(self, name: str, machine: Machine, data: shapes.Shape, report: Report | None, item):
        """(edges out: (target, key, shape), output when terminal) of a state given its input."""
        state = machine.states[name]
        check = _Checker(self, name, state, report, item)
        if report is not None:
            self.flow.states[name] = StateFacts(data)
        if query_language(state, machine) == JSONATA:
            return check.jsonata_state(data, machine)
        return check.jsonpath_state(data, machine)

    def binding(self, resource: str) -> Binding | None | str:
        if resource not in self.bindings:
            try:
                self.bindings[resource] = self.models.bind(resource)
            except UnknownApi as problem:
                self.bindings[resource] = str(problem)
        return self.bindings[resource]


class _Checker:
    """The transfer function of one state, reporting what it finds when ``report`` is given."""

    def __init__(self, analysis: _Analysis, name: str, state: dict, report: Report | None, item):
        self.analysis, self.name, self.state, self.report_to, self.item = analysis, name, state, report, item

    def report(self, field_path: str, message: str, severity=error) -> None:
        if self.report_to is not None:
            self.report_to(severity(self.analysis.workflow, self.name, field_path, message))

    # -- JSONPath states -----------------------------------------------------------------------

    def jsonpath_state(self, raw: shapes.Shape, machine: Machine):
        state, kind = self.state, self.state["Type"]
        if kind == "Fail":
            for key in ("CausePath", "ErrorPath"):
                if key in state:
                    self.value(state[key], raw, key, "the state's input")
            return [], raw
        data = self.io_path(raw, "InputPath")
        if kind == "Choice":
            return self.choice(data), None
        if kind == "Wait":
            self.wait(data)
        if kind in ("Pass", "Task", "Parallel", "Map"):
            result = self.result(data, machine)
            data = self.result_path(raw, result)
        output = self.io_path(data, "OutputPath", what="the state's output")
        edges = [(state["Next"], (self.name, "Next"), output)] if "Next" in state else []
        edges += self.catches(raw)
        terminal = output if state.get("End") is True or kind in ("Succeed",) else None
        return edges, terminal

    def io_path(self, data: shapes.Shape, key: str, what: str = "the state's input") -> shapes.Shape:
        if key not in self.state:
            return data
        if self.state[key] is None:
            return shapes.EMPTY
        return self.path(self.state[key], data, key, what)

    def result(self, data: shapes.Shape, machine: Machine) -> shapes.Shape:
        state, kind = self.state, self.state["Type"]
        if kind == "Pass":
            if "Parameters" in state:
                return self.payload(state["Parameters"], data, "Parameters")
            return shapes.from_json(state["Result"]) if "Result" in state else data
        if kind == "Task":
            return self.task(data)
        if kind == "Parallel":
            return self.parallel(data, machine)
        return self.map(data, machine)

    def task(self, data: shapes.Shape) -> shapes.Shape:
        state = self.state
        payload = self.payload(state["Parameters"], data, "Parameters") if "Parameters" in state else data
        binding = self._binding()
        if self.report_to is not None:
            self.analysis.flow.states[self.name].payload = payload
            self.analysis.flow.states[self.name].binding = binding
        for key in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if key in state:
                self.reference(state[key], data, key, expect="integer")
        result = binding.result if binding else shapes.UNKNOWN
        if "ResultSelector" in state:
            what = f"the result of {binding.result_label}" if binding else "the task's result"
            result = self.payload(state["ResultSelector"], result, "ResultSelector", what=what)
        return result

    def _binding(self) -> Binding | None:
        resource = integration(self.state.get("Resource"))
        if resource is None:
            return None
        binding = self.analysis.binding(resource)
        if isinstance(binding, str):
            self.report("Resource", f"the resource must name an API of its service; {binding} (found {resource})")
            return None
        return binding

    def parallel(self, data: shapes.Shape, machine: Machine) -> shapes.Shape:
        branch_input = (
            self.payload(self.state["Parameters"], data, "Parameters") if "Parameters" in self.state else data
        )
        outputs = [
            self.analysis.machine(nested, branch_input, self.report_to is not None)
            for _, nested in nested_machines(self.state, machine)
        ]
        return shapes.ListOf(shapes.join([(frozenset(), o) for o in outputs]) if outputs else shapes.UNKNOWN)

    def map(self, data: shapes.Shape, machine: Machine) -> shapes.Shape:
        items = self.reference(self.state["ItemsPath"], data, "ItemsPath") if "ItemsPath" in self.state else data
        item = items.item if isinstance(items, shapes.ListOf) else shapes.UNKNOWN
        selector = self.state.get("ItemSelector", self.state.get("Parameters"))
        key = "ItemSelector" if "ItemSelector" in self.state else "Parameters"
        iteration = self.payload(selector, data, key, item=item) if isinstance(selector, dict) else item
        outputs = [
            self.analysis.machine(nested, iteration, self.report_to is not None, item)
            for _, nested in nested_machines(self.state, machine)
        ]
        return shapes.ListOf(shapes.join([(frozenset(), o) for o in outputs]) if outputs else shapes.UNKNOWN)

    def result_path(self, raw: shapes.Shape, result: shapes.Shape, key: str = "ResultPath", spec=_DEFAULT):
        spec = self.state.get(key, "$") if spec is _DEFAULT else spec
        if spec is None:
            return raw
        # A ResultPath that cannot be applied fails the state (States.ResultPathMatchFailure); the input is
        # passed on unchanged here so that one mistake does not hide what follows.
        try:
            path = jsonpath.parse(spec)
        except (jsonpath.PathError, TypeError) as problem:
            self.report(key, f"must be a reference path; {problem} (found {found(spec)})")
            return raw
        problem = jsonpath.reference_problem(path)
        if problem or path.is_variable:
            self.report(key, f"{problem or 'a reference path selects from the data ($...)'} (found {spec})")
            return raw
        blocked = _blocking_scalar(raw, path.steps)
        if blocked:
            self.report(key, f"must lead into an object; {blocked} (found {spec})")
            return raw
        return shapes.place(raw, path.steps, result)

    def catches(self, raw: shapes.Shape) -> list:
        edges = []
        for index, catcher in enumerate(self.state.get("Catch") or []):
            if not isinstance(catcher, dict) or "Next" not in catcher:
                continue
            spec = catcher.get("ResultPath", "$")
            shape = self.result_path(raw, ERROR_OUTPUT, f"Catch[{index}].ResultPath", spec=spec)
            edges.append((catcher["Next"], (f"{self.name} (caught error)", f"Catch[{index}]"), shape))
        return edges

    def choice(self, data: shapes.Shape) -> list:
        """Rules are tried in order: a later rule (and Default) is reached only when the earlier ones are false."""
        edges, ruled_out = [], []
        for index, rule in enumerate(self.state.get("Choices") or []):
            if not isinstance(rule, dict):
                continue
            reached = _narrowed(data, ruled_out)
            self.rule(rule, reached, f"Choices[{index}]")
            if "Next" in rule:
                taken = _narrowed(reached, _proves(rule, True))
                output = self.io_path(taken, "OutputPath", what="the state's output")
                edges.append((rule["Next"], (self.name, f"Choices[{index}]"), output))
            ruled_out += _proves(rule, False)
        if "Default" in self.state:
            default = self.io_path(_narrowed(data, ruled_out), "OutputPath")
            edges.append((self.state["Default"], (self.name, "Default"), default))
        return edges

    def rule(self, rule: dict, data: shapes.Shape, where: str) -> None:
        """Check a Choice rule's paths. And/Or short-circuit: a condition is evaluated only when the ones
        before it were true (And) or false (Or), so it may read what those prove present."""
        for combinator, truth in (("And", True), ("Or", False)):
            proved: list[tuple[str, ...]] = []
            for index, inner in enumerate(rule.get(combinator) or []):
                if isinstance(inner, dict):
                    self.rule(inner, _narrowed(data, proved), f"{where}.{combinator}[{index}]")
                    proved += _proves(inner, truth)
        if isinstance(rule.get("Not"), dict):
            self.rule(rule["Not"], data, f"{where}.Not")
        if "Variable" in rule:
            if "IsPresent" in rule:
                try:
                    jsonpath.parse(rule["Variable"])
                except jsonpath.PathError as problem:
                    self.report(f"{where}.Variable", f"must be a JSONPath: {problem} (found {rule['Variable']})")
            else:
                self.value(rule["Variable"], data, f"{where}.Variable", "the state's input", only_path=True)
        for key, value in rule.items():
            if key.endswith("Path") and key != "Variable" and isinstance(value, str):
                self.value(value, data, f"{where}.{key}", "the state's input", only_path=True)

    def wait(self, data: shapes.Shape) -> None:
        if "SecondsPath" in self.state:
            self.reference(self.state["SecondsPath"], data, "SecondsPath", expect="integer")
        if "TimestampPath" in self.state:
            self.reference(self.state["TimestampPath"], data, "TimestampPath", expect="string")

    # -- values: paths, intrinsic functions, payload templates -----------------------------------

    def payload(self, template, data, where: str, what: str = "the state's input", item=None) -> shapes.Shape:
        if isinstance(template, dict):
            fields = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    fields[key[:-2]] = shapes.Field(self.value(value, data, f"{where}.{key}", what, item=item))
                else:
                    fields[key] = shapes.Field(self.payload(value, data, f"{where}.{key}", what, item))
            return shapes.Obj(fields)
        if isinstance(template, list):
            items = [self.payload(v, data, f"{where}[{i}]", what, item) for i, v in enumerate(template)]
            return shapes.ListOf(shapes.join([(frozenset(), i) for i in items]) if items else shapes.UNKNOWN)
        return shapes.from_json(template)

    def value(self, text, data, where: str, what: str, only_path=False, item=None):
        """The shape a ``.$`` value (a path or an intrinsic call) gives; its problems reported."""
        if isinstance(text, str) and intrinsics.is_call(text) and not only_path:
            try:
                call = intrinsics.parse(text)
            except intrinsics.IntrinsicError as problem:
                self.report(where, f"must be a valid intrinsic function call; {problem} (found {found(text)})")
                return shapes.UNKNOWN
            return self.call(call, data, where, what, item)
        if isinstance(text, str) and text.startswith("$"):
            return self.path(text, data, where, what, item)
        expected = "a JSONPath ($, $. or $$.)" + ("" if only_path else " or an intrinsic function call")
        self.report(where, f"must be {expected} (found {found(text)})")
        return shapes.UNKNOWN

    def path(self, text, data, where: str, what: str, item=None) -> shapes.Shape:
        try:
            path = jsonpath.parse(text)
        except jsonpath.PathError as problem:
            self.report(where, f"must be a valid JSONPath; {problem} (found {found(text)})")
            return shapes.UNKNOWN
        if path.is_variable:
            return shapes.UNKNOWN
        if any(step.kind == "function" for step in path.steps):
            self.report(where, f"Step Functions does not evaluate JSONPath functions such as () (found {text})")
            return shapes.UNKNOWN
        source, start = (self.context(item), "$$") if path.is_context else (data, "$")
        shape, problem = shapes.select(source, path.steps, start)
        if problem:
            label = "the context object" if path.is_context else what
            self.report(where, shapes.describe_problem(problem, text, label))
        return shape

    def reference(self, text, data, where: str, expect: str | None = None) -> shapes.Shape:
        try:
            parsed = jsonpath.parse(text)
        except (jsonpath.PathError, TypeError) as problem:
            self.report(where, f"must be a reference path; {problem} (found {found(text)})")
            return shapes.UNKNOWN
        problem = jsonpath.reference_problem(parsed)
        if problem and not parsed.is_context:
            self.report(where, f"{problem} (found {text})")
            return shapes.UNKNOWN
        shape = self.path(text, data, where, "the state's input")
        if expect and isinstance(shape, shapes.Scalar) and not _kind_fits(shape, expect):
            self.report(where, f"must select {_an(expect)} (found {_an(shapes.kind_of(shape))} at {text})")
        return shape

    def call(self, call: intrinsics.Call, data, where: str, what: str, item) -> shapes.Shape:
        args = []
        for arg in call.args:
            if isinstance(arg, intrinsics.Call):
                args.append(self.call(arg, data, where, what, item))
            elif isinstance(arg, intrinsics.PathArg):
                args.append(self.path(arg.text, data, where, what, item))
            else:
                args.append(shapes.from_json(arg.value))
        expected = intrinsics.FUNCTIONS[call.name][2]
        for index, (arg, shape) in enumerate(zip(call.args, args, strict=False)):
            kind = expected[index] if index < len(expected) else None
            if kind and not isinstance(shape, shapes.Unknown) and not _kind_fits(shape, kind):
                at = f" at {arg.text}" if isinstance(arg, intrinsics.PathArg) else ""
                self.report(
                    where,
                    f"argument {index + 1} of {call.name} must be {_an(kind)} (found {_an(shapes.kind_of(shape))}{at})",
                )
        return _call_result(call, args)

    def context(self, item=None) -> shapes.Obj:
        """The context object ``$$`` in this state (only states that retry have State.RetryCount)."""
        kind = self.state.get("Type")
        state = {"EnteredTime": shapes.STRING, "Name": shapes.STRING}
        if kind in ("Task", "Parallel", "Map"):
            state["RetryCount"] = shapes.INTEGER
        execution = shapes.obj(
            Id=shapes.STRING,
            Input=self.analysis.execution_input,
            Name=shapes.STRING,
            RoleArn=shapes.STRING,
            StartTime=shapes.STRING,
            RedriveCount=shapes.INTEGER,
        )
        execution.fields["RedriveTime"] = shapes.Field(shapes.STRING, always=False)
        fields = {
            "Execution": execution,
            "State": shapes.obj(**state),
            "StateMachine": shapes.obj(Id=shapes.STRING, Name=shapes.STRING),
        }
        if str(self.state.get("Resource", "")).endswith(".waitForTaskToken"):
            fields["Task"] = shapes.obj(Token=shapes.STRING)
        if item is not None:
            fields["Map"] = shapes.obj(Item=shapes.obj(Index=shapes.INTEGER, Value=item))
        return shapes.obj(**fields)

    # -- JSONata states ------------------------------------------------------------------------------

    def jsonata_state(self, raw: shapes.Shape, machine: Machine):
        state, kind = self.state, self.state["Type"]
        parsed = self.jsonata_checks(raw)
        binding = self._binding() if kind == "Task" else None
        if kind == "Task" and self.report_to is not None:
            self.analysis.flow.states[self.name].binding = binding
            self.analysis.flow.states[self.name].payload = _arguments(state.get("Arguments"))
        if kind == "Choice":
            return self.jsonata_choice(raw, parsed), None
        result = binding.result if binding else shapes.UNKNOWN
        default = result if kind in ("Task", "Parallel", "Map") else raw
        output = _jsonata_output(state, parsed, "Output", raw, default)
        edges = [(state["Next"], (self.name, "Next"), output)] if "Next" in state else []
        for index, catcher in enumerate(state.get("Catch") or []):
            if isinstance(catcher, dict) and "Next" in catcher:
                caught = _jsonata_output(catcher, parsed, f"Catch[{index}].Output", raw, ERROR_OUTPUT)
                edges.append((catcher["Next"], (f"{self.name} (caught error)", f"Catch[{index}]"), caught))
        terminal = output if state.get("End") is True or kind in ("Succeed", "Fail") else None
        return edges, terminal

    def jsonata_checks(self, data: shapes.Shape) -> dict:
        """Parse and check every expression of the state; returns field path -> parsed expression."""
        parsed = {}
        for key, value in self.state.items():
            if key in ("Branches", "ItemProcessor", "Iterator", "Type", "Next", "Comment", "QueryLanguage"):
                continue
            for where, text in jsonata_refs.expressions(value, key):
                try:
                    node = jsonata_refs.parse(text)
                except jsonata_refs.JsonataError as problem:
                    self.report(where, f"must be a valid JSONata expression; {problem} (found {found(text)})")
                    continue
                parsed[where] = node
                self.jsonata_refs(node, data, where)
        return parsed

    def jsonata_refs(self, node, data: shapes.Shape, where: str) -> None:
        guards = jsonata_refs.exists_guards(node)
        allowed = _scopes(self.state["Type"], where)
        for ref in jsonata_refs.references(node):
            if ref.scope not in allowed:
                self.report(
                    where,
                    f"$states.{ref.scope or ''} cannot be read here; here it has {', '.join(allowed)} "
                    f"(found {ref.text})",
                )
                continue
            if ref.scope != "input" or ref.inside_exists:
                continue
            problem = jsonata_refs.resolve(data, ref, guards)
            if problem:
                severity = error if problem.kind == "absent" else warning
                self.report(where, shapes.describe_problem(problem, ref.text, "the state's input"), severity)

    def jsonata_choice(self, data: shapes.Shape, parsed: dict) -> list:
        edges, negated = [], []
        for index, rule in enumerate(self.state.get("Choices") or []):
            node = parsed.get(f"Choices[{index}].Condition")
            present = list(negated) + (jsonata_refs.positive_guards(node) if node is not None else [])
            narrowed = data
            for names in present:
                narrowed = shapes.narrow(narrowed, names)
            if isinstance(rule, dict) and "Next" in rule:
                edges.append((rule["Next"], (self.name, f"Choices[{index}]"), narrowed))
            negated += jsonata_refs.negative_guards(node) if node is not None else []
        if "Default" in self.state:
            narrowed = data
            for names in negated:
                narrowed = shapes.narrow(narrowed, names)
            edges.append((self.state["Default"], (self.name, "Default"), narrowed))
        return edges


def _proves(rule: object, truth: bool) -> list[tuple[str, ...]]:
    """The fields of ``$`` a Choice rule proves present when it evaluates to ``truth``: an ``IsPresent``
    test, through ``Not``, all of an ``And`` that is true (``Or`` false), what every branch proves otherwise."""
    if not isinstance(rule, dict):
        return []
    if isinstance(rule.get("Not"), dict):
        return _proves(rule["Not"], not truth)
    for combinator, all_of in (("And", True), ("Or", False)):
        inner = [r for r in rule.get(combinator) or [] if isinstance(r, dict)]
        if combinator in rule:
            proofs = [_proves(r, truth) for r in inner]
            if truth is all_of:
                return [names for proof in proofs for names in proof]
            return [names for names in proofs[0] if all(names in p for p in proofs[1:])] if proofs else []
    if "Variable" in rule and rule.get("IsPresent") is truth:
        try:
            path = jsonpath.parse(rule["Variable"])
        except jsonpath.PathError:
            return []
        if path.root == "$" and path.steps and all(step.kind == "field" for step in path.steps):
            return [tuple(step.value for step in path.steps)]
    return []


def _narrowed(data: shapes.Shape, present: list[tuple[str, ...]]) -> shapes.Shape:
    for names in present:
        data = shapes.narrow(data, names)
    return data


def _jsonata_output(holder: dict, parsed: dict, where: str, data: shapes.Shape, default: shapes.Shape):
    """What a JSONata state (or catcher) outputs: its ``Output`` evaluated as far as it is plain."""
    if "Output" not in holder:
        return default
    if where in parsed:
        return jsonata_refs.shape_of(parsed[where], data)
    return _literal_with_expressions(holder["Output"], data)


def _scopes(kind: str, where: str) -> tuple[str, ...]:
    """The ``$states`` fields a JSONata field may read: ``result`` in a Task's, Parallel's or Map's
    Output/Assign, ``errorOutput`` in a Catch's (developer guide, "Transforming data with JSONata")."""
    if where.startswith("Catch["):
        return (
            ("input", "context", "errorOutput") if (".Output" in where or ".Assign" in where) else ("input", "context")
        )
    if kind in ("Task", "Parallel", "Map") and where.startswith(("Output", "Assign")):
        return ("input", "context", "result")
    return ("input", "context")


def _literal_with_expressions(value, data) -> shapes.Shape:
    if jsonata_refs.is_expression(value):
        try:
            return jsonata_refs.shape_of(jsonata_refs.parse(value[2:-2].strip()), data)
        except jsonata_refs.JsonataError:
            return shapes.UNKNOWN
    if isinstance(value, dict):
        return shapes.Obj({k: shapes.Field(_literal_with_expressions(v, data)) for k, v in value.items()})
    if isinstance(value, list):
        items = [_literal_with_expressions(v, data) for v in value]
        return shapes.ListOf(shapes.join([(frozenset(), i) for i in items]) if items else shapes.UNKNOWN)
    return shapes.from_json(value)


def _arguments(arguments) -> shapes.Shape:
    """A JSONata Task's Arguments as far as they are literal (expressions are unknown strings)."""
    if jsonata_refs.is_expression(arguments):
        return shapes.UNKNOWN
    if isinstance(arguments, dict):
        return shapes.Obj({k: shapes.Field(_arguments(v)) for k, v in arguments.items()})
    return shapes.from_json(arguments) if arguments is not None else shapes.UNKNOWN


def _blocking_scalar(raw: shapes.Shape, steps) -> str | None:
    """Why a ResultPath cannot be written into ``raw`` (a field on the way is not an object)."""
    current, where = raw, "$"
    for step in steps[:-1] if steps else ():
        if isinstance(current, shapes.Obj) and step.kind == "field" and step.value in current.fields:
            current = current.fields[step.value].shape
            where += step.text()
            if isinstance(current, (shapes.Scalar, shapes.ListOf)):
                return f"{where} is {_an(shapes.kind_of(current))}"
        else:
            return None
    return None


def _kind_fits(shape: shapes.Shape, expected: str) -> bool:
    kind = shapes.kind_of(shape)
    if expected == "integer":
        return kind in ("integer", "number")
    return kind == expected


def _an(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _call_result(call: intrinsics.Call, args: list) -> shapes.Shape:
    """What an intrinsic function returns; ``States.Format`` keeps the text it knows (for IAM resources)."""
    name = call.name
    if name == "States.Format":
        template = call.args[0].value if isinstance(call.args[0], intrinsics.Literal) else None
        if not isinstance(template, str):
            return shapes.STRING
        pieces = intrinsics.format_pattern(template)
        text = pieces[0]
        for piece, arg in zip(pieces[1:], args[1:], strict=False):
            pattern = arg.pattern if isinstance(arg, shapes.Scalar) and arg.kind == "string" else None
            text += (pattern if pattern is not None else "*") + piece
        return shapes.Scalar("string", text)
    if name in ("States.ArrayGetItem",):
        return args[0].item if isinstance(args[0], shapes.ListOf) else shapes.UNKNOWN
    if name in ("States.ArrayUnique", "States.Array", "States.ArrayPartition"):
        if name == "States.Array":
            return shapes.ListOf(shapes.join([(frozenset(), a) for a in args]) if args else shapes.UNKNOWN)
        return args[0] if name == "States.ArrayUnique" else shapes.ListOf(args[0])
    return {
        "States.StringToJson": shapes.UNKNOWN,
        "States.ArrayContains": shapes.Scalar("boolean"),
        "States.ArrayRange": shapes.ListOf(shapes.INTEGER),
        "States.ArrayLength": shapes.INTEGER,
        "States.MathRandom": shapes.INTEGER,
        "States.MathAdd": shapes.INTEGER,
        "States.StringSplit": shapes.ListOf(shapes.STRING),
        "States.JsonMerge": shapes.UNKNOWN,
    }.get(name, shapes.STRING)
