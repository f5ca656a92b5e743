"""createHyperParameterTuningJob: optuna samples, real training jobs run, SageMaker's Describe shape."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from pathlib import Path

import optuna
import pytest
from test_sagemaker_training import WAYS, sleepy_services, started_warm

from conftest import running_control, stage_extract, training_job_counters, training_request
from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.events import TrialEvent
from mlops_pipeline.local.integrations.sagemaker_tuning import (
    _trial_count,
    create_tuning_job_sync,
    grid,
    sampler_for,
    suggest,
    warm_up_tuning,
)
from mlops_pipeline.local.processes import group_members
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl, TaskFailure, TaskStopped


def tuning_request(prefix: str, ranges: dict, jobs: int = 3, parallel: int = 2, strategy: str = "Random") -> dict:
    definition = training_request(prefix)
    return {
        "HyperParameterTuningJobName": "tune-1",
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "RandomSeed": 3,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "roc_auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": definition["HyperParameters"],
            **{k: definition[k] for k in ("AlgorithmSpecification", "InputDataConfig", "OutputDataConfig")},
        },
    }


def test_a_tuning_job_runs_every_trial_and_names_the_best(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    events = []
    services.notify = events.append
    ranges = {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "5", "ScalingType": "Auto"}]
    }
    job = create_tuning_job_sync(services, tuning_request(prefix, ranges), running_control())
    events = [event for event in events if isinstance(event, TrialEvent)]  # not the container's build progress
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == training_job_counters(Completed=3)
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    best = job["BestTrainingJob"]
    assert best["TrainingJobName"].startswith("tune-1-") and len(best["TrainingJobName"]) == len("tune-1-001-12345678")
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(e.objective for e in events)
    assert [e.done for e in events] == [1, 2, 3]


def test_failed_trials_do_not_fail_the_tuning_job_unless_all_fail(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    mixed = {"CategoricalParameterRanges": [{"Name": "grow_policy", "Values": ["depthwise", "sideways"]}]}
    job = create_tuning_job_sync(services, tuning_request(prefix, mixed, jobs=2, strategy="Grid"), running_control())
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert job["BestTrainingJob"]["TunedHyperParameters"] == {"grow_policy": "depthwise"}

    hopeless = {"CategoricalParameterRanges": [{"Name": "grow_policy", "Values": ["sideways"]}]}
    request = tuning_request(prefix, hopeless, jobs=1, parallel=1, strategy="Grid")
    request["HyperParameterTuningJobName"] = "tune-2"
    with pytest.raises(TaskFailure) as failure:
        create_tuning_job_sync(services, request, running_control())
    described = json.loads(failure.value.cause)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert (
        described["FailureReason"].startswith("All 1 training jobs failed. tune-2-001-")
        and "grow_policy" in described["FailureReason"]
    )


@pytest.mark.parametrize("way", WAYS)
def test_a_trial_stopped_at_its_max_runtime_counts_as_stopped_with_the_objective_it_logged(tmp_path, way):
    """SageMaker counts training jobs by status (a job stopped at MaxRuntimeInSeconds is Stopped) and uses the
    final objective metric a stopped job published; the trial's whole process group is killed."""
    services, prefix = sleepy_services(tmp_path, way)
    ranges = {"CategoricalParameterRanges": [{"Name": "sleep", "Values": ["0", "60"]}]}
    request = tuning_request(prefix, ranges, jobs=2, parallel=2, strategy="Grid")
    request["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    events = []
    services.notify = events.append
    job = create_tuning_job_sync(services, request, running_control())
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == training_job_counters(Completed=1, Stopped=1)
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 0}
    stopped = next(e for e in events if e.status == "Stopped")
    assert stopped.hyperparameters == {"sleep": "60"} and stopped.objective == 0.61
    assert stopped.failure == "MaxRuntimeExceeded: stopped at StoppingCondition.MaxRuntimeInSeconds (1 s)"
    trial = services.records.get("training-jobs", stopped.training_job)
    assert trial["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert group_members(trial["Local"]["Pid"]) == []
    assert started_warm(Path(trial["Local"]["LogPath"])) == (way != "fresh")


def test_a_tuning_job_whose_trials_all_ran_out_of_time_says_so(tmp_path):
    services, prefix = sleepy_services(tmp_path)
    ranges = {"CategoricalParameterRanges": [{"Name": "roc_auc", "Values": ["none"]}]}  # logs no number
    request = tuning_request(prefix, ranges, jobs=1, parallel=1, strategy="Grid")
    request["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    with pytest.raises(TaskFailure) as failure:
        create_tuning_job_sync(services, request, running_control())
    described = json.loads(failure.value.cause)
    assert described["TrainingJobStatusCounters"]["Stopped"] == 1
    assert described["ObjectiveStatusCounters"]["Failed"] == 1
    assert re.fullmatch(
        r"All 1 training jobs failed or were stopped\. tune-1-001-[0-9a-f]{8}: MaxRuntimeExceeded: stopped at "
        r"StoppingCondition\.MaxRuntimeInSeconds \(1 s\)",
        described["FailureReason"],
    )


@pytest.mark.parametrize("seeded", [True, False], ids=["in-rounds", "as-trials-end"])
def test_a_tuning_job_stopped_with_its_state_counts_each_training_job_as_it_ended(tmp_path, seeded):
    """StopExecution while one trial has completed and another runs: the running one is Stopped, and the tuning
    job, Stopped, counts its training jobs by their final statuses (none InProgress, no objective Pending) and
    names the completed one best, counted or not when the stop came (with a RandomSeed, trials are counted a
    round at a time)."""
    services, prefix = sleepy_services(tmp_path)
    ranges = {"CategoricalParameterRanges": [{"Name": "sleep", "Values": ["0", "60"]}]}
    request = tuning_request(prefix, ranges, jobs=2, parallel=2, strategy="Grid")
    if not seeded:
        del request["HyperParameterTuningJobConfig"]["RandomSeed"]
    running, during = threading.Event(), {}
    running.set()

    def stop_when_one_completed_and_one_runs() -> None:
        def statuses() -> list[str]:
            jobs = [services.records.get("training-jobs", name) for name in services.records.names("training-jobs")]
            return sorted(job["TrainingJobStatus"] + ("+pid" if "Pid" in job["Local"] else "") for job in jobs)

        deadline = time.monotonic() + 60
        while statuses() != ["Completed+pid", "InProgress+pid"] and time.monotonic() < deadline:
            time.sleep(0.05)
        during.update(services.records.get("tuning-jobs", "tune-1"))
        running.clear()

    threading.Thread(target=stop_when_one_completed_and_one_runs, daemon=True).start()
    with pytest.raises(TaskStopped):
        create_tuning_job_sync(services, request, TaskControl(running=running.is_set, execution_name="exec-1"))
    tuning = services.records.get("tuning-jobs", "tune-1")
    jobs = {name: services.records.get("training-jobs", name) for name in tuning["Local"]["Trials"]}
    assert sorted(job["TrainingJobStatus"] for job in jobs.values()) == ["Completed", "Stopped"]
    running_then = during["TrainingJobStatusCounters"]["InProgress"]  # the completed one counted or not yet
    assert running_then in (1, 2) and during["ObjectiveStatusCounters"]["Pending"] == running_then
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert tuning["TrainingJobStatusCounters"] == training_job_counters(Completed=1, Stopped=1)
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 1}
    completed = next(name for name, job in jobs.items() if job["TrainingJobStatus"] == "Completed")
    assert tuning["BestTrainingJob"]["TrainingJobName"] == completed
    assert tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.61


def test_a_tuning_job_a_dead_session_left_is_stopped_with_counters_its_training_jobs_agree_with(tmp_path):
    """``kill -9`` while two trials had completed (one not yet counted: a RandomSeed counts a round when it
    ends) and two ran: recovery stops the two, then the tuning job, whose counters are its training jobs'."""
    from mlops_pipeline.local.records import Records
    from mlops_pipeline.local.recovery import recover
    from mlops_pipeline.local.sessions import SESSIONS
    from mlops_pipeline.target import local_target

    workspace, dead = Workspace.resolve(tmp_path / "ws"), "4242-deadbeef"
    (workspace.root / SESSIONS).mkdir(parents=True)
    (workspace.root / SESSIONS / f"{dead}.lock").write_text("4242\n")  # its lock, no longer held
    records = Records.of_workspace(workspace.root)
    names = [f"tune-1-00{index}-0123abcd" for index in range(1, 5)]
    values = {names[0]: 0.7, names[1]: 0.8}  # the second completed after the first and was not yet counted
    for name in names:
        ended = name in values
        records.put(
            "training-jobs",
            name,
            {
                "TrainingJobName": name,
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
                "TrainingJobStatus": "Completed" if ended else "InProgress",
                "SecondaryStatus": "Completed" if ended else "Training",
                "CreationTime": "2024-05-02T10:00:00+00:00",
                "FinalMetricDataList": [{"MetricName": "roc_auc", "Value": values[name]}] if ended else [],
                "Local": {"Session": dead, "Tuned": {"max_depth": str(len(name))}},
            },
        )
    request = tuning_request("s3://attrition-extracts/x/", {}, jobs=4, parallel=2)
    counted = training_job_counters(Completed=1, InProgress=3)
    records.put(
        "tuning-jobs",
        "tune-1",
        {
            "HyperParameterTuningJobName": "tune-1",
            "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
            "HyperParameterTuningJobStatus": "InProgress",
            "TrainingJobStatusCounters": counted,
            "ObjectiveStatusCounters": {"Succeeded": 1, "Pending": 3, "Failed": 0},
            "BestTrainingJob": {"TrainingJobName": names[0]},
            "Local": {"Session": dead, "Trials": [*names, "tune-1-005-0123abcd"]},  # the fifth was never created
        },
    )
    done = recover(workspace, local_target("attrition"))
    assert "tuning job tune-1 recorded Stopped: its session ended" in done
    assert [records.get("training-jobs", name)["TrainingJobStatus"] for name in names] == [
        "Completed",
        "Completed",
        "Stopped",
        "Stopped",
    ]
    tuning = records.get("tuning-jobs", "tune-1")
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert tuning["TrainingJobStatusCounters"] == training_job_counters(Completed=2, Stopped=2)
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 2}
    best = tuning["BestTrainingJob"]
    assert (best["TrainingJobName"], best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]) == (names[1], 0.8)


def sample(ranges: dict, trials: int = 200) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = []
    for _ in range(trials):
        trial = study.ask()
        values.append(suggest(trial, ranges))
        study.tell(trial, 0.0)
    return values


def test_scaling_types_sample_where_sagemaker_would():
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "lin", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"},
            {"Name": "log", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "rev", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"},
        ],
        "IntegerParameterRanges": [
            {"Name": "depth", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
    }
    values = sample(ranges)
    logs = [math.log10(float(v["log"])) for v in values]
    reverse = [float(v["rev"]) for v in values]
    assert all(0.9 <= r <= 0.9999 for r in reverse)
    assert sum(r > 0.99 for r in reverse) > len(reverse) / 3  # dense near 1, unlike a uniform draw (10%)
    assert sum(x < -2 for x in logs) > len(logs) / 5  # a third of the log range below 0.01
    assert sum(int(v["depth"]) < 32 for v in values) > len(values) / 3
    assert {v["kind"] for v in values} == {"a", "b"} and all(isinstance(v["depth"], str) for v in values)


def test_strategies_map_to_optuna_samplers_and_grid_runs_every_combination():
    ranges = {
        "CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2", "3"]}, {"Name": "b", "Values": ["x", "y"]}]
    }
    assert isinstance(sampler_for({"Strategy": "Bayesian"}), optuna.samplers.TPESampler)
    assert isinstance(sampler_for({"Strategy": "Random"}), optuna.samplers.RandomSampler)
    assert grid({"ParameterRanges": ranges}) == [
        {"a": "1", "b": "x"},
        {"a": "1", "b": "y"},
        {"a": "2", "b": "x"},
        {"a": "2", "b": "y"},
        {"a": "3", "b": "x"},
        {"a": "3", "b": "y"},
    ]
    assert _trial_count({"Strategy": "Grid", "ParameterRanges": ranges, "ResourceLimits": {}}) == 6
    with pytest.raises(AwsError, match="unsupported tuning strategy 'Hyperband'"):
        sampler_for({"Strategy": "Hyperband"})


def test_trials_are_forked_from_the_server_warmed_up_for_their_share_of_the_cores(tmp_path, server_starts):
    """The warm-up keys the server as the trials will (``MaxParallelTrainingJobs`` sets their OpenMP threads):
    every trial is forked from the one server started ahead."""
    services, prefix = sleepy_services(tmp_path, "warm")
    ranges = {"CategoricalParameterRanges": [{"Name": "roc_auc", "Values": ["0.6", "0.7"]}, sleep_zero()]}
    request = tuning_request(prefix, ranges, jobs=2, parallel=2, strategy="Grid")
    warm_up_tuning(services, {**request, "HyperParameterTuningJobName.$": "$.name"}, running_control())
    assert len(server_starts) == 1
    create_tuning_job_sync(services, request, running_control())
    trials = services.records.get("tuning-jobs", "tune-1")["Local"]["Trials"]
    logs = services.logs_root / "exec-1" / "logs" / "training-jobs"
    assert len(trials) == 2 and all(started_warm(logs / f"{name}.log") for name in trials)
    assert len(server_starts) == 1
    services.close()


def sleep_zero() -> dict:
    """A one-value range: the sleepy ``train`` ends at once."""
    return {"Name": "sleep", "Values": ["0"]}
