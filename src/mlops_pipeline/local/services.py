"""What the local integrations share: the workspace, the job records, the containers, where logs live."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlops_pipeline.local.containers import Containers
from mlops_pipeline.local.containers.sandbox import IsolationChoice, choose_isolation
from mlops_pipeline.local.endpoints import Endpoints
from mlops_pipeline.local.events import ContainerEvent
from mlops_pipeline.local.processes import ProcessGroups
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.s3_endpoint import S3Endpoint
from mlops_pipeline.local.stores import JOBS_FOLDER, LOGS, SERVER_LOGS, Workspace
from mlops_pipeline.local.tasks import TaskControl


@dataclass
class LocalServices:
    workspace: Workspace
    containers_dir: Path
    logs_root: Path
    account_id: str = "123456789012"
    region: str = "us-east-1"
    sfn: Any = None  # the in-process Step Functions client, set once the engine runs
    notify: Callable[[object], None] = field(default=lambda event: None)
    isolation: IsolationChoice = field(default_factory=choose_isolation)
    buckets: tuple[str, ...] = ()  # the stores a job may write (the S3 endpoint creates them)
    read_only_buckets: frozenset[str] = frozenset()  # never written back (the feature store)
    reuse_glue_runs: bool = False  # --reuse: serve a Glue run identical to an earlier one from its outputs
    records: Records = field(init=False)
    processes: ProcessGroups = field(init=False)  # every job and server of the session, killed at close()
    containers: Containers = field(init=False)
    endpoints: Endpoints = field(init=False)  # real-time endpoints this session serves (local/endpoints.py)
    _endpoint: S3Endpoint | None = field(default=None, init=False, repr=False)
    _endpoint_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    #: Held across a conditional write's check and write, as S3 makes them atomic.
    conditional_writes: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.records = Records.of_workspace(self.workspace.root)
        self.processes = ProcessGroups()
        self.containers = Containers(
            self.containers_dir,
            self.isolation,
            progress=lambda message: self.notify(ContainerEvent(message)),
            processes=self.processes,
            jobs=self.workspace.root / JOBS_FOLDER,
        )
        self.endpoints = Endpoints()

    def log_path(self, control: TaskControl, kind: str, name: str) -> Path:
        """Job logs live with the execution that ran the job: ``<execution>/logs/<kind>/<job>.log``."""
        return self.logs_root / (control.execution_name or "no-execution") / LOGS / kind / f"{name}.log"

    def server_log_path(self, control: TaskControl) -> Path:
        """A server started ahead of the Task ``control`` names logs with its execution, apart from the job logs
        (``SERVER_LOGS``): the log a failure points to is a job's, never a server's still starting."""
        return self.log_path(control, SERVER_LOGS, control.state_name)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def s3_endpoint(self) -> S3Endpoint:
        """The session's S3 API on localhost, started on first use."""
        with self._endpoint_lock:
            if self._endpoint is None:
                buckets = sorted({*self.buckets, *self.workspace.buckets()})
                self._endpoint = S3Endpoint(self.workspace, buckets, set(self.read_only_buckets), self.region)
            return self._endpoint.start()

    def close(self) -> None:
        """Stop what the session started: real-time endpoints, jobs and servers still running (their whole
        process groups) and the S3 endpoint."""
        self.endpoints.close()
        self.containers.close()
        with self._endpoint_lock:
            if self._endpoint is not None:
                self._endpoint.stop()
                self._endpoint = None
