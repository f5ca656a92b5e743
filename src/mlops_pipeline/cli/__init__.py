"""The ``mlops-pipeline`` command: a root group whose subcommands load only when used.

The root group is the one error door: a ``PipelineError`` raised anywhere below it becomes
``Error: <one line>`` and exit status 1; anything else is a bug and keeps its traceback.
``python -m mlops_pipeline.deploy`` enters through the same door.

It is also the way out. Tearing down the interpreter after a local session (pandas, moto, xgboost and
the rest are unloaded object by object) takes about a second and has nothing left to do once the
session has closed: its jobs and servers are killed and its records written. So when the command runs
as the program (``mlops-pipeline ...``, ``python -m mlops_pipeline.cli``) and a command said so with
:func:`session_closed`, the door flushes what was printed and ends the process with its exit status
at once. Called from Python (tests, click's ``CliRunner``), it returns and raises as click does.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import NoReturn

import click

from mlops_pipeline.errors import PipelineError

#: name -> "module:attribute" of each subcommand, imported when it is used (or its help is shown).
SUBCOMMANDS = {
    "deploy": "mlops_pipeline.cli.deploy:deploy",
    "render": "mlops_pipeline.cli.deploy:render",
    "local": "mlops_pipeline.cli.local:local",
    "demo": "mlops_pipeline.cli.local:demo",
    "replay-dead-letters": "mlops_pipeline.cli.dead_letters:replay_dead_letters",
    "validate": "mlops_pipeline.cli.validate:validate",
    "report": "mlops_pipeline.cli.report:report",
    "models": "mlops_pipeline.cli.models:models",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on demand, so `--help` does not wait for the SDK."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
        return getattr(importlib.import_module(module), attribute)


class Interrupted(KeyboardInterrupt):
    """A signal that ends a session as Ctrl-C does (SIGTERM, SIGHUP); once the session has closed, with the
    executions it stopped (``stopped``; None before anyone knows)."""

    def __init__(self, signum: int, stopped: tuple[str, ...] | None = None):
        super().__init__(signum)
        self.signum = signum
        self.stopped = stopped


class _Closed:
    """Whether the running command's local session has closed (one command runs per process)."""

    session = False


def session_closed() -> None:
    """The command's local session has closed (jobs and servers killed, records written): what is left of
    the program is the interpreter's teardown, which the door may skip."""
    _Closed.session = True


def _end_now(code: object) -> NoReturn:
    """End the process with the status ``sys.exit(code)`` gives, after flushing output and logs, without the
    interpreter's teardown."""
    if code is None or isinstance(code, int):
        status = code or 0
    else:
        print(code, file=sys.stderr)
        status = 1
    logging = sys.modules.get("logging")  # flushed only when something used it; importing it costs start-up
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(status)


class RootGroup(LazyGroup):
    """The error door: user mistakes are one line and exit 1; an interrupted session says what it left."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's ``main``; as the program (arguments from ``sys.argv``), ended at once after a closed
        session (the module docstring says why)."""
        if args is not None or not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _Closed.session = False
        try:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        except SystemExit as done:
            if _Closed.session:
                _end_now(done.code)
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PipelineError as error:
            raise click.ClickException(error.headline) from None
        except KeyboardInterrupt as stop:
            signum = getattr(stop, "signum", signal.SIGINT)
            click.echo(stopped_line(signal.Signals(signum).name, getattr(stop, "stopped", None)), err=True)
            ctx.exit(128 + signum)


def stopped_line(signal_name: str, stopped: tuple[str, ...] | None) -> str:
    """What a signal (Ctrl-C too) ended: the executions the session stopped, none, or (outside a session) nothing
    to say."""
    if stopped is None:
        return f"Stopped by {signal_name}."
    if not stopped:
        return f"Stopped by {signal_name}: no execution was running."
    return (
        f"Stopped by {signal_name}: {', '.join(stopped)} stopped and recorded ABORTED; "
        "`mlops-pipeline local executions` lists them, `mlops-pipeline local redrive NAME` resumes one."
    )


@click.group(
    cls=RootGroup, lazy_subcommands=SUBCOMMANDS, help="Production ML pipelines on AWS Step Functions, edited as Python."
)
@click.version_option(package_name="mlops-pipeline")
def main() -> None:
    pass


def run_deploy_entry() -> None:
    """``python -m mlops_pipeline.deploy ...`` is ``mlops-pipeline deploy ...``, through the same door."""
    main(["deploy", *sys.argv[1:]], prog_name="python -m mlops_pipeline")
