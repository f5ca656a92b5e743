"""Cold start of the command line: `mlops-pipeline --help` against `python -c "import click, rich"`.

    python benchmarks/cli_startup.py [--runs 15]

Each figure is the median wall time of fresh processes, the two commands interleaved so both see
the same machine; the ratio is the command's median over the baseline's (target <= 1.5). Also
`mlops-pipeline local ls --help`, which must not wait for the Step Functions SDK either.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def command_path() -> str:
    """The installed console script beside this interpreter (what a user runs), else the module."""
    script = Path(sys.executable).with_name("mlops-pipeline")
    return str(script) if script.exists() else shutil.which("mlops-pipeline") or ""


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = command_path()
    cli = [script] if script else [sys.executable, "-m", "mlops_pipeline.cli"]
    commands = {
        "python -c 'import click, rich'": [sys.executable, "-c", "import click, rich"],
        "mlops-pipeline --help": [*cli, "--help"],
        "mlops-pipeline local ls --help": [*cli, "local", "ls", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(timed(argv))
    baseline = statistics.median(times["python -c 'import click, rich'"])
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'max s':>7} {'ratio':>6}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<34} {median:>9.3f} {min(samples):>7.3f} {max(samples):>7.3f} {median / baseline:>6.2f}")
    ratio = statistics.median(times["mlops-pipeline --help"]) / baseline
    print(f"mlops-pipeline --help / import click, rich: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
