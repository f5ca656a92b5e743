"""The record plumbing every SageMaker job type shares: claim a name, finish, describe, answer ``.sync``.

A job record is the Describe* shape of the job (plus the runtime's own notes under ``Local``), kept in
``<workspace>/services/<folder>/<name>.json`` so describe calls, name clashes and the CLI read the same facts.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from dataclasses import dataclass
from typing import Callable, Iterator

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.sessions import SESSION_ENV
from mlops_pipeline.local.tasks import TASK_FAILED, TaskFailure, TaskStopped

STOPPED_REASON = "the state timed out or the execution was stopped"
ORPHANED_REASON = "the local runtime session that ran it ended without stopping it"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def aws_shape(record: dict) -> dict:
    """A job record without the runtime's own notes (``Local``: log path, pid, trials)."""
    return {k: v for k, v in record.items() if k != "Local"}


@dataclass(frozen=True)
class RecordKind:
    """One kind of SageMaker resource: where its records live, its name field and the API errors (wire codes)
    SageMaker answers for an unknown or a used name."""

    folder: str  # training-jobs
    name_field: str  # TrainingJobName
    not_found_code: str
    not_found_message: str  # with {name}
    in_use_code: str = "ResourceInUse"

    def claim(self, services: LocalServices, record: dict) -> None:
        """Create the record (noting the session that runs it); a name used before is ``in_use_code``, as
        SageMaker answers."""
        record.setdefault("Local", {})["Session"] = os.environ.get(SESSION_ENV, "")
        services.records.create(self.folder, record[self.name_field], record, self.in_use_code)

    def save(self, services: LocalServices, record: dict) -> None:
        services.records.put(self.folder, record[self.name_field], record)

    def describe(self, services: LocalServices, name: str) -> dict:
        """The Describe* answer, or the error SageMaker gives for an unknown name."""
        record = services.records.get(self.folder, name)
        if record is None:
            raise AwsError(self.not_found_code, self.not_found_message.format(name=name))
        return aws_shape(record)


@dataclass(frozen=True)
class JobKind(RecordKind):
    """A SageMaker job type: a record that runs and ends Completed, Failed or Stopped."""

    status_field: str = ""  # TrainingJobStatus
    end_field: str = ""  # TrainingEndTime
    secondary_status_field: str = ""  # SecondaryStatus, for training jobs

    def finish(
        self,
        services: LocalServices,
        record: dict,
        status: str,
        reason: str | None = None,
        secondary_status: str | None = None,
    ) -> None:
        """End the job; a training job's SecondaryStatus is its status unless another is named
        (``MaxRuntimeExceeded`` for a job stopped at its time limit)."""
        self.save(services, self._ended(record, status, reason, secondary_status))

    def _ended(self, record: dict, status: str, reason: str | None, secondary_status: str | None = None) -> dict:
        record.update({self.status_field: status, self.end_field: now().isoformat()})
        if self.secondary_status_field:
            record[self.secondary_status_field] = secondary_status or status
        if reason:
            record["FailureReason"] = reason
        return record

    def stop_orphans(
        self, records: Records, alive: Callable[[str], bool], closing: Callable[[dict], None] = lambda record: None
    ) -> list[str]:
        """Close as Stopped the jobs still recorded InProgress whose session is gone; their names. ``closing``
        completes each record before it is written (a tuning job's counters)."""
        stopped = []
        for name in records.names(self.folder):
            record = records.get(self.folder, name) or {}
            if record.get(self.status_field) == "InProgress" and not alive(record.get("Local", {}).get("Session", "")):
                closing(record)
                records.put(self.folder, name, self._ended(record, "Stopped", ORPHANED_REASON))
                stopped.append(name)
        return stopped

    @contextlib.contextmanager
    def stopped_with_its_state(self, services: LocalServices, record: dict) -> Iterator[None]:
        """A state timeout or StopExecution ends the job as ``Stopped``, as SageMaker stops it."""
        try:
            yield
        except TaskStopped:
            self.finish(services, record, "Stopped", STOPPED_REASON)
            raise

    def sync_answer(self, record: dict) -> dict:
        """What a ``.sync`` task answers once its job ended: the Describe* shape when it completed,
        else ``States.TaskFailed`` with that shape as the cause, as Step Functions reports it."""
        if record[self.status_field] != "Completed":
            raise TaskFailure(TASK_FAILED, json.dumps(aws_shape(record)))
        return aws_shape(record)
