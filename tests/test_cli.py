"""The mlops-pipeline command: help, rendering, and user errors as one line with exit 1."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from conftest import REPO
from mlops_pipeline.cli import main


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("deploy", "render", "demo"):
        assert command in result.output


def test_render_writes_both_definitions(tmp_path):
    result = CliRunner().invoke(
        main, ["render", "--workflow", str(REPO / "workflows/attrition.py"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scoring.asl.json", "training.asl.json"]


def test_user_error_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from mlops_pipeline.config import QualityGate\nGATE = QualityGate(comparison='==', threshold=0.5)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlops_pipeline.cli", "render", "--workflow", str(bad), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {bad}:2: QualityGate.comparison: Input should be '>=', '>', '<=' or '<' (got '==')"
    ]
    assert "Traceback" not in result.stderr


def test_deploy_module_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "-m", "mlops_pipeline.deploy", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "--only-json" in result.stdout and "--dry-run" in result.stdout


CLOSING_COMMANDS = """
import atexit, sys
import click
from mlops_pipeline.cli import main, session_closed
from mlops_pipeline.errors import PipelineError

@main.command("closing")
@click.option("--fail", is_flag=True)
def closing(fail):
    click.echo("printed before the end")
    session_closed()
    if fail:
        raise PipelineError("failed after the session closed")

atexit.register(lambda: print("teardown ran"))
"""


def run_closing(tail: str, *args: str) -> subprocess.CompletedProcess:
    code = CLOSING_COMMANDS + tail
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_the_program_ends_without_teardown_once_a_session_closed_and_keeps_its_exit_status():
    ended = run_closing("main(prog_name='mlops-pipeline')", "closing")
    assert (ended.returncode, ended.stdout) == (0, "printed before the end\n")
    failed = run_closing("main(prog_name='mlops-pipeline')", "closing", "--fail")
    assert (failed.returncode, failed.stdout) == (1, "printed before the end\n")
    assert failed.stderr == "Error: failed after the session closed\n"


def test_called_from_python_the_door_returns_as_click_does():
    tail = (
        "from click.testing import CliRunner\n"
        "result = CliRunner().invoke(main, ['closing', '--fail'])\n"
        "print('exit', result.exit_code)\n"
        "try:\n"
        "    main(['closing'], prog_name='mlops-pipeline')\n"
        "except SystemExit as done:\n"
        "    print('exit', done.code)\n"
    )
    result = run_closing(tail)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-4:] == ["exit 1", "printed before the end", "exit 0", "teardown ran"]
