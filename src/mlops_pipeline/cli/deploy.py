"""``mlops-pipeline deploy`` (also ``python -m mlops_pipeline.deploy``) and ``mlops-pipeline render``."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_pipeline.cli.options import terraform_dir_option, tf_outputs_option, workflow_option
from mlops_pipeline.cli.output import echo_table

OUT_OPTION = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("build/definitions"),
    show_default=True,
    help="Folder for training.asl.json and scoring.asl.json.",
)


@click.command(
    "deploy",
    help="Render the training and scoring state machines, validate them (as `validate` does; an error stops "
    "deploy before any AWS call) and deploy them with the workflow's schedules (or only render with --only-json).",
)
@workflow_option
@click.option("--only-json", is_flag=True, help="Only render the definitions to --out; no AWS call, no credentials.")
@OUT_OPTION
@tf_outputs_option("JSON from `terraform output -json`; without it deploy runs that command itself.")
@terraform_dir_option(
    "Terraform module: its outputs (without --tf-outputs) and the Step Functions role's grants, which "
    "deploy validates with the definitions before any AWS call (IAM is skipped when the folder does not exist)."
)
@click.option(
    "--glue-dir",
    type=click.Path(path_type=Path),
    default=Path("glue_transforms"),
    show_default=True,
    help="Folder of Glue scripts uploaded to the source-repository store.",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would change (with a diff of each definition), change nothing."
)
def deploy(
    workflow: Path,
    only_json: bool,
    out: Path,
    tf_outputs: Path | None,
    terraform_dir: Path,
    glue_dir: Path,
    dry_run: bool,
) -> None:
    from mlops_pipeline import deploy as deploying
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.target import local_target, read_terraform_outputs_file, terraform_target

    config = load_workflow(workflow)
    if only_json:
        target = read_terraform_outputs_file(tf_outputs) if tf_outputs else local_target(config.name)
        deploying.check_target_matches(config, target)
        for path in deploying.render(config, target, out):
            click.echo(f"wrote {path}")
        return
    target = terraform_target(tf_outputs, terraform_dir)
    try:
        changes = deploying.deploy(config, target, glue_dir, dry_run, terraform_dir)
    except deploying.DefinitionsInvalid as invalid:
        for finding in invalid.findings:
            click.echo(str(finding), err=True)
        raise
    echo_table(["resource", "name", "action", "detail"], [(c.resource, c.name, c.action, c.detail) for c in changes])
    for change in changes:
        if change.diff:
            click.echo(change.diff)
    if deploying.nothing_changed(changes):
        click.echo("Nothing to change: AWS already runs these definitions.")
    elif dry_run:
        click.echo("Dry run: nothing was changed.")


@click.command("render", help="Render a workflow's state machines for the local runtime to a folder.")
@workflow_option
@OUT_OPTION
def render(workflow: Path, out: Path) -> None:
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.deploy import render as render_definitions
    from mlops_pipeline.target import local_target

    config = load_workflow(workflow)
    for path in render_definitions(config, local_target(config.name), out):
        click.echo(f"wrote {path}")
