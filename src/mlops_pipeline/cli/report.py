"""``mlops-pipeline report NAME``: an execution's HTML report, from the local workspace or from AWS.

Importing this module stays cheap (click and the shared options): the report's modules, the runtime's
records and boto3 load inside the command.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlops_pipeline.cli.options import found_workflow_option, terraform_dir_option, tf_outputs_option, workspace_option


@click.command(
    "report",
    help="Write one execution's report as a self-contained HTML file (it opens offline): the state graph coloured "
    "by outcome with each state's time, the tuning trials, the best model against the gate and the baseline, data "
    "warnings, and for scoring the predicted probabilities. NAME is an execution as `mlops-pipeline local "
    "executions` lists it; with --aws (or an execution ARN) it is read from Step Functions and SageMaker.",
)
@click.argument("name")
@found_workflow_option
@workspace_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the report [default: report.html beside the execution's records; "
    "with --aws, <NAME>.html here].",
)
@click.option("--aws", "on_aws", is_flag=True, help="Read the execution from AWS (an execution ARN implies it).")
@tf_outputs_option("With --aws: the JSON of `terraform output -json` naming the stores and the account.")
@terraform_dir_option("With --aws and no --tf-outputs: where `terraform output -json` runs.")
def report(
    name: str,
    workflow: Path | None,
    workspace: Path | None,
    out: Path | None,
    on_aws: bool,
    tf_outputs: Path | None,
    terraform_dir: Path,
) -> None:
    if on_aws or name.startswith("arn:"):
        path = _aws_report(name, tf_outputs, terraform_dir, out)
    else:
        path = _local_report(name, workflow, workspace, out)
    click.echo(f"report: {path.resolve().as_uri()}")


def _local_report(name: str, workflow: Path | None, workspace: Path | None, out: Path | None) -> Path:
    from mlops_pipeline.cli.local import _recovered
    from mlops_pipeline.report.html import write
    from mlops_pipeline.report.local_source import local_report, report_path

    store, target, _ = _recovered(workflow, workspace)
    return write(local_report(store, target, name), out or report_path(store, target, name))


def _aws_report(name: str, tf_outputs: Path | None, terraform_dir: Path, out: Path | None) -> Path:
    from mlops_pipeline.report.aws_source import AwsClients, aws_report
    from mlops_pipeline.report.html import write
    from mlops_pipeline.target import terraform_target

    target = terraform_target(tf_outputs, terraform_dir)
    report = aws_report(AwsClients.for_target(target), target, name)
    return write(report, out or Path(f"{report.name}.html"))


def write_local_reports(workspace, target, names: list[str]) -> list[Path]:
    """The reports of executions a session has just run (``local run`` ends with them)."""
    from mlops_pipeline.report.html import write
    from mlops_pipeline.report.local_source import local_report, report_path

    return [write(local_report(workspace, target, name), report_path(workspace, target, name)) for name in names]
