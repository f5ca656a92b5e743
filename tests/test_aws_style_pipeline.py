"""A Glue script and a container written for AWS, run unchanged through `mlops-pipeline local run`."""

from __future__ import annotations

import csv
import shutil
import textwrap

import pandas as pd
import pytest
from test_containers import needs_namespaces

from conftest import AWS_STYLE, run_cli

pytestmark = pytest.mark.slow

#: A user's workflow for the AWS-style material: the Glue script is the job, the container reads a header.
WORKFLOW = textwrap.dedent("""\
    from mlops_pipeline.config import (
        ContinuousRange, DataSchema, InferenceSettings, MetricDefinition, ModelSettings, PipelineConfig,
        QualityGate, TransformSettings, TuningSettings,
    )

    PIPELINE = PipelineConfig(
        name="churn",
        data=DataSchema(label="Churned", id_column="customer_id"),
        transform=TransformSettings(script="prepare.py", mode="script", extract_header=True, seed=7),
        model=ModelSettings(
            image="churn-sklearn:1",
            hyperparameters={"label": "Churned", "max_iter": 500},
            metrics=(
                MetricDefinition(name="train:auc", regex=r"train:auc=([0-9\\.]+)"),
                MetricDefinition(name="validation:auc", regex=r"validation:auc=([0-9\\.]+)"),
                MetricDefinition(name="validation:accuracy", regex=r"validation:accuracy=([0-9\\.]+)"),
            ),
        ),
        tuning=TuningSettings(strategy="Random", objective_metric="validation:auc", max_jobs=2, max_parallel_jobs=2,
                              ranges=(ContinuousRange(name="C", min=0.01, max=10, scaling="Logarithmic"),)),
        quality_gate=QualityGate(metric="validation:auc", comparison=">=", threshold=0.5),
        inference=InferenceSettings(split_type="None", assemble_with="None", input_filter=None, join_source="None",
                                    output_filter=None),
    )
    """)


def test_an_aws_style_glue_script_and_container_run_unchanged_end_to_end(tmp_path):
    needs_namespaces()
    project = tmp_path / "project"
    (project / "glue_transforms").mkdir(parents=True)
    shutil.copy(AWS_STYLE / "glue" / "prepare.py", project / "glue_transforms" / "prepare.py")
    shutil.copytree(AWS_STYLE / "container", project / "containers" / "churn-sklearn", symlinks=True)
    (project / "workflows").mkdir()
    (project / "workflows" / "churn.py").write_text(WORKFLOW)
    landed = {name: tmp_path / f"{name}.csv" for name in ("train", "score")}
    for name, path in landed.items():
        shutil.copy(AWS_STYLE / "data" / f"{name}.csv", path)
    before = {name: path.read_bytes() for name, path in landed.items()}
    result = run_cli(
        "local", "run", "--workflow", "workflows/churn.py", "--train", landed["train"], "--score", landed["score"],
        "--workspace", tmp_path / "ws", cwd=project, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "ws" / "s3" / "churn-output" / "churn"
    (predictions,) = output.glob("predictions/run=*/score.csv")  # this run's own object
    assert (output / "latest-predictions" / "score.csv").read_bytes() == predictions.read_bytes()
    with open(predictions, newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected_ids = pd.read_csv(landed["score"], encoding="utf-8-sig", dtype=str)["customer_id"].tolist()
    assert [row["customer_id"] for row in rows] == expected_ids  # every scoring row, in input order
    assert list(rows[0]) == ["customer_id", "probability", "label"]  # the container's own answer, extra columns too
    assert all(0.0 <= float(row["probability"]) <= 1.0 and row["label"] in ("0", "1") for row in rows)
    assert {name: path.read_bytes() for name, path in landed.items()} == before  # the user's files untouched
    extracts = tmp_path / "ws" / "s3" / "churn-extracts" / "churn"
    train_extract = next(extracts.glob("t*/train/train.csv")).read_text()
    assert train_extract.startswith("customer_id,Churned,")  # what the script wrote through boto3 is in the store
