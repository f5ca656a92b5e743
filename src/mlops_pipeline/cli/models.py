"""``mlops-pipeline models``: the pipeline's model registry; approve or reject a version by hand."""

from __future__ import annotations

import click

from mlops_pipeline.cli.options import found_workflow_option, terraform_dir_option, tf_outputs_option, workspace_option


def _target_options(command):
    """Where the registry is: the workspace's (the default) or SageMaker's (``--tf-outputs`` or ``--aws``)."""
    for option in reversed(
        (
            found_workflow_option,
            workspace_option,
            tf_outputs_option("JSON from `terraform output -json`: the registry on AWS instead of the workspace's."),
            click.option(
                "--aws",
                is_flag=True,
                help="The registry on AWS, with the Terraform outputs read by running `terraform output -json`.",
            ),
            terraform_dir_option("Where `terraform output -json` runs for --aws."),
        )
    ):
        command = option(command)
    return command


@click.group(
    "models",
    invoke_without_command=True,
    short_help="List the model registry's versions; approve or reject one.",
    help="List the versions in the pipeline's model registry (a SageMaker Model Package Group): number, approval "
    "status, creation time, the gate metric, the training execution and the gate's or a person's reason. Scoring "
    "uses the approved version created last (marked *). `models approve N` and `models reject N --reason TEXT` "
    "change a version's status; the next scoring follows. Locally (the default) the workspace's registry; on AWS "
    "with --tf-outputs FILE or --aws (needs sagemaker:ListModelPackages, DescribeModelPackage and, to change a "
    "status, UpdateModelPackage).",
)
@_target_options
@click.pass_context
def models(ctx: click.Context, **where) -> None:
    ctx.obj = where
    if ctx.invoked_subcommand is None:
        _list(where)


@models.command("approve", help="Approve version VERSION; scoring uses it unless an approved version is newer.")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", default="Approved by hand with mlops-pipeline models approve.", show_default=True)
@_target_options
@click.pass_context
def approve(ctx: click.Context, version: int, reason: str, **where) -> None:
    _set_status(_merged(ctx, where), version, "Approved", reason)


@models.command("reject", help="Reject version VERSION; scoring falls back to the newest other approved version.")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (kept as the version's approval description).")
@_target_options
@click.pass_context
def reject(ctx: click.Context, version: int, reason: str, **where) -> None:
    _set_status(_merged(ctx, where), version, "Rejected", reason)


def _merged(ctx: click.Context, where: dict) -> dict:
    """Options given after the subcommand win over those given before it; defaults never do."""
    from click.core import ParameterSource

    before = ctx.obj or {}
    return {
        key: before.get(key, value) if ctx.get_parameter_source(key) is ParameterSource.DEFAULT else value
        for key, value in where.items()
    }


def _registry(where: dict):
    """(client, group name, where it is) for the options given."""
    from mlops_pipeline.naming import model_package_group_name

    if where["tf_outputs"] is not None or where["aws"]:
        import boto3

        from mlops_pipeline.target import terraform_target

        target = terraform_target(where["tf_outputs"], where["terraform_dir"])
        client = boto3.client("sagemaker", region_name=target.region)
        return client, model_package_group_name(target.pipeline_name), f"region {target.region}"
    from mlops_pipeline.cli.local import _pipeline, _workspace
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.local.integrations.sagemaker_registry import LocalRegistryClient

    workspace = _workspace(where["workspace"])
    name = load_workflow(_pipeline(where["workflow"], where["workspace"]).workflow).name
    return LocalRegistryClient(workspace.root), model_package_group_name(name), str(workspace.root)


def _list(where: dict) -> None:
    from mlops_pipeline import model_registry
    from mlops_pipeline.cli.output import echo_table
    from mlops_pipeline.errors import PipelineError

    client, group, place = _registry(where)
    listed = model_registry.versions(client, group)
    if not listed:
        raise PipelineError(f"model package group {group} ({place}) has no versions yet: run a training first")
    used = model_registry.serving(listed)
    rows = [
        (
            f"{v.number}{' *' if v is used else ''}",
            v.status,
            v.created[:19],
            v.metric,
            v.execution,
            v.description,
        )
        for v in listed
    ]
    echo_table(["version", "status", "created", "gate metric", "execution", "reason"], rows, title=group)
    click.echo(_scoring_line(used))


def _set_status(where: dict, version: int, status: str, reason: str) -> None:
    from mlops_pipeline import model_registry

    client, group, _ = _registry(where)
    changed = model_registry.set_status(client, group, version, status, reason)
    click.echo(f"{group} version {changed.number}: {changed.status}")
    click.echo(_scoring_line(model_registry.serving(model_registry.versions(client, group))))


def _scoring_line(used) -> str:
    if used is None:
        return "Scoring has no approved version: it fails with NoApprovedModel."
    return f"Scoring uses version {used.number} (the approved version created last)."
