"""The command line starts light: help never waits for the Step Functions SDK, SageMaker, moto or the
AWS API models and Terraform parser that `validate` reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

# logging is not heavy, but at 15 ms it is a third of the start-up budget of `--help`.
HEAVY = ("stepfunctions", "sagemaker", "moto", "pandas", "pydantic", "botocore", "hcl2", "jsonata", "logging")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["local", "ls", "--help"],
        ["local", "--help"],
        ["deploy", "--help"],
        ["replay-dead-letters", "--help"],
        ["validate", "--help"],
        ["report", "--help"],
    ],
)
def test_help_imports_none_of_the_heavy_libraries(args):
    code = (
        "import sys\n"
        "from mlops_pipeline.cli import main\n"
        "try:\n"
        f"    main({args!r}, prog_name='mlops-pipeline')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: mlops-pipeline" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_no_logic_module_imports_click_or_prints_tables():
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "src" / "mlops_pipeline"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "cli" not in path.relative_to(package).parts
        and any(word in path.read_text() for word in ("import click", "from rich", "import rich"))
    ]
    assert offenders == []
