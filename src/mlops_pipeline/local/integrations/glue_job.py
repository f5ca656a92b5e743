"""``glue:startJobRun.sync``: the job's script from the local source-repository store, run as Glue runs it.

``python script.py`` with the job's default arguments overlaid by the run's (``--KEY value``), plus the
arguments Glue adds itself (``--JOB_NAME``, ``--JOB_ID``, ``--JOB_RUN_ID``, ``--job-bookmark-option``);
``--scriptLocation`` in the run's arguments replaces the job's script, as Glue documents it;
``--extra-py-files`` and ``awsglue`` (``getResolvedOptions``) are on the script's path. A script reads and
writes ``s3://`` through a real S3 API on localhost (``AWS_ENDPOINT_URL_S3``, see ``s3_endpoint``); only the
project's own entry point (``layout.GLUE_ENTRY_SCRIPT``), which also accepts local paths, is given the
workspace files directly, which spares copying them. A run that exits non-zero is FAILED with the script's
``ERROR:`` line (or its last line); one that outlives its ``Timeout`` (minutes: the run's, else the job's) is
killed and ends TIMEOUT, as Glue ends it.

A run of the entry point that SUCCEEDED is recorded as reusable (``local.glue_reuse``); with ``--reuse``
(``services.reuse_glue_runs``) a run identical to a recorded one is served from its outputs without starting
the script: a new SUCCEEDED ``JobRun`` whose ``PredecessorRuns`` names the earlier run and whose ``StateDetail``
says so (both are fields of Glue's ``JobRun``: botocore ``glue/2017-03-31/service-2.json``).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.layout import GLUE_ENTRY_SCRIPT
from mlops_pipeline.local import glue_libs, glue_reuse
from mlops_pipeline.local.events import REUSED_DETAIL
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import now
from mlops_pipeline.local.processes import run_job
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TASK_FAILED, TaskControl, TaskFailure, TaskStopped

JOBS = "glue-jobs"
RUNS = "glue-job-runs"
CLIENT_ERROR = "InvalidInputException"
SCRIPT_LOCATION = "--scriptLocation"
EXTRA_PY_FILES = "--extra-py-files"
#: Seconds in a minute of Glue's ``Timeout``.
MINUTE = 60
#: Job arguments that configure Glue itself and are not the script's.
GLUE_OWN = (SCRIPT_LOCATION, EXTRA_PY_FILES, "--job-language")


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
        raise AwsError(
            "EntityNotFoundException",
            f"Glue job {params['JobName']} not found (local jobs: {', '.join(services.records.names(JOBS)) or 'none'})",
        )
    arguments = {**job.get("DefaultArguments", {}), **params.get("Arguments", {})}
    run_id = f"jr_{uuid.uuid4().hex}"
    run = {
        "Id": run_id,
        "Attempt": 0,
        "JobName": job["Name"],
        "Arguments": arguments,
        "StartedOn": now().isoformat(),
        "JobRunState": "RUNNING",
    }
    log_path = services.log_path(control, "glue", f"{job['Name']}-{run_id}")
    script_uri = arguments.get(SCRIPT_LOCATION) or job["Command"]["ScriptLocation"]
    script = services.workspace.path_of(script_uri)
    if not script.is_file():
        raise AwsError("EntityNotFoundException", f"the job's script {script_uri} does not exist")
    own = [
        "--JOB_NAME",
        job["Name"],
        "--JOB_ID",
        f"j_{uuid.uuid5(uuid.NAMESPACE_URL, job['Name']).hex}",
        "--JOB_RUN_ID",
        run_id,
        "--job-bookmark-option",
        "job-bookmark-disable",
    ]
    env = _environment(services, arguments)
    timeout = params.get("Timeout") or job.get("Timeout")
    if timeout:
        run["Timeout"] = int(timeout)
    limited = control.limited_to(int(timeout) * MINUTE) if timeout else control
    entry = script.name == GLUE_ENTRY_SCRIPT
    identity = glue_reuse.identify(services.workspace, job, params, arguments, script, NAMES_ONLY) if entry else None
    if identity is not None and services.reuse_glue_runs:
        earlier = glue_reuse.serve(services.records, services.workspace, identity)
        if earlier is not None:
            return _reused(services, run, earlier, identity, log_path, control)
    try:
        if entry:
            argv = [sys.executable, str(script), *own, *_local_arguments(services, arguments)]
            code = run_job(argv, env, log_path, limited, owner=services.processes)
        else:
            code = _run_against_s3(services, script, own, arguments, env, log_path, limited)
    except TaskStopped:
        if not control.running():
            raise  # the state ended, not the run's Timeout
        code = None
    state = {0: "SUCCEEDED", None: "TIMEOUT"}.get(code, "FAILED")
    run.update(CompletedOn=now().isoformat(), JobRunState=state, LogPath=str(log_path))
    if code is None:
        run["ErrorMessage"] = f"the job run exceeded its Timeout of {timeout} minutes and was stopped"
    elif code != 0:
        message = _error_line(log_path) or f"the job script exited with status {code}"
        # the entry point was given workspace files; the message names them as the job would on AWS
        run["ErrorMessage"] = message.replace(f"{services.workspace.s3_root}/", "s3://")
    services.records.put(RUNS, run["Id"], run)
    if code != 0:
        raise TaskFailure(TASK_FAILED, json.dumps(run))
    if identity is not None:
        _remember(services, identity, run, control, log_path)
    return run


def _reused(
    services: LocalServices,
    run: dict,
    earlier: dict,
    identity: glue_reuse.RunIdentity,
    log_path: Path,
    control: TaskControl,
) -> dict:
    """The run served from an earlier run's outputs (already copied): SUCCEEDED, the earlier run named."""
    detail = REUSED_DETAIL.format(run=earlier["RunId"], execution=earlier.get("Execution") or "?")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        log.write(f"[local runtime] {detail}; the script did not run (--reuse)\n")
        for argument, files in earlier["Outputs"].items():
            source, target = earlier["Prefixes"][argument], identity.prefixes[argument]
            for name in files:
                log.write(f"[local runtime] copied {source}{name} to {target}{name}\n")
    run.update(
        CompletedOn=now().isoformat(),
        JobRunState="SUCCEEDED",
        PredecessorRuns=[{"JobName": earlier["JobName"], "RunId": earlier["RunId"]}],
        StateDetail=detail,
        LogPath=str(log_path),
    )
    services.records.put(RUNS, run["Id"], run)
    _remember(services, identity, run, control, log_path)
    return run


def _remember(
    services: LocalServices, identity: glue_reuse.RunIdentity, run: dict, control: TaskControl, log_path: Path
) -> None:
    """A run that succeeded may serve later identical runs; one that cannot be recorded just runs again then."""
    try:
        glue_reuse.remember(services.records, services.workspace, identity, run, control.execution_name)
    except OSError as error:
        with open(log_path, "a") as log:
            log.write(f"[local runtime] not recorded for --reuse: {error}\n")


def _run_against_s3(
    services: LocalServices,
    script: Path,
    own: list[str],
    arguments: dict[str, str],
    env: dict[str, str],
    log_path: Path,
    control: TaskControl,
) -> int:
    """The script as on AWS: ``s3://`` arguments unchanged, S3 served on localhost from the workspace."""
    endpoint = services.s3_endpoint()
    endpoint.stage([value for key, value in arguments.items() if key not in GLUE_OWN and value.startswith("s3://")])
    argv = [sys.executable, str(script), *own, *_script_arguments(arguments)]
    code = run_job(argv, {**env, **endpoint.environment()}, log_path, control, owner=services.processes)
    with open(log_path, "a") as log:
        for uri in endpoint.collect():
            log.write(f"[local runtime] the job wrote {uri}\n")
    return code


def _script_arguments(arguments: dict[str, str]) -> list[str]:
    return [
        part
        for key, value in arguments.items()
        if key.startswith("--") and key not in GLUE_OWN
        for part in (key, value)
    ]


#: Arguments whose ``s3://`` value only names something (in messages); the entry point is not given a path.
NAMES_ONLY = ("--LANDED_URI",)


def _local_arguments(services: LocalServices, arguments: dict[str, str]) -> list[str]:
    argv: list[str] = []
    for key, value in arguments.items():
        if key in GLUE_OWN or not key.startswith("--"):
            continue
        local = value.startswith("s3://") and key not in NAMES_ONLY
        argv += [key, _local_path(services, value) if local else value]
    return argv


def _local_path(services: LocalServices, uri: str) -> str:
    """An object's file, or a prefix's folder (keeping the trailing ``/`` the script expects)."""
    return f"{services.workspace.folder_of(uri)}/" if uri.endswith("/") else str(services.workspace.path_of(uri))


def _environment(services: LocalServices, arguments: dict[str, str]) -> dict[str, str]:
    """``--extra-py-files`` and ``awsglue`` on the path, as Glue puts them on ``sys.path``."""
    extra = [str(services.workspace.path_of(uri).parent) for uri in arguments.get(EXTRA_PY_FILES, "").split(",") if uri]
    env = dict(os.environ)
    paths = [*extra, str(Path(glue_libs.__file__).parent), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _error_line(log_path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or [line for line in lines if not line.startswith("[local runtime]")][-1:] or [""])[-1]
