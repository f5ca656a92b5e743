"""Data checks: their cost on an ordinary file, and how fast a value too long to score is refused.

    python benchmarks/data_checks.py [--rows 100000] [--runs 15]

Ordinary file: the demo training and scoring files (``--rows`` each); the best of ``--runs`` of `local run`'s
checks of both files (``preflight``) and of the Glue job's checks of the training file, each against a plain
``pandas.read_csv`` of the same bytes (the ratio is what the checks add to reading the file at all). Long
value: a training file with one 200 000 000-byte value, checked in a fresh process: seconds and peak memory
until the one-line refusal (the file is never parsed by pandas).
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import pandas as pd

from mlops_pipeline import data_checks
from mlops_pipeline.demo_data import write_demo_csv, write_demo_pair

SETTINGS = data_checks.CheckSettings("attrition", "employee_id")
LONG_VALUE_BYTES = 200_000_000


def best_ms(action, runs: int) -> float:
    return 1000 * min(timeit.repeat(action, number=1, repeat=runs))


def preflight(train: Path, score: Path) -> None:
    columns = data_checks.preflight(train, "train", SETTINGS)
    data_checks.preflight(score, "score", SETTINGS, training_columns=columns)


def glue_checks(train: Path) -> None:
    """What run_transform.py checks of a training file before the transform."""
    data, uri = train.read_bytes(), str(train)
    frame = data_checks.read_landed(data, uri, SETTINGS)
    data_checks.check_ids(frame, uri, SETTINGS.id_column)
    report = data_checks.Report(SETTINGS)
    data_checks.check_training(data_checks.labels_of(frame, uri, SETTINGS), uri, SETTINGS, report, "training file")
    data_checks.numeric_columns_with_text(frame.drop(columns=["attrition", "employee_id"]), uri, report)


def read_only(*paths: Path) -> None:
    for path in paths:
        pd.read_csv(io.BytesIO(path.read_bytes()))


def long_value_file(folder: Path) -> Path:
    frame = pd.read_csv(write_demo_csv(folder / "small.csv", 1000, seed=3), dtype=str)
    frame.insert(3, "job_title", "analyst")
    frame.loc[500, "job_title"] = "x" * LONG_VALUE_BYTES
    path = folder / "long_value.csv"
    frame.to_csv(path, index=False)
    return path


def peak_mb() -> float:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would count the parent's from before)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refuse(path: str) -> None:
    """In a fresh process: time and peak memory of the checks refusing the file."""
    started = timeit.default_timer()
    try:
        data_checks.preflight(path, "train", SETTINGS)
        outcome = "accepted (unexpected)"
    except data_checks.DataCheckError as refused:
        outcome = str(refused)[:100] + "..."
    peak = peak_mb()
    print(f"long value: refused in {timeit.default_timer() - started:.2f} s, peak {peak:.0f} MB: {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--refuse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.refuse:
        refuse(args.refuse)
        return
    with tempfile.TemporaryDirectory() as folder:
        train, score = write_demo_pair(folder, args.rows, args.rows)
        sizes = f"{train.stat().st_size / 1e6:.1f} and {score.stat().st_size / 1e6:.1f} MB"
        both, read_both = (
            best_ms(lambda: preflight(train, score), args.runs),
            best_ms(lambda: read_only(train, score), args.runs),
        )
        glue, read_train = best_ms(lambda: glue_checks(train), args.runs), best_ms(lambda: read_only(train), args.runs)
        print(f"{args.rows} rows ({sizes}), best of {args.runs}:")
        print(
            f"preflight of both files: {both:.0f} ms; read_csv alone {read_both:.0f} ms; ratio {both / read_both:.2f}"
        )
        print(
            f"Glue job's checks of the training file: {glue:.0f} ms; read_csv alone {read_train:.0f} ms; "
            f"ratio {glue / read_train:.2f}"
        )
        path = long_value_file(Path(folder))
        subprocess.run([sys.executable, __file__, "--refuse", str(path)], check=True)


if __name__ == "__main__":
    main()
