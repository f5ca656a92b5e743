"""The report's data from AWS-shaped answers: state outcomes and times from the history, trials, metrics,
the gate and the predictions' histogram (streamed)."""

from __future__ import annotations

import datetime
import json

from mlops_pipeline.report.model import (
    CAUGHT,
    FAILED,
    NOT_ENTERED,
    RUNNING,
    SUCCEEDED,
    execution_report,
    histogram,
    state_runs,
    task_parameters,
    tuning_of,
)

T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)

DEFINITION = {
    "StartAt": "Transform",
    "States": {
        "Transform": {
            "Type": "Task",
            "Next": "ReadChampion",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
        },
        "ReadChampion": {
            "Type": "Task",
            "Next": "Gate",
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "NoChampion"}],
        },
        "NoChampion": {"Type": "Pass", "Next": "Gate"},
        "Gate": {"Type": "Choice", "Choices": [{"Next": "GateFailed"}], "Default": "Done"},
        "GateFailed": {"Type": "Fail"},
        "Failed": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


def event(seconds: float, kind: str, **details) -> dict:
    """A GetExecutionHistory event as boto3 returns it (timestamps are datetimes)."""
    if kind.endswith("StateEntered"):
        key = "stateEnteredEventDetails"
    elif kind.endswith("StateExited"):
        key = "stateExitedEventDetails"
    else:
        key = kind[0].lower() + kind[1:] + "EventDetails"
    return {"timestamp": T0 + datetime.timedelta(seconds=seconds), "type": kind, "id": 0, key: details}


def entered(seconds, kind, name):
    return event(seconds, f"{kind}StateEntered", name=name, input="{}")


def exited(seconds, kind, name):
    return event(seconds, f"{kind}StateExited", name=name, output="{}")


def test_outcomes_and_times_of_a_run_with_a_retried_task_a_caught_error_and_a_gate_that_said_no():
    events = [
        event(0, "ExecutionStarted", input="{}"),
        entered(0, "Task", "Transform"),
        event(1, "TaskFailed", error="Glue.ConcurrentRunsExceededException", cause="busy"),
        event(3, "TaskSucceeded", output="{}"),  # the retry
        exited(12.5, "Task", "Transform"),
        entered(12.5, "Task", "ReadChampion"),
        event(13, "TaskFailed", error="S3.NoSuchKeyException", cause="none yet"),
        exited(13, "Task", "ReadChampion"),
        entered(13, "Pass", "NoChampion"),
        exited(13, "Pass", "NoChampion"),
        entered(13, "Choice", "Gate"),
        exited(13.25, "Choice", "Gate"),
        event(13.25, "FailStateEntered", name="GateFailed", input="{}"),
        event(13.25, "ExecutionFailed", error="QualityGateFailed", cause="0.4 < 0.5"),
    ]
    runs = state_runs(DEFINITION, events, "FAILED")
    assert runs["Transform"].outcome == SUCCEEDED and runs["Transform"].seconds == 12.5
    assert runs["ReadChampion"].outcome == CAUGHT and runs["ReadChampion"].error == "S3.NoSuchKeyException"
    assert runs["NoChampion"].outcome == SUCCEEDED and runs["Gate"].seconds == 0.25
    assert runs["GateFailed"].outcome == FAILED
    assert runs["Failed"].outcome == NOT_ENTERED and runs["Done"].outcome == NOT_ENTERED


def test_a_running_state_a_state_entered_twice_and_an_aborted_execution():
    loop = [
        entered(0, "Task", "Transform"),
        exited(2, "Task", "Transform"),
        entered(2, "Task", "Transform"),
        exited(5, "Task", "Transform"),
        entered(5, "Task", "ReadChampion"),
    ]
    runs = state_runs(DEFINITION, loop, "RUNNING")
    assert (runs["Transform"].entries, runs["Transform"].seconds) == (2, 5.0)
    assert runs["ReadChampion"].outcome == RUNNING
    aborted = state_runs(DEFINITION, [*loop, event(9, "ExecutionAborted", cause="stopped")], "ABORTED")
    assert aborted["ReadChampion"].outcome == FAILED and aborted["ReadChampion"].seconds == 4.0


def test_local_record_timestamps_as_text_give_the_same_times():
    events = [
        {
            "timestamp": "2026-03-01 12:00:00.250000+00:00",
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "Transform"},
        },
        {
            "timestamp": "2026-03-01T12:00:02.750Z",
            "type": "TaskStateExited",
            "stateExitedEventDetails": {"name": "Transform"},
        },
    ]
    assert state_runs(DEFINITION, events, "RUNNING")["Transform"].seconds == 2.5


def test_the_tuning_job_is_the_one_the_last_tuning_task_started():
    scheduled = [
        event(
            0,
            "TaskScheduled",
            resource="createHyperParameterTuningJob.sync",
            resourceType="sagemaker",
            parameters=json.dumps({"HyperParameterTuningJobName": name}),
        )
        for name in ("p-t1-0-0", "p-t1-1-0")
    ]
    assert task_parameters(scheduled, "createHyperParameterTuningJob.sync")["HyperParameterTuningJobName"] == "p-t1-1-0"
    assert task_parameters(scheduled, "createTransformJob.sync") is None


def tuning_describe(best="job-002", kind="Maximize"):
    return {
        "HyperParameterTuningJobName": "job",
        "HyperParameterTuningJobConfig": {"HyperParameterTuningJobObjective": {"Type": kind, "MetricName": "roc_auc"}},
        "BestTrainingJob": {"TrainingJobName": best},
    }


def summary(name, start, value, depth, status="Completed"):
    item = {
        "TrainingJobName": name,
        "TrainingJobStatus": status,
        "CreationTime": T0,
        "TrainingStartTime": T0 + datetime.timedelta(seconds=start),
        "TrainingEndTime": T0 + datetime.timedelta(seconds=start + 4),
        "TunedHyperParameters": {"max_depth": depth},
    }
    if value is not None:
        item["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "roc_auc", "Value": value}
    return item


def test_trials_are_in_the_order_they_started_with_their_objective_and_time():
    tuning = tuning_of(
        tuning_describe(),
        [
            summary("job-002", 5, 0.81, "3"),
            summary("job-001", 0, 0.78, "5"),
            summary("job-003", 9, None, "2", "Failed"),
        ],
    )
    assert [t.name for t in tuning.trials] == ["job-001", "job-002", "job-003"]
    assert tuning.trials[0].objective == 0.78 and tuning.trials[0].seconds == 4.0
    assert tuning.trials[2].objective is None and tuning.trials[2].status == "Failed"
    assert (tuning.best, tuning.metric, tuning.objective_type) == ("job-002", "roc_auc", "Maximize")


def test_the_report_puts_the_best_model_beside_the_baseline_and_the_gate():
    output = {
        "model_name": "p-t1-0-0",
        "gate": {
            "metric": "roc_auc",
            "comparison": ">=",
            "threshold": 0.7,
            "value": 0.81,
            "baseline": 0.5,
            "approved_model_value": None,
        },
    }
    report = execution_report(
        {
            "name": "train-x",
            "status": "SUCCEEDED",
            "startDate": T0,
            "stopDate": T0 + datetime.timedelta(seconds=30),
            "input": json.dumps({"bucket": "fs", "key": "data/train/x.csv"}),
            "output": json.dumps(output),
        },
        [],
        DEFINITION,
        "training",
        "local workspace /w",
        best_job={
            "FinalMetricDataList": [{"MetricName": "roc_auc", "Value": 0.81}, {"MetricName": "f1", "Value": 0.4}]
        },
        data_report={"warnings": ["column 'x' is constant"], "baseline": {"roc_auc": 0.5}, "class_counts": {}},
    )
    assert report.source == "s3://fs/data/train/x.csv" and report.model_name == "p-t1-0-0"
    assert [(m.name, m.value, m.baseline) for m in report.metrics] == [("roc_auc", 0.81, 0.5), ("f1", 0.4, None)]
    assert report.gate.threshold == 0.7 and report.warnings == ("column 'x' is constant",)
    assert report.states["Transform"].outcome == NOT_ENTERED


def test_the_histogram_streams_the_last_column_and_counts_what_is_not_a_probability():
    def lines():
        yield 'id,"probability"\n'
        yield '"a, with comma",0.0\n'
        yield "b,0.049\n"
        yield "c,1.0\n"
        yield "d,0.5\n"
        yield "e,n/a\n"
        yield "f,1.5\n"
        yield "\n"

    result = histogram(lines())
    assert result.column == "probability" and result.rows == 6 and result.outside == 2
    assert result.counts[0] == 2 and result.counts[10] == 1 and result.counts[-1] == 1 and sum(result.counts) == 4
    assert histogram(iter([])) is None
