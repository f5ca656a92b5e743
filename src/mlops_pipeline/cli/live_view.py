"""What the user sees while executions run and when they end: one line per state, a tuning progress
bar with the best objective so far, a summary, and on failure one readable block."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlops_pipeline.local.events import (
    ContainerEvent,
    ExecutionEnded,
    LandingEvent,
    NotificationEvent,
    RetryEvent,
    ScheduleEvent,
    SessionEvent,
    StateEvent,
    TrialEvent,
)
from mlops_pipeline.local.executions import ExecutionResult, report_warnings
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.naming import Workflow
from mlops_pipeline.report.model import CAUGHT, ERROR_EVENTS, FAILED, outcome_after_error

_JSON_IN_TEXT = re.compile(r"\{.*\}", re.DOTALL)


class Reporter:
    """The runtime's ``on_event`` callback; events come from the session's thread and tuning threads.

    A failed execution is shown as one block when it ends; with ``summaries``, a succeeded one is
    summarised when it ends too (``local up``, ``local redrive``).
    """

    def __init__(self, console: Console, workspace: Workspace, summaries: bool = False):
        self.console = console
        self.workspace = workspace
        self.summaries = summaries
        self.lock = threading.Lock()
        self.entered: dict[tuple[str, str], object] = {}
        self.current: dict[str, str | None] = {}  # the state each execution is in
        self.failed: set[tuple[str, str | None]] = set()  # Tasks whose last attempt failed
        self.erred: dict[str, tuple[str | None, str]] = {}  # (state, error) of each error not yet told apart
        self.warned: set[str] = set()  # executions whose data warnings were shown
        self.reused: dict[tuple[str, str | None], str] = {}  # Tasks served from an earlier run's outputs
        self.retries: dict[str, RetryEvent] = {}  # announced retries whose error the history has not shown yet
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, event: object) -> None:
        with self.lock:
            if isinstance(event, StateEvent):
                self._state(event)
            elif isinstance(event, RetryEvent):
                self._retry(event)
            elif isinstance(event, TrialEvent):
                self._trial(event)
            elif isinstance(event, LandingEvent):
                self._landing(event)
            elif isinstance(event, ScheduleEvent):
                self._scheduled(event)
            elif isinstance(event, ExecutionEnded):
                self._ended(event.result)
            elif isinstance(event, ContainerEvent):
                self.console.print(f"  [dim]{plain(event.message)}[/]")
            elif isinstance(event, SessionEvent):
                self.console.print(f"[yellow]{event.headline}:[/] {plain(event.message)}")
            elif isinstance(event, NotificationEvent):
                print_notification(self.console, event)

    def _state(self, event: StateEvent) -> None:
        """One line when a Task starts, and one when it ends: succeeded, or its error once the events after
        it tell what the state did with it (``_settle``); the data warnings as soon as a state passes them on."""
        kind, name = event.type, event.execution
        self._settle(name, kind)
        if kind.endswith("StateEntered"):
            self.entered[(name, event.state)] = event.timestamp
            self.current[name] = event.state
            if kind == "TaskStateEntered":
                self.console.print(f"  [cyan]running[/]    {plain(event.state)}  [dim]{plain(name)}[/]")
            elif kind == "WaitStateEntered":
                self.console.print(f"  [yellow]waiting[/]    {plain(event.state)}  [dim]{plain(name)}[/]")
        elif kind in ERROR_EVENTS:
            self.failed.add((name, self.current.get(name)))
            self.erred[name] = (self.current.get(name), event.details.get("error") or kind)
            if name in self.retries:  # announced before the history got here
                self._retry(self.retries.pop(name))
        elif kind == "TaskSucceeded":
            self.failed.discard((name, self.current.get(name)))  # a retry that worked
            if event.reused:
                self.reused[(name, self.current.get(name))] = event.reused
        elif kind.endswith("StateExited"):
            started = self.entered.pop((name, event.state), event.timestamp)
            seconds = (event.timestamp - started).total_seconds()
            reused = self.reused.pop((name, event.state), None)
            if kind == "TaskStateExited" and reused:
                self.console.print(
                    f"  [green]reused[/]     {plain(event.state)}  [dim]{seconds:.1f} s, {plain(reused)}[/]"
                )
            elif kind == "TaskStateExited" and (name, event.state) not in self.failed:
                self.console.print(f"  [green]succeeded[/]  {plain(event.state)}  [dim]{seconds:.1f} s[/]")
            self.failed.discard((name, event.state))
            self._data_warnings(name, event.details.get("output"))

    def _settle(self, name: str, kind: str) -> None:
        """Show an error the execution's state met, by what the next event says it did with it (the report's
        rule): caught (a Catch carried on) or failed (the execution ended); a retried one was told, and let go,
        as its wait began (``_retry``). A Catch into a Fail state ends the execution, so it is shown failed: the
        state's exit waits for the state entered next."""
        outcome = FAILED if kind == "FailStateEntered" else outcome_after_error(kind)
        if name not in self.erred or outcome is None or kind.endswith("StateExited"):
            return
        state, error = self.erred.pop(name)
        if outcome == CAUGHT:
            self.console.print(f"  [yellow]caught[/]     {plain(state)}  {plain(error)}")
        elif outcome == FAILED:
            self.console.print(f"  [red]failed[/]     {plain(state)}  with {plain(error)}")

    def _retry(self, event: RetryEvent) -> None:
        """A retry is told as its wait starts, so a long backoff shows why the state has not moved on; the
        engine announces it at once, so it waits for its error in the history, which is polled."""
        if event.execution not in self.erred:
            self.retries[event.execution] = event
            return
        del self.erred[event.execution]
        wait = f"{event.seconds:.1f}" if event.seconds < 10 else f"{event.seconds:.0f}"
        self.console.print(
            f"  [yellow]failed[/]     {plain(event.state)}  with {plain(event.error)}, retrying in {wait} s "
            f"[dim](retry {event.attempt} of {event.max_attempts})[/]"
        )

    def _data_warnings(self, name: str, output: str | None) -> None:
        """The warnings of the data report, once per execution, when the first state passes the report on."""
        if name in self.warned:
            return
        warnings = report_warnings(output)
        if warnings is not None:
            self.warned.add(name)
            print_data_warnings(self.console, warnings)

    def _trial(self, event: TrialEvent) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("  tuning"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("best {task.fields[metric]} {task.fields[best]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self.task = self.progress.add_task("tuning", total=event.total, metric=plain(event.metric), best="-")
            self.progress.start()
        best = "-" if event.best is None else f"{event.best:.4f}"
        self.progress.update(self.task, completed=event.done, best=best)
        if not self.console.is_terminal:
            value = "failed" if event.objective is None else f"{event.metric} {event.objective:.4f}"
            self.console.print(
                f"  trial {event.done}/{event.total} {plain(event.training_job)}: {plain(value)} (best {best})"
            )
        if event.done >= event.total:
            self.progress.stop()
            self.progress = None

    def _landing(self, event: LandingEvent) -> None:
        if event.execution is not None:
            self.console.print(f"[bold]{plain(event.key)}[/] started {plain(event.execution)}")
        else:
            self.console.print(f"{plain(event.key)} ignored: {plain(event.ignored)}")

    def _scheduled(self, event: ScheduleEvent) -> None:
        fired = f"schedule [bold]{plain(event.schedule)}[/] ({plain(event.scheduled_time)})"
        if event.execution is not None:
            self.console.print(f"{fired} started {plain(event.execution)}")
        else:
            self.console.print(f"{fired}: no execution, {plain(event.ignored)}")

    def _ended(self, result: ExecutionResult) -> None:
        if not result.succeeded:
            print_failure(self.console, result)
        elif self.summaries and result.workflow is Workflow.TRAINING:
            print_training_summary(self.console, self.workspace, result)
        elif self.summaries:
            print_scoring_summary(self.console, self.workspace, result)


def explain_cause(cause: str | None) -> str:
    """A cause that embeds a Describe* JSON becomes its FailureReason or ErrorMessage, which is what matters."""
    if not cause:
        return ""
    match = _JSON_IN_TEXT.search(cause)
    if not match:
        return cause
    try:
        described = json.loads(match.group(0))
    except json.JSONDecodeError:
        return cause
    reason = described.get("FailureReason") or described.get("ErrorMessage") if isinstance(described, dict) else None
    return cause[: match.start()] + reason if reason else cause


def plain(value: object) -> str:
    """User and AWS text (file names, columns, causes) printed as it is, never read as markup."""
    return escape(str(value))


def print_failure(console: Console, result: ExecutionResult) -> None:
    where = result.failed_state or result.fail_state or "?"
    lines = [
        f"[bold red]{result.workflow.value} execution {plain(result.name)} {result.status}[/]",
        f"state:  {plain(where)}"
        + (f" -> {plain(result.fail_state)}" if result.fail_state and result.failed_state else ""),
        f"error:  {plain(result.error or '-')}",
        f"cause:  {plain(explain_cause(result.cause) or '-')}",
    ]
    lines += [f"data:   {plain(warning)}" for warning in result.data_warnings]
    log = result.newest_log()
    if log is not None:
        lines.append(f"log:    {plain(log)}")
    lines.append(f"record: {plain(result.folder)}")
    console.print("\n".join(lines))


def print_notification(console: Console, event: NotificationEvent) -> None:
    """The notice as subscribers read it (literal text), where it was kept (or why not), and a webhook that
    did not take it."""
    where = f"not kept: {event.unkept}" if event.unkept else f"kept in {event.path}"
    console.print(f"[bold]Notification[/] [dim]{plain(where)}[/]")
    console.print(plain(event.notice["message"]), highlight=False)
    if event.webhook_problem:
        console.print(f"[yellow]warning:[/] notification not delivered: {plain(event.webhook_problem)}")


def print_data_warnings(console: Console, warnings: Iterable[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]data warning:[/] {plain(warning)}")


def print_training_summary(console: Console, workspace: Workspace, result: ExecutionResult) -> None:
    record = (result.output or {}).get("record", result.output or {})
    gate = record.get("gate", {})
    compared = [f"gate {gate.get('comparison')} {gate.get('threshold')}"]
    if gate.get("baseline") is not None:
        compared.append(f"learning nothing scores {gate['baseline']:.4f}")
    if gate.get("approved_model_value") is not None:
        compared.append(f"the model approved before had {gate['approved_model_value']:.4f}")
    console.print(
        f"[bold green]Model approved:[/] {plain(record.get('model_name'))}  "
        f"({plain(gate.get('metric'))} = {gate.get('value')}; {plain('; '.join(compared))})"
    )
    if record.get("latest_is"):
        console.print(
            f"Not the latest model: {plain(record['latest_is'].get('model_name'))}, from a newer landing, stays "
            "the one scoring uses; this one waits in the model registry as PendingManualApproval "
            "(`mlops-pipeline models`)."
        )
    print_data_warnings(console, result.data_warnings)
    metrics = Table("metric", "value", title="Best model")
    for metric in record.get("metrics", []):
        metrics.add_row(plain(metric["MetricName"]), f"{metric['Value']:.4f}")
    console.print(metrics)
    print_trials(console, workspace, record.get("tuning_job_name"), record.get("training_job_name"))


def print_trials(console: Console, workspace: Workspace, tuning_job: str | None, best: str | None) -> None:
    tuning = _record(workspace, "tuning-jobs", tuning_job)
    if tuning is None:
        return
    metric = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    table = Table("trial", "status", plain(metric), "hyperparameters", title=f"Tuning job {plain(tuning_job)} (* best)")
    for name in tuning.get("Local", {}).get("Trials", []):
        job = _record(workspace, "training-jobs", name) or {}
        value = next((m["Value"] for m in job.get("FinalMetricDataList", []) if m["MetricName"] == metric), None)
        tuned = job.get("Local", {}).get("Tuned", {})
        marker = " *" if name == best else ""
        table.add_row(
            plain(name.removeprefix(f"{tuning_job}-") + marker),
            plain(job.get("TrainingJobStatus", "?")),
            "-" if value is None else f"{value:.4f}",
            plain(", ".join(f"{k}={_short(v)}" for k, v in tuned.items())),
        )
    console.print(table)


def print_scoring_summary(console: Console, workspace: Workspace, result: ExecutionResult) -> Path | None:
    output = result.output or {}
    if not output.get("predictions"):
        return None
    path = workspace.path_of(output["predictions"])
    with open(path, "rb") as handle:
        header = handle.readline().rstrip(b"\r\n").decode(errors="replace")
        rows = sum(1 for _ in handle)
    model = output.get("model_name")
    console.print(f"[bold green]Predictions:[/] {plain(path)}  ({rows} rows: {plain(header)}; model {plain(model)})")
    if output.get("latest"):
        console.print(f"  latest for this file: {plain(workspace.path_of(output['latest']))}")
    print_data_warnings(console, result.data_warnings)
    return path


def _record(workspace: Workspace, kind: str, name: str | None) -> dict | None:
    return Records.of_workspace(workspace.root).get(kind, name) if name else None


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value else f"{number:.4g}"
