"""What warm starts buy a tuning job: trials forked from a fork server against fresh processes.

    python benchmarks/warm_trials.py [--rows 1470] [--trials 6] [--parallel 2] [--repeats 1]
                                     [--isolation namespaces direct]

Runs the same seeded Random tuning job (the byo-xgboost container) with fresh processes (``MLOPS_WARM_START=0``)
and with warm starts, in each isolation asked for (default: namespaces where bubblewrap works, and direct),
on demo data transformed by the Glue entry point; prints the
wall time of each, the ratio, and checks that every trial's objective is the same both ways. The warm
figure includes starting the fork server (the first trials wait for its imports), as a session pays it;
a second tuning job in the same session shows the cost once the server runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pipeline_overhead import REPO, glue

from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, choose_isolation
from mlops_pipeline.local.fork_servers import WARM_START_ENV
from mlops_pipeline.local.integrations.sagemaker_tuning import create_tuning_job_sync
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0"
METRIC = r"\broc_auc: ([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
    "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"}],
}


def tuning_request(name: str, prefix: str, trials: int, parallel: int) -> dict:
    channels = [
        {"ChannelName": c, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{prefix}{c}/"}}}
        for c in ("train", "validation")
    ]
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 7,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "roc_auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": RANGES,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"num_round": "50"},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "roc_auc", "Regex": METRIC}],
            },
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": "s3://attrition-models/bench/"},
        },
    }


def stage(services: LocalServices, extract: Path) -> str:
    """The Glue job's output in the extracts store; its s3:// prefix."""
    for path in extract.rglob("*"):
        if path.is_file():
            services.workspace.put_file("attrition-extracts", f"bench/{path.relative_to(extract).as_posix()}", path)
    return "s3://attrition-extracts/bench/"


def run(
    work: Path, extract: Path, mode: Isolation, warm: bool, trials: int, parallel: int, jobs: int = 1
) -> tuple[list, list]:
    """Wall times of ``jobs`` tuning jobs in one session (the fork server starts with the first), and the
    first one's trials: hyperparameters and objective."""
    os.environ[WARM_START_ENV] = "1" if warm else "0"
    services = LocalServices(
        Workspace.resolve(work / "ws"), REPO / "containers", work / "logs", isolation=IsolationChoice(mode, "benchmark")
    )
    try:
        prefix = stage(services, extract)
        control = TaskControl(running=lambda: True, execution_name="bench")
        elapsed = []
        for job in range(jobs):
            started = time.perf_counter()
            create_tuning_job_sync(services, tuning_request(f"bench-{job}", prefix, trials, parallel), control)
            elapsed.append(time.perf_counter() - started)
    finally:
        services.close()
    names = sorted(services.records.get("tuning-jobs", "bench-0")["Local"]["Trials"])
    described = [services.records.get("training-jobs", name) for name in names]
    return elapsed, [(job["HyperParameters"], job["FinalMetricDataList"][0]["Value"]) for job in described]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_470)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    offered = ["namespaces", "direct"] if choose_isolation("auto").mode is Isolation.NAMESPACES else ["direct"]
    parser.add_argument("--isolation", nargs="+", choices=["namespaces", "direct"], default=offered)
    args = parser.parse_args()
    from mlops_pipeline.demo_data import write_demo_csv

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        train = write_demo_csv(work / "employees_train.csv", args.rows)
        glue("--KIND", "train", "--S3_SOURCE", str(train), "--S3_DEST", f"{work / 'extract'}/")
        extract = work / "extract"
        for mode, repeat in [(Isolation(m), r) for m in args.isolation for r in range(args.repeats)]:
            if repeat == 0:  # the environment is built, the disk cache filled
                choose_isolation(mode.value)  # refused, with the reason, where this mode is not available
                run(work / f"warm-up-{mode.value}", extract, mode, True, 1, 1)
            fresh_work, warm_work = work / f"fresh-{mode.value}-{repeat}", work / f"warm-{mode.value}-{repeat}"
            (fresh,), fresh_trials = run(fresh_work, extract, mode, False, args.trials, args.parallel)
            (warm, again), warm_trials = run(warm_work, extract, mode, True, args.trials, args.parallel, 2)
            same = fresh_trials == warm_trials
            print(
                f"{args.rows} rows, {args.trials} trials {args.parallel} at a time ({mode.value} isolation): "
                f"fresh processes {fresh:5.2f} s, warm starts {warm:5.2f} s (ratio {fresh / warm:.2f}x; "
                f"a second tuning job in the same session {again:5.2f} s, {fresh / again:.2f}x); "
                f"objectives {'identical' if same else 'DIFFER'}: {[round(v, 6) for _, v in warm_trials]}"
            )
            if not same:
                sys.exit(f"fresh: {fresh_trials}\nwarm:  {warm_trials}")


if __name__ == "__main__":
    main()
