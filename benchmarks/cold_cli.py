"""The command line from cold: `mlops-pipeline local run` against a plain script and a Metaflow flow.

    python benchmarks/cold_cli.py [--runs 3] [--sizes 1470 10000 100000] [--isolation direct|namespaces]

Each contender is a fresh process that runs the demo pipeline (seed 7 data of ``--sizes`` training rows; 2 000
scoring rows, 20 000 from 100 000 training rows) and ends; its wall time, from start to exit, is the figure:
- project: ``python -m mlops_pipeline.cli local run --isolation direct`` of this checkout, in a new workspace
  (direct mode, as the other two run the programs; ``--isolation namespaces`` times each job in a view of its
  own, the default where bubblewrap works), of the demo workflow with a tuning ``seed`` (``SEED``), so that every
  run tunes the same trials and predicts the same bytes;
- plain: benchmarks/plain_pipeline.py, the same Glue transform, trainings of the same hyperparameter sets (those
  the project's tuning job chose in its first run at that size), two at a time, quality gate and batch
  predictions, with no state machine, records or landing;
- Metaflow: benchmarks/metaflow_flow.py, the same programs as Metaflow steps (``--max-workers 2``), run by
  benchmarks/.venv-metaflow (made here when absent: ``python -m venv`` and ``pip install`` of ``METAFLOW``;
  Metaflow is the benchmark's, not the project's).
Runs are interleaved (each round rotates the order, so all three see the same machine; the first round starts
with the project, whose trials the others repeat). It prints each contender's median, the ratios project / plain
and project / Metaflow, and fails unless every run's predictions are byte-identical to the project's first.
The container environment is cached per machine (``$MLOPS_CACHE``): a first run on a fresh machine builds it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
WORKFLOW = REPO / "workflows" / "attrition.py"
SEED = 7  # the tuning job's RandomSeed: the demo workflow has none, so its trials differ from run to run
METAFLOW = "metaflow==2.19.39"
METAFLOW_VENV = BENCHMARKS / ".venv-metaflow"
CONTENDERS = ("project", "plain", "metaflow")
PREDICTIONS = re.compile(r"^Predictions: (.+?)  \(", re.MULTILINE)


def score_rows(train_rows: int) -> int:
    """Scoring rows for a training size: 2 000, and 20 000 from 100 000 training rows."""
    return 20_000 if train_rows >= 100_000 else 2_000


def project_env() -> dict[str, str]:
    """This checkout's package first, whatever is installed, so the figures are of the code beside this file."""
    paths = [str(REPO / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def metaflow_python() -> Path:
    """The interpreter of the benchmark's own Metaflow environment, made on first use."""
    python = METAFLOW_VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {METAFLOW_VENV.relative_to(REPO)} with {METAFLOW}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(METAFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", METAFLOW], check=True)
    return python


def timed(argv: list, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of a fresh process, start to exit, and what it printed; its output when it fails."""
    started = time.perf_counter()
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))}... exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def workflow_variant(path: Path, tuning_update: str) -> Path:
    """A workflow file: the demo workflow with its tuning fields updated by ``tuning_update`` (Python source of a
    dict, which may name ``CategoricalRange``)."""
    path.write_text(
        "from mlops_pipeline.config import CategoricalRange, load_workflow\n"
        f"DEMO = load_workflow({str(WORKFLOW)!r})\n"
        f"PIPELINE = DEMO.model_copy(update={{'tuning': DEMO.tuning.model_copy(update={tuning_update})}})\n"
    )
    return path


def seeded_workflow(folder: Path) -> Path:
    """The demo workflow with the tuning seed (the module docstring says why)."""
    return workflow_variant(folder / "attrition_seeded.py", f"{{'seed': {SEED}}}")


def local_run(workflow: Path, train: Path, score: Path, workspace: Path, isolation: str) -> tuple[float, str]:
    """``mlops-pipeline local run`` of this checkout as a fresh process: its wall time and what it printed."""
    command = [sys.executable, "-m", "mlops_pipeline.cli", "local", "run", "--workflow", workflow, "--train", train]
    command += ["--score", score, "--workspace", workspace, "--project", REPO, "--isolation", isolation]
    return timed(command, REPO, project_env())


def trial_jobs(workspace: Path) -> list[dict]:
    """The training job records of the workspace's one tuning job's trials, in launch order."""
    from mlops_pipeline.local.records import Records
    from mlops_pipeline.local.stores import Workspace

    records = Records.of_workspace(Workspace.resolve(workspace).root)
    (tuning_job,) = records.names("tuning-jobs")
    return [records.get("training-jobs", name) for name in records.get("tuning-jobs", tuning_job)["Local"]["Trials"]]


def trial_hyperparameters(workspace: Path) -> list[dict]:
    """The hyperparameter sets of the tuning job's trials, in launch order, from the workspace's records."""
    return [job["HyperParameters"] for job in trial_jobs(workspace)]


def write_spec(path: Path, hyperparameters: list[dict]) -> Path:
    """What the plain script and the flow need of the workflow: trials, Glue arguments, parallelism, gate."""
    sys.path.insert(0, str(BENCHMARKS))
    from pipeline_overhead import GLUE_FIXED
    from plain_pipeline import CONFIG, settings_arguments

    spec = {
        "hyperparameters": hyperparameters,
        "transform_arguments": [*settings_arguments(), *GLUE_FIXED],
        "max_parallel_jobs": CONFIG.tuning.max_parallel_jobs,
        "gate": [CONFIG.quality_gate.comparison, CONFIG.quality_gate.threshold],
    }
    path.write_text(json.dumps(spec))
    return path


class Size:
    """One training size: its data, the trials the project chose, and each contender's runs."""

    def __init__(self, rows: int, folder: Path, workflow: Path, isolation: str = "direct"):
        from mlops_pipeline.demo_data import write_demo_pair

        self.rows = rows
        self.folder = folder
        self.workflow = workflow
        self.isolation = isolation
        self.train, self.score = write_demo_pair(folder / "data", rows, score_rows(rows))
        self.spec: Path | None = None
        self.reference: bytes | None = None  # the project's first predictions
        self.seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}

    def run(self, contender: str, index: int) -> None:
        work = self.folder / f"{contender}-{index}"
        work.mkdir()
        seconds, predictions = getattr(self, contender)(work)
        self.seconds[contender].append(seconds)
        produced = predictions.read_bytes()
        if self.reference is None:
            self.reference = produced
        elif produced != self.reference:
            raise SystemExit(f"{self.rows} rows: {contender} run {index + 1} predicted otherwise ({predictions})")
        print(f"{self.rows:>7} rows  {contender:<8} run {index + 1}: {seconds:7.2f} s", flush=True)

    def project(self, work: Path) -> tuple[float, Path]:
        seconds, printed = local_run(self.workflow, self.train, self.score, work / "ws", self.isolation)
        if self.spec is None:
            self.spec = write_spec(self.folder / "spec.json", trial_hyperparameters(work / "ws"))
        return seconds, Path(PREDICTIONS.search(printed).group(1))

    def plain(self, work: Path) -> tuple[float, Path]:
        out = work / "predictions.csv"
        command = [sys.executable, BENCHMARKS / "plain_pipeline.py", "run", "--train", self.train]
        command += ["--score", self.score, "--spec", self.spec, "--work", work / "run", "--out", out]
        return timed(command, work, project_env())[0], out

    def metaflow(self, work: Path) -> tuple[float, Path]:
        out = work / "predictions.csv"
        command = [metaflow_python(), BENCHMARKS / "metaflow_flow.py", "--quiet", "run", "--max-workers", "2"]
        command += ["--train_csv", self.train, "--score_csv", self.score, "--spec_json", self.spec]
        command += ["--work_dir", work / "run", "--out_csv", out, "--program_python", sys.executable]
        env = dict(project_env(), USERNAME=os.environ.get("USERNAME", "benchmark"))
        return timed(command, work, env)[0], out  # Metaflow keeps its datastore (.metaflow) in the folder it runs in


def rounds(runs: int) -> list[tuple[int, tuple[str, ...]]]:
    """Each round's order: rotated round by round, the project first in the first round."""
    return [(index, CONTENDERS[index % 3 :] + CONTENDERS[: index % 3]) for index in range(runs)]


def report(size: Size) -> None:
    medians = {name: statistics.median(samples) for name, samples in size.seconds.items()}
    figures = "  ".join(f"{name} {seconds:7.2f} s" for name, seconds in medians.items())
    print(
        f"{size.rows:>7} training / {score_rows(size.rows):>6} scoring rows, medians: {figures}  "
        f"project/plain {medians['project'] / medians['plain']:.2f}  "
        f"project/Metaflow {medians['project'] / medians['metaflow']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender at each size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_470, 10_000, 100_000], help="training rows")
    parser.add_argument("--isolation", choices=["direct", "namespaces"], default="direct", help="the project's jobs")
    args = parser.parse_args()
    metaflow_python()
    with tempfile.TemporaryDirectory(prefix="cold-cli-") as folder:
        workflow = seeded_workflow(Path(folder))
        sizes = [Size(rows, Path(folder) / str(rows), workflow, args.isolation) for rows in args.sizes]
        for index, order in rounds(args.runs):
            for size in sizes:
                for contender in order:
                    size.run(contender, index)
    for size in sizes:
        report(size)
    print("predictions: byte-identical across the three at every size")


if __name__ == "__main__":
    main()
