"""``mlops-pipeline local ...`` and ``mlops-pipeline demo``: run the pipeline on this machine."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import click
from rich.console import Console

from mlops_pipeline.cli_support import UserErrorCommand, UserErrorGroup, echo_table
from mlops_pipeline.config import load_workflow
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.executions import ExecutionRecords, ExecutionResult, executions_root
from mlops_pipeline.local.report import Reporter, explain_cause, print_failure, print_scoring_summary, print_training_summary
from mlops_pipeline.local.stores import WORKSPACE_ENV, Workspace, parse_s3_uri
from mlops_pipeline.target import local_target

DEFAULT_WORKFLOW = Path("workflows/attrition.py")

workspace_option = click.option("--workspace", type=click.Path(path_type=Path), envvar=WORKSPACE_ENV,
                                help=f"Folder holding the local stores and records [env {WORKSPACE_ENV}; default ./.mlops].")
workflow_option = click.option("--workflow", type=click.Path(path_type=Path), default=DEFAULT_WORKFLOW, show_default=True,
                               help="Workflow file that defines PIPELINE.")
project_option = click.option("--project", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
                              show_default=True, help="Folder with glue_transforms/ and containers/.")


@click.group("local", cls=UserErrorGroup,
             help="Run the pipeline's state machines on this machine: real Glue transform, tuning, training and "
                  "batch transform, no AWS account, no Docker.")
def local() -> None:
    pass


def open_runtime(workflow: Path, workspace: Path | None, project: Path, console: Console):
    """A LocalRuntime session (imported here: the engine loads moto, which `--help` should not wait for)."""
    from mlops_pipeline.local.runtime import LocalRuntime

    return LocalRuntime(load_workflow(workflow), Workspace.resolve(workspace), project, on_event=Reporter(console))


def run_pipeline(runtime, console: Console, train: Path, score: Path) -> tuple[ExecutionResult, ExecutionResult]:
    """Land the training file, follow training, land the scoring file, follow scoring; summaries at the end."""
    console.print(f"[bold]Landing {train.name}[/] in s3://{runtime.target.feature_store_bucket}/{runtime.target.training_prefix}")
    trained = runtime.run_file("train", train)
    if not trained.succeeded:
        print_failure(console, trained)
        raise PipelineError(f"training execution {trained.name} {trained.status.lower()}: {trained.error}")
    console.print(f"[bold]Landing {score.name}[/] in s3://{runtime.target.feature_store_bucket}/{runtime.target.scoring_prefix}")
    scored = runtime.run_file("score", score)
    if not scored.succeeded:
        print_failure(console, scored)
        raise PipelineError(f"scoring execution {scored.name} {scored.status.lower()}: {scored.error}")
    print_training_summary(console, runtime.workspace, trained)
    print_scoring_summary(console, runtime.workspace, scored)
    return trained, scored


@local.command("run", cls=UserErrorCommand, help="Land a training file, then a scoring file, and follow both executions.")
@workflow_option
@click.option("--train", "train", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Training CSV (with the label column).")
@click.option("--score", "score", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Scoring CSV (without the label).")
@workspace_option
@project_option
def run_cmd(workflow: Path, train: Path, score: Path, workspace: Path | None, project: Path) -> None:
    console = Console(highlight=False, soft_wrap=True)
    with open_runtime(workflow, workspace, project, console) as runtime:
        run_pipeline(runtime, console, train, score)


@local.command("up", cls=UserErrorCommand,
               help="Watch the local feature store and start an execution for each file landed in it (Ctrl-C stops).")
@workflow_option
@workspace_option
@project_option
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between scans.")
def up_cmd(workflow: Path, workspace: Path | None, project: Path, interval: float) -> None:
    console = Console(highlight=False, soft_wrap=True)
    with open_runtime(workflow, workspace, project, console) as runtime:
        folder = runtime.workspace.path(runtime.target.feature_store_bucket)
        console.print(f"Watching {folder} ({runtime.target.training_prefix}, {runtime.target.scoring_prefix}); "
                      f"land files with `mlops-pipeline local land`. Ctrl-C stops.")
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            watch(runtime, console, interval)
        except KeyboardInterrupt:
            console.print("Stopped watching; stopping running executions.")
        finally:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    """SIGTERM ends `local up` as Ctrl-C does: running executions are stopped and their jobs killed."""
    raise KeyboardInterrupt


def watch(runtime, console: Console, interval: float, rounds: int | None = None) -> list[ExecutionResult]:
    """Start executions for new files and follow every running one until ``rounds`` scans (forever if None)."""
    watcher, active, seen, finished, done_rounds = runtime.watcher(), {}, {}, [], 0
    while rounds is None or done_rounds < rounds or active:
        for outcome in watcher.poll():
            for name in outcome.get("started", []):
                console.print(f"[bold]{outcome['key']}[/] started {name}")
                active[name] = runtime.workflow_of(name)
            for reason in outcome.get("ignored", []) + outcome.get("rejected", []):
                console.print(f"{outcome['key']} ignored: {reason.get('reason', reason) if isinstance(reason, dict) else reason}")
        for name, workflow in list(active.items()):
            result = runtime.poll(name, workflow, seen)
            if result is not None:
                del active[name]
                finished.append(result)
                _report_end(runtime, console, result)
        done_rounds += 1
        time.sleep(interval)
    return finished


def _report_end(runtime, console: Console, result: ExecutionResult) -> None:
    if not result.succeeded:
        print_failure(console, result)
    elif result.workflow == "training":
        print_training_summary(console, runtime.workspace, result)
    else:
        print_scoring_summary(console, runtime.workspace, result)


@local.command("land", cls=UserErrorCommand, help="Copy a file into the local feature store (`local up` picks it up).")
@click.argument("kind", type=click.Choice(["train", "score"]))
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@workflow_option
@workspace_option
def land_cmd(kind: str, file: Path, workflow: Path, workspace: Path | None) -> None:
    config = load_workflow(workflow)
    target, store = local_target(config.name), Workspace.resolve(workspace)
    prefix = target.training_prefix if kind == "train" else target.scoring_prefix
    store.put_file(target.feature_store_bucket, f"{prefix}{file.name}", file)
    click.echo(f"landed s3://{target.feature_store_bucket}/{prefix}{file.name}")


@local.command("ls", cls=UserErrorCommand, help="List the local stores, or the objects under s3://BUCKET/PREFIX.")
@click.argument("uri", required=False)
@workspace_option
def ls_cmd(uri: str | None, workspace: Path | None) -> None:
    store = Workspace.resolve(workspace)
    if not uri:
        for bucket in store.buckets():
            click.echo(f"s3://{bucket}/")
        return
    bucket, prefix = parse_s3_uri(uri)
    rows = [(key, path.stat().st_size) for key, path in store.objects(bucket, prefix)]
    if not rows:
        raise PipelineError(f"nothing under {uri} in {store.root}")
    for key, size in rows:
        click.echo(f"{size:>12}  s3://{bucket}/{key}")


@local.command("cat", cls=UserErrorCommand, help="Print a local object, e.g. predictions.")
@click.argument("uri")
@workspace_option
def cat_cmd(uri: str, workspace: Path | None) -> None:
    path = Workspace.resolve(workspace).path_of(uri)
    if not path.is_file():
        raise PipelineError(f"{uri}: no such object in the workspace")
    with open(path, "rb") as handle, click.open_file("-", "wb") as out:
        for block in iter(lambda: handle.read(1 << 16), b""):
            out.write(block)


def _records(workflow: Path, workspace: Path | None) -> ExecutionRecords:
    config = load_workflow(workflow)
    return ExecutionRecords(executions_root(Workspace.resolve(workspace), local_target(config.name)))


@local.command("executions", cls=UserErrorCommand, help="List the executions recorded in the metadata store.")
@workflow_option
@workspace_option
def executions_cmd(workflow: Path, workspace: Path | None) -> None:
    records = _records(workflow, workspace)
    rows = []
    for name in records.names():
        record = records.read(name)
        rows.append((name, record["status"], record["start_date"][:19], record.get("failed_state") or record.get("fail_state") or "",
                     record.get("redrive_count", 0)))
    if not rows:
        raise PipelineError(f"no executions recorded in {records.root}")
    echo_table(["execution", "status", "started", "failed at", "redrives"], rows)


@local.command("history", cls=UserErrorCommand, help="Print one execution's events (state by state) and its outcome.")
@click.argument("name")
@workflow_option
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="The raw events as JSON.")
def history_cmd(name: str, workflow: Path, workspace: Path | None, as_json: bool) -> None:
    records = _records(workflow, workspace)
    events = records.history(name)
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        label = details.get("name") or details.get("error") or ""
        click.echo(f"{event['timestamp'][:23]}  {event['type']:<28} {label}")
    record = records.read(name)
    click.echo(f"status: {record['status']}")
    if record.get("error"):
        click.echo(f"error:  {record['error']}\ncause:  {explain_cause(record.get('cause'))}")


@local.command("redrive", cls=UserErrorCommand,
               help="Re-run a failed or aborted execution from its failed state with the same input, reusing what succeeded.")
@click.argument("name")
@workflow_option
@workspace_option
@project_option
def redrive_cmd(name: str, workflow: Path, workspace: Path | None, project: Path) -> None:
    console = Console(highlight=False, soft_wrap=True)
    with open_runtime(workflow, workspace, project, console) as runtime:
        result = runtime.redrive(name)
        _report_end(runtime, console, result)
        if not result.succeeded:
            raise PipelineError(f"redriven execution {name} {result.status.lower()}: {result.error}")


@local.command("tables", cls=UserErrorCommand, help="Show the tables the output crawler recorded (what Athena would see).")
@workflow_option
@workspace_option
def tables_cmd(workflow: Path, workspace: Path | None) -> None:
    config = load_workflow(workflow)
    target, store = local_target(config.name), Workspace.resolve(workspace)
    path = store.path(target.metadata_bucket, f"{config.name}/catalog/tables.json")
    if not path.exists():
        raise PipelineError(f"no catalog yet at {path}; it is written when a scoring execution publishes predictions")
    catalog = json.loads(path.read_text())
    rows = [(f"{catalog['Database']}.{table}", spec["Location"], ", ".join(f"{c['Name']} {c['Type']}" for c in spec["Columns"]))
            for table, spec in catalog["Tables"].items()]
    echo_table(["table", "location", "columns"], rows, title=f"crawled {catalog['CrawledAt'][:19]}")


@click.command("demo", cls=UserErrorCommand,
               help="Generate example data and run the example pipeline end to end on this machine.")
@click.option("--rows", type=click.IntRange(min=100), default=10_000, show_default=True, help="Training rows.")
@click.option("--score-rows", type=click.IntRange(min=1), default=2_000, show_default=True, help="Scoring rows.")
@workspace_option
@project_option
def demo(rows: int, score_rows: int, workspace: Path | None, project: Path) -> None:
    from mlops_pipeline.demo_data import write_demo_pair

    console = Console(highlight=False, soft_wrap=True)
    store = Workspace.resolve(workspace)
    train, score = write_demo_pair(store.root / "demo-data", rows, score_rows)
    console.print(f"Generated {rows} training and {score_rows} scoring rows in {train.parent}")
    with open_runtime(project / DEFAULT_WORKFLOW, workspace, project, console) as runtime:
        run_pipeline(runtime, console, train, score)
