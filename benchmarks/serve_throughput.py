"""Rows/s through the container's /invocations (6 MB MultiRecord payloads) vs in-process predict.

    python benchmarks/serve_throughput.py [--rows 1000000] [--concurrency 2]

Both sides score the same rows with the same model; the HTTP side also parses CSV, formats the
answers and crosses a socket, as a batch transform does. Target ratio: >= 0.6 on 1 000 000 rows.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from mlops_pipeline.demo_data import write_demo_csv
from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.http import Session

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "containers" / "byo-xgboost" / "program"
PAYLOAD_BYTES = 6 * 1024 * 1024


def prepare(work: Path, rows: int) -> tuple[Path, bytes]:
    """Train a model on demo data and build the scoring rows (features only, as CSV bytes)."""
    write_demo_csv(work / "train.csv", 20_000, seed=1)
    write_demo_csv(work / "score.csv", rows, seed=2, with_label=False, start_id=10**8)
    glue = ["--LABEL", "attrition", "--ID_COLUMN", "employee_id", "--TRANSFORM_MODULE", "attrition_transform"]

    def run(*args: str) -> None:
        subprocess.run([sys.executable, *args], cwd=REPO / "glue_transforms", check=True, capture_output=True)

    run("run_transform.py", "--KIND", "train", "--S3_SOURCE", str(work / "train.csv"), "--S3_DEST", f"{work}/x/", *glue)
    run(
        "run_transform.py",
        "--KIND",
        "score",
        "--S3_SOURCE",
        str(work / "score.csv"),
        "--S3_DEST",
        f"{work}/x/",
        "--SCHEMA_URI",
        f"{work}/x/train/schema.json",
        *glue,
    )
    (work / "config").mkdir()
    (work / "config" / "hyperparameters.json").write_text('{"num_round": "100", "max_depth": "6"}')
    env = dict(
        os.environ,
        SM_MODEL_DIR=str(work / "model"),
        SM_INPUT_CONFIG_DIR=str(work / "config"),
        SM_OUTPUT_DIR=str(work / "output"),
        SM_CHANNEL_TRAIN=str(work / "x/train"),
        SM_CHANNEL_VALIDATION=str(work / "x/validation"),
    )
    trained = subprocess.run([sys.executable, str(PROGRAM / "train")], env=env, capture_output=True, text=True)
    if trained.returncode != 0:
        raise SystemExit(f"train failed: {trained.stderr}")
    lines = (work / "x/score/score.csv").read_bytes().splitlines()
    return work / "model", b"\n".join(line.split(b",", 1)[1] for line in lines) + b"\n"


def payloads(body: bytes) -> list[bytes]:
    """Whole lines, each payload under 6 MB: what MultiRecord with MaxPayloadInMB=6 sends."""
    chunks, start = [], 0
    while start < len(body):
        end = min(start + PAYLOAD_BYTES, len(body))
        if end < len(body):
            end = body.rindex(b"\n", start, end) + 1
        chunks.append(body[start:end])
        start = end
    return chunks


def over_http(endpoint, chunks: list[bytes], concurrency: int) -> tuple[float, int]:
    local = threading.local()

    def post(chunk: bytes) -> int:
        local.session = getattr(local, "session", None) or Session(endpoint, 600)
        status, answer = local.session.post("/invocations", chunk, {"Content-Type": "text/csv"})
        if status != 200:
            raise SystemExit(f"the server answered {status}: {answer[:300]!r}")
        return answer.count(b"\n")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        scored = sum(pool.map(post, chunks))
    return time.perf_counter() - started, scored


def in_process(model_dir: Path, body: bytes) -> tuple[float, float, int]:
    """Seconds to parse + predict, seconds to predict alone (matrix ready), rows scored."""
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model.json"))
    started = time.perf_counter()
    matrix = pd.read_csv(io.BytesIO(body), header=None, dtype="float64").to_numpy()
    parsed = time.perf_counter()
    scores = booster.inplace_predict(matrix)
    done = time.perf_counter()
    return done - started, done - parsed, len(np.asarray(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (MaxConcurrentTransforms)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print(f"preparing {args.rows:,} scoring rows and a model ...", flush=True)
        model_dir, body = prepare(work, args.rows)
        chunks = payloads(body)
        local_seconds, predict_seconds, local_rows = in_process(model_dir, body)
        shutil.copytree(model_dir, work / "opt_ml" / "model")
        env = {"MODEL_SERVER_WORKERS": str(args.concurrency)}
        containers = Containers(REPO / "containers")
        with containers.start_server("byo-xgboost:1.0", work / "opt_ml", work / "serve.log", env) as server:
            http_seconds, http_rows = over_http(server.endpoint, chunks, args.concurrency)
    assert local_rows == http_rows == args.rows, (local_rows, http_rows)
    local_rate, predict_rate, http_rate = (args.rows / s for s in (local_seconds, predict_seconds, http_seconds))
    print(f"payloads: {len(chunks)} x <= 6 MB, {args.concurrency} in flight, {args.rows:,} rows")
    print(f"in-process predict only (matrix ready): {predict_rate:12,.0f} rows/s  ({predict_seconds:.2f} s)")
    print(f"in-process parse CSV + predict:         {local_rate:12,.0f} rows/s  ({local_seconds:.2f} s)")
    print(f"through /invocations:                   {http_rate:12,.0f} rows/s  ({http_seconds:.2f} s)")
    print(f"ratio http / in-process parse+predict: {http_rate / local_rate:.2f}  (target >= 0.6)")
    print(f"ratio http / in-process predict only:  {http_rate / predict_rate:.2f}")


if __name__ == "__main__":
    main()
