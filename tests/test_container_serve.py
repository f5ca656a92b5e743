"""The container's ``serve`` program as SageMaker starts it, spoken to over real HTTP."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from conftest import IMAGE, call, project_containers, run_train

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
