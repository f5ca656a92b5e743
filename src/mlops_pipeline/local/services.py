"""What the local integrations share: the workspace, the job records, where logs and containers live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl, TaskFailure


@dataclass
class LocalServices:
    workspace: Workspace
    containers_dir: Path
    logs_root: Path
    account_id: str = "123456789012"
    region: str = "us-east-1"
    sfn: Any = None  # the in-process Step Functions client, set once the engine runs
    notify: Callable[[object], None] = field(default=lambda event: None)
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
            known = (
                sorted(p.parent.name for p in self.containers_dir.glob("*/program"))
                if self.containers_dir.is_dir()
                else []
            )
            raise TaskFailure(
                "SageMaker.ValidationException",
                f"image {image}: no local container {program} with train and serve programs "
                f"(containers in {self.containers_dir}: {', '.join(known) or 'none'})",
            )
        return program
