"""``sagemaker:createHyperParameterTuningJob(.sync)``: optuna picks the hyperparameters, real training jobs run.

Strategies: Bayesian (TPE), Random and Grid (every categorical combination). Scaling as SageMaker
defines it: Linear and Auto sample uniformly, Logarithmic uniformly in log space, ReverseLogarithmic
uniformly in log space of ``1 - x`` (dense near 1). ``MaxParallelTrainingJobs`` jobs run at once, each
named ``<tuning job>-<NNN>-<8 hex>``. A failed trial does not fail the tuning job unless every trial
fails (or none reports the objective). A trial stopped at its ``StoppingCondition.MaxRuntimeInSeconds`` counts
as ``Stopped`` (the counters follow the training job's status); the objective it logged before the stop is
used, like any final metric SageMaker publishes for a stopped job, and with none it counts as a failed objective.
A tuning job stopped with its state (StopExecution, a timeout, the session's end) or closed by recovery after its
session died ends ``Stopped`` with its counters tallied from its training jobs' records, all of them ended by then
(DescribeHyperParameterTuningJob's ``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters``, botocore's
sagemaker model: a running job is ``InProgress`` and its objective ``Pending``; one stopped before it finished has
no objective evaluated: ``Failed``).
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import optuna

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.ahead import written_out
from mlops_pipeline.local.events import TrialEvent
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.integrations.sagemaker_training import (
    MAX_RUNTIME_EXCEEDED,
    TRAINING_JOBS,
    max_runtime_seconds,
    run_training_job,
    warm_up,
)
from mlops_pipeline.local.jobs import JobKind, now
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TaskControl, TaskStopped

TUNING_JOBS = JobKind(
    folder="tuning-jobs",
    name_field="HyperParameterTuningJobName",
    status_field="HyperParameterTuningJobStatus",
    end_field="HyperParameterTuningEndTime",
    not_found_code="ResourceNotFound",
    not_found_message="tuning job {name} not found",
)
CLIENT_ERROR = "ValidationException"
REVERSE_LOG_SUFFIX = "__one_minus"


def warm_up_tuning(services: LocalServices, params: dict, control: TaskControl) -> None:
    """Ahead of the Task: the fork server its trials will be forked from (``sagemaker_training.warm_up``)."""
    config = params.get("HyperParameterTuningJobConfig")
    limits = config.get("ResourceLimits") if isinstance(config, dict) else None
    parallel = limits.get("MaxParallelTrainingJobs", 1) if isinstance(limits, dict) and written_out(limits) else None
    if isinstance(parallel, int) and isinstance(params.get("TrainingJobDefinition"), dict):
        warm_up(services, params["TrainingJobDefinition"], control, cpus_per_trial(parallel))


@serves("sagemaker:createHyperParameterTuningJob.sync", client_error=CLIENT_ERROR, warm_up=warm_up_tuning)
def create_tuning_job_sync(services: LocalServices, params: dict, control: TaskControl) -> dict:
    config = params["HyperParameterTuningJobConfig"]
    services.containers.prepare(params["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"])
    record = _initial_record(services, params)
    TUNING_JOBS.claim(services, record)
    tuner = _Tuner(services, params, record, control)
    with TUNING_JOBS.stopped_with_its_state(services, record):
        try:
            tuner.run(_trial_count(config), int(config["ResourceLimits"].get("MaxParallelTrainingJobs", 1)))
        except TaskStopped:
            tally(services.records, record)  # every trial has ended: the pool waited for them
            raise
    _conclude(services, record)
    return TUNING_JOBS.sync_answer(record)


@serves("aws-sdk:sagemaker:describeHyperParameterTuningJob", client_error=CLIENT_ERROR)
def describe_tuning_job(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return TUNING_JOBS.describe(services, params["HyperParameterTuningJobName"])


def stop_orphans(records: Records, alive) -> list[str]:
    """Tuning jobs a dead session left InProgress, closed Stopped with their counters tallied from their training
    jobs (which recovery stops first); their names."""
    return TUNING_JOBS.stop_orphans(records, alive, closing=lambda record: tally(records, record))


def tally(records: Records, record: dict) -> None:
    """Set the tuning job's counters, and its best training job, from its training jobs' records: what
    DescribeHyperParameterTuningJob reports once they ended, whichever of them the tuner had not yet counted
    (a trial named but never created has no record and is not counted)."""
    counters = dict.fromkeys(("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0)
    objectives = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
    objective = record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    best = None
    for name in record["Local"]["Trials"]:
        job = records.get(TRAINING_JOBS.folder, name)
        if job is None:
            continue
        counters[_status_counter(job["TrainingJobStatus"])] += 1
        if job["TrainingJobStatus"] == "InProgress":
            objectives["Pending"] += 1
            continue
        value = _objective_value(job, objective["MetricName"])
        objectives["Succeeded" if value is not None else "Failed"] += 1
        if value is not None and _better(value, best, objective["Type"]):
            best = _summary(job, objective["MetricName"], value)
    record.update(TrainingJobStatusCounters=counters, ObjectiveStatusCounters=objectives)
    if best is not None:
        record["BestTrainingJob"] = best


def _status_counter(status: str) -> str:
    """The ``TrainingJobStatusCounters`` entry of a training job's status (a failed one is a client error here)."""
    return status if status in ("Completed", "InProgress", "Stopped") else "NonRetryableError"


def _initial_record(services: LocalServices, params: dict) -> dict:
    name = params["HyperParameterTuningJobName"]
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": services.arn("sagemaker", f"hyper-parameter-tuning-job/{name}"),
        "HyperParameterTuningJobConfig": params["HyperParameterTuningJobConfig"],
        "TrainingJobDefinition": params["TrainingJobDefinition"],
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": now().isoformat(),
        "TrainingJobStatusCounters": {
            "Completed": 0,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 0,
            "Stopped": 0,
        },
        "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
        "Local": {"Trials": []},
    }


def _trial_count(config: dict) -> int:
    limit = config["ResourceLimits"].get("MaxNumberOfTrainingJobs")
    if config.get("Strategy") == "Grid":
        combinations = len(grid(config))
        return min(combinations, int(limit)) if limit else combinations
    return int(limit)


def grid(config: dict) -> list[dict[str, str]]:
    """Every combination of the categorical ranges, in order, as SageMaker's Grid strategy runs them."""
    ranges = config["ParameterRanges"].get("CategoricalParameterRanges", [])
    return [
        dict(zip([r["Name"] for r in ranges], values, strict=True))
        for values in itertools.product(*(r["Values"] for r in ranges))
    ]


def sampler_for(config: dict) -> optuna.samplers.BaseSampler:
    """Grid combinations are enqueued instead (optuna's GridSampler stops the study, which ask/tell forbids)."""
    seed = config.get("RandomSeed")
    strategy = config.get("Strategy", "Bayesian")
    if strategy in ("Random", "Grid"):
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "Bayesian":
        return optuna.samplers.TPESampler(seed=seed)
    raise AwsError("ValidationException", f"unsupported tuning strategy {strategy!r} (Bayesian, Random, Grid)")


def suggest(trial: optuna.Trial, ranges: dict) -> dict[str, str]:
    """One hyperparameter set, as the strings SageMaker passes to training jobs."""
    values: dict[str, str] = {}
    for r in ranges.get("ContinuousParameterRanges", []):
        low, high, scaling = float(r["MinValue"]), float(r["MaxValue"]), r.get("ScalingType", "Auto")
        if scaling == "ReverseLogarithmic":
            values[r["Name"]] = repr(
                1 - trial.suggest_float(r["Name"] + REVERSE_LOG_SUFFIX, 1 - high, 1 - low, log=True)
            )
        else:
            values[r["Name"]] = repr(trial.suggest_float(r["Name"], low, high, log=scaling == "Logarithmic"))
    for r in ranges.get("IntegerParameterRanges", []):
        log = r.get("ScalingType") == "Logarithmic"
        values[r["Name"]] = str(trial.suggest_int(r["Name"], int(r["MinValue"]), int(r["MaxValue"]), log=log))
    for r in ranges.get("CategoricalParameterRanges", []):
        values[r["Name"]] = str(trial.suggest_categorical(r["Name"], list(r["Values"])))
    return values


def cpus_per_trial(parallel: int) -> int:
    """Each trial's share of this machine's cores (its OpenMP threads): on SageMaker each has an instance."""
    return max(1, (os.cpu_count() or 1) // max(1, parallel))


class _Tuner:
    """Keeps ``parallel`` trials in flight until ``count`` have run; ask/tell under one lock."""

    def __init__(self, services: LocalServices, params: dict, record: dict, control: TaskControl):
        self.services, self.params, self.record, self.control = services, params, record, control
        config = params["HyperParameterTuningJobConfig"]
        self.objective = config["HyperParameterTuningJobObjective"]
        direction = "maximize" if self.objective["Type"] == "Maximize" else "minimize"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction=direction, sampler=sampler_for(config))
        if config.get("Strategy") == "Grid":
            for combination in grid(config):
                self.study.enqueue_trial(combination)
        self.lock = threading.Lock()
        self.cpus_per_job = cpus_per_trial(int(config["ResourceLimits"].get("MaxParallelTrainingJobs", 1)))
        self.started = 0
        self.count = 0
        self.seeded = config.get("RandomSeed") is not None

    def run(self, count: int, parallel: int) -> None:
        """``parallel`` trials in flight until ``count`` ran; with a RandomSeed, in rounds of ``parallel`` whose
        results are told in order, so the sampler sees the same history, and suggests the same, every run."""
        self.count = count
        if self.seeded:
            for first in range(0, count, parallel):
                self.control.check()  # stopped between rounds: the tuning job is stopped, not completed
                with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="trial") as pool:
                    asked = [self._ask() for _ in range(min(parallel, count - first))]
                    jobs = list(pool.map(lambda item: self._train(*item), asked))
                for (trial, _, _), job in zip(asked, jobs, strict=True):
                    self._tell(trial, job)
            return
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="trial") as pool:
            running: set[Future] = {pool.submit(self._trial) for _ in range(min(parallel, count))}
            self.started = len(running)
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # TaskStopped ends the tuning job
                    if self.started < count and self.control.running():
                        running.add(pool.submit(self._trial))
                        self.started += 1
        if self.started < count:
            self.control.check()  # stopped between trials: the tuning job is stopped, not completed

    def _trial(self) -> None:
        trial, name, hyperparameters = self._ask()
        job = self._train(trial, name, hyperparameters)
        self._tell(trial, job)

    def _ask(self) -> tuple[optuna.Trial, str, dict[str, str]]:
        """The next trial's hyperparameters and its training job's name."""
        with self.lock:
            trial = self.study.ask()
            index = len(self.record["Local"]["Trials"]) + 1
            hyperparameters = suggest(trial, self.params["HyperParameterTuningJobConfig"]["ParameterRanges"])
            name = f"{self.params['HyperParameterTuningJobName']}-{index:03d}-{uuid.uuid4().hex[:8]}"
            self.record["Local"]["Trials"].append(name)
            self.record["TrainingJobStatusCounters"]["InProgress"] += 1
            self.record["ObjectiveStatusCounters"]["Pending"] += 1
            TUNING_JOBS.save(self.services, self.record)
        return trial, name, hyperparameters

    def _train(self, trial: optuna.Trial, name: str, hyperparameters: dict[str, str]) -> dict:
        return run_training_job(self.services, self._request(name, hyperparameters), self.control, self.cpus_per_job)

    def _tell(self, trial: optuna.Trial, job: dict) -> None:
        with self.lock:
            value = _objective_value(job, self.objective["MetricName"])
            if value is None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, value)
            self._count(job, value)

    def _request(self, name: str, tuned: dict[str, str]) -> dict:
        definition = self.params["TrainingJobDefinition"]
        return {
            "TrainingJobName": name,
            "TuningJobArn": self.record["HyperParameterTuningJobArn"],
            "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned},
            "AlgorithmSpecification": definition["AlgorithmSpecification"],
            "RoleArn": definition.get("RoleArn"),
            "InputDataConfig": definition.get("InputDataConfig", []),
            "OutputDataConfig": definition["OutputDataConfig"],
            "ResourceConfig": definition.get("ResourceConfig", {}),
            "StoppingCondition": definition.get("StoppingCondition", {}),
            **{key: definition[key] for key in ("EnableNetworkIsolation", "VpcConfig") if key in definition},
            "Tuned": tuned,
        }

    def _count(self, job: dict, value: float | None) -> None:
        counters, objective = self.record["TrainingJobStatusCounters"], self.record["ObjectiveStatusCounters"]
        counters["InProgress"] -= 1
        objective["Pending"] -= 1
        status = job["TrainingJobStatus"]
        counters[_status_counter(status)] += 1
        objective["Succeeded" if value is not None else "Failed"] += 1
        if value is not None and _better(value, self.record.get("BestTrainingJob"), self.objective["Type"]):
            self.record["BestTrainingJob"] = _summary(job, self.objective["MetricName"], value)
        TUNING_JOBS.save(self.services, self.record)
        best = (
            self.record.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        )
        self.services.notify(
            TrialEvent(
                tuning_job=self.record["HyperParameterTuningJobName"],
                training_job=job["TrainingJobName"],
                status=status,
                objective=value,
                best=best,
                done=sum(counters.values()) - counters["InProgress"],
                total=self.count,
                metric=self.objective["MetricName"],
                hyperparameters=job.get("Local", {}).get("Tuned", {}),
                failure=job.get("FailureReason") or _stop_reason(job),
            )
        )


def _stop_reason(job: dict) -> str | None:
    """Why a trial that has no FailureReason was stopped at its time limit, for the tuning report."""
    if job.get("SecondaryStatus") != MAX_RUNTIME_EXCEEDED:
        return None
    return f"{MAX_RUNTIME_EXCEEDED}: stopped at StoppingCondition.MaxRuntimeInSeconds ({max_runtime_seconds(job):g} s)"


def _objective_value(job: dict, metric: str) -> float | None:
    """The objective a trial reported: a completed job's, or the last one a job stopped at its time limit
    logged before the stop."""
    finished = job["TrainingJobStatus"] == "Completed" or job.get("SecondaryStatus") == MAX_RUNTIME_EXCEEDED
    if not finished:
        return None
    return next((m["Value"] for m in job.get("FinalMetricDataList", []) if m["MetricName"] == metric), None)


def _better(value: float, best: dict | None, direction: str) -> bool:
    if best is None:
        return True
    current = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return value > current if direction == "Maximize" else value < current


def _summary(job: dict, metric: str, value: float) -> dict:
    return {
        "TrainingJobName": job["TrainingJobName"],
        "TrainingJobArn": job["TrainingJobArn"],
        "TrainingJobStatus": job["TrainingJobStatus"],
        "CreationTime": job["CreationTime"],
        "TrainingStartTime": job.get("TrainingStartTime"),
        "TrainingEndTime": job.get("TrainingEndTime"),
        "TunedHyperParameters": job.get("Local", {}).get("Tuned", {}),
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": metric, "Value": value},
        "ObjectiveStatus": "Succeeded",
    }


def _conclude(services: LocalServices, record: dict) -> None:
    if "BestTrainingJob" in record:
        TUNING_JOBS.finish(services, record, "Completed")
        return
    failures = [services.records.get(TRAINING_JOBS.folder, name) or {} for name in record["Local"]["Trials"]]
    reasons = [
        f"{job.get('TrainingJobName')}: {job.get('FailureReason') or _stop_reason(job)}"
        for job in failures
        if job.get("FailureReason") or _stop_reason(job)
    ]
    metric = record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    if reasons:
        ended = "failed or were stopped" if any(_stop_reason(job) for job in failures) else "failed"
        reason = f"All {len(failures)} training jobs {ended}. {reasons[0]}"
    else:
        printed = _last_line_naming(metric, failures)
        reason = f"No training job reported a number for the objective metric {metric}" + (
            f"; {printed[0]} printed: {printed[1]}" if printed else ""
        )
    TUNING_JOBS.finish(services, record, "Failed", reason)


def _last_line_naming(metric: str, jobs: list[dict]) -> tuple[str, str] | None:
    """(job, line) of the last log line that names the metric (``roc_auc: nan (one class)``): what the
    container said instead of a number."""
    for job in reversed(jobs):
        log = job.get("Local", {}).get("LogPath")
        lines = Path(log).read_text(errors="replace").splitlines() if log and Path(log).is_file() else []
        named = [line.strip() for line in lines if metric in line]
        if named:
            return job["TrainingJobName"], named[-1][:300]
    return None
