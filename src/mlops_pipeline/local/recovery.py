"""Clean up after local sessions that ended without doing it (``kill -9``, a crash, a lost terminal).

Every command that runs or shows executions calls :func:`recover` first: the job processes a dead session
left are killed (``sessions``), its executions recorded RUNNING become ABORTED with the state they were
in (so ``local redrive`` resumes them; each gets its failure notice), its jobs recorded InProgress become
Stopped, a session's lock file left half-made (killed while it started) is removed, and a landed file whose
execution never got a record is passed on again by the watcher. Needs no engine.
"""

from __future__ import annotations

import functools
import os
import shutil

from mlops_pipeline.local.executions import ExecutionRecords, executions_root
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.sessions import (
    SESSION_ENV,
    dead_sessions,
    forget,
    forget_abandoned_openings,
    is_alive,
    kill_process_groups,
    live_sessions,
    marked_process_groups,
)
from mlops_pipeline.local.stores import JOBS_FOLDER, TEMP_PREFIX, Workspace, exclusively
from mlops_pipeline.local.watcher import FeatureStoreWatcher
from mlops_pipeline.target import Target

#: Held while a command recovers, so two commands starting at once do not both close the same record.
RECOVERY_LOCK = ".recovery.lock"


def recover(workspace: Workspace, target: Target, notifier=None) -> list[str]:
    """What was cleaned up, one line each (nothing when every session ended properly); each execution closed
    ABORTED gets its failure notice from ``notifier`` (``local.notifications.LocalNotifier``) when given. One
    command at a time: another starting meanwhile waits, then finds nothing left to close."""
    if not workspace.root.is_dir():  # no session ever ran here
        return []
    with exclusively(workspace.root / RECOVERY_LOCK):
        return _recover(workspace, target, notifier)


def _recover(workspace: Workspace, target: Target, notifier) -> list[str]:
    root, done = workspace.root, []
    alive = functools.partial(is_alive, root)  # a session, by its id
    dead = dead_sessions(root)
    for session in dead:
        groups = marked_process_groups(session)
        kill_process_groups(groups)
        forget(root, session)
        if groups:
            done.append(f"killed {len(groups)} job process group(s) left by session {session}")
    records = ExecutionRecords(executions_root(workspace, target))
    for record in records.running():
        if not alive(record.get("session", "")):
            cause = f"the local session {record.get('session') or '?'} that ran it ended without stopping it"
            records.abort(record["name"], cause)
            done.append(f"execution {record['name']} recorded ABORTED ({cause}); `local redrive` resumes it")
            if notifier is not None:
                done += notifier.notify_recorded(records.read(record["name"]), records.history(record["name"]))
    if dead or done:
        done += _stop_orphaned_jobs(workspace, alive)
    if dead and not live_sessions(root, besides=os.environ.get(SESSION_ENV, "")):
        done += sweep_leftovers(workspace)
    abandoned = forget_abandoned_openings(root)
    if abandoned:
        done.append(f"removed {abandoned} lock file(s) of session(s) killed while they started")
    watcher = FeatureStoreWatcher(workspace, target.feature_store_bucket, None, None)
    for key in watcher.forget_unrecorded(lambda name: (records.root / name / "execution.json").exists(), alive):
        done.append(f"s3://{target.feature_store_bucket}/{key} will be passed on again: its execution left no record")
    return done


def sweep_leftovers(workspace: Workspace) -> list[str]:
    """Half-written temp files and job folders (``/opt/ml`` views) that a killed session left; only when no
    other session runs in the workspace, since a live one may be writing them."""
    root = workspace.root
    temps = [path for path in root.rglob(f"{TEMP_PREFIX}*") if path.is_file()]
    for path in temps:
        path.unlink(missing_ok=True)
    jobs = [path for path in (root / JOBS_FOLDER).glob("*")] if (root / JOBS_FOLDER).is_dir() else []
    for path in jobs:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    swept = []
    if temps:
        swept.append(f"removed {len(temps)} half-written file(s)")
    if jobs:
        swept.append(f"removed {len(jobs)} job folder(s) under {root / JOBS_FOLDER}")
    return swept


def _stop_orphaned_jobs(workspace: Workspace, alive) -> list[str]:
    """Job records a dead session left InProgress (the job kinds load only when there may be some)."""
    from mlops_pipeline.local.integrations import (
        sagemaker_endpoint,
        sagemaker_training,
        sagemaker_transform,
        sagemaker_tuning,
    )

    records, done = Records.of_workspace(workspace.root), []
    stops = (  # training jobs before their tuning job, whose counters are tallied from them
        (sagemaker_training.TRAINING_JOBS, sagemaker_training.TRAINING_JOBS.stop_orphans),
        (sagemaker_transform.TRANSFORM_JOBS, sagemaker_transform.TRANSFORM_JOBS.stop_orphans),
        (sagemaker_tuning.TUNING_JOBS, sagemaker_tuning.stop_orphans),
    )
    for kind, stop in stops:
        for name in stop(records, alive):
            done.append(f"{kind.folder[:-1].replace('-', ' ')} {name} recorded Stopped: its session ended")
    for name in sagemaker_endpoint.stop_orphans(records, alive):
        done.append(f"endpoint {name}: its deployment ended with its session (see its FailureReason)")
    return done
