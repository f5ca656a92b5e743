"""SageMaker inference app: ``GET /ping`` and ``POST /invocations`` for the XGBoost model.

``text/csv`` rows hold the features in training order (no label); the answer is one probability per
line, in input order. A request that starts with the feature header gets an answer that starts with
a header too (``PREDICTION_COLUMN``, default ``probability``), so batch transform joins header to header.
``application/json`` takes ``{"instances": [[...], ...]}`` and answers ``{"predictions": [...]}``.
Wrong content type → 415, malformed rows → 400 naming the row and the expected columns,
a payload over ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (default 6) → 413. One predict call per request.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from flask import Flask, Response, request

MODEL_FILE = "xgboost-model.json"
FEATURES_FILE = "features.json"


class BadRequest(Exception):
    """The request's rows cannot be scored; the message says which row and why."""


class Model:
    """The booster and the feature order it was trained with."""

    def __init__(self, model_dir: Path):
        self.booster = xgb.Booster()
        self.booster.load_model(str(model_dir / MODEL_FILE))
        self.booster.set_param({"nthread": 1})
        self.features = json.loads((model_dir / FEATURES_FILE).read_text())["features"]
        self.header = ",".join(self.features).encode()

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(rows)

    def expected(self) -> str:
        return f"{len(self.features)} columns: {', '.join(self.features)}"


def parse_csv(body: bytes, model: Model) -> tuple[np.ndarray, bool]:
    """Rows as a float matrix (missing fields are NaN, XGBoost's missing value), and whether the body
    started with the feature header."""
    lines = body.split(b"\n", 1)
    header = lines[0].strip().rstrip(b"\r") == model.header
    if header:
        body = lines[1] if len(lines) > 1 else b""
        if not body.strip():
            return np.empty((0, len(model.features))), True
    if not body.strip():
        raise BadRequest(f"no rows to score; send {model.expected()}")
    width = len(model.features)
    counts = field_counts(body)
    wrong = np.flatnonzero(counts != width)
    if wrong.size:
        raise BadRequest(f"row {int(wrong[0]) + 1} has {int(counts[wrong[0]])} columns; expected {model.expected()}")
    try:
        frame = pd.read_csv(io.BytesIO(body), header=None, dtype="float64", names=range(width), engine="c")
    except ValueError as error:
        raise BadRequest(_describe_parse_error(body, model, error)) from None
    return frame.to_numpy(), header


def field_counts(body: bytes) -> np.ndarray:
    """Fields on each non-blank line, counted on the raw bytes without a Python loop per row."""
    data = np.frombuffer(body, dtype=np.uint8)
    breaks = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(data)]))
    commas = np.concatenate(([0], np.cumsum(data == ord(","))))
    fields = commas[ends] - commas[starts] + 1
    carriage_return = np.zeros(len(ends), dtype=bool)
    filled = ends > starts
    carriage_return[filled] = data[ends[filled] - 1] == ord("\r")
    blank = ends - starts - carriage_return <= 0
    return fields[~blank]


def _describe_parse_error(body: bytes, model: Model, error: Exception) -> str:
    """Only on the error path: find the first cell that is not a number."""
    text = str(error)
    for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), start=1):
        for cell in line.split(","):
            try:
                float(cell) if cell.strip() else None
            except ValueError:
                return f"row {number} has a non-numeric value {cell!r}; expected {model.expected()}"
    return f"malformed CSV ({text}); expected {model.expected()}"


def parse_json(body: bytes, model: Model) -> np.ndarray:
    try:
        instances = json.loads(body)["instances"]
        rows = np.asarray(instances, dtype="float64")
    except (ValueError, KeyError, TypeError) as error:
        raise BadRequest(f'send {{"instances": [[...], ...]}} with {model.expected()} ({error})') from None
    if rows.ndim != 2 or rows.shape[1] != len(model.features):
        raise BadRequest(f"instances must be rows of {model.expected()}; got shape {list(rows.shape)}")
    return rows


def create_app(model_dir: str | Path | None = None) -> Flask:
    """Load the model, then serve; ``/ping`` answers only once loading succeeded."""
    model = Model(Path(model_dir or os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    app = Flask(__name__)
    column = os.environ.get("PREDICTION_COLUMN", "probability")
    app.config["MAX_CONTENT_LENGTH"] = int(float(os.environ.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6")) * 1024 * 1024)

    @app.get("/ping")
    def ping():
        return Response("", status=200)

    @app.post("/invocations")
    def invocations():
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type not in ("text/csv", "application/json"):
            return Response(
                f"unsupported content type {content_type or '(none)'!r}; send text/csv or application/json\n",
                status=415,
                mimetype="text/plain",
            )
        body = request.get_data()
        try:
            rows, header = parse_csv(body, model) if content_type == "text/csv" else (parse_json(body, model), False)
        except BadRequest as error:
            return Response(f"{error}\n", status=400, mimetype="text/plain")
        scores = model.predict(rows) if len(rows) else np.empty(0)
        if content_type == "application/json":
            return Response(json.dumps({"predictions": scores.tolist()}), mimetype="application/json")
        lines = [column] * header + list(map("{:.6f}".format, scores.tolist()))
        return Response("".join(line + "\n" for line in lines), mimetype="text/csv")

    return app
