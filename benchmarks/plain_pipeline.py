"""The demo pipeline's work as a plain script: the yardstick of benchmarks/cold_cli.py.

    python benchmarks/plain_pipeline.py run --train T.csv --score S.csv --spec spec.json --work DIR --out P.csv
    python benchmarks/plain_pipeline.py score --model DIR --extract DIR --work DIR --out P.csv

``run`` does what the pipeline does, with no state machine, records or landing: the Glue transform of the
training file, the trainings of the hyperparameter sets in ``spec.json`` (``{"hyperparameters": [...]}``) by the
container's
``train`` program two at a time, one thread each (as the tuning job runs them), the best by validation ROC AUC,
the quality gate, the transform of the scoring file and the batch predictions of the best model through the
container's ``serve`` over HTTP (the same payloads, concurrency and filters as the batch transform). The pieces
are benchmarks/pipeline_overhead.py's. Its last line is ``timings {json}``: epoch seconds at each phase's end.
``score`` is the last phase alone (the Metaflow flow's score step runs it, so the three score alike).
"""

from __future__ import annotations

import time

STARTED = time.time()  # before the imports: the phases' clock starts when the script does

import argparse  # noqa: E402
import json  # noqa: E402
import operator  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_overhead import CONFIG, glue, score_plain, train_once  # noqa: E402

COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
METRIC = re.compile(r"^roc_auc: ([-+0-9.eE]+|nan)", re.MULTILINE)


def roc_auc(printed: str) -> float:
    """The objective as the tuning job's MetricDefinition reads it: the last ``roc_auc: X`` line."""
    found = METRIC.findall(printed)
    return float(found[-1]) if found else float("nan")


def settings_arguments() -> list[str]:
    """The workflow's transform and data-check settings, as the pipeline passes them to its Glue job."""
    settings = CONFIG.transform
    return [
        *("--VALIDATION_FRACTION", str(settings.validation_fraction), "--SEED", str(settings.seed)),
        *("--DATA_CHECKS", CONFIG.data.checks_json(CONFIG.inference.max_payload_mb)),
    ]


def transform(kind: str, source: Path, extract: Path) -> None:
    extra = ["--SCHEMA_URI", str(extract / "train" / "schema.json")] if kind == "score" else []
    glue("--KIND", kind, "--S3_SOURCE", str(source), "--S3_DEST", f"{extract}/", *extra, *settings_arguments())


def run(train: Path, score: Path, trials: list[dict], work: Path, out: Path) -> dict:
    marks = {"started": STARTED, "imported": time.time()}
    extract = work / "extract"
    transform("train", train, extract)
    marks["transform_train"] = time.time()
    parallel = CONFIG.tuning.max_parallel_jobs
    cpus = max(1, (os.cpu_count() or 1) // parallel)
    with ThreadPoolExecutor(parallel) as pool:
        printed = list(
            pool.map(lambda item: train_once(work / f"trial-{item[0]}", extract, item[1], cpus), enumerate(trials))
        )
    scores = [roc_auc(text) for text in printed]
    best = max(range(len(scores)), key=lambda i: (scores[i] == scores[i], scores[i], -i))
    marks["trainings"] = time.time()
    gate = CONFIG.quality_gate
    if not COMPARISONS[gate.comparison](scores[best], gate.threshold):
        raise SystemExit(f"quality gate: roc_auc {scores[best]} is not {gate.comparison} {gate.threshold}")
    transform("score", score, extract)
    marks["transform_score"] = time.time()
    (work / "serve").mkdir()
    score_plain(work / f"trial-{best}" / "model", extract, out, work / "serve")
    marks["scoring"] = time.time()
    return {"marks": marks, "best": best, "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    whole = commands.add_parser("run")
    whole.add_argument("--train", type=Path, required=True)
    whole.add_argument("--score", type=Path, required=True)
    whole.add_argument("--spec", type=Path, required=True, help='{"hyperparameters": [{...}, ...]}')
    scoring = commands.add_parser("score")
    scoring.add_argument("--model", type=Path, required=True, help="a trained model folder")
    scoring.add_argument("--extract", type=Path, required=True, help="the folder holding score/score.csv")
    for command in (whole, scoring):
        command.add_argument("--work", type=Path, required=True, help="an empty folder for this run's files")
        command.add_argument("--out", type=Path, required=True, help="the predictions file to write")
    args = parser.parse_args()
    for name in ("train", "score", "spec", "model", "extract", "work", "out"):  # the programs run in other folders
        if getattr(args, name, None) is not None:
            setattr(args, name, getattr(args, name).resolve())
    args.work.mkdir(parents=True, exist_ok=True)
    if args.command == "score":
        (args.work / "serve").mkdir()
        score_plain(args.model, args.extract, args.out, args.work / "serve")
        return
    result = run(args.train, args.score, json.loads(args.spec.read_text())["hyperparameters"], args.work, args.out)
    print("timings " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
