"""The quality gate: a model is approved only if it is good enough, better than a model that learnt
nothing, and not worse than the model approved already.

The best training job's gate metric is compared, in order, with the workflow's threshold, with the
trivial baseline the Glue job computed on the same validation data (``report.json``: majority-class
accuracy, ROC AUC 0.5, ...) and with the approved model's recorded value (champion/challenger, within
``champion_margin``; the champion is the model registry's latest approved version). A rejection names the
comparison that failed with both numbers, is registered as a ``Rejected`` version with that reason
(``builders.registry``) and ends in the comparison's own Fail state. The comparisons
are JSONata (``QueryLanguage: JSONata``): JSONPath Choice rules cannot subtract a margin, and a metric
that is missing must not be a runtime error.
"""

from __future__ import annotations

from mlops_pipeline.builders.common import failure
from mlops_pipeline.builders.registry import register_rejected, rejection, resolve_approved
from mlops_pipeline.builders.sdk import JSONATA, Choice, Condition, Fail, Pass, Task, jsonata
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.target import Target

GATE_FAILED = "QualityGateFailed"
#: Containers print metrics rounded (six decimals here): "better than the baseline" means by more than that.
PRINT_PRECISION = 1e-6
INPUT = "$states.input"
BEST_JOB = f"{INPUT}.best.TrainingJobName"
CHAMPION = f"{INPUT}.champion.record"


def metric_value(config: PipelineConfig) -> str:
    """The best job's value of the gate metric (picked by name; undefined when it reported none)."""
    return f"{INPUT}.best.Metrics[MetricName='{config.gate_metric}'].Value"


def baseline_value(config: PipelineConfig) -> str:
    return f"{INPUT}.data.report.baseline.`{config.gate_metric}`"


def gate_steps(config: PipelineConfig, target: Target, approve) -> Task:
    """ReadApprovedModel (the champion) → QualityGate → ReadGateMetric → ``approve``; returns the first state."""
    no_champion = Pass("NoApprovedModelYet", result={}, result_path="$.champion")
    gate, fails = quality_gate(config)
    read = resolve_approved(
        ("ReadApprovedModel", "IsAnyModelApproved", "DescribeChampion"),
        config,
        target,
        "The latest approved version in the model registry (the champion), if any.",
        "$.champion",
        found=gate,
        none=no_champion,
        failed=failure("ReadChampionFailed", "ReadChampionFailed", "Reading the approved model"),
    )
    register = register_rejected(config, target, fails)
    for _, reject in gate.choices:
        reject.next(register)
    record = Pass(
        "ReadGateMetric",
        comment="The gate's numbers, for the approval record.",
        query_language=JSONATA,
        output=jsonata(
            f"$merge([{INPUT}, {{'gate': {{'value': {metric_value(config)}, "
            f"'baseline': $exists({baseline_value(config)}) ? {baseline_value(config)} : null, "
            f"'champion': $exists({CHAMPION}.gate.value) ? {CHAMPION}.gate.value : null}}}}])"
        ),
    )
    no_champion.next(gate)
    gate.default_choice(record)
    record.next(approve)
    return read


def quality_gate(config: PipelineConfig) -> tuple[Choice, dict[str, Fail]]:
    """The gate, each failing comparison leading to its ``Reject...`` Pass; and the Fail states they end in."""
    gate = config.quality_gate
    fails: dict[str, Fail] = {}
    metric, value = config.gate_metric, metric_value(config)
    rule = f"{metric} {gate.comparison} {gate.threshold}"
    has = f"the best training job ' & {BEST_JOB} & ' has {metric} = ' & $string({value}) & '"
    choice = Choice(
        "QualityGate",
        comment=f"Approve the model only if {rule}, and better than learning nothing.",
        query_language=JSONATA,
    )
    choice.add_choice(
        Condition(f"$not($exists({value}))"),
        _reject(
            fails,
            value,
            "GateMetricMissing",
            "GateMetricMissing",
            f"'The best training job ' & {BEST_JOB} & ' reported no number for {metric} (a value such as nan is not "
            f"reported; see its log); the container must print lines like {metric}: 0.87'",
        ),
    )
    choice.add_choice(
        Condition(f"$not({value} {gate.comparison} {gate.threshold})"),
        _reject(
            fails, value, GATE_FAILED, "QualityGateFailed", f"'Quality gate failed: {has} but the gate requires {rule}'"
        ),
    )
    if gate.against_baseline:
        baseline = baseline_value(config)
        better = f"> {baseline} + {PRINT_PRECISION}" if gate.maximize else f"< {baseline} - {PRINT_PRECISION}"
        choice.add_choice(
            Condition(f"$exists({baseline}) and $not({value} {better})"),
            _reject(
                fails,
                value,
                "QualityGateFailedBaseline",
                GATE_FAILED,
                f"'Quality gate failed: {has}, not better than a model that learnt nothing ({metric} = ' & "
                f"$string($round({baseline}, 6)) & ' on the same validation data)'",
            ),
        )
    if gate.champion_margin is not None:
        bound = (
            f"{CHAMPION}.gate.value - {gate.champion_margin}"
            if gate.maximize
            else f"{CHAMPION}.gate.value + {gate.champion_margin}"
        )
        within = ">=" if gate.maximize else "<="
        choice.add_choice(
            Condition(
                f"$exists({CHAMPION}.gate.value) and $type({CHAMPION}.gate.value) = 'number' and "
                f"{CHAMPION}.gate.metric = '{metric}' and "
                f"$not({value} {within} {bound})"
            ),
            _reject(
                fails,
                value,
                "QualityGateFailedChampion",
                GATE_FAILED,
                f"'Quality gate failed: {has}, worse than the approved model ' & {CHAMPION}.model_name & "
                f"' ({metric} = ' & $string({CHAMPION}.gate.value) & ') by more than the margin "
                f"{gate.champion_margin}'",
            ),
        )
    return choice, fails


def _reject(fails: dict[str, Fail], value: str, state_id: str, error: str, cause: str) -> Pass:
    """The Fail state ``state_id`` (its cause kept by the ``Reject...`` Pass returned, which leads to it)."""
    fails[state_id] = Fail(state_id, error=error, cause_path="$.rejection.cause")
    return rejection(state_id, cause, value)
