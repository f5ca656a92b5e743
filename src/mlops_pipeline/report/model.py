"""The execution report's data, built the same way from local records and from AWS's answers.

Both sources hand over AWS shapes: the execution as ``DescribeExecution`` returns it, its events as
``GetExecutionHistory`` returns them, the tuning job as ``DescribeHyperParameterTuningJob``, its trials as
``ListTrainingJobsForHyperParameterTuningJob``'s ``TrainingJobSummaries``, the best job as
``DescribeTrainingJob``; plus the Glue job's ``report.json`` and the predictions' lines.
"""

from __future__ import annotations

import csv
import datetime
import json
from dataclasses import dataclass, field
from typing import Iterable

SUCCEEDED, FAILED, CAUGHT, NOT_ENTERED, RUNNING = "succeeded", "failed", "caught", "not entered", "running"
OUTCOMES = (SUCCEEDED, FAILED, CAUGHT, RUNNING, NOT_ENTERED)

#: Events that mean the state running when they happen met an error (Step Functions' history event types).
ERROR_EVENTS = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskSubmitFailed",
        "TaskStartFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
    }
)
EXECUTION_ENDS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
#: Events that mean a retry of the running state succeeded: its earlier error no longer counts.
RETRY_SUCCEEDED = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded"})
#: Predicted probabilities are binned into this many equal bins over [0, 1].
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class StateRun:
    """What one state of the definition did in the execution (its last entry decides the outcome)."""

    outcome: str
    seconds: float | None = None
    entries: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Trial:
    name: str
    status: str
    objective: float | None
    hyperparameters: dict[str, str]
    seconds: float | None


@dataclass(frozen=True)
class Tuning:
    job_name: str
    metric: str
    objective_type: str  # Maximize or Minimize
    trials: tuple[Trial, ...]
    best: str | None


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: float
    baseline: float | None  # what a model that learnt nothing scores (the data report's baseline)


@dataclass(frozen=True)
class Gate:
    metric: str
    comparison: str
    threshold: float | None
    value: float | None
    baseline: float | None
    approved_model_value: float | None


@dataclass(frozen=True)
class Histogram:
    column: str
    counts: tuple[int, ...]
    rows: int
    outside: int  # values that are not numbers in [0, 1]


@dataclass(frozen=True)
class ExecutionReport:
    name: str
    workflow: str  # training or scoring
    status: str
    start: datetime.datetime | None
    stop: datetime.datetime | None
    error: str | None
    cause: str | None
    source: str  # the landed object, s3://bucket/key
    definition: dict
    states: dict[str, StateRun]
    where: str  # "local workspace ..." or "AWS account ... region ..."
    tuning: Tuning | None = None
    model_name: str | None = None
    metrics: tuple[MetricRow, ...] = ()
    gate: Gate | None = None
    warnings: tuple[str, ...] = ()
    class_counts: dict = field(default_factory=dict)
    predictions: Histogram | None = None
    console_url: str | None = None


def timestamp(value) -> datetime.datetime | None:
    """An event or record time: boto3 gives datetimes, the local records ISO 8601 text."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _seconds(start, end) -> float | None:
    start, end = timestamp(start), timestamp(end)
    return (end - start).total_seconds() if start and end else None


def outcome_after_error(kind: str) -> str | None:
    """What a state that met an error (one of ``ERROR_EVENTS``) did with it, told by a later event of the
    execution of type ``kind``: ``caught`` when the state exits or another state is entered (a Catch carried
    on), ``failed`` when the execution ends, ``succeeded`` when a retry succeeded; None when the event does
    not tell (a retry being scheduled). The report and the live view both decide by this."""
    if kind.endswith(("StateEntered", "StateExited")):
        return CAUGHT
    if kind in EXECUTION_ENDS:
        return FAILED
    if kind in RETRY_SUCCEEDED:
        return SUCCEEDED
    return None


def state_runs(definition: dict, events: list[dict], status: str) -> dict[str, StateRun]:
    """Every state of the definition with its outcome and time spent, from the execution's events.

    A state whose error was caught (an error event, then the state exits or the next one is entered) is
    ``caught``; one the execution ended in is ``failed`` (a Fail state too), or ``running`` while it runs.
    """
    runs = {name: StateRun(NOT_ENTERED) for name in definition.get("States", {})}
    current, entered_at, error = None, None, None

    def close(outcome: str, at) -> None:
        previous = runs.get(current, StateRun(NOT_ENTERED))
        spent = _seconds(entered_at, at)
        total = (previous.seconds or 0.0) + spent if spent is not None else previous.seconds
        runs[current] = StateRun(outcome, total, previous.entries + 1, error)

    for event in events:
        kind, at = event["type"], event["timestamp"]
        if kind.endswith("StateEntered"):
            if current is not None:
                close(outcome_after_error(kind) if error else SUCCEEDED, at)
            current, entered_at, error = event["stateEnteredEventDetails"]["name"], at, None
            if kind == "FailStateEntered":
                close(FAILED, at)
                current = None
        elif current is None:
            continue
        elif kind in ERROR_EVENTS:
            error = _event_details(event).get("error") or kind
        elif kind in RETRY_SUCCEEDED:
            error = None
        elif kind.endswith("StateExited"):
            close(outcome_after_error(kind) if error else SUCCEEDED, at)
            current = None
        elif kind in EXECUTION_ENDS:
            error = error or _event_details(event).get("error") or kind
            close(FAILED, at)
            current = None
    if current is not None:
        close(RUNNING if status == "RUNNING" else FAILED, None)
    return runs


def _event_details(event: dict) -> dict:
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {}) or {}


#: The tuning Task's resource, whose parameters name the tuning job a report shows.
TUNING_RESOURCE = "createHyperParameterTuningJob.sync"


def tuning_parameters(events: list[dict]) -> dict | None:
    """The parameters of the execution's last tuning Task call (they name the tuning job), or None."""
    return task_parameters(events, TUNING_RESOURCE)


def task_parameters(events: list[dict], resource: str) -> dict | None:
    """The parameters of the last Task call of ``resource`` (e.g. ``createHyperParameterTuningJob.sync``)."""
    for event in reversed(events):
        details = event.get("taskScheduledEventDetails")
        if details and details.get("resource") == resource:
            return json.loads(details.get("parameters") or "{}")
    return None


def tuning_of(describe: dict, summaries: Iterable[dict]) -> Tuning:
    """The tuning job's trials, in the order they started, from its Describe and its TrainingJobSummaries."""
    objective = describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    trials = []
    for summary in summaries:
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        trials.append(
            (
                timestamp(summary.get("TrainingStartTime") or summary.get("CreationTime")),
                Trial(
                    summary["TrainingJobName"],
                    summary.get("TrainingJobStatus", "?"),
                    final.get("Value"),
                    dict(summary.get("TunedHyperParameters") or {}),
                    _seconds(summary.get("TrainingStartTime"), summary.get("TrainingEndTime")),
                ),
            )
        )
    ordered = [trial for _, trial in sorted(trials, key=lambda pair: (pair[0] is None, pair[0] or 0, pair[1].name))]
    best = (describe.get("BestTrainingJob") or {}).get("TrainingJobName")
    return Tuning(
        describe["HyperParameterTuningJobName"], objective["MetricName"], objective["Type"], tuple(ordered), best
    )


def metric_rows(best_job: dict | None, data_report: dict | None) -> tuple[MetricRow, ...]:
    """The best model's final metrics beside what a model that learnt nothing scores on the same split."""
    baseline = (data_report or {}).get("baseline") or {}
    return tuple(
        MetricRow(metric["MetricName"], float(metric["Value"]), baseline.get(metric["MetricName"]))
        for metric in (best_job or {}).get("FinalMetricDataList", [])
    )


def gate_of(output: dict | None) -> Gate | None:
    """The gate's numbers as the approval record keeps them (only an approved model has that record)."""
    gate = ((output or {}).get("record") or output or {}).get("gate")
    if not isinstance(gate, dict) or "metric" not in gate:
        return None
    return Gate(
        gate["metric"],
        gate.get("comparison", ""),
        gate.get("threshold"),
        gate.get("value"),
        gate.get("baseline"),
        gate.get("approved_model_value"),
    )


def histogram(lines: Iterable[str]) -> Histogram | None:
    """Predicted probabilities (the last column of a predictions CSV with a header), counted into bins while
    the lines stream by: memory does not grow with the file."""
    rows = csv.reader(lines)
    header = next(rows, None)
    if not header:
        return None
    counts, total, outside = [0] * HISTOGRAM_BINS, 0, 0
    for row in rows:
        if not row:
            continue
        total += 1
        try:
            value = float(row[-1])
        except ValueError:
            outside += 1
            continue
        if not 0.0 <= value <= 1.0:
            outside += 1
            continue
        counts[min(int(value * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
    return Histogram(header[-1], tuple(counts), total, outside)


def landed_source(execution_input: dict | None) -> str:
    value = execution_input or {}
    return f"s3://{value.get('bucket', '?')}/{value.get('key', '?')}"


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def execution_report(
    execution: dict,
    events: list[dict],
    definition: dict,
    workflow: str,
    where: str,
    tuning: Tuning | None = None,
    best_job: dict | None = None,
    data_report: dict | None = None,
    predictions: Histogram | None = None,
    console_url: str | None = None,
) -> ExecutionReport:
    """The report of one execution; ``execution`` is DescribeExecution's answer (input and output as JSON text)."""
    output = _json(execution.get("output"))
    output = output if isinstance(output, dict) else None
    return ExecutionReport(
        name=execution["name"],
        workflow=workflow,
        status=execution["status"],
        start=timestamp(execution.get("startDate")),
        stop=timestamp(execution.get("stopDate")),
        error=execution.get("error"),
        cause=execution.get("cause"),
        source=landed_source(_json(execution.get("input"))),
        definition=definition,
        states=state_runs(definition, events, execution["status"]),
        where=where,
        tuning=tuning,
        model_name=(output or {}).get("model_name"),
        metrics=metric_rows(best_job, data_report),
        gate=gate_of(output) if workflow == "training" else None,
        warnings=tuple((data_report or {}).get("warnings") or ()),
        class_counts=dict((data_report or {}).get("class_counts") or {}),
        predictions=predictions,
        console_url=console_url,
    )
