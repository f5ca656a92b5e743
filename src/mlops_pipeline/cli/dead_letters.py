"""``mlops-pipeline replay-dead-letters``: landings that started nothing, handed to the handler again."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from mlops_pipeline.cli.options import terraform_dir_option, tf_outputs_option

HANDLER_LOGGER = "mlops_pipeline.handlers.s3_landing"


@click.command(
    "replay-dead-letters",
    short_help="Re-deliver the landing Lambda's dead letters through the landing handler.",
    help="Re-deliver each event in the landing Lambda's dead-letter queue through the landing handler, with the "
    "Lambda's environment built from the Terraform outputs. Executions that exist already are duplicates, so each "
    "landing still starts once. A message is deleted when every record in it started, was a duplicate or was "
    "ignored; it stays when a record failed again or is malformed. One line per message, then a summary; exit "
    "status 1 while any message stays.",
)
@tf_outputs_option("JSON from `terraform output -json`; without it the command runs that command itself.")
@terraform_dir_option("Where `terraform output -json` runs when --tf-outputs is not given.")
@click.option(
    "--discard-rejected",
    is_flag=True,
    help="Also delete messages whose only unhandled records are malformed; their lines say what was wrong.",
)
@click.option(
    "--wait-seconds",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    help="How long each receive waits for messages (SQS long polling) before the queue counts as empty.",
)
def replay_dead_letters(tf_outputs: Path | None, terraform_dir: Path, discard_rejected: bool, wait_seconds: int):
    import boto3

    from mlops_pipeline import dead_letters
    from mlops_pipeline.errors import PipelineError
    from mlops_pipeline.target import terraform_target

    target = terraform_target(tf_outputs, terraform_dir)
    queue_url = dead_letters.dead_letter_queue_url(target)
    try:
        settings = dead_letters.landing_settings(target)
    except RuntimeError as error:
        raise PipelineError(str(error)) from None
    sqs = boto3.client("sqs", region_name=target.region)
    sfn = boto3.client("stepfunctions", region_name=target.region)
    with _handler_logs_quiet():  # each message's line already says what its records did
        results = dead_letters.replay_dead_letters(
            sqs,
            sfn,
            queue_url,
            settings,
            discard_rejected=discard_rejected,
            wait_seconds=wait_seconds,
            on_message=lambda replayed: click.echo(replayed.line()),
        )
    queue = queue_url.rstrip("/").rsplit("/", 1)[-1]
    if not results:
        click.echo(f"No dead letters in {queue}.")
        return
    kept = sum(not r.deleted for r in results)
    click.echo(f"{len(results)} dead letter(s) in {queue}: {len(results) - kept} deleted, {kept} kept.")
    if kept:
        raise PipelineError(
            f"{kept} of {len(results)} dead letter(s) stay in {queue}: fix what their lines say, then replay again"
        )


@contextlib.contextmanager
def _handler_logs_quiet():
    import logging  # here, not at the top: `mlops-pipeline --help` reads this module for its help line

    logger = logging.getLogger(HANDLER_LOGGER)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
