"""The demo pipeline's work as a Metaflow flow: the other yardstick of benchmarks/cold_cli.py.

    benchmarks/.venv-metaflow/bin/python benchmarks/metaflow_flow.py run --max-workers 2 \\
        --train_csv T.csv --score_csv S.csv --spec_json spec.json --work_dir DIR --out_csv P.csv \\
        --program_python /path/to/project/python

start -> transform -> train (foreach over the hyperparameter sets in spec.json, two at a time with
``--max-workers 2``) -> join (the best by validation ROC AUC) -> gate -> score -> end. spec.json (written by
cold_cli.py from the workflow) holds the hyperparameter sets, the Glue job's arguments, the parallelism and the
quality gate. Every step runs the same
programs as the pipeline and the plain script, as subprocesses of ``--program_python`` (an interpreter with the
project's packages): glue_transforms/run_transform.py, the container's ``train`` (one thread each, as the tuning
job runs two) and benchmarks/plain_pipeline.py's ``score`` (the container's ``serve`` over HTTP, the batch
transform's payloads). Metaflow itself lives in its own environment (cold_cli.py makes benchmarks/.venv-metaflow):
this file imports only Metaflow and the standard library. ``end`` writes each step's work time to ``--timings_json``.
"""

import json
import operator
import os
import re
import subprocess
import time
from pathlib import Path

from metaflow import FlowSpec, Parameter, step

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO / "glue_transforms"
TRAIN = REPO / "containers" / "byo-xgboost" / "program" / "train"
PLAIN = REPO / "benchmarks" / "plain_pipeline.py"
COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
METRIC = re.compile(r"^roc_auc: ([-+0-9.eE]+|nan)", re.MULTILINE)


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kwargs).stdout


class AttritionFlow(FlowSpec):
    train_csv = Parameter("train_csv", required=True, help="training CSV (with the label)")
    score_csv = Parameter("score_csv", required=True, help="scoring CSV")
    spec_json = Parameter("spec_json", required=True, help="hyperparameter sets, Glue arguments, gate")
    work_dir = Parameter("work_dir", required=True, help="an empty folder for this run's files")
    out_csv = Parameter("out_csv", required=True, help="the predictions file to write")
    program_python = Parameter("program_python", required=True, help="the interpreter that runs the programs")
    timings_json = Parameter("timings_json", default="", help="where end writes each step's work time")

    @step
    def start(self):
        self.work = str(Path(self.work_dir).resolve())
        self.extract = f"{self.work}/extract"
        self.spec = json.loads(Path(self.spec_json).read_text())
        self.timings = {}
        self.next(self.transform)

    @step
    def transform(self):
        started = time.time()
        self.glue("train", self.train_csv)
        self.timings["transform_train"] = [started, time.time()]
        self.trials = list(range(len(self.spec["hyperparameters"])))
        self.next(self.train, foreach="trials")

    @step
    def train(self):
        started = time.time()
        self.trial = self.input  # the trial's position in spec.json ("index" is Metaflow's)
        root = Path(self.work) / f"trial-{self.trial}"
        (root / "input" / "config").mkdir(parents=True)
        (root / "input" / "config" / "hyperparameters.json").write_text(
            json.dumps(self.spec["hyperparameters"][self.trial])
        )
        env = dict(
            os.environ,
            SM_MODEL_DIR=str(root / "model"),
            SM_INPUT_CONFIG_DIR=str(root / "input" / "config"),
            SM_OUTPUT_DIR=str(root / "output"),
            SM_CHANNEL_TRAIN=f"{self.extract}/train",
            SM_CHANNEL_VALIDATION=f"{self.extract}/validation",
            OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // self.spec["max_parallel_jobs"])),
        )
        found = METRIC.findall(run([self.program_python, TRAIN], env=env))
        self.roc_auc = float(found[-1]) if found else float("nan")
        self.model = str(root / "model")
        self.trial_time = [started, time.time()]
        self.next(self.join)

    @step
    def join(self, inputs):
        ranked = sorted(inputs, key=lambda i: (i.roc_auc == i.roc_auc, i.roc_auc, -i.trial), reverse=True)
        self.best, self.best_roc_auc, self.best_model = ranked[0].trial, ranked[0].roc_auc, ranked[0].model
        self.scores = [i.roc_auc for i in sorted(inputs, key=lambda i: i.trial)]
        self.merge_artifacts(inputs, include=["work", "extract", "spec", "timings"])
        self.timings["trials"] = [i.trial_time for i in sorted(inputs, key=lambda i: i.trial)]
        self.next(self.gate)

    @step
    def gate(self):
        comparison, threshold = self.spec["gate"]
        if not COMPARISONS[comparison](self.best_roc_auc, threshold):
            raise ValueError(f"quality gate: roc_auc {self.best_roc_auc} is not {comparison} {threshold}")
        self.next(self.score)

    @step
    def score(self):
        started = time.time()
        self.glue("score", self.score_csv, "--SCHEMA_URI", f"{self.extract}/train/schema.json")
        self.timings["transform_score"] = [started, time.time()]
        started = time.time()
        out = Path(self.out_csv).resolve()
        scoring = ["score", "--model", self.best_model, "--extract", self.extract, "--out", out]
        run([self.program_python, PLAIN, *scoring, "--work", f"{self.work}/serve"])
        self.timings["scoring"] = [started, time.time()]
        self.next(self.end)

    @step
    def end(self):
        if self.timings_json:
            summary = {"timings": self.timings, "best": self.best, "scores": self.scores}
            Path(self.timings_json).write_text(json.dumps(summary))

    def glue(self, kind, source, *extra):
        source = Path(source).resolve()
        argv = [self.program_python, "run_transform.py", "--KIND", kind, "--S3_SOURCE", source]
        run([*argv, "--S3_DEST", f"{self.extract}/", *extra, *self.spec["transform_arguments"]], cwd=GLUE)


if __name__ == "__main__":
    AttritionFlow()
