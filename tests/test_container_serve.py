"""The container's ``serve`` program as SageMaker starts it, spoken to over real HTTP."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import AWKWARD_NAMES, IMAGE, PROGRAM, call, project_containers, run_train, write_awkward_extract
from mlops_pipeline.local.containers import free_port
from mlops_pipeline.local.containers.http import Endpoint

PAYLOAD_LIMIT_MB = 20


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    shutil.copytree(trained_model, folder / "opt_ml" / "model")
    env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": str(PAYLOAD_LIMIT_MB), "MODEL_SERVER_WORKERS": "2"}
    with project_containers().start_server(IMAGE, folder / "opt_ml", folder / "serve.log", env) as running:
        yield running.endpoint
    assert running.process.poll() is not None  # stopped with its workers


@pytest.fixture(scope="module")
def scoring_rows(demo_extract):
    """Feature rows as the batch transform sends them (the id column filtered off)."""
    lines = (demo_extract / "extract" / "score" / "score.csv").read_text().splitlines()[1:]  # after the header
    return [line.split(",", 1)[1] for line in lines]


def local_predictions(trained_model, rows: list[str]) -> np.ndarray:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(trained_model / "xgboost-model.json"))
    matrix = np.array([[float(v) if v else np.nan for v in row.split(",")] for row in rows])
    return booster.inplace_predict(matrix)


def post_csv(endpoint, body: str | bytes):
    return call(endpoint, "POST", "/invocations", body, {"Content-Type": "text/csv"})


def test_ping(server):
    assert call(server, "GET", "/ping", timeout=5).status_code == 200


@pytest.mark.parametrize("count", [1, 10_000, 100_000])
def test_one_prediction_per_row_in_input_order(server, trained_model, scoring_rows, count):
    rows = [scoring_rows[i % len(scoring_rows)] for i in range(count)]
    answer = post_csv(server, "\n".join(rows) + "\n")
    assert answer.status_code == 200, answer.text
    values = np.array([float(v) for v in answer.text.splitlines()])
    assert len(values) == count
    expected = local_predictions(trained_model, scoring_rows)
    np.testing.assert_allclose(values, expected[np.arange(count) % len(scoring_rows)], atol=1e-6)


def test_a_header_row_is_answered_with_a_header_row(server, trained_model, scoring_rows):
    """So batch transform, joining line by line, joins the extract's header to the answer's."""
    features = (trained_model / "features.json").read_text()
    header = ",".join(json.loads(features)["features"])
    answer = post_csv(server, f"{header}\n{scoring_rows[0]}\n{scoring_rows[1]}\n")
    assert answer.status_code == 200
    assert answer.text.splitlines()[0] == "probability" and len(answer.text.splitlines()) == 3
    alone = post_csv(server, f"{header}\n")  # SingleRecord sends the header on its own
    assert alone.status_code == 200 and alone.text == "probability\n"


def test_json_instances(server, trained_model, scoring_rows):
    rows = [[float(v) if v else None for v in row.split(",")] for row in scoring_rows[:3]]
    body = json.dumps({"instances": rows})
    answer = call(server, "POST", "/invocations", body, {"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200
    np.testing.assert_allclose(
        answer.json()["predictions"], local_predictions(trained_model, scoring_rows[:3]), atol=1e-6
    )


def test_wrong_content_type_is_415(server):
    answer = call(server, "POST", "/invocations", "1,2", {"Content-Type": "text/plain"}, timeout=5)
    assert answer.status_code == 415
    assert "send text/csv or application/json" in answer.text


def test_wrong_column_count_is_400_naming_the_row_and_columns(server, scoring_rows):
    body = f"{scoring_rows[0]}\n{scoring_rows[1]},7\n"
    answer = post_csv(server, body)
    assert answer.status_code == 400
    assert answer.text.startswith("row 2 has 27 columns; expected 26 columns: age, job_level,")


def test_non_numeric_value_is_400_naming_the_row(server, scoring_rows):
    bad = scoring_rows[1].replace(scoring_rows[1].split(",")[0], "forty", 1)
    answer = post_csv(server, f"{scoring_rows[0]}\n{bad}\n")
    assert answer.status_code == 400
    assert answer.text.startswith("row 2 has a non-numeric value 'forty'; expected 26 columns")


def test_empty_body_is_400(server):
    answer = post_csv(server, "")
    assert answer.status_code == 400 and "no rows to score" in answer.text


def test_oversized_payload_is_413(server):
    answer = post_csv(server, b"1" * (PAYLOAD_LIMIT_MB * 1024 * 1024 + 1))
    assert answer.status_code == 413


def test_the_served_model_is_the_measured_one_when_early_stopping_ends_training(demo_extract, tmp_path):
    """The metric the gate reads is the server's: scoring the validation channel through ``serve`` gives
    the ROC AUC the training printed (early stopping keeps only the rounds up to the best iteration)."""
    from sklearn.metrics import roc_auc_score

    extract = demo_extract / "extract"
    root = tmp_path / "opt_ml"
    hyperparameters = {"num_round": "300", "eta": "0.5", "max_depth": "6", "early_stopping_rounds": "3"}
    trained = run_train(root, hyperparameters, train=extract / "train", validation=extract / "validation")
    assert trained.returncode == 0, trained.stderr
    assert re.search(r"^early stopping: keeping rounds 1-[0-9]+ of [0-9]+ ", trained.stdout, re.M), trained.stdout
    reported = float(re.search(r"^roc_auc: ([0-9.]+)$", trained.stdout, re.M).group(1))
    rows = [line.split(",") for line in (extract / "validation" / "validation.csv").read_text().splitlines()]
    labels, features = [int(float(row[0])) for row in rows], "\n".join(",".join(row[1:]) for row in rows)
    with project_containers().start_server(IMAGE, root, tmp_path / "serve.log", {}) as running:
        answer = post_csv(running.endpoint, features)
    assert answer.status_code == 200, answer.text
    served = [float(line) for line in answer.text.split()]
    assert abs(roc_auc_score(labels, served) - reported) < 1e-5  # served answers are rounded to 6 digits


def csv_line(fields: list[str]) -> str:
    """One CSV record as pandas and the Glue transform write it (a field with a comma or quote quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def test_a_header_written_as_csv_with_quoted_names_is_recognised(tmp_path):
    """A category value with a comma makes a quoted one-hot name in the scoring extract's header; names with
    brackets, < and quotes too: the header is still answered with a header, and every row scored."""
    root = tmp_path / "opt_ml"
    trained = run_train(root, {"num_round": "10"}, train=write_awkward_extract(tmp_path / "train"))
    assert trained.returncode == 0, trained.stderr
    header = csv_line(AWKWARD_NAMES)
    assert '"department=sales, emea"' in header and '"say ""hi"""' in header
    rows = (tmp_path / "train" / "train.csv").read_text().splitlines()[:3]
    features = [row.split(",", 1)[1] for row in rows]
    with project_containers().start_server(IMAGE, root, tmp_path / "serve.log", {}) as running:
        answer = post_csv(running.endpoint, "\n".join([header, *features]) + "\n")
        alone = post_csv(running.endpoint, f"{header}\r\n")  # SingleRecord sends the header on its own
        wrong = post_csv(running.endpoint, f"{header}\n{features[0]},7\n")
    assert answer.status_code == 200, answer.text
    assert answer.text.splitlines()[0] == "probability"
    scores = [float(v) for v in answer.text.splitlines()[1:]]
    np.testing.assert_allclose(scores, local_predictions(root / "model", features), atol=1e-6)
    assert alone.status_code == 200 and alone.text == "probability\n"
    assert wrong.status_code == 400
    assert wrong.text.startswith(
        'row 1 has 7 columns; expected 6 columns: "department=sales, emea", distance [km], x<y, "say ""hi""", '
    ), wrong.text


# -- the serve program run by hand, as a developer runs it (no runtime, no job view) -------------------------

CHUNKED_ROWS = 200_000


@contextlib.contextmanager
def standalone(model_dir, nginx: bool, **env):
    """``program/serve`` started by hand on a free port; ``nginx``: whether nginx is on its PATH."""
    if nginx and shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    python = project_containers().prepare(IMAGE)[1].python
    path = [
        str(python.parent),
        *(d for d in os.environ["PATH"].split(":") if nginx or not (Path(d) / "nginx").exists()),
    ]
    port = free_port()
    variables = {"PATH": ":".join(path), "SM_MODEL_DIR": str(model_dir), "SAGEMAKER_BIND_TO_PORT": str(port), **env}
    process = subprocess.Popen(
        [str(python), str(PROGRAM / "serve")],
        env={**{k: v for k, v in os.environ.items() if k not in ("SERVE_HOST",)}, **variables},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = Endpoint(port=port)
    try:
        deadline = time.monotonic() + 60
        while not _answers(endpoint):
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield process, endpoint
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _answers(endpoint) -> bool:
    try:
        return call(endpoint, "GET", "/ping", timeout=2).status_code == 200
    except OSError:
        return False


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at ``port`` (read from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.parametrize("nginx", [False, True], ids=["gunicorn alone", "behind nginx"])
@pytest.mark.parametrize("host, expected", [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")], ids=["default", "told"])
def test_serve_listens_on_this_machine_only_unless_told_otherwise(trained_model, nginx, host, expected):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("reads listening sockets from /proc/net/tcp (Linux)")
    with standalone(trained_model, nginx, MODEL_SERVER_WORKERS="1", **({"SERVE_HOST": host} if host else {})) as (
        _,
        endpoint,
    ):
        assert listening_addresses(endpoint.port) == {expected}


def chunked_post(endpoint, body: bytes, chunk: int = 65536) -> tuple[str, bytes]:
    """POST ``body`` with Transfer-Encoding: chunked over a plain socket, reading the answer while sending
    (a server may answer before the body ends); (status line, answer body)."""
    connection = socket.create_connection(("127.0.0.1", endpoint.port), timeout=60)
    received = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):
            while data := connection.recv(1 << 20):
                received.extend(data)

    reader = threading.Thread(target=read)
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n"
    connection.sendall(head + b"Connection: close\r\n\r\n")
    reader.start()
    with contextlib.suppress(OSError):  # a server that stops reading may reset the rest of the upload
        for start in range(0, len(body), chunk):
            part = body[start : start + chunk]
            connection.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        connection.sendall(b"0\r\n\r\n")
    reader.join(60)
    connection.close()
    status, _, rest = bytes(received).partition(b"\r\n")
    return status.decode(), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("nginx", [False, True], ids=["gunicorn alone", "behind nginx"])
def test_a_chunked_body_over_the_payload_limit_is_413_never_a_short_200(trained_model, scoring_rows, nginx):
    row = (scoring_rows[0] + "\n").encode()
    body = row * (6 * 1024 * 1024 // len(row) + 1)  # just over the default 6 MB
    with standalone(trained_model, nginx, MODEL_SERVER_WORKERS="1") as (_, endpoint):
        status, answer = chunked_post(endpoint, body)
        assert status.split()[1] == "413", (status, answer[:200])
        small = row * 1000  # under the limit, chunked is fine
        status, answer = chunked_post(endpoint, small)
    assert status.split()[1] == "200" and answer.count(b"\n") == 1000


@pytest.mark.parametrize("nginx", [False, True], ids=["gunicorn alone", "behind nginx"])
def test_stalled_uploads_do_not_hold_up_ping_or_other_requests(trained_model, scoring_rows, nginx):
    row = (scoring_rows[0] + "\n").encode()
    with standalone(trained_model, nginx, MODEL_SERVER_WORKERS="2") as (_, endpoint):
        stalled = []
        for _ in range(2):  # as many as there are workers: each used to hold a whole worker for 60 s
            connection = socket.create_connection(("127.0.0.1", endpoint.port))
            connection.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n")
            connection.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(row) * 10, row))
            stalled.append(connection)
        time.sleep(0.5)
        started = time.monotonic()
        ping = call(endpoint, "GET", "/ping", timeout=30)
        answer = call(endpoint, "POST", "/invocations", row * 3, {"Content-Type": "text/csv"}, timeout=30)
        elapsed = time.monotonic() - started
        for connection in stalled:
            connection.close()
    assert ping.status_code == 200 and answer.status_code == 200 and len(answer.text.splitlines()) == 3
    assert elapsed < 2, f"{elapsed:.1f} s behind two stalled uploads"


def test_an_upload_that_stalls_past_the_timeout_is_answered_408(trained_model, scoring_rows):
    with standalone(trained_model, False, MODEL_SERVER_WORKERS="1", MODEL_SERVER_TIMEOUT="1") as (_, endpoint):
        connection = socket.create_connection(("127.0.0.1", endpoint.port), timeout=30)
        started = time.monotonic()
        connection.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n")
        connection.sendall(b"Content-Length: 1000\r\n\r\n" + scoring_rows[0].encode())
        answer = b""
        while data := connection.recv(65536):
            answer += data
        connection.close()
    assert answer.startswith(b"HTTP/1.1 408") and 0.9 < time.monotonic() - started < 5
    assert answer.endswith(b"the body did not arrive within 1 s (MODEL_SERVER_TIMEOUT)\n")


@pytest.mark.parametrize("nginx", [False, True], ids=["gunicorn alone", "behind nginx"])
def test_serve_killed_9_takes_its_server_with_it(trained_model, nginx):
    from mlops_pipeline.local.processes import group_members

    if not Path("/proc").is_dir() or not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    with standalone(trained_model, nginx, MODEL_SERVER_WORKERS="2") as (process, endpoint):
        assert len(group_members(process.pid)) >= (5 if nginx else 3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 8
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(process.pid) == [] and not _answers(endpoint)
