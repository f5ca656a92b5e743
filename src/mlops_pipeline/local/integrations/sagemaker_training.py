"""``sagemaker:createTrainingJob(.sync)`` and ``describeTrainingJob``: the container's ``train`` program.

Like SageMaker: the channels' S3 prefixes are copied to ``input/data/<channel>``, hyperparameters are
written as strings, metrics are read from the log with the MetricDefinitions regexes (last value wins),
``model/`` is packed to ``<S3OutputPath>/<job>/output/model.tar.gz`` and ``output/failure`` becomes the
FailureReason.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from mlops_pipeline.container import training_environment
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import JobKind, now
from mlops_pipeline.local.processes import run_job
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import parse_s3_uri
from mlops_pipeline.local.tasks import TaskControl, TaskFailure

TRAINING_JOBS = JobKind(
    folder="training-jobs",
    name_field="TrainingJobName",
    status_field="TrainingJobStatus",
    end_field="TrainingEndTime",
    secondary_status_field="SecondaryStatus",
    not_found_error="SageMaker.ValidationException",
    not_found_message="Requested resource not found: training job {name}",
)
CLIENT_ERROR = "SageMaker.ValidationException"
FAILURE_REASON_MAX = 1024


@serves("sagemaker:createTrainingJob.sync", client_error=CLIENT_ERROR)
def create_training_job_sync(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return TRAINING_JOBS.sync_answer(run_training_job(services, params, control))


@serves("aws-sdk:sagemaker:describeTrainingJob", client_error=CLIENT_ERROR)
def describe_training_job(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return TRAINING_JOBS.describe(services, params["TrainingJobName"])


def run_training_job(services: LocalServices, request: dict, control: TaskControl, cpus: int | None = None) -> dict:
    """Run one job to the end and return its DescribeTrainingJob record (Completed, Failed or Stopped).

    ``cpus`` caps the job's OpenMP threads: on SageMaker each job has its own instance, here parallel
    jobs share the machine, and oversubscribed OpenMP threads slow every job down many times over.
    """
    name = request["TrainingJobName"]
    program = services.program_dir(request["AlgorithmSpecification"]["TrainingImage"])
    record = _initial_record(services, request)
    TRAINING_JOBS.claim(services, record)
    log_path = services.log_path(control, TRAINING_JOBS.folder, name)
    record["Local"] = {"LogPath": str(log_path), "Tuned": request.get("Tuned", {})}
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_jobs_dir(services)))
    try:
        channels = _stage_channels(services, request.get("InputDataConfig", []), root)
        _write_hyperparameters(root, request.get("HyperParameters", {}))
        env = training_environment(root, channels)
        env.update(
            SM_HPS=json.dumps(request.get("HyperParameters", {})),
            SM_CHANNELS=json.dumps(sorted(channels)),
            SM_CURRENT_HOST="algo-1",
            SM_HOSTS=json.dumps(["algo-1"]),
            TRAINING_JOB_NAME=name,
        )
        if cpus:
            env.update(OMP_NUM_THREADS=str(cpus), SM_NUM_CPUS=str(cpus))

        def remember_pid(pid: int) -> None:
            record["Local"]["Pid"] = pid
            TRAINING_JOBS.save(services, record)

        with TRAINING_JOBS.stopped_with_its_state(services, record):
            code = run_job([sys.executable, str(program / "train")], env, log_path, control, on_start=remember_pid)
        _collect(services, request, record, root, log_path, code)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return record


def _initial_record(services: LocalServices, request: dict) -> dict:
    name = request["TrainingJobName"]
    return {
        "TrainingJobName": name,
        "TrainingJobArn": services.arn("sagemaker", f"training-job/{name}"),
        "TuningJobArn": request.get("TuningJobArn"),
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "HyperParameters": request.get("HyperParameters", {}),
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "RoleArn": request.get("RoleArn"),
        "InputDataConfig": request.get("InputDataConfig", []),
        "OutputDataConfig": request["OutputDataConfig"],
        "ResourceConfig": request.get("ResourceConfig", {}),
        "StoppingCondition": request.get("StoppingCondition", {}),
        "CreationTime": now().isoformat(),
        "TrainingStartTime": now().isoformat(),
        "FinalMetricDataList": [],
    }


def _jobs_dir(services: LocalServices) -> Path:
    folder = services.workspace.root / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stage_channels(services: LocalServices, channels: list[dict], root: Path) -> dict[str, Path]:
    """Copy each channel's objects under ``input/data/<channel>``, keeping the key below the prefix."""
    staged: dict[str, Path] = {}
    for channel in channels:
        bucket, prefix = parse_s3_uri(channel["DataSource"]["S3DataSource"]["S3Uri"])
        target = root / "input" / "data" / channel["ChannelName"]
        target.mkdir(parents=True, exist_ok=True)
        objects = list(services.workspace.objects(bucket, prefix))
        if not objects:
            raise TaskFailure(
                "SageMaker.ValidationException",
                f"channel {channel['ChannelName']}: no objects under s3://{bucket}/{prefix}",
            )
        for key, path in objects:
            destination = target / key[len(prefix) :].lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        staged[channel["ChannelName"]] = target
    return staged


def _write_hyperparameters(root: Path, hyperparameters: dict) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))


def _collect(services: LocalServices, request: dict, record: dict, root: Path, log_path: Path, code: int) -> None:
    record["FinalMetricDataList"] = parse_metrics(
        log_path.read_text(errors="replace"), request["AlgorithmSpecification"].get("MetricDefinitions", [])
    )
    if code != 0:
        failure = root / "output" / "failure"
        reason = failure.read_text(errors="replace").strip() if failure.exists() else ""
        reason = reason or f"the train program exited with status {code}; see {log_path}"
        TRAINING_JOBS.finish(services, record, "Failed", reason[:FAILURE_REASON_MAX])
        return
    artifact = (
        f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/output/model.tar.gz"
    )
    pack_model(root / "model", services.workspace.path_of(artifact))
    record["ModelArtifacts"] = {"S3ModelArtifacts": artifact}
    TRAINING_JOBS.finish(services, record, "Completed")


def parse_metrics(log: str, definitions: list[dict]) -> list[dict]:
    """SageMaker's rule: each definition's regex over the log; the last match's group 1 is the value."""
    metrics = []
    for definition in definitions:
        values = [m.group(1) for m in re.finditer(definition["Regex"], log)]
        numbers = [float(v) for v in values if _is_number(v)]
        if numbers:
            metrics.append({"MetricName": definition["Name"], "Value": numbers[-1], "Timestamp": now().isoformat()})
    return metrics


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def pack_model(model_dir: Path, target: Path) -> None:
    """``model.tar.gz`` with the directory's files at the archive root, written atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with open(handle, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    Path(temporary).replace(target)
