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


def live_view(*types: str | object) -> str:
    """What the live view prints for one Task's history events (a state entered or exited is BatchTransform,
    unless the event type is given as ``Type:State``); an event object is passed on as it is."""
    import datetime
    import io

    from rich.console import Console

    from mlops_pipeline.cli.live_view import Reporter
    from mlops_pipeline.local.events import StateEvent

    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=200), workspace=None)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for given in types:
        if not isinstance(given, str):
            reporter(given)
            continue
        kind, _, state = given.partition(":")
        details = {"name": state or "BatchTransform"} if kind.endswith(("Entered", "Exited")) else {}
        details |= {"error": "States.TaskFailed"} if kind in ("TaskFailed", "ExecutionFailed") else {}
        reporter(StateEvent("score-x", kind, when, details))
    return out.getvalue()


def test_a_task_error_that_a_catch_carries_on_from_is_shown_caught_as_the_report_says():
    """ReadLatestForUpdate on a first approval: its S3.NoSuchKeyException is caught and the execution succeeds."""
    from mlops_pipeline.report.model import CAUGHT, state_runs

    types = ("TaskStateEntered", "TaskScheduled", "TaskFailed", "TaskStateExited", "PassStateEntered:NoLatestYet")
    shown = live_view(*types)
    assert "caught     BatchTransform  States.TaskFailed" in shown
    assert "failed" not in shown and "succeeded" not in shown
    events = [
        {
            "type": kind,
            "timestamp": None,
            **({"stateEnteredEventDetails": {"name": "BatchTransform"}} if i == 0 else {}),
        }
        for i, kind in enumerate(types[:-1])
    ]
    assert state_runs({"States": {"BatchTransform": {}}}, events, "SUCCEEDED")["BatchTransform"].outcome == CAUGHT
    went_on = live_view("TaskStateEntered", "TaskFailed", "TaskStateEntered:Next", "TaskStateExited:Next")
    assert "caught     BatchTransform  States.TaskFailed" in went_on and "succeeded  Next" in went_on


def test_a_task_error_that_ends_the_execution_is_shown_failed():
    shown = live_view("TaskStateEntered", "TaskScheduled", "TaskFailed", "ExecutionFailed")
    assert "failed     BatchTransform  with States.TaskFailed" in shown and "caught" not in shown
    # the workflows catch every Task's error into a Fail state (TransformTrainingData -> TrainingTransformFailed)
    into_fail = ("TaskStateEntered", "TaskFailed", "TaskStateExited", "FailStateEntered:Failed", "ExecutionFailed")
    shown = live_view(*into_fail)
    assert "failed     BatchTransform  with States.TaskFailed" in shown and "caught" not in shown


def test_a_retry_is_shown_when_its_wait_starts_once_whichever_comes_first_and_then_the_success():
    """The engine announces a retry as its wait starts (the history has nothing until the Task is called again);
    the TaskFailed polled from the history may come before or after the announcement."""
    from mlops_pipeline.local.events import RetryEvent

    retry = RetryEvent("score-x", "BatchTransform", "States.TaskFailed", 20.0, 2, 5)
    line = "failed     BatchTransform  with States.TaskFailed, retrying in 20 s (retry 2 of 5)"
    for order in (("TaskFailed", retry), (retry, "TaskFailed")):
        shown = live_view("TaskStateEntered", *order, "TaskScheduled", "TaskSucceeded", "TaskStateExited")
        assert shown.count("failed") == 1 and line in shown, shown
        assert shown.index("failed") < shown.index("succeeded  BatchTransform") and "caught" not in shown
    short = RetryEvent("score-x", "BatchTransform", "States.TaskFailed", 1.5, 1, 3)
    assert "with States.TaskFailed, retrying in 1.5 s (retry 1 of 3)" in live_view(
        "TaskStateEntered", short, "TaskFailed"
    )
    assert "failed" not in live_view("TaskStateEntered", short)  # told with its error, not before


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


def test_an_aborted_execution_shows_a_dash_for_the_error_and_cause_it_does_not_have(tmp_path):
    import io

    from rich.console import Console

    from mlops_pipeline.cli.live_view import print_failure
    from mlops_pipeline.local.executions import ExecutionResult
    from mlops_pipeline.naming import Workflow

    out = io.StringIO()
    aborted = ExecutionResult("train-a", Workflow.TRAINING, "ABORTED", None, None, None, "Tune", None, tmp_path)
    print_failure(Console(file=out, width=200), aborted)
    lines = out.getvalue().splitlines()
    assert "error:  -" in lines and "cause:  -" in lines and "None" not in out.getvalue()


def test_data_warnings_are_shown_once_as_soon_as_a_state_passes_the_report_on():
    """ReadTrainingDataReport puts the Glue job's report.json under $.data; later states pass it on."""
    import datetime
    import io

    from rich.console import Console

    from mlops_pipeline.cli.live_view import Reporter
    from mlops_pipeline.local.events import StateEvent

    warning = "train.csv: column 'monthly_income' is numeric but has text on 1 row (line 3): '[?]'"
    output = json.dumps({"job_stem": "s1", "data": {"report": {"warnings": [warning], "class_counts": {}}}})
    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=300), workspace=None)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for kind, details in (
        ("TaskStateExited", {"name": "TransformTrainingData", "output": json.dumps({"job_stem": "s1"})}),
        ("TaskStateEntered", {"name": "ReadTrainingDataReport"}),
        ("TaskStateExited", {"name": "ReadTrainingDataReport", "output": output}),
        ("TaskStateEntered", {"name": "TuneHyperparameters"}),
    ):
        reporter(StateEvent("train-a", kind, when, details))
    shown = out.getvalue()
    assert f"data warning: {warning}" in shown and shown.index("data warning") < shown.index("running    Tune")
    reporter(StateEvent("train-a", "TaskStateExited", when, {"name": "TuneHyperparameters", "output": output}))
    assert out.getvalue().count("data warning") == 1
