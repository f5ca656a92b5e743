"""Failure causes are shown by what matters in them."""

from __future__ import annotations

import json

from mlops_pipeline.cli.live_view import explain_cause


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


def live_view(*types: str) -> str:
    """What the live view prints for one Task's history events."""
    import datetime
    import io

    from rich.console import Console

    from mlops_pipeline.cli.live_view import Reporter
    from mlops_pipeline.local.events import StateEvent

    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=200), workspace=None)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for kind in types:
        details = {"name": "BatchTransform"} if kind.endswith(("Entered", "Exited")) else {"error": "States.TaskFailed"}
        reporter(StateEvent("score-x", kind, when, details))
    return out.getvalue()


def test_a_task_that_failed_is_shown_failed_even_when_a_catch_carries_on():
    shown = live_view("TaskStateEntered", "TaskScheduled", "TaskFailed", "TaskStateExited", "FailStateEntered")
    assert "failed     BatchTransform  with States.TaskFailed" in shown and "succeeded" not in shown


def test_a_task_that_a_retry_saved_is_shown_failed_then_succeeded():
    shown = live_view("TaskStateEntered", "TaskFailed", "TaskScheduled", "TaskSucceeded", "TaskStateExited")
    assert shown.index("failed") < shown.index("succeeded  BatchTransform")


def test_a_glue_run_served_from_an_earlier_run_is_shown_reused():
    """With --reuse the Task's result is a JobRun naming the run whose outputs it copied."""
    import datetime
    import io

    from rich.console import Console

    from mlops_pipeline.cli.live_view import Reporter
    from mlops_pipeline.local.events import StateEvent

    detail = "reused the outputs of run jr_1 (execution train-a)"
    run = {"Id": "jr_2", "JobRunState": "SUCCEEDED", "PredecessorRuns": [{"JobName": "t", "RunId": "jr_1"}]}
    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=200), workspace=None)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for kind, details in (
        ("TaskStateEntered", {"name": "TransformTrainingData"}),
        ("TaskSucceeded", {"resourceType": "glue", "output": json.dumps({**run, "StateDetail": detail})}),
        ("TaskStateExited", {"name": "TransformTrainingData"}),
        ("TaskStateEntered", {"name": "TransformScoringData"}),
        ("TaskSucceeded", {"resourceType": "glue", "output": json.dumps({**run, "StateDetail": "queued"})}),
        ("TaskStateExited", {"name": "TransformScoringData"}),
    ):
        reporter(StateEvent("train-b", kind, when, details))
    shown = out.getvalue()
    assert f"reused     TransformTrainingData  0.0 s, {detail}" in shown
    assert "succeeded  TransformScoringData" in shown  # another StateDetail is not a reuse
