"""The container's ``train`` program, run as SageMaker runs it: a subprocess with SM_* paths."""

from __future__ import annotations

import json
import re

import pytest

from conftest import AWKWARD_NAMES, run_train, write_awkward_extract

METRIC_LINE = re.compile(r"^(accuracy|roc_auc|f1|precision|recall|logloss): ([-+]?[0-9]*\.?[0-9]+)$", re.M)


def metrics_in(stdout: str) -> dict[str, float]:
    return {name: float(value) for name, value in METRIC_LINE.findall(stdout)}


def test_trains_writes_model_and_schema_and_prints_parseable_metrics(demo_extract, tmp_path):
    extract = demo_extract / "extract"
    result = run_train(
        tmp_path,
        {"num_round": "40", "eta": "0.2", "_tuning_objective_metric": "roc_auc"},
        train=extract / "train",
        validation=extract / "validation",
    )
    assert result.returncode == 0, result.stderr
    found = metrics_in(result.stdout)
    assert set(found) == {"accuracy", "roc_auc", "f1", "precision", "recall", "logloss"}
    assert 0.6 < found["roc_auc"] <= 1.0  # the demo data has a learnable signal
    features = json.loads((tmp_path / "model" / "features.json").read_text())["features"]
    schema = json.loads((extract / "train" / "schema.json").read_text())
    assert features == schema["features"]
    assert (tmp_path / "model" / "xgboost-model.json").stat().st_size > 1000
    assert not (tmp_path / "output" / "failure").exists()


def test_metric_lines_match_the_workflow_metric_definitions(demo_extract, tmp_path, example_config):
    """The regexes rendered into the definition read the values the program prints."""
    from mlops_pipeline.builders.training import metric_definitions

    extract = demo_extract / "extract"
    result = run_train(tmp_path, {"num_round": "10"}, train=extract / "train", validation=extract / "validation")
    printed = metrics_in(result.stdout)
    for definition in metric_definitions(example_config):
        values = [
            float(m.group(1)) for line in result.stdout.splitlines() if (m := re.search(definition["Regex"], line))
        ]
        assert values == [pytest.approx(printed[definition["Name"]])], definition


@pytest.mark.parametrize("hyperparameters", [{"validation_fraction": "0.25"}, {"cv_folds": "3"}])
def test_without_validation_channel_it_holds_out_or_cross_validates(demo_extract, tmp_path, hyperparameters):
    result = run_train(tmp_path, {"num_round": "10", **hyperparameters}, train=demo_extract / "extract" / "train")
    assert result.returncode == 0, result.stderr
    assert len(metrics_in(result.stdout)) == 6


def assert_failed_with(root, result, words: str) -> None:
    assert result.returncode != 0
    failure = (root / "output" / "failure").read_text()
    assert words in failure, failure


def test_unknown_hyperparameter_is_rejected(demo_extract, tmp_path):
    result = run_train(tmp_path, {"num_rounds": "10"}, train=demo_extract / "extract" / "train")
    assert_failed_with(tmp_path, result, "unknown hyperparameters: num_rounds (known: num_round, eta")


@pytest.mark.parametrize(
    "hyperparameters, words",
    [
        ({"eta": "fast"}, "hyperparameter eta='fast' is not a valid float"),
        ({"max_depth": "99"}, "hyperparameter max_depth=99 must be in [0, 20]"),
        ({"grow_policy": "greedy"}, "must be depthwise or lossguide"),
    ],
)
def test_bad_hyperparameter_values(demo_extract, tmp_path, hyperparameters, words):
    result = run_train(tmp_path, hyperparameters, train=demo_extract / "extract" / "train")
    assert_failed_with(tmp_path, result, words)


def test_missing_channel_data(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_train(tmp_path, {}, train=tmp_path / "empty")
    assert_failed_with(tmp_path, result, "channel 'train' has no CSV files")


def test_non_numeric_extract(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part.csv").write_text("1,2.0,yes\n0,1.0,no\n")
    result = run_train(tmp_path, {}, train=tmp_path / "train")
    assert_failed_with(tmp_path, result, "non-numeric value")


def test_label_must_be_binary(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part.csv").write_text("2,2.0\n0,1.0\n")
    result = run_train(tmp_path, {}, train=tmp_path / "train")
    assert_failed_with(tmp_path, result, "first column must be the 0/1 label")


def test_column_count_must_match_schema(demo_extract, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "schema.json").write_text((demo_extract / "extract" / "train" / "schema.json").read_text())
    (train / "part.csv").write_text("1,2.0,3.0\n0,1.0,1.0\n")
    result = run_train(tmp_path, {}, train=train)
    assert_failed_with(tmp_path, result, "has 3 columns, expected 27 (label + features in schema.json)")


def test_feature_names_with_brackets_commas_and_quotes_train_and_are_kept_as_they_are(tmp_path):
    """XGBoost refuses names holding [, ] or <; the model is trained on escaped names that stay distinct, and
    features.json (what the server and the user read) keeps the originals."""
    import xgboost as xgb

    train = write_awkward_extract(tmp_path / "train")
    result = run_train(tmp_path / "opt_ml", {"num_round": "10"}, train=train)
    assert result.returncode == 0, result.stderr
    assert len(metrics_in(result.stdout)) == 6
    model = tmp_path / "opt_ml" / "model"
    assert json.loads((model / "features.json").read_text())["features"] == AWKWARD_NAMES
    booster = xgb.Booster(model_file=str(model / "xgboost-model.json"))
    assert booster.feature_names == [
        "department=sales, emea", "distance %5Bkm%5D", "x%3Cy", 'say "hi"', "distance %255Bkm%5D", "age",
    ]  # fmt: skip
