"""What the local runtime costs on top of the work itself, and what parallel tuning buys.

    python benchmarks/pipeline_overhead.py [--rows 10000 100000] [--score-rows 20000] [--rss-rows 2000000]
                                           [--tuning-repeats 3]

1. Overhead: the demo pipeline (training then scoring, through the state machines) against a plain
   script doing the same work in one process tree: the same Glue transform, the same trainings with
   the hyperparameters the tuning job chose (two at a time, the same thread split), the same batch
   predictions. Target: runtime / plain <= 1.15 at 100 000 training rows.
2. Tuning: the same eight Grid trials with MaxParallelTrainingJobs=1 and =2, each a cold `local run` (a fresh
   process, as users run it; benchmarks/cold_cli.py's command), --tuning-repeats pairs, in each isolation the
   machine offers (namespaces where bubblewrap works, and direct; trials forked warm in both); each pair's ratio
   and the median, of the tuning state and of its trials (from the first trial's TrainingStartTime: without any
   wait for the fork server's imports, which a session pays once whatever the parallelism), both read from the
   workspace's records. Target: >= 1.8x.
3. Memory: scoring a file of --rss-rows rows; the runtime process's peak RSS (target < 1.5 GB) and
   the largest job process's, measured in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_pipeline.config import load_workflow
from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.http import Session
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, choose_isolation
from mlops_pipeline.local.integrations.sagemaker_transform import apply_filter, mini_batches

if TYPE_CHECKING:  # the runtime (the Step Functions engine) and the demo data (pandas) are imported where they
    # are used, so the plain script's pieces (glue, train_once, score_plain) import cheaply: cold_cli.py runs them cold
    from mlops_pipeline.local.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "containers" / "byo-xgboost" / "program"
IMAGE = "byo-xgboost:1.0"
GLUE = REPO / "glue_transforms"
CONFIG = load_workflow(REPO / "workflows" / "attrition.py")


def run_runtime(config, work: Path, train: Path, score: Path | None) -> tuple[float, LocalRuntime, list]:
    """Wall time of the pipeline through the local runtime (isolation as chosen for this machine), begun as
    ``local run`` begins it (the training jobs warm up from the start); the runtime and its results."""
    from mlops_pipeline.local.runtime import LocalRuntime
    from mlops_pipeline.local.stores import Workspace
    from mlops_pipeline.naming import Workflow

    started = time.perf_counter()
    runtime = LocalRuntime(config, Workspace.resolve(work / "ws"), REPO, warm_up_first=(Workflow.TRAINING,))
    with runtime:
        results = [runtime.run_file("train", train)]
        if score is not None:
            results.append(runtime.run_file("score", score))
    elapsed = time.perf_counter() - started
    for result in results:
        if not result.succeeded:
            raise SystemExit(f"{result.name} {result.status}: {result.error}: {result.cause}")
    return elapsed, runtime, results


#: The Glue job's arguments that name the demo workflow's label, id column and transform.
GLUE_FIXED = ["--LABEL", "attrition", "--ID_COLUMN", "employee_id", "--TRANSFORM_MODULE", "attrition_transform"]


def glue(*args: str) -> None:
    subprocess.run([sys.executable, "run_transform.py", *args, *GLUE_FIXED], cwd=GLUE, check=True, capture_output=True)


def train_once(root: Path, extract: Path, hyperparameters: dict, cpus: int) -> str:
    """One training as the container's ``train`` program runs it; what it printed (its metrics)."""
    env = training_variables(root, extract, hyperparameters, cpus)
    return subprocess.run(
        [sys.executable, str(PROGRAM / "train")], env=env, check=True, capture_output=True, text=True
    ).stdout


def training_variables(root: Path, extract: Path, hyperparameters: dict, cpus: int) -> dict[str, str]:
    """``root`` laid out as the job's ``/opt/ml`` (its hyperparameters written), and the variables naming it."""
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    return dict(
        os.environ,
        SM_MODEL_DIR=str(root / "model"),
        SM_INPUT_CONFIG_DIR=str(root / "input" / "config"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_CHANNEL_TRAIN=str(extract / "train"),
        SM_CHANNEL_VALIDATION=str(extract / "validation"),
        OMP_NUM_THREADS=str(cpus),
    )


def score_plain(model_dir: Path, extract: Path, out: Path, work: Path) -> None:
    """The batch predictions: the same server, payloads and filters, without any orchestration."""
    params = {"MaxPayloadInMB": CONFIG.inference.max_payload_mb}
    (work / "opt_ml").mkdir()
    (work / "opt_ml" / "model").symlink_to(model_dir)
    containers = Containers(REPO / "containers", IsolationChoice(Isolation.DIRECT, "a plain script"))
    with (
        containers.start_server(IMAGE, work / "opt_ml", work / "serve.log") as server,
        ThreadPoolExecutor(CONFIG.inference.max_concurrent_transforms) as pool,
        open(out, "wb") as sink,
    ):

        def post(body: bytes) -> bytes:
            return Session(server.endpoint, 600).post("/invocations", body, {"Content-Type": "text/csv"})[1]

        batches = (
            (records, b"".join(apply_filter(r, "$[1:]") + b"\n" for r in records))
            for _, records in mini_batches(extract / "score" / "score.csv", params)
        )
        pending = [(records, pool.submit(post, body)) for records, body in batches]
        for records, future in pending:
            for record, prediction in zip(records, future.result().splitlines(), strict=True):
                sink.write(apply_filter(record + b"," + prediction, "$[0,-1]") + b"\n")


def run_plain(work: Path, train: Path, score: Path, trials: list[dict], best: int) -> float:
    """Wall time of the same work as a plain script."""
    extract = work / "plain"
    started = time.perf_counter()
    glue("--KIND", "train", "--S3_SOURCE", str(train), "--S3_DEST", f"{extract}/")
    parallel = CONFIG.tuning.max_parallel_jobs
    cpus = max(1, (os.cpu_count() or 1) // parallel)
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda item: train_once(work / f"trial-{item[0]}", extract, item[1], cpus), enumerate(trials)))
    glue(
        "--KIND",
        "score",
        "--S3_SOURCE",
        str(score),
        "--S3_DEST",
        f"{extract}/",
        "--SCHEMA_URI",
        str(extract / "train" / "schema.json"),
    )
    score_plain(work / f"trial-{best}" / "model", extract, work / "predictions.csv", work)
    return time.perf_counter() - started


def trial_hyperparameters(runtime: LocalRuntime, tuning_job: str) -> tuple[list[dict], int]:
    tuning = runtime.services.records.get("tuning-jobs", tuning_job)
    names = tuning["Local"]["Trials"]
    jobs = [runtime.services.records.get("training-jobs", name) for name in names]
    return [job["HyperParameters"] for job in jobs], names.index(tuning["BestTrainingJob"]["TrainingJobName"])


def overhead(rows: int, score_rows: int) -> float:
    from mlops_pipeline.demo_data import write_demo_pair

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        train, score = write_demo_pair(work / "landed", rows, score_rows)
        runtime_seconds, runtime, results = run_runtime(CONFIG, work, train, score)
        trials, best = trial_hyperparameters(runtime, results[0].output["tuning_job_name"])
        plain_seconds = run_plain(work, train, score, trials, best)
    ratio = runtime_seconds / plain_seconds
    print(
        f"{rows:>9} rows: runtime {runtime_seconds:6.1f} s, plain script {plain_seconds:6.1f} s, ratio {ratio:.2f}"
        f"  (target <= 1.15 at 100 000 rows)"
    )
    return ratio


#: Scoring rows of each tuning run's scoring file: ``local run`` lands one after the training file.
TUNING_SCORE_ROWS = 200
#: Eight Grid trials (Python source for a workflow file): every run tunes the same hyperparameter sets.
GRID = (
    "(CategoricalRange(name='max_depth', values=('3', '4', '5', '6')), "
    "CategoricalRange(name='eta', values=('0.1', '0.3')))"
)


def tuning_seconds(parallel: int, work: Path, train: Path, score: Path, isolation: Isolation) -> tuple[float, float]:
    """A cold ``local run`` (a fresh process, as users run it) tuning the eight Grid trials ``parallel`` at a time:
    the tuning state's seconds, and its trials' own, from the first trial's ``TrainingStartTime`` (its fork server
    serving, as an instance is provisioned on SageMaker) to the state's exit; both from the workspace's records."""
    from cold_cli import local_run, trial_jobs, workflow_variant

    from mlops_pipeline.local.executions import ExecutionRecords, executions_root
    from mlops_pipeline.local.stores import Workspace
    from mlops_pipeline.naming import Workflow
    from mlops_pipeline.target import local_target

    work.mkdir(parents=True)
    update = f"{{'strategy': 'Grid', 'max_jobs': None, 'max_parallel_jobs': {parallel}, 'ranges': {GRID}}}"
    workspace = Workspace.resolve(work / "ws")
    local_run(workflow_variant(work / "grid.py", update), train, score, workspace.root, isolation.value)
    executions = ExecutionRecords(executions_root(workspace, local_target(CONFIG.name)))
    (training,) = (name for name in executions.names() if Workflow.of_execution(name) is Workflow.TRAINING)
    moments = {
        (event[f"state{edge}EventDetails"]["name"], edge): datetime.fromisoformat(event["timestamp"])
        for event in executions.history(training)
        for edge in ("Entered", "Exited")
        if f"state{edge}EventDetails" in event
    }
    entered, exited = moments["TuneHyperparameters", "Entered"], moments["TuneHyperparameters", "Exited"]
    first = min(datetime.fromisoformat(job["TrainingStartTime"]) for job in trial_jobs(workspace.root))
    return (exited - entered).total_seconds(), (exited - first).total_seconds()


#: Times the container's ``train`` run ``argv[1]`` times in this process, its libraries imported first (a warm
#: trial's work, without any start-up); prints the median seconds.
WARM_TRAIN = """import contextlib, io, runpy, statistics, sys, time
import numpy, pandas, sklearn.metrics, sklearn.model_selection, xgboost
seconds = []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        runpy.run_path(sys.argv[2], run_name="__main__")
    seconds.append(time.perf_counter() - started)
print(statistics.median(seconds))
"""


def trial_ceiling(rows: int, work: Path, train: Path) -> None:
    """What two trials at a time can gain at most when each gets half the cores and one alone gets all (so
    it is partly parallel already): 2 x (one trial's time with every core) / (its time with half of them)."""
    extract, cpus = work / "ceiling", os.cpu_count() or 1
    glue("--KIND", "train", "--S3_SOURCE", str(train), "--S3_DEST", f"{extract}/")
    from mlops_pipeline.builders.training import hyperparameter_string

    static = {name: hyperparameter_string(value) for name, value in CONFIG.model.hyperparameters.items()}
    hyperparameters = {**static, "max_depth": "5", "eta": "0.1"}
    alone, shared = (
        warm_trial_seconds(extract, work / f"t{threads}", hyperparameters, threads)
        for threads in (cpus, max(1, cpus // 2))
    )
    print(
        f"{rows:>9} rows, one warm trial's work: {alone:.2f} s with {cpus} threads, {shared:.2f} s with "
        f"{max(1, cpus // 2)}: two at a time can be at most {2 * alone / shared:.2f}x faster than one at a time"
    )


def warm_trial_seconds(extract: Path, root: Path, hyperparameters: dict, threads: int) -> float:
    env = training_variables(root, extract, hyperparameters, threads)
    command = [sys.executable, "-c", WARM_TRAIN, "5", str(PROGRAM / "train")]
    return float(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def tuning_speedup(rows: int, repeats: int) -> None:
    """In each isolation this machine offers: namespaces where bubblewrap works, and direct (in both, trials are
    forked warm from a fork server)."""
    from mlops_pipeline.demo_data import write_demo_pair

    modes = [Isolation.DIRECT]
    if choose_isolation("auto").mode is Isolation.NAMESPACES:
        modes.insert(0, Isolation.NAMESPACES)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        train, score = write_demo_pair(work / "landed", rows, TUNING_SCORE_ROWS)
        trial_ceiling(rows, work, train)
        for mode in modes:
            ratios: dict[str, list[float]] = {"state": [], "trials": []}
            for repeat in range(repeats):
                one, two = (
                    tuning_seconds(parallel, work / f"{mode.value}-{repeat}-p{parallel}", train, score, mode)
                    for parallel in (1, 2)
                )
                ratios["state"].append(one[0] / two[0])
                ratios["trials"].append(one[1] / two[1])
                print(
                    f"{rows:>9} rows, 8 Grid trials, {mode.value}: 1 at a time {one[0]:5.2f} s (trials {one[1]:.2f}), "
                    f"2 at a time {two[0]:5.2f} s (trials {two[1]:.2f}), {ratios['state'][-1]:.2f}x "
                    f"(trials {ratios['trials'][-1]:.2f}x)"
                )
            print(
                f"tuning speedup, {mode.value} isolation, median of {repeats}: the state "
                f"{statistics.median(ratios['state']):.2f}x, its trials {statistics.median(ratios['trials']):.2f}x "
                f"on {os.cpu_count()} cores  (target >= 1.8)"
            )


def scoring_memory(rows: int) -> None:
    """In a fresh process: train on 10 000 rows, score ``rows``; peak RSS of this process and of its jobs."""
    from mlops_pipeline.demo_data import write_demo_csv

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        train = write_demo_csv(work / "employees_train.csv", 10_000)
        score = write_demo_csv(work / "employees_score.csv", rows, seed=3, with_label=False, start_id=10**8)
        tuning = CONFIG.tuning.model_copy(update={"max_jobs": 2})
        run_runtime(CONFIG.model_copy(update={"tuning": tuning}), work, train, score)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jobs = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{rows:>9} scoring rows: runtime process peak RSS {own:,.0f} MB (target < 1 536 MB), "
        f"largest job process {jobs:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--score-rows", type=int, default=20_000)
    parser.add_argument("--tuning-rows", type=int, default=10_000)
    parser.add_argument("--tuning-repeats", type=int, default=3)
    parser.add_argument("--rss-rows", type=int, default=2_000_000)
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        scoring_memory(args.rss_rows)
        return
    for rows in args.rows:
        overhead(rows, args.score_rows)
    tuning_speedup(args.tuning_rows, args.tuning_repeats)
    subprocess.run([sys.executable, __file__, "--memory-only", "--rss-rows", str(args.rss_rows)], check=True)


if __name__ == "__main__":
    main()
