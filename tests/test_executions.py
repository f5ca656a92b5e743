"""Where a failed execution failed, and where a redrive starts."""

from __future__ import annotations

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
    assert failure_point(events, DEFINITION) == ("Transform", "Failed", {"job_stem": "s1"})


def test_a_fail_state_reached_by_a_decision_has_nothing_to_redrive():
    events = [entered("Transform"), entered("Gate"), entered("GateFailed"), {"type": "ExecutionFailed"}]
    assert failure_point(events, DEFINITION) == (None, "GateFailed", None)
    with pytest.raises(PipelineError, match="ended in GateFailed by a decision"):
        ExecutionRecords.redrive_point(
            {"name": "x", "status": "FAILED", "failed_state": None, "fail_state": "GateFailed"}
        )


def test_an_uncaught_error_fails_where_it_happened_and_success_has_no_failure():
    assert failure_point(
        [entered("Transform", '{"a": 1}'), {"type": "TaskFailed"}, {"type": "ExecutionFailed"}], DEFINITION
    ) == ("Transform", None, {"a": 1})
    assert failure_point([entered("Transform"), {"type": "ExecutionSucceeded"}], DEFINITION) == (None, None, None)
    with pytest.raises(PipelineError, match="succeeded; only failed"):
        ExecutionRecords.redrive_point({"name": "x", "status": "SUCCEEDED"})


def test_an_unknown_execution_name_lists_the_latest(tmp_path):
    with pytest.raises(PipelineError, match="no execution named 'nope'.*latest: none"):
        ExecutionRecords(tmp_path).read("nope")
