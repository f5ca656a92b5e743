"""Deploy targets from Terraform outputs and for the local runtime."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.target import TERRAFORM_OUTPUT_KEYS, local_target, read_terraform_outputs_file


def test_local_target_names_six_distinct_stores():
    target = local_target("attrition")
    buckets = {
        target.bucket(s) for s in ("feature_store", "source_repository", "extracts", "model", "metadata", "output")
    }
    assert len(buckets) == 6 and all(b.startswith("attrition-") for b in buckets)
    assert (
        target.state_machine_arn("attrition-training")
        == "arn:aws:states:us-east-1:123456789012:stateMachine:attrition-training"
    )


def test_outputs_file_round_trip(tmp_path):
    target = local_target("attrition")
    path = tmp_path / "out.json"
    path.write_text(json.dumps({k: {"value": v, "type": "string"} for k, v in asdict(target).items()}))
    assert read_terraform_outputs_file(path) == target
    assert set(TERRAFORM_OUTPUT_KEYS) == set(asdict(target))


def test_optional_prefix_outputs_default(tmp_path):
    values = asdict(local_target("attrition"))
    del values["training_prefix"], values["scoring_prefix"]
    path = tmp_path / "out.json"
    path.write_text(json.dumps({k: {"value": v} for k, v in values.items()}))
    assert read_terraform_outputs_file(path).training_prefix == "data/train/"


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not JSON from `terraform output -json`"),
        ("[1]", "expected a JSON object"),
        ('{"region": {"value": 3}}', "terraform outputs lack pipeline_name, partition"),
    ],
)
def test_bad_outputs_files(tmp_path, content, message):
    path = tmp_path / "out.json"
    path.write_text(content)
    with pytest.raises(PipelineError, match=message.replace("(", r"\(")):
        read_terraform_outputs_file(path)


def test_non_string_output_is_rejected(tmp_path):
    values = {k: {"value": v} for k, v in asdict(local_target("attrition")).items()}
    values["region"] = {"value": 3}
    path = tmp_path / "out.json"
    path.write_text(json.dumps(values))
    with pytest.raises(PipelineError, match="terraform outputs region must be strings"):
        read_terraform_outputs_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="terraform outputs file not found"):
        read_terraform_outputs_file(tmp_path / "nope.json")
