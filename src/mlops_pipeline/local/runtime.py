"""One local session: provision the stores, create the state machines, land files, follow executions.

The session does locally what Terraform and deploy do on AWS (the Glue job and crawler, the scripts
in the source repository, the two state machines from the same rendered JSON) and what S3 and the
landing Lambda do (a landed file becomes an event, the handler starts the execution).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlops_pipeline.builders import build_definitions, definition_json
from mlops_pipeline.builders.glue import GLUE_SCRIPTS_PREFIX
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.handlers.s3_landing import Settings
from mlops_pipeline.local import glue_crawler, glue_job
from mlops_pipeline.local.engine import Engine
from mlops_pipeline.local.executions import ExecutionRecords, ExecutionResult, executions_root, summarize
from mlops_pipeline.local.integrations import INTEGRATIONS, dispatcher, supports
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.watcher import FeatureStoreWatcher
from mlops_pipeline.naming import state_machine_name
from mlops_pipeline.target import STORES, Target, local_target

GLUE_ENTRY_SCRIPT = "run_transform.py"
POLL_SECONDS = 0.1


@dataclass
class LocalRuntime:
    config: PipelineConfig
    workspace: Workspace
    project_dir: Path = Path(".")
    on_event: Callable[[dict], None] = field(default=lambda event: None)
    lambda_handlers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.target: Target = local_target(self.config.name)
        self.services = LocalServices(self.workspace, containers_dir=self.project_dir / "containers",
                                      logs_root=self.executions_root, account_id=self.target.account_id,
                                      region=self.target.region, notify=self.on_event)
        self.records = ExecutionRecords(self.executions_root)
        self.engine = Engine(dispatcher(self.services), supports, sorted(INTEGRATIONS), self.lambda_handlers,
                             region=self.target.region)
        self.definitions = {kind: definition_json(d) for kind, d in build_definitions(self.config, self.target).items()}
        self.arns: dict[str, str] = {}

    @property
    def executions_root(self) -> Path:
        return executions_root(self.workspace, self.target)

    def __enter__(self) -> "LocalRuntime":
        self.provision()
        self.engine.__enter__()
        self.services.sfn = self.engine.client
        try:
            for workflow, text in self.definitions.items():
                name = state_machine_name(self.config.name, "train" if workflow == "training" else "score")
                self.arns[workflow] = self.engine.create_state_machine(name, text, self.target.step_functions_role_arn)
        except BaseException:
            self.engine.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop_and_record_running()
        finally:
            self.engine.__exit__(*exc)

    def _stop_and_record_running(self) -> None:
        """Executions still running when the session ends are stopped (their jobs killed) and recorded
        as ABORTED, so `local executions` shows them and `local redrive` can resume them."""
        for workflow, machine in self.arns.items():
            running = self.engine.client.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
            for execution in running:
                self.engine.stop(execution["executionArn"], cause="the local runtime session ended")
                self.follow({execution["name"]: workflow})

    def provision(self) -> None:
        """The local counterpart of ``terraform apply`` + deploy's script upload."""
        for store in STORES:
            self.workspace.path(self.target.bucket(store)).mkdir(parents=True, exist_ok=True)
        scripts = sorted((self.project_dir / "glue_transforms").glob("*.py"))
        if not any(path.name == GLUE_ENTRY_SCRIPT for path in scripts):
            raise PipelineError(f"{self.project_dir / 'glue_transforms' / GLUE_ENTRY_SCRIPT} not found; "
                                "run from the project folder or pass --project")
        for path in scripts:
            self.workspace.put_file(self.target.source_repository_bucket, f"{GLUE_SCRIPTS_PREFIX}{path.name}", path)
        glue_job.define_job(self.services, self.target.glue_job_name,
                            f"s3://{self.target.source_repository_bucket}/{GLUE_SCRIPTS_PREFIX}{GLUE_ENTRY_SCRIPT}",
                            {"--job-language": "python"})
        glue_crawler.define_crawler(self.services, self.target.glue_crawler_name, f"{self.config.name}_output",
                                    f"s3://{self.target.output_bucket}/{self.config.name}/predictions/",
                                    f"s3://{self.target.metadata_bucket}/{self.config.name}/catalog/tables.json")

    # -- landing -------------------------------------------------------------------------------------

    def landing_key(self, kind: str, source: Path) -> str:
        prefix = self.target.training_prefix if kind == "train" else self.target.scoring_prefix
        return f"{prefix}{source.name}"

    def land(self, kind: str, source: Path) -> str:
        """Copy a file into the feature store (the user's file is never moved or changed)."""
        if not source.is_file():
            raise PipelineError(f"{source}: file not found")
        key = self.landing_key(kind, source)
        self.workspace.put_file(self.target.feature_store_bucket, key, source)
        return key

    def watcher(self) -> FeatureStoreWatcher:
        settings = Settings(training_arn=self.arns["training"], scoring_arn=self.arns["scoring"],
                            training_prefix=self.target.training_prefix, scoring_prefix=self.target.scoring_prefix)
        return FeatureStoreWatcher(self.workspace, self.target.feature_store_bucket, settings, self.engine.client)

    def run_file(self, kind: str, source: Path) -> ExecutionResult:
        """Land a file, let the watcher and handler start its execution, and follow it to the end."""
        key = self.land(kind, source)
        outcomes = [o for o in self.watcher().poll() if o["key"] == key]
        started = [name for o in outcomes for name in o.get("started", [])]
        if not started:
            raise PipelineError(f"landing s3://{self.target.feature_store_bucket}/{key} started no execution: {outcomes}")
        return self.wait(started[0])

    # -- executions ----------------------------------------------------------------------------------

    def execution_arn(self, workflow: str, name: str) -> str:
        return self.arns[workflow].replace(":stateMachine:", ":execution:") + f":{name}"

    def workflow_of(self, name: str) -> str:
        """The landing handler names executions ``train-...`` and ``score-...``."""
        return "training" if name.startswith("train") else "scoring"

    def wait(self, name: str, workflow: str | None = None, redrive_count: int = 0) -> ExecutionResult:
        return self.follow({name: workflow or self.workflow_of(name)}, redrive_count)[name]

    def follow(self, executions: dict[str, str], redrive_count: int = 0) -> dict[str, ExecutionResult]:
        """Follow executions ({name: workflow}) to their ends, reporting each state; keep each record."""
        seen = dict.fromkeys(executions, 0)
        results: dict[str, ExecutionResult] = {}
        while len(results) < len(executions):
            for name, workflow in executions.items():
                if name not in results:
                    finished = self.poll(name, workflow, seen, redrive_count)
                    if finished is not None:
                        results[name] = finished
            if len(results) < len(executions):
                time.sleep(POLL_SECONDS)
        return results

    def poll(self, name: str, workflow: str, seen: dict[str, int], redrive_count: int = 0) -> ExecutionResult | None:
        """Report the events since ``seen[name]``; the result once the execution has ended, else None."""
        seen.setdefault(name, 0)
        arn = self.execution_arn(workflow, name)
        status = self.engine.describe(arn)
        events = self.engine.history(arn)
        for event in events[seen[name]:]:
            self.on_event({"event": "history", "execution": name, **event})
        seen[name] = len(events)
        if status["status"] == "RUNNING":
            return None
        return self.records.write(summarize(status, events, workflow, self.definitions[workflow], redrive_count))

    def redrive(self, name: str) -> ExecutionResult:
        """Re-run a failed execution from its failed state with that state's input (Step Functions' redrive)."""
        previous = self.records.read(name)
        state, state_input = self.records.redrive_point(previous)
        workflow = previous["workflow"]
        definition = json.loads(previous["definition"])
        definition["StartAt"] = state
        machine = self.arns[workflow]
        self.engine.client.update_state_machine(stateMachineArn=machine, definition=json.dumps(definition))
        try:
            count = previous.get("redrive_count", 0) + 1
            self.engine.start_execution(machine, name, state_input, redrive_count=count)
            return self.wait(name, workflow, redrive_count=count)
        finally:
            self.engine.client.update_state_machine(stateMachineArn=machine, definition=self.definitions[workflow])
