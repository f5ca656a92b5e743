"""Failure causes are shown by what matters in them."""

from __future__ import annotations

import json

from mlops_pipeline.cli.report import explain_cause


def test_an_embedded_describe_json_is_shown_by_its_failure_reason():
    described = json.dumps({"TrainingJobStatus": "Failed", "FailureReason": "CUDA out of memory"})
    assert (
        explain_cause(f"Tuning failed with States.TaskFailed: {described}")
        == "Tuning failed with States.TaskFailed: CUDA out of memory"
    )
    glue = json.dumps({"JobRunState": "FAILED", "ErrorMessage": "ERROR: label missing"})
    assert explain_cause(glue) == "ERROR: label missing"


def test_other_causes_are_shown_as_they_are():
    assert explain_cause("the best job has roc_auc = 0.6") == "the best job has roc_auc = 0.6"
    assert explain_cause("odd {not json}") == "odd {not json}"
    assert explain_cause(None) == ""
