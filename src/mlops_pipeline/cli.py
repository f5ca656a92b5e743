"""The ``mlops-pipeline`` command."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_pipeline.cli_support import UserErrorCommand, UserErrorGroup
from mlops_pipeline.config import load_workflow
from mlops_pipeline.deploy import DEFAULT_WORKFLOW, main as deploy_command, render
from mlops_pipeline.local.cli import demo, local
from mlops_pipeline.target import local_target


@click.group(cls=UserErrorGroup, help="Production ML pipelines on AWS Step Functions, edited as Python.")
@click.version_option(package_name="mlops-pipeline")
def main() -> None:
    pass


main.add_command(deploy_command, "deploy")


@main.command("render", cls=UserErrorCommand, help="Render a workflow's state machines for the local runtime to a folder.")
@click.option("--workflow", type=click.Path(path_type=Path), default=DEFAULT_WORKFLOW, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/definitions"), show_default=True)
def render_cmd(workflow: Path, out: Path) -> None:
    config = load_workflow(workflow)
    for path in render(config, local_target(config.name), out):
        click.echo(f"wrote {path}")


main.add_command(local)
main.add_command(demo)


if __name__ == "__main__":
    main()
