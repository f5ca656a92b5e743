"""``glue:startJobRun.sync``: the job's script from the local source-repository store, as a subprocess.

Arguments are the job's default arguments overlaid with the run's, as Glue merges them. ``s3://``
values become workspace paths, and ``--extra-py-files`` go on the script's ``PYTHONPATH`` (Glue puts
them on ``sys.path``). A run that exits non-zero is FAILED with the script's ``ERROR:`` line.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import now
from mlops_pipeline.local.processes import run_job
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TASK_FAILED, TaskControl, TaskFailure

JOBS = "glue-jobs"
RUNS = "glue-job-runs"
CLIENT_ERROR = "Glue.InvalidInputException"


def define_job(services: LocalServices, name: str, script_location: str, default_arguments: dict[str, str]) -> None:
    """The local counterpart of the Terraform ``aws_glue_job``."""
    services.records.put(
        JOBS,
        name,
        {
            "Name": name,
            "Command": {"Name": "pythonshell", "ScriptLocation": script_location, "PythonVersion": "3.9"},
            "DefaultArguments": default_arguments,
        },
    )


@serves("glue:startJobRun.sync", client_error=CLIENT_ERROR)
def start_job_run_sync(services: LocalServices, params: dict, control: TaskControl) -> dict:
    job = services.records.get(JOBS, params["JobName"])
    if job is None:
        raise TaskFailure(
            "Glue.EntityNotFoundException",
            f"Glue job {params['JobName']} not found (local jobs: {', '.join(services.records.names(JOBS)) or 'none'})",
        )
    arguments = {**job.get("DefaultArguments", {}), **params.get("Arguments", {})}
    run = {
        "Id": f"jr_{uuid.uuid4().hex}",
        "Attempt": 0,
        "JobName": job["Name"],
        "Arguments": arguments,
        "StartedOn": now().isoformat(),
        "JobRunState": "RUNNING",
    }
    log_path = services.log_path(control, "glue", f"{job['Name']}-{run['Id']}")
    script = services.workspace.path_of(job["Command"]["ScriptLocation"])
    argv = [sys.executable, str(script), *_local_arguments(services, arguments)]
    code = run_job(argv, _environment(services, arguments), log_path, control)
    run.update(CompletedOn=now().isoformat(), JobRunState="SUCCEEDED" if code == 0 else "FAILED", LogPath=str(log_path))
    if code != 0:
        run["ErrorMessage"] = _error_line(log_path) or f"the job script exited with status {code}"
    services.records.put(RUNS, run["Id"], run)
    if code != 0:
        raise TaskFailure(TASK_FAILED, json.dumps(run))
    return run


def _local_arguments(services: LocalServices, arguments: dict[str, str]) -> list[str]:
    argv: list[str] = []
    for key, value in arguments.items():
        if key == "--extra-py-files" or not key.startswith("--"):
            continue
        argv += [key, _local_path(services, value) if value.startswith("s3://") else value]
    return argv


def _local_path(services: LocalServices, uri: str) -> str:
    """An object's file, or a prefix's folder (keeping the trailing ``/`` the script expects)."""
    return f"{services.workspace.folder_of(uri)}/" if uri.endswith("/") else str(services.workspace.path_of(uri))


def _environment(services: LocalServices, arguments: dict[str, str]) -> dict[str, str]:
    extra = [
        str(services.workspace.path_of(uri).parent) for uri in arguments.get("--extra-py-files", "").split(",") if uri
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(extra + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _error_line(log_path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines[-1:] or [""])[-1]
