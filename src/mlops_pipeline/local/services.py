"""What the local integrations share: the workspace, the job records, where logs and containers live."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TASK_FAILED, TaskControl, TaskFailure


@dataclass
class LocalServices:
    workspace: Workspace
    containers_dir: Path
    logs_root: Path
    account_id: str = "123456789012"
    region: str = "us-east-1"
    sfn: Any = None  # the in-process Step Functions client, set once the engine runs
    notify: Callable[[dict], None] = field(default=lambda event: None)
    records: Records = field(init=False)

    def __post_init__(self) -> None:
        self.records = Records(self.workspace.root / "services")

    def log_path(self, control: TaskControl, kind: str, name: str) -> Path:
        """Job logs live with the execution that ran the job: ``<execution>/logs/<kind>/<job>.log``."""
        return self.logs_root / (control.execution_name or "no-execution") / "logs" / kind / f"{name}.log"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def program_dir(self, image: str) -> Path:
        """``<registry>/byo-xgboost:1.0`` -> ``<containers>/byo-xgboost/program``, or a clear error."""
        repository = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
        program = self.containers_dir / repository / "program"
        if not (program / "train").is_file() or not (program / "serve").is_file():
            known = sorted(p.parent.name for p in self.containers_dir.glob("*/program")) if self.containers_dir.is_dir() else []
            raise TaskFailure("SageMaker.ValidationException",
                              f"image {image}: no local container {program} with train and serve programs "
                              f"(containers in {self.containers_dir}: {', '.join(known) or 'none'})")
        return program


def aws_shape(record: dict) -> dict:
    """A job record without the runtime's own notes (``Local``: log path, pid, trials)."""
    return {k: v for k, v in record.items() if k != "Local"}


def sync_answer(record: dict, status_field: str) -> dict:
    """What a ``.sync`` task answers once its job ended: the Describe* shape when it completed,
    else ``States.TaskFailed`` with that shape as the cause, as Step Functions reports it."""
    if record[status_field] != "Completed":
        raise TaskFailure(TASK_FAILED, json.dumps(aws_shape(record)))
    return aws_shape(record)


def describe(services: "LocalServices", kind: str, name: str, error: str, message: str) -> dict:
    """A Describe* call: the record, or the error SageMaker gives for an unknown name."""
    record = services.records.get(kind, name)
    if record is None:
        raise TaskFailure(error, message)
    return aws_shape(record)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
