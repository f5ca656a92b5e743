"""``mlops-pipeline local ...`` and ``mlops-pipeline demo``: run the pipeline on this machine.

Importing this module stays cheap (click and the workspace only): the runtime, the builders and
moto load inside the commands that need them.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from mlops_pipeline.cli import Interrupted, session_closed
from mlops_pipeline.cli.options import (
    DEFAULT_WORKFLOW,
    found_project_option,
    found_workflow_option,
    inject_option,
    isolation_option,
    project_option,
    reuse_option,
    workflow_option,
    workspace_option,
)
from mlops_pipeline.cli.output import console, echo_table
from mlops_pipeline.errors import PipelineError

if TYPE_CHECKING:
    from mlops_pipeline.local.notifications import LocalNotifier
    from mlops_pipeline.local.stores import Workspace
    from mlops_pipeline.target import Target


@click.group(
    "local",
    help="Run the pipeline's state machines on this machine: real Glue transform, tuning, training "
    "and batch transform, no AWS account, no Docker.",
)
def local() -> None:
    pass


def _workspace(path: Path | None):
    """``--workspace``, else ``$MLOPS_WORKSPACE``, else ``./.mlops``."""
    from mlops_pipeline.local.stores import Workspace

    return Workspace.resolve(path)


@contextlib.contextmanager
def open_runtime(
    workflow: Path,
    workspace: Path | None,
    project: Path,
    out,
    isolation: str,
    inject: str = "",
    summaries: bool = False,
    reuse: bool = False,
    warm_training: bool = False,
):
    """A LocalRuntime session reporting to ``out`` (imported here: the engine loads moto), ended as Ctrl-C
    ends it by SIGTERM and SIGHUP too: running executions are stopped, their jobs killed, all recorded; once
    it has closed, the program may end without the interpreter's teardown; ``reuse``: Glue runs identical to an
    earlier successful one are served from its outputs; ``warm_training``: the training jobs warm up from the
    session's start, for a session that trains at once (local run, demo) or waits for files to train on (local
    up), so that its first tuning does not wait for their environment's imports."""
    from mlops_pipeline.cli.live_view import Reporter
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.local.containers.sandbox import choose_isolation
    from mlops_pipeline.local.runtime import LocalRuntime
    from mlops_pipeline.naming import Workflow

    store = _workspace(workspace)
    reporter = Reporter(out, store, summaries)
    config = load_workflow(workflow, containers=project / "containers")
    mode = choose_isolation(isolation)
    runtime = LocalRuntime(
        config,
        store,
        project,
        on_event=reporter,
        isolation=mode,
        workflow_file=workflow,
        faults=inject,
        reuse=reuse,
        warm_up_first=(Workflow.TRAINING,) if warm_training else (),
    )
    try:
        with stopped_by_signals(), runtime:
            yield runtime
    except KeyboardInterrupt as stop:  # the session has closed: say what it stopped
        raise Interrupted(getattr(stop, "signum", signal.SIGINT), tuple(runtime.stopped)) from None
    finally:
        session_closed()


@contextlib.contextmanager
def stopped_by_signals():
    """SIGTERM (``timeout``, CI, systemd) and SIGHUP (a closed terminal) end a session as Ctrl-C does."""
    handlers = {number: signal.signal(number, _interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, previous in handlers.items():
            signal.signal(number, previous)


def run_pipeline(runtime, out, train: Path, score: Path) -> None:
    """Land the training file, follow training, land the scoring file, follow scoring; summaries at the end."""
    from mlops_pipeline.cli.live_view import plain, print_data_warnings, print_scoring_summary, print_training_summary

    print_data_warnings(out, runtime.check_files(train, score))
    results = []
    for kind, source in (("train", train), ("score", score)):
        prefix = runtime.target.training_prefix if kind == "train" else runtime.target.scoring_prefix
        out.print(f"[bold]Landing {plain(source.name)}[/] in s3://{runtime.target.feature_store_bucket}/{prefix}")
        try:
            result = runtime.run_file(kind, source)
        except KeyboardInterrupt:
            _say_not_landed(out, runtime, kind, score)
            raise
        results.append(result)
        if not result.succeeded:
            print_reports(out, runtime, results)
            _say_not_landed(out, runtime, kind, score, result.name)
            raise PipelineError(f"{result.workflow} execution {result.name} {result.status.lower()}: {result.error}")
    print_training_summary(out, runtime.workspace, results[0])
    print_scoring_summary(out, runtime.workspace, results[1])
    print_reports(out, runtime, results)


def _say_not_landed(out, runtime, kind: str, score: Path, name: str = "NAME") -> None:
    """A run that ends during training never lands its scoring file: say how to land it later, in this run's
    workspace and pipeline (``name``: the training execution, when known here)."""
    import shlex

    from mlops_pipeline.cli.live_view import plain

    if kind != "train":
        return
    where = f" --workspace {shlex.quote(str(runtime.workspace.root))}"
    if runtime.workflow_file is not None:
        where += f" --workflow {shlex.quote(str(runtime.workflow_file))}"
    out.print(
        plain(
            f"{score} was not landed; once training has succeeded (`mlops-pipeline local redrive {name}{where}`), "
            f"`mlops-pipeline local land score {shlex.quote(str(score))}{where}` lands it and "
            f"`mlops-pipeline local up{where}` scores it."
        )
    )


def print_reports(out, runtime, results) -> None:
    """Each execution's HTML report, written beside its records; where to open it."""
    from mlops_pipeline.cli.live_view import plain
    from mlops_pipeline.cli.report import write_local_reports

    paths = write_local_reports(runtime.workspace, runtime.target, [result.name for result in results])
    for result, path in zip(results, paths, strict=True):
        out.print(f"Report of {plain(result.name)}: {plain(path.resolve().as_uri())}")


@local.command("run", help="Land a training file, then a scoring file, and follow both executions.")
@workflow_option
@click.option(
    "--train",
    "train",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Training CSV (with the label column).",
)
@click.option(
    "--score",
    "score",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Scoring CSV (without the label).",
)
@workspace_option
@project_option
@isolation_option
@inject_option
@reuse_option
def run_cmd(
    workflow: Path,
    train: Path,
    score: Path,
    workspace: Path | None,
    project: Path,
    isolation: str,
    inject: str,
    reuse: bool,
) -> None:
    out = console()
    with open_runtime(workflow, workspace, project, out, isolation, inject, reuse=reuse, warm_training=True) as runtime:
        run_pipeline(runtime, out, train, score)


@local.command(
    "up",
    help="Watch the local feature store and start an execution for each file landed in it, and fire the "
    "workflow's schedules (Ctrl-C stops, as SIGTERM and SIGHUP do: running executions are recorded ABORTED, "
    "exit status 128 + the signal).",
)
@found_workflow_option
@workspace_option
@found_project_option
@isolation_option
@inject_option
@reuse_option
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between scans."
)
def up_cmd(
    workflow: Path | None,
    workspace: Path | None,
    project: Path | None,
    isolation: str,
    inject: str,
    reuse: bool,
    interval: float,
) -> None:
    from mlops_pipeline.cli.live_view import plain

    pipeline = _pipeline(workflow, workspace)
    out = console()
    with open_runtime(
        pipeline.workflow,
        workspace,
        project or pipeline.project,
        out,
        isolation,
        inject,
        summaries=True,
        reuse=reuse,
        warm_training=True,
    ) as runtime:
        folder = runtime.workspace.path(runtime.target.feature_store_bucket)
        out.print(
            f"Watching {folder} ({runtime.target.training_prefix}, {runtime.target.scoring_prefix}); "
            f"land files with `mlops-pipeline local land`. Ctrl-C stops."
        )
        for schedule, fires in schedule_rows(runtime.config, count=1):
            out.print(f"Schedule {plain(schedule.name)}: {plain(schedule.expression.text)}, next {plain(fires)}")
        try:
            runtime.watch(interval)
        except KeyboardInterrupt:  # ends as `run` does: the session stops what runs, the door says what
            out.print("Stopped watching.")
            raise


def _interrupt(signum, frame) -> None:
    raise Interrupted(signum)


@local.command("land", help="Copy a file into the local feature store (`local up` picks it up).")
@click.argument("kind", type=click.Choice(["train", "score"]))
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@found_workflow_option
@workspace_option
def land_cmd(kind: str, file: Path, workflow: Path | None, workspace: Path | None) -> None:
    target = _local_target(_pipeline(workflow, workspace).workflow)
    prefix = target.training_prefix if kind == "train" else target.scoring_prefix
    _workspace(workspace).put_file(target.feature_store_bucket, f"{prefix}{file.name}", file, keep_version=True)
    click.echo(f"landed s3://{target.feature_store_bucket}/{prefix}{file.name}")


@local.command("ls", help="List the local stores, or the objects under s3://BUCKET/PREFIX.")
@click.argument("uri", required=False)
@workspace_option
def ls_cmd(uri: str | None, workspace: Path | None) -> None:
    store = _workspace(workspace)
    if not uri:
        for bucket in store.buckets():
            click.echo(f"s3://{bucket}/")
        return
    from mlops_pipeline.local.stores import parse_s3_uri

    bucket, prefix = parse_s3_uri(uri)
    rows = [(key, path.stat().st_size) for key, path in store.objects(bucket, prefix)]
    if not rows:
        raise PipelineError(f"nothing under {uri} in {store.root}")
    for key, size in rows:
        click.echo(f"{size:>12}  s3://{bucket}/{key}")


@local.command("cat", help="Print a local object, e.g. predictions.")
@click.argument("uri")
@workspace_option
def cat_cmd(uri: str, workspace: Path | None) -> None:
    path = _workspace(workspace).path_of(uri)
    if not path.is_file():
        raise PipelineError(f"{uri}: no such object in the workspace")
    with open(path, "rb") as handle, click.open_file("-", "wb") as out:
        for block in iter(lambda: handle.read(1 << 16), b""):
            out.write(block)


def _local_target(workflow: Path):
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.target import local_target

    return local_target(load_workflow(workflow).name)


class Pipeline(NamedTuple):
    name: str
    workflow: Path
    project: Path


def _pipeline(workflow: Path | None, workspace: Path | None) -> Pipeline:
    """The pipeline a command is about: ``--workflow``, else the one the workspace ran, said on stderr."""
    if workflow is not None:
        return Pipeline(workflow.stem, workflow, Path("."))
    known = _workspace(workspace).pipelines()
    if len(known) == 1:
        (record,) = known.values()
        click.echo(f"pipeline {record['name']} ({record['workflow']})", err=True)
        return Pipeline(record["name"], Path(record["workflow"]), Path(record["project"]))
    if not known and DEFAULT_WORKFLOW.is_file():
        return Pipeline(DEFAULT_WORKFLOW.stem, DEFAULT_WORKFLOW, Path("."))
    if not known:
        raise PipelineError(f"no pipeline has run in {_workspace(workspace).root} yet; pass --workflow FILE")
    listed = ", ".join(f"{name} ({record['workflow']})" for name, record in known.items())
    raise PipelineError(f"the workspace holds several pipelines: {listed}; pass --workflow FILE to choose one")


class Recovered(NamedTuple):
    store: Workspace
    target: Target
    notifier: LocalNotifier


def _recovered(workflow: Path | None, workspace: Path | None) -> Recovered:
    """The pipeline's workspace after cleaning up what a session that died left (said on stderr); each
    execution recovery closes ABORTED gets its failure notice, sent to the pipeline's webhook."""
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.local.notifications import LocalNotifier
    from mlops_pipeline.local.recovery import recover
    from mlops_pipeline.target import local_target

    config = load_workflow(_pipeline(workflow, workspace).workflow)
    target, store = local_target(config.name), _workspace(workspace)
    notifier = LocalNotifier.of_pipeline(store, target, config.notifications.webhook_url)
    for line in recover(store, target, notifier):
        click.echo(f"Recovered: {line}", err=True)
    return Recovered(store, target, notifier)


def _records(workflow: Path | None, workspace: Path | None):
    """The execution records, after recovery (``_recovered``)."""
    from mlops_pipeline.local.executions import ExecutionRecords, executions_root

    recovered = _recovered(workflow, workspace)
    return ExecutionRecords(executions_root(recovered.store, recovered.target))


@local.command("executions", help="List the executions recorded in the metadata store.")
@found_workflow_option
@workspace_option
def executions_cmd(workflow: Path | None, workspace: Path | None) -> None:
    records = _records(workflow, workspace)
    rows = []
    for name in records.names():
        record = records.read(name)
        rows.append(
            (
                name,
                record["status"],
                record["start_date"][:19],
                record.get("failed_state") or record.get("fail_state") or "",
                record.get("redrive_count", 0),
            )
        )
    if not rows:
        raise PipelineError(f"no executions recorded in {records.root}")
    echo_table(["execution", "status", "started", "failed at", "redrives"], rows)


@local.command(
    "notifications",
    help="List the failure notices kept in the workspace: one per failed, timed-out or aborted execution.",
)
@found_workflow_option
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="The notices as kept, one JSON object per line.")
def notifications_cmd(workflow: Path | None, workspace: Path | None, as_json: bool) -> None:
    notifier = _recovered(workflow, workspace).notifier
    kept = notifier.kept()
    if not kept:
        raise PipelineError(f"no failure notices kept in {notifier.path}")
    if as_json:
        import json  # here: `mlops-pipeline --help` reads this module for its help line

        for notice in kept:
            click.echo(json.dumps(notice, ensure_ascii=False))
        return
    rows = [
        (
            notice["stopped"],
            notice["execution"],
            notice["status"],
            notice["failed_state"] or notice["fail_state"] or "",
            notice["error"] or "",
            _delivery(notice.get("webhook")),
        )
        for notice in kept
    ]
    echo_table(["stopped", "execution", "status", "state", "error", "webhook"], rows)


def _delivery(webhook: dict | None) -> str:
    if not webhook:
        return "-"
    return "not delivered" if webhook.get("problem") else "delivered"


@local.command("history", help="Print one execution's events (state by state) and its outcome.")
@click.argument("name")
@found_workflow_option
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="The raw events as JSON.")
def history_cmd(name: str, workflow: Path | None, workspace: Path | None, as_json: bool) -> None:
    from mlops_pipeline.cli.live_view import explain_cause

    records = _records(workflow, workspace)
    events = records.history(name)
    if as_json:
        import json  # here: `mlops-pipeline --help` reads this module for its help line

        click.echo(json.dumps(events, indent=2))
        return
    from mlops_pipeline.local.events import reused_detail

    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        label = details.get("name") or details.get("error") or reused_detail(event["type"], details) or ""
        click.echo(f"{event['timestamp'][:23]}  {event['type']:<28} {label}")
    record = records.read(name)
    click.echo(f"status: {record['status']}")
    if record.get("error"):
        click.echo(f"error:  {record['error']}\ncause:  {explain_cause(record.get('cause'))}")


@local.command(
    "redrive",
    help=(
        "Re-run a failed or aborted execution from its failed state with the same input and definition, reusing "
        "what succeeded. Refused when the workflow now renders another definition (see --land-again)."
    ),
)
@click.argument("name")
@found_workflow_option
@workspace_option
@found_project_option
@isolation_option
@inject_option
@click.option(
    "--land-again",
    is_flag=True,
    help="Land the execution's file again instead: a new execution of the workflow as it is now.",
)
def redrive_cmd(
    name: str,
    workflow: Path | None,
    workspace: Path | None,
    project: Path | None,
    isolation: str,
    inject: str,
    land_again: bool,
) -> None:
    pipeline = _pipeline(workflow, workspace)
    out = console()
    with open_runtime(
        pipeline.workflow, workspace, project or pipeline.project, out, isolation, inject, summaries=True
    ) as runtime:
        result = runtime.land_again(name) if land_again else runtime.redrive(name)
    if not result.succeeded:
        what = "execution" if land_again else "redriven execution"
        raise PipelineError(f"{what} {result.name} {result.status.lower()}: {result.error}")


def schedule_rows(config, count: int, now=None) -> list[tuple]:
    """(schedule, its next ``count`` fire times as text) of each schedule the workflow turns on."""
    from mlops_pipeline.local.scheduler import pipeline_schedules, utc_now

    now = now or utc_now()
    rows = []
    for schedule in pipeline_schedules(config):
        fires = [moment.isoformat(timespec="minutes") for moment in schedule.next_fires(now, count)]
        rows.append((schedule, ", ".join(fires) or "none (its years have passed)"))
    return rows


@local.command(
    "schedules",
    help="List the workflow's retraining and batch-scoring schedules with their next fire times "
    "(`local up` fires them; a rate counts from when `local up` starts).",
)
@found_workflow_option
@workspace_option
@click.option("--count", type=click.IntRange(1, 100), default=3, show_default=True, help="Fire times per schedule.")
def schedules_cmd(workflow: Path | None, workspace: Path | None, count: int) -> None:
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.naming import Workflow

    pipeline = _pipeline(workflow, workspace)
    config = load_workflow(pipeline.workflow)
    rows = schedule_rows(config, count)
    if not rows:
        click.echo(f"{config.name} has no schedules (PipelineConfig.schedules in {pipeline.workflow})")
        return
    zone = config.schedules.timezone
    echo_table(
        ["schedule", "starts", "expression", f"next runs ({zone})"],
        [
            (schedule.name, str(Workflow.of_kind(schedule.kind)), schedule.expression.text, fires)
            for schedule, fires in rows
        ],
    )


@local.command(
    "invoke",
    help=(
        "Send FILE (CSV rows of the model's features, as the endpoint expects them) to a local real-time "
        "endpoint and print the predictions. The session that deployed it answers while it runs; otherwise the "
        "endpoint's model is served for this command only."
    ),
)
@click.option(
    "--endpoint",
    "endpoint",
    required=True,
    help="The endpoint's name: the workflow's endpoint.name, else its pipeline's name.",
)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--content-type", default="text/csv", show_default=True, help="The request's Content-Type.")
@workspace_option
def invoke_cmd(endpoint: str, file: Path, content_type: str, workspace: Path | None) -> None:
    from mlops_pipeline.local.integrations.sagemaker_endpoint import invoke_in_workspace

    answer = invoke_in_workspace(_workspace(workspace), endpoint, file.read_bytes(), content_type)
    with click.open_file("-", "wb") as out:
        out.write(answer)


@local.command("tables", help="Show the tables the output crawler recorded (what Athena would see).")
@found_workflow_option
@workspace_option
def tables_cmd(workflow: Path | None, workspace: Path | None) -> None:
    from mlops_pipeline.layout import catalog_key

    target = _local_target(_pipeline(workflow, workspace).workflow)
    path = _workspace(workspace).path(target.metadata_bucket, catalog_key(target.pipeline_name))
    if not path.exists():
        raise PipelineError(f"no catalog yet at {path}; it is written when a scoring execution publishes predictions")
    import json

    catalog = json.loads(path.read_text())
    rows = [
        (
            f"{catalog['Database']}.{table}",
            spec["Location"],
            ", ".join(
                [f"{c['Name']} {c['Type']}" for c in spec["Columns"]]
                + [f"{c['Name']} {c['Type']} (partition)" for c in spec.get("PartitionKeys", [])]
            ),
        )
        for table, spec in catalog["Tables"].items()
    ]
    echo_table(["table", "location", "columns"], rows, title=f"crawled {catalog['CrawledAt'][:19]}")


@click.command("demo", help="Generate example data and run the example pipeline end to end on this machine.")
@click.option("--rows", type=click.IntRange(min=100), default=10_000, show_default=True, help="Training rows.")
@click.option("--score-rows", type=click.IntRange(min=1), default=2_000, show_default=True, help="Scoring rows.")
@workspace_option
@project_option
@isolation_option
@reuse_option
def demo(rows: int, score_rows: int, workspace: Path | None, project: Path, isolation: str, reuse: bool) -> None:
    from mlops_pipeline.demo_data import write_demo_pair

    out = console()
    train, score = write_demo_pair(_workspace(workspace).root / "demo-data", rows, score_rows)
    out.print(f"Generated {rows} training and {score_rows} scoring rows in {train.parent}")
    workflow = project / DEFAULT_WORKFLOW
    with open_runtime(workflow, workspace, project, out, isolation, reuse=reuse, warm_training=True) as runtime:
        run_pipeline(runtime, out, train, score)
