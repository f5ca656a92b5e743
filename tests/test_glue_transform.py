"""The Glue transform: validation with clear errors, and the train/score column-order contract."""

from __future__ import annotations

import hashlib
import json
import sys

import pandas as pd
import pytest

from conftest import GLUE_DIR, glue_args, run_glue_transform

sys.path.insert(0, str(GLUE_DIR))
import run_transform  # noqa: E402


@pytest.fixture
def landed(tmp_path, demo_extract):
    """A small training file and the schema learned from the demo training data."""
    train = pd.read_csv(demo_extract / "landed" / "employees_train.csv").head(200)
    path = tmp_path / "train.csv"
    train.to_csv(path, index=False)
    return path, demo_extract / "extract" / "train" / "schema.json"


def scoring_file(tmp_path, demo_extract, change=None, name="score.csv"):
    frame = pd.read_csv(demo_extract / "landed" / "employees_score.csv").head(50)
    if change:
        frame = change(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def failed(result, words: str) -> None:
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("ERROR: ")
    assert words in result.stderr, result.stderr


def test_training_extract_has_label_first_and_the_schema_fixes_the_order(demo_extract):
    extract = demo_extract / "extract"
    schema = json.loads((extract / "train" / "schema.json").read_text())
    train = pd.read_csv(extract / "train" / "train.csv", header=None)
    validation = pd.read_csv(extract / "validation" / "validation.csv", header=None)
    assert train.shape[1] == validation.shape[1] == len(schema["features"]) + 1
    assert set(train[0].unique()) <= {0, 1}
    assert len(validation) / (len(train) + len(validation)) == pytest.approx(0.2, abs=0.03)
    assert "country" in schema["dropped_columns"]  # constant column
    assert "employee_id" not in schema["features"] and "attrition" not in schema["features"]
    assert {"income_per_level", "role_tenure_ratio", "department=sales"} <= set(schema["features"])


def test_scoring_extract_has_a_header_the_id_first_then_the_training_features(demo_extract):
    score = pd.read_csv(demo_extract / "extract" / "score" / "score.csv", dtype={"employee_id": str})
    landed = pd.read_csv(demo_extract / "landed" / "employees_score.csv", dtype={"employee_id": str})
    schema = json.loads((demo_extract / "extract" / "train" / "schema.json").read_text())
    assert score["employee_id"].tolist() == landed["employee_id"].tolist()
    assert list(score.columns) == ["employee_id", *schema["features"]]


def test_column_order_of_the_scoring_file_does_not_matter(tmp_path, demo_extract):
    reordered = scoring_file(tmp_path, demo_extract, lambda f: f[list(reversed(f.columns))])
    schema = demo_extract / "extract" / "train" / "schema.json"
    result = run_glue_transform(*glue_args("score", reordered, tmp_path / "out", SCHEMA_URI=schema))
    assert result.returncode == 0, result.stderr
    expected = pd.read_csv(demo_extract / "extract" / "score" / "score.csv").head(50)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "score" / "score.csv"), expected)


def test_the_landed_file_is_never_modified(landed, tmp_path):
    source, _ = landed
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    assert run_glue_transform(*glue_args("train", source, tmp_path / "out")).returncode == 0
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    failed(run_glue_transform(*glue_args("train", tmp_path / "empty.csv", tmp_path / "out")), "the file is empty")


def test_header_without_rows(tmp_path):
    (tmp_path / "header.csv").write_text("employee_id,attrition,age\n")
    failed(
        run_glue_transform(*glue_args("train", tmp_path / "header.csv", tmp_path / "out")),
        "has a header but no data rows",
    )


def test_missing_label_in_training_data(landed, tmp_path):
    source, _ = landed
    pd.read_csv(source).drop(columns=["attrition"]).to_csv(tmp_path / "nolabel.csv", index=False)
    failed(
        run_glue_transform(*glue_args("train", tmp_path / "nolabel.csv", tmp_path / "out")),
        "label column 'attrition' is missing (columns: employee_id, age,",
    )


def test_label_values_must_be_binary(landed, tmp_path):
    source, _ = landed
    frame = pd.read_csv(source, dtype={"attrition": str})
    frame.loc[3, "attrition"] = "yes"
    frame.to_csv(tmp_path / "badlabel.csv", index=False)
    failed(
        run_glue_transform(*glue_args("train", tmp_path / "badlabel.csv", tmp_path / "out")),
        "label 'attrition' has values the workflow does not map: yes (1 row); it maps 0 and 1 only "
        "(set data.positive or data.label_values)",
    )


def test_label_in_scoring_data_is_dropped_with_a_warning(tmp_path, demo_extract):
    path = scoring_file(tmp_path, demo_extract, lambda f: f.assign(attrition=0))
    schema = demo_extract / "extract" / "train" / "schema.json"
    result = run_glue_transform(*glue_args("score", path, tmp_path / "out", SCHEMA_URI=schema))
    assert result.returncode == 0, result.stderr
    assert "label column 'attrition' is in the scoring file; it is ignored" in result.stderr


def test_unknown_categories_at_scoring_are_mapped_not_crashed(tmp_path, demo_extract):
    path = scoring_file(
        tmp_path, demo_extract, lambda f: f.assign(department=["legal"] * 3 + list(f["department"][3:]))
    )
    schema_path = demo_extract / "extract" / "train" / "schema.json"
    result = run_glue_transform(*glue_args("score", path, tmp_path / "out", SCHEMA_URI=schema_path))
    assert result.returncode == 0, result.stderr
    assert "3 rows with 'department' values training never saw; scored as other" in result.stderr
    schema = json.loads(schema_path.read_text())
    extract = pd.read_csv(tmp_path / "out" / "score" / "score.csv")
    department = [name for name in schema["features"] if name.startswith("department=")]
    assert extract.loc[:2, department].to_numpy().sum() == 0


def test_non_utf8_bytes(tmp_path):
    (tmp_path / "latin1.csv").write_bytes("employee_id,attrition,city\nE1,0,Zürich\n".encode("latin-1"))
    failed(
        run_glue_transform(*glue_args("train", tmp_path / "latin1.csv", tmp_path / "out")),
        "not UTF-8 (byte 0xfc on line 2); save the file as UTF-8 CSV",
    )


def test_duplicate_ids(landed, tmp_path):
    source, _ = landed
    frame = pd.read_csv(source, dtype={"employee_id": str})
    frame.loc[5, "employee_id"] = frame.loc[4, "employee_id"]
    frame.to_csv(tmp_path / "dupes.csv", index=False)
    failed(
        run_glue_transform(*glue_args("train", tmp_path / "dupes.csv", tmp_path / "out")),
        f"duplicate 'employee_id' values: {frame.loc[4, 'employee_id']}",
    )


def test_columns_missing_at_scoring_time_are_named(tmp_path, demo_extract):
    path = scoring_file(tmp_path, demo_extract, lambda f: f.drop(columns=["age", "overtime"]))
    schema = demo_extract / "extract" / "train" / "schema.json"
    failed(
        run_glue_transform(*glue_args("score", path, tmp_path / "out", SCHEMA_URI=schema)),
        "columns the model was trained on are missing: age, overtime",
    )


def test_scoring_without_schema_is_refused(tmp_path, demo_extract):
    path = scoring_file(tmp_path, demo_extract)
    failed(
        run_glue_transform(*glue_args("score", path, tmp_path / "out")), "--SCHEMA_URI is required with --KIND score"
    )


def test_missing_arguments_are_named(tmp_path):
    failed(run_glue_transform("--KIND", "train"), "missing job arguments: --S3_SOURCE, --S3_DEST, --LABEL")


def test_options_parse_like_get_resolved_options():
    argv = [
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--KIND",
        "train",
        "--S3_SOURCE=s3://b/k.csv",
        "--S3_DEST",
        "s3://x/",
        "--LABEL",
        "y",
        "--ID_COLUMN",
        "id",
        "--TRANSFORM_MODULE",
        "m",
    ]
    options = run_transform.resolved_options(argv, run_transform.REQUIRED, run_transform.DEFAULTS)
    assert options["S3_SOURCE"] == "s3://b/k.csv" and options["KIND"] == "train" and options["SEED"] == "42"


def test_s3_io_goes_through_awswrangler(tmp_path, demo_extract, aws_credentials):
    """On AWS the same entry point reads and writes s3:// URIs (moto stands in for S3)."""
    import boto3
    from moto import mock_aws

    source = scoring_file(tmp_path, demo_extract)
    schema = demo_extract / "extract" / "train" / "schema.json"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("landing", "extracts"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="landing", Key="data/score/a b.csv", Body=source.read_bytes())
        s3.put_object(Bucket="extracts", Key="p/t1/train/schema.json", Body=schema.read_bytes())
        args = glue_args(
            "score",
            "s3://landing/data/score/a b.csv",
            "s3://extracts/p/s1",
            SCHEMA_URI="s3://extracts/p/t1/train/schema.json",
        )
        sys.path.insert(0, str(GLUE_DIR))
        message = run_transform.main(args)
        body = s3.get_object(Bucket="extracts", Key="p/s1/score/score.csv")["Body"].read().decode()
        original = s3.get_object(Bucket="landing", Key="data/score/a b.csv")["Body"].read()
    assert "50 scoring rows" in message
    assert len(body.splitlines()) == 51  # the header and every row
    assert original == source.read_bytes()


def test_the_glue_entry_point_writes_the_files_the_layout_names():
    """The Glue job runs without the package, so it spells the extract's files itself; they must agree."""
    from mlops_pipeline import layout

    assert (
        run_transform.TRAIN_FILE,
        run_transform.VALIDATION_FILE,
        run_transform.SCORE_FILE,
        run_transform.SCHEMA_FILE,
        run_transform.REPORT_FILE,
    ) == (layout.TRAIN_FILE, layout.VALIDATION_FILE, layout.SCORE_FILE, layout.SCHEMA_FILE, layout.REPORT_FILE)
    assert (GLUE_DIR / layout.GLUE_ENTRY_SCRIPT).is_file()
