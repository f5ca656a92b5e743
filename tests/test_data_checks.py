"""Bad data the way users land it: one line naming the file, column, lines or limit; the file never changes."""

from __future__ import annotations

import csv as csv_module
import hashlib
import json
import sys

import pandas as pd
import pytest

from conftest import GLUE_DIR, glue_args
from mlops_pipeline.data_checks import CheckSettings, DataCheckError, Report, baseline_metrics, labels_of, preflight

sys.path.insert(0, str(GLUE_DIR))
import run_transform  # noqa: E402

MB = 1024 * 1024  # MaxPayloadInMB's unit


def rows(n: int = 40, positives: int | None = None) -> pd.DataFrame:
    """A small attrition-style training frame; ``positives`` rows leave (label 1), the rest stay."""
    positives = n // 3 if positives is None else positives
    return pd.DataFrame(
        {
            "employee_id": [f"E{i}" for i in range(n)],
            "age": [20 + i % 40 for i in range(n)],
            "department": ["sales", "engineering", "hr", "finance"] * (n // 4) + ["sales"] * (n % 4),
            "monthly_income": [3000 + 37 * i for i in range(n)],
            "attrition": [1] * positives + [0] * (n - positives),
        }
    )


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def with_values(frame: pd.DataFrame, column: str, values: dict[int, object]) -> pd.DataFrame:
    frame = frame.astype({column: "object"})
    for index, value in values.items():
        frame.loc[index, column] = value
    return frame


def without(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.drop(columns=[column])


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """A training schema for the scoring cases, learnt from a good file."""
    folder = tmp_path_factory.mktemp("trained")
    (folder / "train.csv").write_bytes(csv(rows(60)))
    run_transform.main(arguments("train", folder / "train.csv", folder / "out"))
    return folder / "out" / "train" / "schema.json"


def arguments(kind: str, source, dest, schema=None, checks: dict | None = None) -> list[str]:
    extra = {"DATA_CHECKS": json.dumps(checks or {})} | ({"SCHEMA_URI": schema} if schema else {})
    return glue_args(kind, source, dest, **extra)


TRAIN_CASES = {
    "empty": (b"", {}, "{f}: the file is empty; land a CSV with a header row and data rows"),
    "blank lines only": (b"\n\n  \n", {}, "{f}: the file is empty; land a CSV with a header row and data rows"),
    "header only": (b"employee_id,age,attrition\n", {}, "{f}: the file has a header but no data rows"),
    "semicolons": (
        csv(rows()).replace(b",", b";"),
        {},
        "{f}: looks semicolon-delimited (its header has no comma and 4 semicolons); land a comma-separated CSV",
    ),
    "tabs": (
        csv(rows()).replace(b",", b"\t"),
        {},
        "{f}: looks tab-delimited (its header has no comma and 4 tabs); land a comma-separated CSV",
    ),
    "latin-1": (
        "employee_id,city,attrition\nE1,Zürich,0\n".encode("latin-1"),
        {},
        "{f}: not UTF-8 (byte 0xfc on line 2); save the file as UTF-8 CSV",
    ),
    "no id column": (
        csv(without(rows(), "employee_id")),
        {},
        "{f}: id column 'employee_id' is missing (columns: age, department, monthly_income, attrition)",
    ),
    "empty ids": (
        csv(with_values(rows(), "employee_id", {1: None, 7: None})),
        {},
        "{f}: 'employee_id' is empty on lines 3, 9",
    ),
    "duplicate ids": (
        csv(with_values(rows(), "employee_id", {5: "E1", 9: "E2"})),
        {},
        "{f}: duplicate 'employee_id' values: E1, E2",
    ),
    "an id spanning lines": (
        csv(with_values(rows(), "employee_id", {3: "Smith,\nJohn"})),
        {},
        "{f}: 'employee_id' has a line break inside the value on line 5: 'Smith,\\nJohn'; batch transform reads "
        "one record per line, so each id must fit on one line",
    ),
    "no label column": (
        csv(without(rows(), "attrition")),
        {},
        "{f}: label column 'attrition' is missing (columns: employee_id, age, department, monthly_income)",
    ),
    "empty label": (csv(with_values(rows(), "attrition", {2: None})), {}, "{f}: label 'attrition' is empty on line 4"),
    "Yes/No without a mapping": (
        csv(with_values(rows(), "attrition", {i: ("Yes" if i < 13 else "No") for i in range(40)})),
        {},
        "{f}: label 'attrition' has values the workflow does not map: No (27 rows), Yes (13 rows); it maps 0 and 1 "
        "only (set data.positive or data.label_values)",
    ),
    "a value outside label_values": (
        csv(with_values(rows(), "attrition", {i: ("Yes" if i < 13 else "No") for i in range(40)} | {39: "Maybe"})),
        {"label_values": {"Yes": 1, "No": 0}},
        "{f}: label 'attrition' has values the workflow does not map: Maybe (1 row); it maps Yes to 1, No to 0 "
        "(set data.positive or data.label_values)",
    ),
    "three values with positive": (
        csv(with_values(rows(), "attrition", {i: ("yes" if i < 13 else "no") for i in range(40)} | {0: "maybe"})),
        {"positive": "Yes"},
        "{f}: label 'attrition' has 2 values besides 'Yes' (maybe, no); data.positive needs exactly one other, or "
        "set data.label_values",
    ),
    "one class": (
        csv(rows(40, positives=0)),
        {},
        "{f}: label 'attrition' in the training file: 0 rows of 1, 40 rows of 0; a model needs both classes "
        "(at least 5 rows each, data.checks.min_class_count) [data.checks.policies['class_count'] = 'error']",
    ),
    "one class, named": (
        csv(with_values(rows(40, positives=0), "attrition", {i: "No" for i in range(40)})),
        {"positive": "Yes"},
        "{f}: label 'attrition' in the training file: 0 rows of Yes, 40 rows of No; a model needs both classes "
        "(at least 5 rows each, data.checks.min_class_count) [data.checks.policies['class_count'] = 'error']",
    ),
    "too few of a class": (
        csv(rows(40, positives=3)),
        {},
        "{f}: label 'attrition' in the training file: 3 rows of 1, 37 rows of 0; each class needs at "
        "least 5 rows, data.checks.min_class_count [data.checks.policies['class_count'] = 'error']",
    ),
    "too few rows": (
        csv(rows(12, positives=6)),
        {"min_class_count": 1},
        "{f}: 12 data rows; training needs at least 20 (data.checks.min_rows) "
        "[data.checks.policies['min_rows'] = 'error']",
    ),
    "text in a numeric column": (
        csv(with_values(rows(), "monthly_income", {1: "1,200", 5: "unknown", 6: "1,200"})),
        {"policies": {"text_in_numeric": "error"}},
        "{f}: column 'monthly_income' is numeric but has text on 3 rows (lines 3, 7, 8): '1,200', 'unknown'; it is "
        "read as missing; numbers with thousands separators are text: write 1200, not 1,200 "
        "[data.checks.policies['text_in_numeric'] = 'error']",
    ),
    "a column named twice": (
        csv(rows().rename(columns={"age": "Age (years)", "department": "Age (years)"})),
        {},
        "{f}: column 'Age (years)' appears twice (columns 2 and 3); give each column its own name",
    ),
    "numbers with thousands separators in a column the transform computes with": (
        csv(rows().assign(monthly_income=lambda frame: frame.monthly_income.map("{:,}".format))),
        {},
        "{f}: column 'monthly_income' must hold numbers (attrition_transform.NUMERIC_COLUMNS) but 40 of its 40 "
        "values are text (lines 2, 3, 4, ...): '3,000', '3,037', '3,074'; numbers with thousands separators are "
        "text: write 3000, not 3,000",
    ),
    "a value longer than a batch transform request": (
        csv(with_values(rows(), "department", {3: "x" * (MB + 1)})),
        {"max_payload_mb": 1},
        "{f}: line 5, column 'department' holds a value of 1,048,577 bytes, over the 1 MB batch transform sends in "
        "one request (inference.max_payload_mb, SageMaker's MaxPayloadInMB), so it could never be scored; shorten "
        "or remove it",
    ),
    "a quote left unclosed before a long stretch": (
        csv(rows()).replace(b"E3,", b'"E3,', 1) + b"E99,30,sales,3000,0\n" * 60_000,
        {"max_payload_mb": 1},
        "{f}: line 5, column 'employee_id' holds a value of 1,200,781 bytes (it runs over 60037 lines from a quote: "
        "is one left unclosed?), over the 1 MB batch transform sends in one request (inference.max_payload_mb, "
        "SageMaker's MaxPayloadInMB), so it could never be scored; shorten or remove it",
    ),
}

SCORE_CASES = {
    "columns missing at scoring": (
        csv(without(without(rows(), "attrition"), "age")),
        {},
        "{f}: columns the model was trained on are missing: age",
    ),
    "a label in the scoring file": (
        csv(rows()),
        {"policies": {"label_in_scoring": "error"}},
        "{f}: label column 'attrition' is in the scoring file; it is ignored "
        "[data.checks.policies['label_in_scoring'] = 'error']",
    ),
    "unseen categories": (
        csv(with_values(without(rows(), "attrition"), "department", {0: "legal", 4: "legal"})),
        {"policies": {"unseen_categories": "error"}},
        "{f}: 2 rows with 'department' values training never saw; scored as other "
        "[data.checks.policies['unseen_categories'] = 'error']",
    ),
    "scoring header only": (
        b"employee_id,age,department,monthly_income\n",
        {},
        "{f}: the file has a header but no data rows",
    ),
    "scoring ids spanning lines": (
        csv(
            with_values(without(rows(), "attrition"), "employee_id", {0: 'say "hi"\r\n', 2: "A\rB", 6: "c\nd"})
        ).replace(b"A\rB", b'"a\rb"'),
        {},
        "{f}: 'employee_id' has a line break inside the value on lines 2, 5, 10: 'say \"hi\"\\r\\n', 'a\\rb', "
        "'c\\nd'; batch transform reads one record per line, so each id must fit on one line",
    ),
    "scoring, a column named three times": (
        csv(without(rows(), "attrition").assign(extra=1)).replace(b"department,monthly_income,extra", b"age,x,age", 1),
        {},
        "{f}: column 'age' appears 3 times (columns 2, 3 and 5); give each column its own name",
    ),
    "scoring, numbers with thousands separators where training had numbers": (
        csv(without(rows(), "attrition").assign(monthly_income=lambda frame: frame.monthly_income.map("{:,}".format))),
        {},
        "{f}: column 'monthly_income' must hold numbers (as in the training file) but 40 of its 40 values are text "
        "(lines 2, 3, 4, ...): '3,000', '3,037', '3,074'; numbers with thousands separators are text: write 3000, "
        "not 3,000",
    ),
    "scoring, a long id": (
        csv(with_values(without(rows(), "attrition"), "employee_id", {39: "E" * (MB + 5)})),
        {"max_payload_mb": 1},
        "{f}: line 41, column 'employee_id' holds a value of 1,048,581 bytes, over the 1 MB batch transform sends "
        "in one request (inference.max_payload_mb, SageMaker's MaxPayloadInMB), so it could never be scored; "
        "shorten or remove it",
    ),
    "scoring semicolons": (
        csv(without(rows(), "attrition")).replace(b",", b";"),
        {},
        "{f}: looks semicolon-delimited (its header has no comma and 3 semicolons); land a comma-separated CSV",
    ),
}


@pytest.mark.parametrize(
    "kind, body, checks, message",
    [("train", *case) for case in TRAIN_CASES.values()] + [("score", *case) for case in SCORE_CASES.values()],
    ids=[*TRAIN_CASES, *SCORE_CASES],
)
def test_bad_data_is_one_line_naming_what_and_where_and_the_landed_file_is_untouched(
    tmp_path, schema, kind, body, checks, message
):
    landed = tmp_path / "landed data [v2].csv"
    landed.write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    argv = arguments(kind, landed, tmp_path / "out", schema if kind == "score" else None, checks)
    with pytest.raises((DataCheckError, run_transform.TransformError)) as refused:
        run_transform.main(argv)
    assert str(refused.value) == message.format(f=landed)
    assert "\n" not in str(refused.value)
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.csv"))  # nothing half-written


def test_ids_are_text_as_written_however_pandas_would_read_them(tmp_path, schema):
    """``NA``, ``null``, ``nan``, ``007``, ``1e3``, commas and quotes: ids, kept exactly, quoted where CSV needs it."""
    ids = ["NA", "null", "nan", "007", "1e3", "Smith, John", 'say "hi"', " padded ", "N/A", "E9"]
    landed = tmp_path / "score.csv"
    landed.write_bytes(csv(with_values(without(rows(10), "attrition"), "employee_id", dict(enumerate(ids)))))
    run_transform.main(arguments("score", landed, tmp_path / "out", schema))
    extract = (tmp_path / "out" / "score" / "score.csv").read_text()
    assert [row[0] for row in list(csv_module.reader(extract.splitlines()))[1:]] == ids
    assert len(extract.splitlines()) == len(ids) + 1  # one record per line


def test_warnings_are_reported_and_the_run_goes_on(tmp_path, schema):
    landed = tmp_path / "train.csv"
    landed.write_bytes(csv(with_values(rows(), "monthly_income", {1: "?"})))
    run_transform.main(arguments("train", landed, tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["warnings"] == [
        f"{landed}: column 'monthly_income' is numeric but has text on 1 row (line 3): '?'; it is read as missing"
    ]
    assert report["class_counts"]["training file"] == {"0": 27, "1": 13}
    assert report["baseline"]["roc_auc"] == 0.5 and 0.5 <= report["baseline"]["accuracy"] <= 1
    schema_features = json.loads((tmp_path / "out" / "train" / "schema.json").read_text())["numeric_columns"]
    assert "monthly_income" in schema_features  # still a number column, the text became missing


def test_yes_no_labels_map_with_positive_whatever_their_case_and_spaces():
    frame = pd.DataFrame({"attrition": ["Yes", " no", "YES ", "No"]})
    settings = CheckSettings("attrition", "employee_id", positive="yes")
    assert labels_of(frame, "f.csv", settings).tolist() == [1, 0, 1, 0]
    assert labels_of(frame, "f.csv", CheckSettings("attrition", "id", label_values={"YES": 1, "no": 0})).tolist() == [
        1,
        0,
        1,
        0,
    ]


def test_the_baseline_is_what_learning_nothing_scores():
    baseline = baseline_metrics(pd.Series([0, 0, 0, 1]))
    assert baseline["accuracy"] == 0.75 and baseline["roc_auc"] == 0.5 and baseline["recall"] == 0.0
    assert baseline["logloss"] == pytest.approx(0.5623, abs=1e-4)


def test_a_policy_of_off_skips_the_check():
    settings = CheckSettings("attrition", "employee_id", policies={"text_in_numeric": "off"})
    report = Report(settings)
    report.problem("text_in_numeric", "ignored")
    assert report.warnings == [] and json.loads(report.to_json()) == {"warnings": []}
    with pytest.raises(DataCheckError):
        Report(CheckSettings("a", "b", policies={"min_rows": "error"})).problem("min_rows", "x")


def test_a_column_named_twice_is_the_error_of_the_file_that_names_it(tmp_path):
    """pandas reads a second ``Age (years)`` as ``Age (years).1``; the file that repeats the name is refused, not
    the other one for lacking the renamed column. Empty names (spreadsheets' trailing commas) are not repeats."""
    settings = CheckSettings("attrition", "employee_id")
    good, twice = rows(), rows().rename(columns={"age": "Age (years)", "monthly_income": "Age (years)"})
    train, score = tmp_path / "train.csv", tmp_path / "score.csv"
    train.write_bytes(csv(twice))
    score.write_bytes(csv(without(good, "attrition")))
    with pytest.raises(DataCheckError) as refused:
        preflight(train, "train", settings)
    assert (
        str(refused.value)
        == f"{train}: column 'Age (years)' appears twice (columns 2 and 4); give each column its own name"
    )
    train.write_bytes(csv(good))
    score.write_bytes(csv(without(twice, "attrition")))
    with pytest.raises(DataCheckError) as refused:
        preflight(score, "score", settings, training_columns=preflight(train, "train", settings))
    assert (
        str(refused.value)
        == f"{score}: column 'Age (years)' appears twice (columns 2 and 4); give each column its own name"
    )
    score.write_bytes(b"employee_id,age,,\nE1,30,,\nE2,31,,\n")
    assert preflight(score, "score", settings) == ["employee_id", "age", "Unnamed: 2", "Unnamed: 3"]


def test_numbers_with_thousands_separators_are_reported_and_stay_text(tmp_path):
    """A column no transform declares numeric is not parsed (``1,200`` is 1.2 where the comma is the decimal mark):
    `local run` and the Glue job report it, naming the column and a value; the policy can make it an error."""
    frame = rows().rename(columns={"monthly_income": "salary"})
    frame["salary"] = [f"{value:,}" for value in frame["salary"]]
    frame.loc[2, "salary"] = "950"  # a small one has no separator
    landed = tmp_path / "train.csv"
    landed.write_bytes(csv(frame))
    warning = (
        f"{landed}: column 'salary' looks numeric with thousands separators on 39 rows (lines 2, 3, 5, ...): '3,000', "
        "'3,037', '3,111'; it is read as text: remove the separators to use it as a number"
    )
    report = Report(CheckSettings("attrition", "employee_id"))
    preflight(landed, "train", report.settings, report=report)
    assert report.warnings == [warning]
    run_transform.main(arguments("train", landed, tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "report.json").read_text())["warnings"] == [warning]
    assert len(json.loads((tmp_path / "out" / "train" / "schema.json").read_text())["categories"]["salary"]) == 40
    strict = CheckSettings("attrition", "employee_id", policies={"thousands_separators": "error"})
    with pytest.raises(DataCheckError, match=r"column 'salary' looks numeric with thousands separators"):
        preflight(landed, "train", strict)


def test_text_in_a_numeric_column_at_scoring_is_missing_to_the_transform_too(tmp_path):
    """The derived features compute with the numbers: a scoring value the check reads as missing is missing there."""
    train, score = tmp_path / "train.csv", tmp_path / "score.csv"
    train.write_bytes(csv(rows(60).assign(job_level=[1 + i % 5 for i in range(60)])))
    run_transform.main(arguments("train", train, tmp_path / "trained"))
    scoring = without(rows(10), "attrition").assign(job_level=2)
    score.write_bytes(csv(with_values(scoring, "monthly_income", {4: "unknown"})))
    run_transform.main(arguments("score", score, tmp_path / "out", tmp_path / "trained" / "train" / "schema.json"))
    extract = pd.read_csv(tmp_path / "out" / "score" / "score.csv")
    assert extract["income_per_level"].isna().tolist() == [i == 4 for i in range(10)]


def test_a_column_of_many_long_values_that_would_overflow_the_scoring_header_is_named(tmp_path):
    """One-hot features name every level: 40 values of 30 kB each make a 1.2 MB header, over a 1 MB MaxPayloadInMB,
    though no single value is."""
    notes = [f"{i:02d}" + "x" * 30_000 for i in range(40)]
    landed = tmp_path / "train.csv"
    landed.write_bytes(csv(rows().assign(note=notes)))
    with pytest.raises(DataCheckError) as refused:
        run_transform.main(arguments("train", landed, tmp_path / "out", checks={"max_payload_mb": 1}))
    assert str(refused.value).startswith(f"{landed}: the scoring extract's header would be 1,200,4")
    assert str(refused.value).endswith(
        " bytes, over the 1 MB batch transform sends in one request (inference.max_payload_mb, SageMaker's "
        "MaxPayloadInMB): column 'note' becomes 40 features, 1,200,320 bytes of names (one per distinct value); "
        "group its rare values or drop it"
    )
    assert not (tmp_path / "out").exists()
