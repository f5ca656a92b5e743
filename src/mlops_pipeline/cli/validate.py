"""``mlops-pipeline validate``: the rendered state machines against AWS's rules, offline."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_pipeline.cli.options import terraform_dir_option, tf_outputs_option, workflow_option


@click.command(
    "validate",
    help="Check a workflow's training and scoring state machines against AWS's rules before deploying them: "
    "the workflow's own limits, Task parameters against the AWS API models, that every path a state reads "
    "exists, Retry/Catch error names, Step Functions' limits, and the Step Functions role's IAM grants in "
    "the Terraform module. No AWS call, no credentials. One line per finding; exit status 1 on any error.",
)
@workflow_option
@tf_outputs_option(
    "JSON from `terraform output -json`: validate the definitions deploy would send; without it, the "
    "ones the local runtime runs."
)
@terraform_dir_option(
    "Terraform module whose Step Functions role is checked; IAM is skipped when the default folder does not exist."
)
@click.pass_context
def validate(ctx: click.Context, workflow: Path, tf_outputs: Path | None, terraform_dir: Path) -> None:
    from mlops_pipeline.errors import PipelineError
    from mlops_pipeline.validation import summary, validate_workflow

    explicit = ctx.get_parameter_source("terraform_dir") is not click.core.ParameterSource.DEFAULT
    if not terraform_dir.is_dir():
        if explicit:
            raise PipelineError(f"Terraform folder not found: {terraform_dir}")
        click.echo(f"IAM not checked: no Terraform folder at {terraform_dir} (--terraform-dir)")
        terraform_dir = None
    findings = validate_workflow(workflow, tf_outputs, terraform_dir)
    for finding in findings:
        click.echo(str(finding))
    checked = "training and scoring" + (f", IAM of {terraform_dir}" if terraform_dir else "")
    click.echo(summary(findings, f"{workflow} ({checked})"))
    if any(finding.is_error for finding in findings):
        ctx.exit(1)
