"""Where a failed execution failed, and where a redrive starts."""

from __future__ import annotations

import json

import pytest

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.executions import ExecutionRecords, failure_point

DEFINITION = {
    "States": {
        "Transform": {"Type": "Task"},
        "Gate": {"Type": "Choice"},
        "Failed": {"Type": "Fail"},
        "GateFailed": {"Type": "Fail"},
    }
}


def entered(name: str, payload: str = "{}") -> dict:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": payload}}


def test_a_task_caught_into_a_fail_state_is_the_failed_state_with_its_input():
    events = [
        entered("Transform", '{"job_stem": "s1"}'),
        {"type": "TaskFailed"},
        entered("Failed"),
        {"type": "ExecutionFailed"},
    ]
    assert failure_point(events, DEFINITION, "FAILED") == ("Transform", "Failed", {"job_stem": "s1"})


def test_a_fail_state_reached_by_a_decision_has_nothing_to_redrive():
    events = [entered("Transform"), entered("Gate"), entered("GateFailed"), {"type": "ExecutionFailed"}]
    assert failure_point(events, DEFINITION, "FAILED") == (None, "GateFailed", None)
    with pytest.raises(PipelineError, match="ended in GateFailed by a decision"):
        ExecutionRecords.redrive_point(
            {"name": "x", "status": "FAILED", "failed_state": None, "fail_state": "GateFailed"}
        )


def test_an_uncaught_error_fails_where_it_happened_and_success_has_no_failure():
    assert failure_point(
        [entered("Transform", '{"a": 1}'), {"type": "TaskFailed"}, {"type": "ExecutionFailed"}], DEFINITION, "FAILED"
    ) == ("Transform", None, {"a": 1})
    succeeded = [entered("Transform"), {"type": "ExecutionSucceeded"}]
    assert failure_point(succeeded, DEFINITION, "SUCCEEDED") == (None, None, None)
    with pytest.raises(PipelineError, match="succeeded; only failed"):
        ExecutionRecords.redrive_point({"name": "x", "status": "SUCCEEDED"})


def test_an_error_a_catch_handled_is_no_failure_of_an_execution_that_succeeded_or_still_runs():
    """ReadLatestForUpdate catches S3.NoSuchKeyException on a pipeline's first approval and goes on."""
    import datetime

    from mlops_pipeline.local.executions import summarize
    from mlops_pipeline.naming import Workflow

    definition = {"States": {"ReadLatestForUpdate": {"Type": "Task"}, "ModelApproved": {"Type": "Succeed"}}}
    running = [
        {"type": "ExecutionStarted"},
        entered("ReadLatestForUpdate"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "S3.NoSuchKeyException"}},
        {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "ReadLatestForUpdate"}},
        {"type": "SucceedStateEntered", "stateEnteredEventDetails": {"name": "ModelApproved", "input": "{}"}},
    ]
    succeeded = [*running, {"type": "ExecutionSucceeded"}]
    assert failure_point(running, definition, "RUNNING") == (None, None, None)
    assert failure_point(succeeded, definition, "SUCCEEDED") == (None, None, None)
    status = {
        "name": "train-a",
        "status": "SUCCEEDED",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:p-training:train-a",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:p-training",
        "startDate": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        "input": "{}",
        "output": "{}",
    }
    record = summarize(status, succeeded, Workflow.TRAINING, json.dumps(definition), 0)
    assert (record["failed_state"], record["fail_state"], record["failed_state_input"]) == (None, None, None)
    assert (record["error"], record["cause"]) == (None, None)


def test_an_unknown_execution_name_lists_the_latest(tmp_path):
    with pytest.raises(PipelineError, match="no execution named 'nope'.*latest: none"):
        ExecutionRecords(tmp_path).read("nope")


def record(name: str, history: list) -> dict:
    empty = dict.fromkeys(("output", "error", "cause", "failed_state", "fail_state"))
    return {"name": name, "workflow": "training", "status": "RUNNING", "redrive_count": 0, "history": history, **empty}


def test_a_full_disk_keeps_the_last_complete_record_and_says_where_in_one_line(tmp_path, monkeypatch):
    import errno

    from mlops_pipeline.local import executions

    records = ExecutionRecords(tmp_path)
    records.write(record("train-a", [{"type": "ExecutionStarted"}]))
    real = executions.write_atomic

    def full_for_history(target, data):
        if target.name.startswith("history"):
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(target, data)

    monkeypatch.setattr(executions, "write_atomic", full_for_history)
    with pytest.raises(PipelineError) as full:
        records.write(record("train-a", [{"type": "ExecutionStarted"}, {"type": "TaskStateEntered"}]))
    message = str(full.value)
    assert message.startswith(f"no space left on the device writing {tmp_path / 'train-a' / 'history.json'} (")
    assert "MB free there" in message and "\n" not in message
    assert records.read("train-a")["status"] == "RUNNING"
    assert records.history("train-a") == [{"type": "ExecutionStarted"}]  # the last complete history
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_record_left_running_by_a_dead_session_is_closed_aborted_at_its_state(tmp_path):
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Tune", "input": '{"a": 1}'}},
    ]
    records = ExecutionRecords(tmp_path)
    records.write(record("train-b", history) | {"definition": '{"States": {"Tune": {"Type": "Task"}}}'})
    result = records.abort("train-b", "its session ended")
    closed = records.read("train-b")
    assert result.status == closed["status"] == "ABORTED" and closed["cause"] == "its session ended"
    assert (closed["failed_state"], closed["failed_state_input"]) == ("Tune", {"a": 1})  # where a redrive resumes
    aborted = records.history("train-b")[-1]
    assert (aborted["type"], aborted["id"], aborted["previousEventId"]) == ("ExecutionAborted", 3, 0)  # as AWS


def test_a_redrive_keeps_the_first_start_date_also_when_recovery_closes_it(tmp_path):
    """DescribeExecution keeps ``startDate`` and adds ``redriveDate``; a redrive that a killed session left
    RUNNING, closed ABORTED by recovery, keeps both."""
    records = ExecutionRecords(tmp_path)
    definition = '{"States": {"Tune": {"Type": "Task"}}}'
    first = record("train-c", [{"type": "ExecutionStarted"}]) | {"definition": definition}
    records.write(first | {"status": "FAILED", "start_date": "2026-01-01T00:00:00+00:00"})
    entered = {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Tune", "input": "{}"}}
    redriven = record("train-c", [{"type": "ExecutionStarted"}, entered]) | {"definition": definition}
    records.write(redriven | {"redrive_count": 1, "start_date": "2026-01-02T00:00:00+00:00"})
    started = records.read("train-c")
    assert (started["start_date"], started["redrive_date"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
    )
    records.abort("train-c", "its session ended")
    closed = records.read("train-c")
    assert (closed["status"], closed["start_date"], closed["redrive_date"]) == (
        "ABORTED",
        "2026-01-01T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
    )


def test_the_log_a_failure_points_to_is_the_newest_job_log_never_a_server_started_ahead(tmp_path):
    """A scoring Glue job that fails while the batch transform's server is still starting ahead (its log written
    last): the failure's log is the Glue job's."""
    import os

    from mlops_pipeline.local.executions import ExecutionResult
    from mlops_pipeline.naming import Workflow

    logs = tmp_path / "logs"
    for relative, written in (
        ("training-jobs/t1.log", 1),
        ("glue/attrition-transform-jr_1.log", 2),
        ("model-servers/Batch.log", 3),
    ):
        (logs / relative).parent.mkdir(parents=True, exist_ok=True)
        (logs / relative).write_text("...")
        os.utime(logs / relative, (written, written))
    failed = ExecutionResult("score-a", Workflow.SCORING, "FAILED", None, "E", "c", "Glue", None, tmp_path)
    assert failed.newest_log() == logs / "glue" / "attrition-transform-jr_1.log"
    empty = ExecutionResult("score-b", Workflow.SCORING, "FAILED", None, "E", "c", "Glue", None, tmp_path / "none")
    assert empty.newest_log() is None
