"""What isolating container jobs costs: the demo pipeline with namespaces against direct mode.

    python benchmarks/isolation_cost.py [--rows 10000] [--score-rows 2000] [--runs 3]

Each run is a whole training + scoring through the local runtime (Glue transform, tuning, model, batch
transform), in a fresh workspace, the two modes interleaved; the figures are medians and the ratio is
isolated / direct (target <= 1.05). The container environment is built once before timing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mlops_pipeline.config import load_workflow
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, choose_isolation
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.stores import Workspace

REPO = Path(__file__).resolve().parents[1]


def run_pipeline(config, work: Path, train: Path, score: Path, isolation: IsolationChoice) -> float:
    started = time.perf_counter()
    with LocalRuntime(config, Workspace.resolve(work), REPO, isolation=isolation) as runtime:
        for kind, path in (("train", train), ("score", score)):
            result = runtime.run_file(kind, path)
            if not result.succeeded:
                raise SystemExit(f"{result.name} {result.status}: {result.error}: {result.cause}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--score-rows", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    isolated = choose_isolation("namespaces")
    modes = {"namespaces": isolated, "direct": IsolationChoice(Isolation.DIRECT, "benchmark")}
    config = load_workflow(REPO / "workflows" / "attrition.py")
    times: dict[str, list[float]] = {name: [] for name in modes}
    with tempfile.TemporaryDirectory() as folder:
        train, score = write_demo_pair(Path(folder) / "data", args.rows, args.score_rows)
        run_pipeline(config, Path(folder) / "warm", train, score, isolated)  # builds the environment once
        for index in range(args.runs):
            for name, mode in modes.items():
                times[name].append(run_pipeline(config, Path(folder) / f"{name}-{index}", train, score, mode))
    for name, samples in times.items():
        print(
            f"{name:<11} median {statistics.median(samples):6.2f} s  (min {min(samples):.2f}, max {max(samples):.2f})"
        )
    ratio = statistics.median(times["namespaces"]) / statistics.median(times["direct"])
    sizes = f"{args.rows:,} training and {args.score_rows:,} scoring rows"
    print(f"isolated / direct: {ratio:.3f} (target <= 1.05) at {sizes}")


if __name__ == "__main__":
    main()
