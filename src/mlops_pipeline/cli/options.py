"""Options several commands share, declared once with their defaults."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_pipeline.layout import TERRAFORM_DIR, WORKSPACE_ENV

DEFAULT_WORKFLOW = Path("workflows/attrition.py")

workflow_option = click.option(
    "--workflow",
    type=click.Path(path_type=Path),
    default=DEFAULT_WORKFLOW,
    show_default=True,
    help="Workflow file that defines PIPELINE.",
)
found_workflow_option = click.option(
    "--workflow",
    type=click.Path(path_type=Path),
    default=None,
    help="Workflow file that defines PIPELINE [default: the pipeline that ran in the workspace].",
)
workspace_option = click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    envvar=WORKSPACE_ENV,
    help=f"Folder holding the local stores and records [env {WORKSPACE_ENV}; default ./.mlops].",
)
isolation_option = click.option(
    "--isolation",
    type=click.Choice(["auto", "namespaces", "direct"]),
    envvar="MLOPS_ISOLATION",
    default="auto",
    show_default=True,
    help="How container jobs run: in their own view of /opt/ml, /tmp and the network (namespaces, with "
    "bubblewrap), or directly with SM_* paths; auto picks namespaces where the machine allows them "
    "[env MLOPS_ISOLATION].",
)
inject_option = click.option(
    "--inject",
    envvar="MLOPS_INJECT",
    default="",
    metavar="TARGET=ERROR[*N],...",
    help="Make the next N calls of a Task state or resource fail with an AWS error, to try Retry and Catch, e.g. "
    "sagemaker:createTransformJob.sync=SageMaker.AmazonSageMakerException*2 [env MLOPS_INJECT].",
)
reuse_option = click.option(
    "--reuse",
    is_flag=True,
    envvar="MLOPS_REUSE",
    help="Serve a Glue transform from the outputs of an earlier successful run in the workspace whose script, "
    "code, arguments and input bytes are identical, instead of running it again (local only) [env MLOPS_REUSE].",
)
project_option = click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder with glue_transforms/ and containers/.",
)

found_project_option = click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with glue_transforms/ and containers/ [default: where the pipeline last ran from; with "
    "--workflow, the current folder].",
)


def tf_outputs_option(help: str):
    """``--tf-outputs FILE``: the JSON of ``terraform output -json``; each command says what it does without it."""
    return click.option("--tf-outputs", type=click.Path(path_type=Path), help=help)


def terraform_dir_option(help: str):
    """``--terraform-dir``, the Terraform module (default ``infra/terraform``); each command says what it reads."""
    return click.option(
        "--terraform-dir", type=click.Path(path_type=Path), default=TERRAFORM_DIR, show_default=True, help=help
    )
