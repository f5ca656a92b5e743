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
import tarfile
import tempfile
from pathlib import Path

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.ahead import part_of, written_out
from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.sandbox import JobView
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import JobKind, now
from mlops_pipeline.local.processes import run_job
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import JOBS_FOLDER, parse_s3_uri, temp_file_beside
from mlops_pipeline.local.tasks import TaskControl, TaskStopped

TRAINING_JOBS = JobKind(
    folder="training-jobs",
    name_field="TrainingJobName",
    status_field="TrainingJobStatus",
    end_field="TrainingEndTime",
    secondary_status_field="SecondaryStatus",
    not_found_code="ValidationException",
    not_found_message="Requested resource not found: training job {name}",
)
CLIENT_ERROR = "ValidationException"
FAILURE_REASON_MAX = 1024
HOST = "algo-1"  # SageMaker names the hosts of a job algo-1, algo-2, ...
STOP_GRACE_SECONDS = 120  # "SageMaker sends the algorithm the SIGTERM signal, which delays job termination for 120 s"
DEFAULT_MAX_RUNTIME_SECONDS = 86400  # StoppingCondition.MaxRuntimeInSeconds: "By default, ... 1 day"
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"  # the SecondaryStatus of a job stopped at its time limit
#: The request's parts a job's command and shared variables come from: what picks its fork server.
SERVER_KEYED = ("AlgorithmSpecification", "Environment", "EnableNetworkIsolation")


def warm_up(services: LocalServices, request: dict, control: TaskControl, cpus: int | None = None) -> None:
    """Start the fork server the request's jobs will be forked from (``fork_servers.py``), so its imports
    overlap the states before them instead of delaying the first job. From the Parameters as far as they are
    known ahead (``ahead.py``): skipped when the image or ``Environment`` is not known yet, and when jobs
    cannot be served warm; the job itself then starts as it would have."""
    containers = services.containers
    keyed = part_of(request, SERVER_KEYED)
    algorithm = keyed.get("AlgorithmSpecification") if written_out(keyed) else None
    image = algorithm.get("TrainingImage") if isinstance(algorithm, dict) else None
    environment = keyed.get("Environment", {})
    variables = isinstance(environment, dict) and all(isinstance(v, str) for v in environment.values())
    if not isinstance(image, str) or not variables:  # the Task reports a bad one
        return
    job = {**keyed, "TrainingJobName": "warm-up"}  # the name, channels and paths are per job: not in the key
    view, command, env = _train_command(containers, job, Path(tempfile.gettempdir()), [], "warm-up", cpus)
    containers.launcher(view, command, env)


@serves("sagemaker:createTrainingJob.sync", client_error=CLIENT_ERROR, warm_up=warm_up)
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
    services.containers.prepare(request["AlgorithmSpecification"]["TrainingImage"])  # refused before it exists
    record = _initial_record(services, request)
    TRAINING_JOBS.claim(services, record)
    log_path = services.log_path(control, TRAINING_JOBS.folder, name)
    record["Local"] = {"LogPath": str(log_path), "Tuned": request.get("Tuned", {})}
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_jobs_dir(services)))
    try:
        opt_ml = root / "opt_ml"
        _start_on_its_instance(services, request, record, control, cpus)
        _stage_channels(services, request.get("InputDataConfig", []), opt_ml)

        def remember_pid(pid: int) -> None:
            record["Local"]["Pid"] = pid
            TRAINING_JOBS.save(services, record)

        limit = max_runtime_seconds(request)
        with TRAINING_JOBS.stopped_with_its_state(services, record):
            try:
                code = train(
                    services.containers,
                    request,
                    opt_ml,
                    record["TrainingJobArn"],
                    log_path,
                    control.limited_to(limit),
                    cpus,
                    on_start=remember_pid,
                )
            except TaskStopped:
                if not control.running():  # the state ended first: the job is stopped with it
                    raise
                _ran_out_of_time(services, request, record, opt_ml, log_path, limit)
                return record
        _collect(services, request, record, opt_ml, log_path, code)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return record


def _start_on_its_instance(
    services: LocalServices, request: dict, record: dict, control: TaskControl, cpus: int | None
) -> None:
    """``TrainingStartTime``: as SageMaker sets it, when the job starts on its instance, once that is provisioned and
    before the data is downloaded ("You are billed for the time interval between this time and the value of
    TrainingEndTime": DescribeTrainingJob). Here the instance is the container environment's fork server, serving."""
    warm_up(services, request, control, cpus)  # waits for the server the job will be forked from, if any
    record.update(TrainingStartTime=now().isoformat(), SecondaryStatus="Training")
    TRAINING_JOBS.save(services, record)


def train(
    containers: Containers,
    request: dict,
    opt_ml: Path,
    arn: str,
    log_path: Path,
    control: TaskControl,
    cpus: int | None = None,
    on_start=None,
) -> int:
    """The container's ``train`` with ``/opt/ml`` as SageMaker prepares it (channels already staged under
    ``input/data``); its exit status."""
    channels = (
        sorted(p.name for p in (opt_ml / "input" / "data").iterdir()) if (opt_ml / "input" / "data").is_dir() else []
    )
    _write_config(opt_ml, request, channels)
    view, command, env = _train_command(containers, request, opt_ml, channels, arn, cpus)
    return run_job(
        command,
        env,
        log_path,
        control,
        on_start=on_start,
        owner=containers.processes,
        grace=STOP_GRACE_SECONDS,
        launcher=containers.launcher(view, command, env),
    )


def _train_command(
    containers: Containers, request: dict, opt_ml: Path, channels: list[str], arn: str, cpus: int | None
) -> tuple[JobView, list[str], dict[str, str]]:
    """The job's view, its ``train`` command line and its variables."""
    isolated = bool(request.get("EnableNetworkIsolation"))  # as SageMaker: no network in or out
    view = containers.view(request["AlgorithmSpecification"]["TrainingImage"], opt_ml, isolated=isolated)
    mode = containers.isolation.mode
    view.env = training_variables(view.opt_ml_path(mode), request, channels, arn, cpus)
    return view, view.command("train", mode), view.environment_variables(mode)


def training_variables(opt_ml: str, request: dict, channels: list[str], arn: str, cpus: int | None) -> dict[str, str]:
    """What SageMaker sets (``TRAINING_JOB_NAME``, ``TRAINING_JOB_ARN``, the request's ``Environment``) and what
    sagemaker-training-toolkit sets in images that use it (``SM_*``), for ``/opt/ml`` at ``opt_ml``."""
    hyperparameters = request.get("HyperParameters", {})
    env = {
        "TRAINING_JOB_NAME": request["TrainingJobName"],
        "TRAINING_JOB_ARN": arn,
        "SM_MODEL_DIR": f"{opt_ml}/model",
        "SM_INPUT_DIR": f"{opt_ml}/input",
        "SM_INPUT_CONFIG_DIR": f"{opt_ml}/input/config",
        "SM_OUTPUT_DIR": f"{opt_ml}/output",
        "SM_OUTPUT_DATA_DIR": f"{opt_ml}/output/data",
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CURRENT_HOST": HOST,
        "SM_HOSTS": json.dumps([HOST]),
        **{f"SM_CHANNEL_{name.upper()}": f"{opt_ml}/input/data/{name}" for name in channels},
        **request.get("Environment", {}),
    }
    if cpus:
        env.update(OMP_NUM_THREADS=str(cpus), SM_NUM_CPUS=str(cpus))
    return env


def _write_config(opt_ml: Path, request: dict, channels: list[str]) -> None:
    """``input/config/*.json`` as SageMaker writes them, and the empty folders ``train`` may write into."""
    config = opt_ml / "input" / "config"
    for folder in (config, opt_ml / "model", opt_ml / "output" / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    hyperparameters = {k: str(v) for k, v in request.get("HyperParameters", {}).items()}  # always strings
    inputs = {c["ChannelName"]: _channel_config(c, request) for c in request.get("InputDataConfig", [])}
    resources = {
        "current_host": HOST,
        "hosts": [HOST],
        "network_interface_name": "eth0",
        "current_instance_type": request.get("ResourceConfig", {}).get("InstanceType", "local"),
    }
    for name, content in (
        ("hyperparameters", hyperparameters),
        ("inputdataconfig", inputs),
        ("resourceconfig", resources),
    ):
        (config / f"{name}.json").write_text(json.dumps(content))


def _channel_config(channel: dict, request: dict) -> dict:
    source = channel["DataSource"]["S3DataSource"]
    described = {
        "TrainingInputMode": channel.get("InputMode")
        or request["AlgorithmSpecification"].get("TrainingInputMode", "File"),
        "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
    }
    return {"ContentType": channel["ContentType"], **described} if channel.get("ContentType") else described


def _initial_record(services: LocalServices, request: dict) -> dict:
    name = request["TrainingJobName"]
    return {
        "TrainingJobName": name,
        "TrainingJobArn": services.arn("sagemaker", f"training-job/{name}"),
        "TuningJobArn": request.get("TuningJobArn"),
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",  # Training from TrainingStartTime on
        "HyperParameters": request.get("HyperParameters", {}),
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "RoleArn": request.get("RoleArn"),
        "InputDataConfig": request.get("InputDataConfig", []),
        "OutputDataConfig": request["OutputDataConfig"],
        "ResourceConfig": request.get("ResourceConfig", {}),
        "StoppingCondition": request.get("StoppingCondition", {}),
        "CreationTime": now().isoformat(),
        "FinalMetricDataList": [],
    }


def _jobs_dir(services: LocalServices) -> Path:
    folder = services.workspace.root / JOBS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stage_channels(services: LocalServices, channels: list[dict], opt_ml: Path) -> None:
    """Copy each channel's objects under ``input/data/<channel>``, keeping the key below the prefix."""
    for channel in channels:
        bucket, prefix = parse_s3_uri(channel["DataSource"]["S3DataSource"]["S3Uri"])
        target = opt_ml / "input" / "data" / channel["ChannelName"]
        target.mkdir(parents=True, exist_ok=True)
        objects = list(services.workspace.objects(bucket, prefix))
        if not objects:
            raise AwsError(
                "ValidationException",
                f"channel {channel['ChannelName']}: no objects under s3://{bucket}/{prefix}",
            )
        for key, path in objects:
            destination = target / key[len(prefix) :].lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def _collect(services: LocalServices, request: dict, record: dict, opt_ml: Path, log_path: Path, code: int) -> None:
    """Metrics from the log; on success ``model/`` (and ``output/data/``) packed where SageMaker puts them,
    on failure ``output/failure`` as the FailureReason, as SageMaker reports an algorithm error."""
    record["FinalMetricDataList"] = parse_metrics(
        log_path.read_text(errors="replace"), request["AlgorithmSpecification"].get("MetricDefinitions", [])
    )
    if code != 0:
        failure = opt_ml / "output" / "failure"
        reason = failure.read_text(errors="replace").strip() if failure.exists() else f"see {log_path}"
        TRAINING_JOBS.finish(
            services, record, "Failed", f"AlgorithmError: {reason}, exit code: {code}"[:FAILURE_REASON_MAX]
        )
        return
    output = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/output"
    artifact = f"{output}/model.tar.gz"
    pack_model(opt_ml / "model", services.workspace.path_of(artifact))
    if any((opt_ml / "output" / "data").iterdir()):
        pack_model(opt_ml / "output" / "data", services.workspace.path_of(f"{output}/output.tar.gz"))
    record["ModelArtifacts"] = {"S3ModelArtifacts": artifact}
    TRAINING_JOBS.finish(services, record, "Completed")


def max_runtime_seconds(job: dict) -> float:
    """A job's time limit: ``StoppingCondition.MaxRuntimeInSeconds``, one day when absent (SageMaker's default)."""
    return float((job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME_SECONDS)


def _ran_out_of_time(
    services: LocalServices, request: dict, record: dict, opt_ml: Path, log_path: Path, limit: float
) -> None:
    """As SageMaker ends a job at its time limit: SIGTERM (the 120 s grace to save the model), then Stopped with
    SecondaryStatus MaxRuntimeExceeded and no FailureReason; the metrics logged and the model saved are kept."""
    with open(log_path, "a") as log:
        log.write(
            f"[local runtime] the job ran longer than StoppingCondition.MaxRuntimeInSeconds ({limit:g} s) "
            "and was stopped\n"
        )
    record["FinalMetricDataList"] = parse_metrics(
        log_path.read_text(errors="replace"), request["AlgorithmSpecification"].get("MetricDefinitions", [])
    )
    if any((opt_ml / "model").iterdir()):
        artifact = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/output"
        pack_model(opt_ml / "model", services.workspace.path_of(f"{artifact}/model.tar.gz"))
        record["ModelArtifacts"] = {"S3ModelArtifacts": f"{artifact}/model.tar.gz"}
    TRAINING_JOBS.finish(services, record, "Stopped", secondary_status=MAX_RUNTIME_EXCEEDED)


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
    handle, temporary = temp_file_beside(target)
    try:
        with open(handle, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as archive:
            for path in sorted(model_dir.rglob("*")):
                archive.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
