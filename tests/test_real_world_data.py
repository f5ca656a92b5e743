"""Data the way users have it (Yes/No labels, a byte-order mark, the id not first), and a gate that never
approves a useless model: end to end through the local runtime and `mlops-pipeline local run`."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import hr_project, run_cli, write_hr_like
from mlops_pipeline.config import load_workflow
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.stores import Workspace

pytestmark = pytest.mark.slow


def local_run(project, workspace, train, score, *extra) -> subprocess.CompletedProcess:
    return run_cli(
        "local", "run", "--workflow", "workflows/hr.py", "--train", train, "--score", score, "--workspace", workspace,
        *extra, cwd=project,
    )  # fmt: skip


def runtime(project, workspace) -> LocalRuntime:
    config = load_workflow(project / "workflows" / "hr.py", containers=project / "containers")
    return LocalRuntime(config, Workspace.resolve(workspace), project)


def test_yes_no_labels_a_byte_order_mark_and_the_id_not_first_score_every_row_with_a_header(tmp_path):
    project = hr_project(tmp_path / "project")
    train = write_hr_like(tmp_path / "WA_Fn-UseC_-HR-Employee-Attrition.csv", 600, seed=1)
    score = write_hr_like(tmp_path / "employees to score.csv", 120, seed=2, label=False, start=5000)
    assert train.read_bytes().startswith(b"\xef\xbb\xbfAge,Attrition,")
    result = local_run(project, tmp_path / "ws", train, score)
    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "ws" / "s3" / "hr-output" / "hr"
    (predictions,) = output.glob("predictions/run=*/employees to score.csv")
    with open(predictions, newline="") as handle:
        header, *rows = csv.reader(handle)
    assert header == ["EmployeeNumber", "probability"]
    expected = pd.read_csv(score, encoding="utf-8-sig", dtype=str)["EmployeeNumber"].tolist()
    assert [row[0] for row in rows] == expected and all(0 <= float(row[1]) <= 1 for row in rows)

    with runtime(project, tmp_path / "ws") as session:  # the same scoring file landed again
        again = session.run_file("score", score)
    assert again.succeeded, (again.error, again.cause)
    assert len(list(output.glob("predictions/run=*/employees to score.csv"))) == 2  # one object per landing
    latest = session.workspace.path_of(again.output["latest"])
    assert latest.read_bytes() == session.workspace.path_of(again.output["predictions"]).read_bytes()


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_a_training_file_with_one_class_is_rejected_before_tuning_naming_the_counts(tmp_path, metric):
    project = hr_project(tmp_path / "project", metric=metric)
    train = write_hr_like(tmp_path / "train.csv", 200, seed=3, positive_share=0.0)
    with runtime(project, tmp_path / "ws") as session:
        result = session.run_file("train", train)
    assert result.status == "FAILED" and result.error == "TransformFailed"
    assert "label 'Attrition' in the training file: 0 rows of Yes, 200 rows of No; a model needs both classes" in (
        result.cause
    )
    assert not (session.workspace.root / "services" / "tuning-jobs").exists()  # no compute spent on it


def test_the_gate_refuses_a_model_no_better_than_learning_nothing_or_worse_than_the_approved_one(tmp_path):
    project = hr_project(tmp_path / "project", metric="accuracy", margin=0.0)
    good = write_hr_like(tmp_path / "good.csv", 600, seed=4, signal=2.0)
    noise = write_hr_like(tmp_path / "noise.csv", 600, seed=5, signal=0.0, positive_share=0.1)
    weaker = write_hr_like(tmp_path / "weaker.csv", 600, seed=6, signal=0.3, positive_share=0.5)
    with runtime(project, tmp_path / "ws") as session:
        approved = session.run_file("train", good)
        assert approved.succeeded, (approved.error, approved.cause)
        latest = session.workspace.path("hr-metadata", "hr/models/latest.json")
        champion = latest.read_bytes()
        useless = session.run_file("train", noise)
        worse = session.run_file("train", weaker)
    assert useless.error == "QualityGateFailed" and useless.fail_state == "QualityGateFailedBaseline"
    assert "not better than a model that learnt nothing (accuracy = 0.9" in useless.cause
    assert worse.error == "QualityGateFailed" and worse.fail_state == "QualityGateFailedChampion"
    value = json.loads(champion)["gate"]["value"]
    assert f"worse than the approved model {json.loads(champion)['model_name']} (accuracy = {value}" in worse.cause
    assert latest.read_bytes() == champion  # the champion stays the approved model


def test_user_text_with_markup_is_printed_as_it_is_and_the_run_fails_in_one_block(tmp_path):
    project = hr_project(
        tmp_path / "project",
        edits={'positive="Yes")': 'positive="Yes", checks={"policies": {"text_in_numeric": "error"}})'},
    )
    frame = pd.read_csv(write_hr_like(tmp_path / "base.csv", 200, seed=8), encoding="utf-8-sig")
    frame = frame.rename(columns={"MonthlyIncome": "Income [/month]"}).astype({"Income [/month]": "object"})
    frame.loc[4, "Income [/month]"] = "[bold]n.a.[/bold]"
    train = tmp_path / "train [v2] [bold].csv"
    frame.to_csv(train, index=False)
    score = tmp_path / "score.csv"
    pd.read_csv(write_hr_like(score, 20, seed=9, label=False), encoding="utf-8-sig").rename(
        columns={"MonthlyIncome": "Income [/month]"}
    ).to_csv(score, index=False)
    result = local_run(project, tmp_path / "ws", train, score)
    shown = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in shown and "MarkupError" not in shown
    assert "column 'Income [/month]' is numeric but has text on 1 row (line 6): '[bold]n.a.[/bold]'" in shown
    assert "Landing train [v2] [bold].csv in s3://hr-feature-store/data/train/" in shown
    assert "state:  TransformTrainingData -> TrainingTransformFailed" in shown
    assert "ERROR: s3://hr-feature-store/data/train/train [v2] [bold].csv: column 'Income [/month]'" in shown
    assert shown.strip().splitlines()[-1].startswith("Error: training execution train-train-v2-bold-")
    report = re.search(r"^Report of train-train-v2-bold-\S+: file://(\S+)$", result.stdout, re.MULTILINE)
    page = Path(report.group(1)).read_text(encoding="utf-8")  # the failed execution's report, text escaped
    assert "[bold]n.a.[/bold]" in page and '<g class="state failed" data-state="TrainingTransformFailed">' in page


def test_a_seeded_tuning_runs_the_same_trials_and_trains_the_same_model(tmp_path):
    project = hr_project(tmp_path / "project")
    train = write_hr_like(tmp_path / "train.csv", 400, seed=10)
    records = []
    for run in ("first", "second"):
        with runtime(project, tmp_path / run) as session:
            result = session.run_file("train", train)
        assert result.succeeded, (result.error, result.cause)
        trials = sorted((session.workspace.root / "services" / "training-jobs").glob("*.json"))
        records.append(
            [
                (json.loads(p.read_text())["HyperParameters"], json.loads(p.read_text())["FinalMetricDataList"])
                for p in trials
            ]
        )
    same = [[(hp, [(m["MetricName"], m["Value"]) for m in metrics]) for hp, metrics in run] for run in records]
    assert same[0] == same[1] and len(same[0]) == 2


def test_a_category_with_a_comma_and_a_column_name_in_brackets_train_and_score(tmp_path):
    """A quoted category value ("Sales, EMEA") and a unit in brackets in a column name, in both files: the one-hot
    name with a comma is quoted in the scoring extract's header, which the model server still recognises, and
    XGBoost trains on names it accepts."""
    project = hr_project(
        tmp_path / "project", edits={"max_jobs=2, max_parallel_jobs=2": "max_jobs=1, max_parallel_jobs=1"}
    )
    for path, rows, seed, label in ((tmp_path / "train.csv", 300, 11, True), (tmp_path / "score.csv", 30, 12, False)):
        frame = pd.read_csv(write_hr_like(path, rows, seed=seed, label=label, start=seed * 1000), encoding="utf-8-sig")
        frame["Department"] = frame["Department"].replace("Sales", "Sales, EMEA")
        frame.rename(columns={"DistanceFromHome": "Distance [km]"}).to_csv(path, index=False, encoding="utf-8-sig")
    assert '"Sales, EMEA"' in (tmp_path / "score.csv").read_text(encoding="utf-8-sig")
    result = local_run(project, tmp_path / "ws", tmp_path / "train.csv", tmp_path / "score.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    (schema,) = (tmp_path / "ws" / "s3").glob("hr-extracts/hr/*/train/schema.json")
    assert {"Department=sales, emea", "Distance [km]"} <= set(json.loads(schema.read_text())["features"])
    (predictions,) = (tmp_path / "ws" / "s3" / "hr-output" / "hr").glob("predictions/run=*/score.csv")
    with open(predictions, newline="") as handle:
        header, *rows = csv.reader(handle)
    assert header == ["EmployeeNumber", "probability"]
    assert [int(row[0]) for row in rows] == list(range(12000, 12030)) and all(0 <= float(row[1]) <= 1 for row in rows)


def test_a_column_named_twice_is_refused_before_landing_naming_the_file_that_repeats_it(tmp_path):
    """pandas reads the second ``Age (years)`` as ``Age (years).1``: the training file is named, not the scoring
    file that lacks the renamed column; nothing is landed."""
    project = hr_project(tmp_path / "project")
    train = tmp_path / "hr_train.csv"
    pd.read_csv(write_hr_like(train, 60, seed=11), encoding="utf-8-sig").rename(
        columns={"Age": "Age (years)", "DistanceFromHome": "Age (years)"}
    ).to_csv(train, index=False)
    score = write_hr_like(tmp_path / "hr_score.csv", 20, seed=12, label=False)
    result = local_run(project, tmp_path / "ws", train, score)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {train}: column 'Age (years)' appears twice (columns 1 and 5); give each column its own name"
    )
    assert not list((tmp_path / "ws").glob("s3/hr-feature-store/**/*.csv"))


def test_local_run_shows_what_its_own_checks_find_when_the_glue_job_is_a_script_of_yours(tmp_path):
    """In script mode no report.json of the project's Glue job carries the warnings: `local run` returns its own."""
    project = hr_project(
        tmp_path / "project",
        edits={'script="attrition_transform.py"': 'script="attrition_transform.py", mode="script"'},
    )
    train, score = (
        write_hr_like(tmp_path / "train.csv", 60, seed=13),
        write_hr_like(tmp_path / "score.csv", 20, seed=14),
    )
    frame = pd.read_csv(train, encoding="utf-8-sig")
    frame["MonthlyIncome"] = frame["MonthlyIncome"].map("{:,}".format)
    frame.to_csv(train, index=False)
    (warning,) = runtime(project, tmp_path / "ws").check_files(train, score)
    assert warning.startswith(f"{train}: column 'MonthlyIncome' looks numeric with thousands separators on ")
    config = load_workflow(project / "workflows" / "hr.py", containers=project / "containers")
    module_mode = config.model_copy(update={"transform": config.transform.model_copy(update={"mode": "module"})})
    assert LocalRuntime(module_mode, Workspace.resolve(tmp_path / "ws"), project).check_files(train, score) == []
