"""The report of an execution the local runtime ran, from the workspace: its records (``execution.json``,
``history*.json``), the job records (the Describe* shapes the local services answer with), the Glue
job's ``report.json`` and the published predictions."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_pipeline.layout import execution_report_key, report_key
from mlops_pipeline.local.executions import ExecutionRecords, executions_root
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.report.model import (
    ExecutionReport,
    Histogram,
    execution_report,
    histogram,
    tuning_of,
    tuning_parameters,
)
from mlops_pipeline.target import Target


def local_report(workspace: Workspace, target: Target, name: str) -> ExecutionReport:
    records = ExecutionRecords(executions_root(workspace, target))
    record = records.read(name)
    events = records.history(name)
    jobs = Records.of_workspace(workspace.root)
    tuning_describe = _tuning_describe(jobs, events)
    tuning, best_job = None, None
    if tuning_describe is not None:
        metric = tuning_describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        trials = [jobs.get("training-jobs", trial) for trial in tuning_describe.get("Local", {}).get("Trials", [])]
        tuning = tuning_of(tuning_describe, [training_job_summary(job, metric) for job in trials if job])
        best = (tuning_describe.get("BestTrainingJob") or {}).get("TrainingJobName")
        best_job = jobs.get("training-jobs", best) if best else None
    execution = {
        "name": record["name"],
        "status": record["status"],
        "startDate": record["start_date"],
        "stopDate": record.get("stop_date"),
        "input": record.get("input"),
        "output": record.get("output"),
        "error": record.get("error"),
        "cause": record.get("cause"),
    }
    return execution_report(
        execution,
        events,
        json.loads(record["definition"]),
        record["workflow"],
        f"local workspace {workspace.root}",
        tuning=tuning,
        best_job=best_job,
        data_report=_data_report(workspace, target, record.get("input") or {}),
        predictions=_predictions(workspace, record.get("output")),
    )


def report_path(workspace: Workspace, target: Target, name: str) -> Path:
    """Where an execution's report is kept: beside its records."""
    return workspace.path(target.metadata_bucket, execution_report_key(target.pipeline_name, name))


def training_job_summary(describe: dict, metric: str) -> dict:
    """A tuning trial as ListTrainingJobsForHyperParameterTuningJob lists it (``TrainingJobSummaries``), from
    its DescribeTrainingJob record; the tuned values are what the local tuning job recorded it chose."""
    final = next((m for m in describe.get("FinalMetricDataList", []) if m["MetricName"] == metric), None)
    summary = {
        key: describe[key]
        for key in ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingStartTime", "TrainingEndTime")
        if key in describe
    }
    summary["TrainingJobStatus"] = describe.get("TrainingJobStatus", "?")
    summary["TunedHyperParameters"] = describe.get("Local", {}).get("Tuned", {})
    if final is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": metric, "Value": final["Value"]}
    return summary


def _tuning_describe(jobs: Records, events: list[dict]) -> dict | None:
    parameters = tuning_parameters(events)
    return jobs.get("tuning-jobs", parameters["HyperParameterTuningJobName"]) if parameters else None


def _data_report(workspace: Workspace, target: Target, execution_input: dict) -> dict | None:
    if not execution_input.get("job_stem"):
        return None
    path = workspace.path(target.extracts_bucket, report_key(target.pipeline_name, execution_input["job_stem"]))
    return json.loads(path.read_text()) if path.is_file() else None


def _predictions(workspace: Workspace, output: dict | None) -> Histogram | None:
    uri = (output or {}).get("predictions")
    if not isinstance(uri, str):
        return None
    path = workspace.path_of(uri)
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8", errors="replace") as lines:
        return histogram(lines)
