"""Memory and time of the execution report's probability histogram over a big predictions file.

    python benchmarks/report_histogram.py [--rows 2000000]

Writes a predictions CSV (``employee_id,probability``, quoted ids with commas every tenth row) of
``--rows`` rows, bins it as the report does (streamed), and prints the rows per second and the peak
Python memory while binning (target: under 1 MB, whatever the file's size).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from mlops_pipeline.report.model import histogram


def write_predictions(path: Path, rows: int) -> None:
    generator = random.Random(7)
    with open(path, "w", newline="") as out:
        out.write("employee_id,probability\n")
        for start in range(0, rows, 10_000):
            out.writelines(
                f'"{i}, x",{generator.random():.6f}\n' if i % 10 == 0 else f"{i},{generator.random():.6f}\n"
                for i in range(start, min(start + 10_000, rows))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.csv"
        write_predictions(path, args.rows)
        size = path.stat().st_size / 1e6
        started = time.perf_counter()
        with open(path, newline="", encoding="utf-8") as lines:
            result = histogram(lines)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second pass, traced: tracing slows it down
        with open(path, newline="", encoding="utf-8") as lines:
            histogram(lines)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result is not None and result.rows == args.rows
    print(f"{args.rows} rows ({size:.0f} MB): {args.rows / seconds:,.0f} rows/s, peak memory {peak / 1e6:.2f} MB")
    print(f"target peak < 1 MB: {'met' if peak < 1e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
