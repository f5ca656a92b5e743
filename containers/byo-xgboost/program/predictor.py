"""SageMaker inference app: ``GET /ping`` and ``POST /invocations`` for the XGBoost model.

``text/csv`` rows hold the features in training order (no label); the answer is one probability per
line, in input order. A request that starts with the feature header (written as CSV: a name holding a comma
or a quote is quoted) gets an answer that starts with a header too (``PREDICTION_COLUMN``, default
``probability``), so batch transform joins header to header.
``application/json`` takes ``{"instances": [[...], ...]}`` and answers ``{"predictions": [...]}``.
Wrong content type → 415, malformed rows → 400 naming the row and the expected columns,
a body over ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (default 6) → 413 whether it comes with a Content-Length or
chunked, a body that has not arrived within ``MODEL_SERVER_TIMEOUT`` seconds (default 60) → 408.
One predict call per request.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from flask import Flask, Response, request

MODEL_FILE = "xgboost-model.json"
FEATURES_FILE = "features.json"
MB = 1024 * 1024
CHUNK = 64 * 1024
DRAIN_LIMIT = 100 * MB  # SageMaker's largest payload: an oversized body is read this far, so the client sees 413


class BadRequest(Exception):
    """The request's rows cannot be scored; the message says which row and why."""


class RefusedBody(Exception):
    """The request body is not read whole: too large (413) or too slow (408)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def read_body(environ: dict, limit: int, timeout: float) -> bytes:
    """The request body, read from the server's own stream so the limit holds for every transfer encoding
    (a chunked body has no Content-Length to check up front). Past ``timeout`` seconds the connection's
    reading side is shut, which ends a read that a stalled client would otherwise hold forever."""
    stream, connection = environ["wsgi.input"], environ.get("gunicorn.socket")
    deadline = _Deadline(connection, timeout)
    try:
        body = _read_at_most(stream, limit)
        if body is None and not _drained(stream, DRAIN_LIMIT):
            _stop_reading(connection)  # the rest is never read: the connection ends after the answer
    except (OSError, ValueError) as error:  # gunicorn's NoMoreData is an IOError
        body = RefusedBody(400, f"the body could not be read ({error})")
    finally:
        deadline.cancel()
    if deadline.expired.is_set():
        raise RefusedBody(408, f"the body did not arrive within {timeout:g} s (MODEL_SERVER_TIMEOUT)")
    if body is None:
        raise RefusedBody(413, f"the body is over the payload limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    if isinstance(body, RefusedBody):
        raise body
    return body


def _read_at_most(stream, limit: int) -> bytes | None:
    """The whole stream, or None once it proves longer than ``limit`` bytes."""
    chunks, size = [], 0
    while chunk := stream.read(min(CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _drained(stream, most: int) -> bool:
    """Read and drop the rest of the body, at most ``most`` bytes (so the client, done sending, reads the
    answer); whether the body ended."""
    while chunk := stream.read(min(CHUNK, most + 1)):
        most -= len(chunk)
        if most < 0:
            return False
    return True


class _Deadline:
    """Shuts the connection's reading side after ``timeout`` seconds, unless cancelled first."""

    def __init__(self, connection: socket.socket | None, timeout: float):
        self.connection, self.expired = connection, threading.Event()
        self.timer = threading.Timer(timeout, self._expire) if connection is not None else None
        if self.timer is not None:  # not under gunicorn (a test client): nothing to bound
            self.timer.daemon = True
            self.timer.start()

    def _expire(self) -> None:
        self.expired.set()
        _stop_reading(self.connection)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _stop_reading(connection: socket.socket | None) -> None:
    if connection is None:
        return
    try:
        connection.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class Model:
    """The booster and the feature order it was trained with."""

    def __init__(self, model_dir: Path):
        self.booster = xgb.Booster()
        self.booster.load_model(str(model_dir / MODEL_FILE))
        self.booster.set_param({"nthread": 1})
        self.features = json.loads((model_dir / FEATURES_FILE).read_text())["features"]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(rows)

    def is_header(self, line: bytes) -> bool:
        """Whether a line is the feature names, read as CSV (quoted fields, doubled quotes), with or without the
        spaces around it: only the first line of a request is ever read this way."""
        text = line.decode("utf-8", "replace").rstrip("\r")
        try:
            return any(next(csv.reader([candidate]), []) == self.features for candidate in (text, text.strip()))
        except csv.Error:
            return False

    def expected(self) -> str:
        """``27 columns: age, "department=sales, emea", ...``: a name with a comma or quote quoted as in CSV."""
        return f"{len(self.features)} columns: {', '.join(map(_as_csv_field, self.features))}"


def _as_csv_field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if "," in name or '"' in name else name


def parse_csv(body: bytes, model: Model) -> tuple[np.ndarray, bool]:
    """Rows as a float matrix (missing fields are NaN, XGBoost's missing value), and whether the body
    started with the feature header."""
    lines = body.split(b"\n", 1)
    header = model.is_header(lines[0])
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
    lines = (line for line in body.decode("utf-8", "replace").split("\n") if line.rstrip("\r"))
    for number, line in enumerate(lines, start=1):  # blank lines are not rows, as in field_counts
        for cell in next(csv.reader([line]), []):  # each line read as CSV on its own: quoted cells whole
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
    limit = int(float(os.environ.get("SAGEMAKER_MAX_PAYLOAD_IN_MB") or 6) * MB)
    timeout = float(os.environ.get("MODEL_SERVER_TIMEOUT") or 60)

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
        try:
            body = read_body(request.environ, limit, timeout)
        except RefusedBody as refused:
            return Response(f"{refused}\n", status=refused.status, mimetype="text/plain")
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
