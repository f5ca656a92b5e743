"""One local session: provision the stores, create the state machines, land files, follow executions.

The session does locally what Terraform and deploy do on AWS (the Glue job and crawler, the model
registry's group, the scripts in the source repository, the two state machines from the same rendered
JSON) and what S3 and the landing Lambda do (a landed file becomes an event, the handler starts the
execution), and what EventBridge Scheduler does (the workflow's schedules fire through the same
handler). It owns the loops: following executions to their ends, watching the feature store and
firing the schedules; whoever runs it learns
what happens from typed events (``mlops_pipeline.local.events``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlops_pipeline import data_checks, layout
from mlops_pipeline.builders import build_definitions, definition_json
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.handlers.s3_landing import LandingFailed, Settings, handle_event, s3_time, scheduled_event
from mlops_pipeline.local import ahead
from mlops_pipeline.local.containers.sandbox import Isolation, IsolationChoice, choose_isolation
from mlops_pipeline.local.engine import Engine, resource_key
from mlops_pipeline.local.events import (
    ContainerEvent,
    ExecutionEnded,
    LandingEvent,
    ScheduleEvent,
    SessionEvent,
    StateEvent,
)
from mlops_pipeline.local.executions import ExecutionRecords, ExecutionResult, executions_root, summarize
from mlops_pipeline.local.faults import Faults
from mlops_pipeline.local.integrations import (
    IntegrationTable,
    default_table,
    glue_crawler,
    glue_job,
    sagemaker_registry,
)
from mlops_pipeline.local.notifications import LocalNotifier
from mlops_pipeline.local.recovery import recover
from mlops_pipeline.local.scheduler import LocalScheduler, pipeline_schedules, utc_now, workspace_versions
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.sessions import Session
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskControl, TaskStopped
from mlops_pipeline.local.watcher import FeatureStoreWatcher
from mlops_pipeline.naming import Workflow, model_package_group_name
from mlops_pipeline.target import STORES, Target, local_target

POLL_SECONDS = 0.1
#: How long a Task started while the session ends waits for its execution's stop.
ENDING_SECONDS = 30.0
#: How long the session's end waits for a warm-up still building an environment (it can start nothing after).
WARM_UP_JOIN_SECONDS = 5.0
#: Signals that end a session (the CLI's door makes SIGTERM and SIGHUP interrupt as Ctrl-C does); while it
#: ends, they hurry it instead (``_hurried_by_signals``).
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class LocalRuntime:
    config: PipelineConfig
    workspace: Workspace
    project_dir: Path = Path(".")
    on_event: Callable[[object], None] = field(default=lambda event: None)
    lambda_handlers: dict = field(default_factory=dict)
    table: IntegrationTable = field(default_factory=default_table)
    isolation: IsolationChoice | None = None  # how jobs run (chosen from the machine when None)
    workflow_file: Path | None = None  # remembered in the workspace, for commands run without --workflow
    faults: str = ""  # TARGET=ERROR[*N],... (local.faults): API errors to inject, to try Retry and Catch
    clock: Callable[[], datetime.datetime] = utc_now  # when the workflow's schedules fire (tests inject one)
    reuse: bool = False  # serve a Glue run identical to an earlier successful one from its outputs (glue_reuse)
    warm_up_first: tuple[Workflow, ...] = ()  # workflows to warm up as the session begins (local run, up, demo)
    session: Session = field(init=False)

    def __post_init__(self) -> None:
        self.session = Session(self.workspace.root)
        self._record_lock = threading.Lock()
        self._recorded: dict[str, int] = {}  # events in each RUNNING record written
        self._shown: dict[str, int] = {}  # events of each execution the live view has shown
        self._unended: set[str] = set()  # executions started in this session whose end is not yet recorded
        self._ending = threading.Event()  # set when the session stops what still runs
        self._warm_ups: dict[Workflow, threading.Thread] = {}  # each workflow's warm-up, once per session
        self._ahead: list[threading.Thread] = []  # preparations for Tasks to come (prepare_ahead)
        self._prepared: set[tuple[str, str, str]] = set()  # (execution, state, Parameters known) prepared for
        self.stopped: list[str] = []  # executions still running when the session ended, recorded ABORTED
        self.target: Target = local_target(self.config.name)
        self.services = LocalServices(
            self.workspace,
            containers_dir=self.project_dir / "containers",
            logs_root=self.executions_root,
            account_id=self.target.account_id,
            region=self.target.region,
            notify=self.on_event,
            isolation=self.isolation or choose_isolation(),
            buckets=tuple(self.target.bucket(store) for store in STORES),
            read_only_buckets=frozenset({self.target.feature_store_bucket, self.target.source_repository_bucket}),
            reuse_glue_runs=self.reuse,
        )
        self.records = ExecutionRecords(self.executions_root)
        self.notifier = LocalNotifier.of_pipeline(self.workspace, self.target, self.config.notifications.webhook_url)
        self.definitions = {w: definition_json(d) for w, d in build_definitions(self.config, self.target).items()}
        self._parsed = {workflow: json.loads(text) for workflow, text in self.definitions.items()}
        faults = Faults.parse(self.faults, self.fault_targets())
        self.engine = Engine(
            self._checkpointing(self.table.dispatcher(self.services, faults)),
            self.table.resources,
            self.lambda_handlers,
            region=self.target.region,
            on_retry=self.on_event,
        )
        self.arns: dict[Workflow, str] = {}

    def fault_targets(self) -> dict[str, str]:
        """What ``--inject`` may name: every served resource, and each Task state of both workflows."""
        targets = {resource: resource for resource in self.table.resources}
        for definition in self._parsed.values():
            for name, state in definition["States"].items():
                if state["Type"] == "Task":
                    targets[name] = resource_key(state["Resource"])
        return targets

    @property
    def executions_root(self) -> Path:
        return executions_root(self.workspace, self.target)

    def __enter__(self) -> "LocalRuntime":
        self.session.open()
        try:
            return self._begin()
        except BaseException:
            self._close_services()
            self.session.close()
            raise

    def _begin(self) -> "LocalRuntime":
        self.recover()
        if self.workflow_file is not None:
            self.workspace.remember_pipeline(self.config.name, self.workflow_file, self.project_dir)
        self.provision()
        self.prepare_container()
        self.engine.__enter__()
        self.services.sfn = self.engine.client
        for workflow in self.warm_up_first:  # after the engine set the variables jobs inherit (a server's key)
            self.warm_up(workflow)
        try:
            for workflow, text in self.definitions.items():
                name = workflow.state_machine_name(self.config.name)
                self.arns[workflow] = self.engine.create_state_machine(name, text, self.target.step_functions_role_arn)
        except BaseException:
            self.engine.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with self._hurried_by_signals():
            try:
                self._stop_and_record_running()
            finally:
                try:
                    self._close_services()
                    self.engine.__exit__(*exc)
                finally:
                    self.session.close()

    @contextlib.contextmanager
    def _hurried_by_signals(self):
        """While the session ends, Ctrl-C, SIGTERM and SIGHUP kill its jobs at once instead of interrupting the
        ending: a trainer may take SageMaker's 120 s stop grace, and every execution must still be recorded."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        hurried_by: list[str] = []

        def hurry(signum: int, frame: object) -> None:  # takes no lock: the code it interrupts may hold one
            hurried_by.append(signal.Signals(signum).name)
            self.services.processes.kill_now()

        previous = {number: signal.signal(number, hurry) for number in ENDING_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            if hurried_by:
                message = f"{hurried_by[0]} while the session ended: its jobs were killed at once, without their grace"
                self.on_event(SessionEvent(message, headline="Ending"))

    def _close_services(self) -> None:
        self.services.close()
        for thread in [*self._warm_ups.values(), *self._ahead]:  # nothing starts after the close; one still
            thread.join(WARM_UP_JOIN_SECONDS)  # starting stops itself

    def recover(self) -> list[str]:
        """Clean up after sessions that ended without doing it (``local.recovery``); each line is reported."""
        done = recover(self.workspace, self.target, self.notifier)
        for line in done:
            self.on_event(SessionEvent(line))
        return done

    def _stop_and_record_running(self) -> None:
        """Executions still running when the session ends are stopped (their jobs killed) and recorded
        as ABORTED, so `local executions` shows them and `local redrive` can resume them. Every Task
        that would start meanwhile waits for its own stop (``_held_until_stopped``): no execution goes
        on having seen another one stopped (a scoring run waiting for its training would fail). One that
        ended since it was last followed (or whose end was being recorded when the session was interrupted)
        gets its end recorded too: left RUNNING, the next command's recovery would call it ABORTED."""
        self._ending.set()
        listed, pages = [], self.engine.client.get_paginator("list_executions")
        for workflow, machine in self.arns.items():
            listed += [(e, workflow) for page in pages.paginate(stateMachineArn=machine) for e in page["executions"]]
        for execution, _ in listed:
            if execution["status"] == "RUNNING":
                self.engine.stop(execution["executionArn"], cause="the local runtime session ended")
                self.stopped.append(execution["name"])
        ending = {e["name"]: w for e, w in listed if e["status"] == "RUNNING" or e["name"] in self._unended}
        ended = self.follow(ending, seen={name: self._shown.get(name, 0) for name in ending})  # the view goes on
        self.stopped = [name for name in self.stopped if ended[name].status == "ABORTED"]  # not one that ended first

    def provision(self) -> None:
        """The local counterpart of ``terraform apply`` + deploy's script upload."""
        for store in STORES:
            self.workspace.path(self.target.bucket(store)).mkdir(parents=True, exist_ok=True)
        glue_dir = self.project_dir / "glue_transforms"
        transform = self.config.transform
        entry = layout.GLUE_ENTRY_SCRIPT if transform.mode == "module" else transform.script
        for name in dict.fromkeys((entry, transform.script)):
            if not (glue_dir / name).is_file():
                raise PipelineError(f"{glue_dir / name} not found; run from the project folder or pass --project")
        source = self.target.source_repository_bucket
        for name, path in layout.glue_scripts(glue_dir):
            self.workspace.put_file(source, f"{layout.GLUE_SCRIPTS_PREFIX}{name}", path)
        glue_job.define_job(
            self.services,
            self.target.glue_job_name,
            f"s3://{source}/{layout.GLUE_SCRIPTS_PREFIX}{entry}",
            {"--job-language": "python"},
        )
        glue_crawler.define_crawler(
            self.services,
            self.target.glue_crawler_name,
            f"{self.config.name}_output",
            f"s3://{self.target.output_bucket}/{layout.predictions_prefix(self.config.name)}",
            f"s3://{self.target.metadata_bucket}/{layout.catalog_key(self.config.name)}",
        )
        sagemaker_registry.define_group(
            self.services,
            model_package_group_name(self.config.name),
            f"Models of the {self.config.name} pipeline, one version per quality-gate decision.",
        )

    def prepare_container(self) -> None:
        """Build the model container's environment before any job waits for it, and say how jobs run."""
        isolation = self.services.isolation
        if isolation.mode is Isolation.DIRECT:
            self.on_event(
                ContainerEvent(
                    f"containers run directly, without their own /opt/ml, /tmp and network: {isolation.reason}"
                )
            )
        self.services.containers.prepare(self.config.model.image)

    # -- landing -------------------------------------------------------------------------------------

    def landing_key(self, workflow: Workflow, source: Path) -> str:
        prefix = self.target.training_prefix if workflow is Workflow.TRAINING else self.target.scoring_prefix
        return f"{prefix}{source.name}"

    def land(self, kind: str, source: Path) -> str:
        """Copy a file into the feature store (the user's file is never moved or changed)."""
        if not source.is_file():
            raise PipelineError(f"{source}: file not found")
        key = self.landing_key(Workflow.of_kind(kind), source)
        self.workspace.put_file(self.target.feature_store_bucket, key, source, keep_version=True)
        return key

    def landing_settings(self) -> Settings:
        """The landing Lambda's environment, for this session's state machines."""
        return Settings(
            training_arn=self.arns[Workflow.TRAINING],
            scoring_arn=self.arns[Workflow.SCORING],
            training_prefix=self.target.training_prefix,
            scoring_prefix=self.target.scoring_prefix,
            feature_store_bucket=self.target.feature_store_bucket,
        )

    def watcher(self) -> FeatureStoreWatcher:
        bucket = self.target.feature_store_bucket
        return FeatureStoreWatcher(self.workspace, bucket, self.landing_settings(), self.engine.client, self.session.id)

    def scheduler(self) -> LocalScheduler:
        """The workflow's schedules, counted from now by the session's clock."""
        return LocalScheduler(pipeline_schedules(self.config), self.clock)

    def fire_schedules(self, scheduler: LocalScheduler) -> list[ScheduleEvent]:
        """Hand each schedule that came due to the landing handler, as EventBridge Scheduler does on AWS; one
        event per fire, also reported; each execution started is recorded at once."""
        fired = []
        for schedule, when in scheduler.due():
            event = scheduled_event(schedule.name, schedule.kind, s3_time(when))
            try:
                summary = handle_event(event, self.engine.client, self.landing_settings(), versions=self._versions)
            except LandingFailed as failed:
                summary = failed.summary
            execution, ignored = self._handled(summary)
            report = ScheduleEvent(schedule.name, event["scheduled_time"], execution=execution, ignored=ignored)
            self.on_event(report)
            fired.append(report)
        return fired

    def _handled(self, summary: dict) -> tuple[str | None, str | None]:
        """What the landing handler did with one event: the execution it started (recorded at once), or why
        it started none (the reasons it gave for the records it ignored, rejected, found duplicate or failed)."""
        started = summary.get("started", [])
        for name in started:
            self.record_started(name)
        if started:
            return started[0], None
        reasons = [_reason(item) for action in ("ignored", "rejected") for item in summary.get(action, [])]
        reasons += [f"a duplicate of the execution {name}" for name in summary.get("duplicate", [])]
        reasons += [str(item.get("error", "")) for item in summary.get("failed", [])]
        return None, "; ".join(reasons) or "no execution started"

    def _versions(self, bucket: str, prefix: str):
        return workspace_versions(self.workspace, bucket, prefix)

    def pass_on_landed(self, watcher: FeatureStoreWatcher) -> list[LandingEvent]:
        """Hand new feature-store objects to the landing handler; one event per object, also reported; each
        execution started is recorded at once."""
        return [self._reported(outcome) for outcome in watcher.poll()]

    def _reported(self, outcome: dict) -> LandingEvent:
        execution, ignored = self._handled(outcome)
        event = LandingEvent(outcome["key"], execution=execution, ignored=ignored)
        self.on_event(event)
        return event

    def _land_and_follow(self, put: Callable[[], str]) -> ExecutionResult:
        """Put a file into the feature store (``put`` returns its key) and pass it on at once, as one step across
        the workspace's sessions (a ``local up`` watching it cannot take it), then follow the execution it
        started; other landed files wait for ``local up``."""
        key, outcome = self.watcher().put_and_pass_on(put)
        landed = None if outcome is None else self._reported(outcome)
        if landed is None or landed.execution is None:
            reason = "that version was passed on already" if landed is None else landed.ignored
            raise PipelineError(f"landing s3://{self.target.feature_store_bucket}/{key} started no execution: {reason}")
        return self.wait(landed.execution)

    def check_files(self, train: Path, score: Path) -> list[str]:
        """The checks of both files that need no compute, before training starts (the Glue job runs them
        again); the label's only when the pipeline maps it (module mode, or a mapping in the workflow). The
        warnings, in script mode (in module mode the Glue job reports them with the execution)."""
        data, module = self.config.data, self.config.transform.mode == "module"
        checks_json = data.checks_json(self.config.inference.max_payload_mb)
        settings = data_checks.CheckSettings.from_json(data.label, data.id_column, checks_json)
        labels = module or data.positive is not None or data.label_values is not None
        report = data_checks.Report(settings)
        try:
            columns = data_checks.preflight(train, "train", settings, labels, report=report)
            data_checks.preflight(score, "score", settings, labels, training_columns=columns, report=report)
        except data_checks.DataCheckError as refused:
            raise PipelineError(str(refused)) from None
        return [] if module else report.warnings

    def run_file(self, kind: str, source: Path) -> ExecutionResult:
        """Land a file, let the watcher and handler start its execution, and follow it to the end."""
        return self._land_and_follow(lambda: self.land(kind, source))

    def watch(self, interval: float, rounds: int | None = None) -> list[ExecutionResult]:
        """Start executions for new files and for the workflow's schedules as they come due, and follow every
        running one, for ``rounds`` scans (forever if None) and then until the executions they started end."""
        watcher, scheduler, active, seen, finished, done_rounds = self.watcher(), self.scheduler(), {}, {}, [], 0
        while rounds is None or done_rounds < rounds or active:
            for event in [*self.pass_on_landed(watcher), *self.fire_schedules(scheduler)]:
                if event.execution is not None:
                    active[event.execution] = Workflow.of_execution(event.execution)
            for name, workflow in list(active.items()):
                result = self.poll(name, workflow, seen)
                if result is not None:
                    del active[name]
                    finished.append(result)
            done_rounds += 1
            time.sleep(interval)
        return finished

    # -- executions ----------------------------------------------------------------------------------

    def execution_arn(self, workflow: Workflow, name: str) -> str:
        return self.arns[workflow].replace(":stateMachine:", ":execution:") + f":{name}"

    def wait(self, name: str, workflow: Workflow | None = None) -> ExecutionResult:
        return self.follow({name: workflow or Workflow.of_execution(name)})[name]

    def follow(self, executions: dict[str, Workflow], seen: dict[str, int] | None = None) -> dict[str, ExecutionResult]:
        """Follow executions ({name: workflow}) to their ends, reporting each state after the ``seen``
        first events; keep each record."""
        seen = {**dict.fromkeys(executions, 0), **(seen or {})}
        results: dict[str, ExecutionResult] = {}
        while len(results) < len(executions):
            for name, workflow in executions.items():
                if name not in results:
                    finished = self.poll(name, workflow, seen)
                    if finished is not None:
                        results[name] = finished
            if len(results) < len(executions):
                time.sleep(POLL_SECONDS)
        return results

    def poll(self, name: str, workflow: Workflow, seen: dict[str, int]) -> ExecutionResult | None:
        """Report the events since ``seen[name]``; the result once the execution has ended, else None."""
        seen.setdefault(name, 0)
        arn = self.execution_arn(workflow, name)
        status = self.engine.describe(arn)
        events = self.engine.history(arn)
        new = events[seen[name] :]
        seen[name] = self._shown[name] = len(events)
        if status["status"] == "RUNNING":
            if new:
                self.checkpoint(name)  # as states end: a session that dies leaves where it was
            for event in new:
                self.on_event(StateEvent.from_history(name, event))
            return None
        with self._record_lock:
            redrive_count = self.engine.redrive_count(name)
            record = summarize(status, events, workflow, self.definitions[workflow], redrive_count)
            result = self.records.write(record)
        for event in new:
            self.on_event(StateEvent.from_history(name, event))
        self.on_event(ExecutionEnded(result))
        notified = self.notifier.notify(status, events, redrive_count)
        if notified is not None:
            self.on_event(notified)
        self._unended.discard(name)
        return result

    def record_started(self, name: str) -> None:
        """The execution's record exists from the moment it starts (RUNNING, owned by this session). Its own
        thread may have written it first (each Task checkpoints), as this would: the redrive count is the
        engine's, set before the execution starts."""
        self._unended.add(name)
        self.checkpoint(name)
        self.warm_up(Workflow.of_execution(name))

    def warm_up(self, workflow: Workflow) -> None:
        """Once per workflow and session, in the background: let its Tasks' integrations prepare from their
        Parameters as written while its first states run (the training jobs' fork server imports its libraries
        during the Glue job); when its execution starts, or as the session begins for ``warm_up_first``."""
        with self._record_lock:
            if workflow in self._warm_ups:
                return
            tasks = [
                (resource_key(state["Resource"]), state["Parameters"], self._control_ahead("", name))
                for name, state in ahead.tasks(self._parsed[workflow])
                if isinstance(state.get("Parameters"), dict)
            ]
            thread = self._warm_ups[workflow] = self._preparing(tasks, f"warm-up-{workflow.value}")
        thread.start()

    def prepare_ahead(self, control: TaskControl) -> None:
        """As a Task starts, in the background: let the Tasks that follow it prepare from what its input already
        tells of their Parameters (``ahead.py``: the batch transform's model server starts while the scoring
        Glue job runs). Each (execution, state, what is known) once per session."""
        workflow = Workflow.of_execution(control.execution_name)
        tasks = []
        for name, state in ahead.tasks_ahead(self._parsed[workflow], control.state_name):
            resource = resource_key(state["Resource"])
            if not (self.table.warms_up(resource) and isinstance(state.get("Parameters"), dict)):
                continue
            parameters = ahead.known_parameters(state["Parameters"], control.state_input, control.context)
            seen = (control.execution_name, name, json.dumps(parameters, sort_keys=True, default=str))
            with self._record_lock:
                if seen in self._prepared:
                    continue
                self._prepared.add(seen)
            tasks.append((resource, parameters, self._control_ahead(control.execution_name, name)))
        if tasks:
            thread = self._preparing(tasks, f"ahead-of-{control.state_name}")
            with self._record_lock:  # started under the lock: a thread not yet started is never pruned
                self._ahead = [*(other for other in self._ahead if other.is_alive()), thread]
                thread.start()

    def _control_ahead(self, execution_name: str, state_name: str) -> TaskControl:
        """What a preparation knows of the Task it prepares for: its execution and state (names where logs go);
        it runs until the session ends, not with the state that started it."""
        return TaskControl(
            running=lambda: not self._ending.is_set(), execution_name=execution_name, state_name=state_name
        )

    def _preparing(self, tasks: list, name: str) -> threading.Thread:
        return threading.Thread(target=self.table.warm_up, args=(self.services, tasks), name=name, daemon=True)

    def checkpoint(self, name: str) -> None:
        """Write the RUNNING record as the execution is now (never an older picture over a newer one)."""
        workflow = Workflow.of_execution(name)
        arn = self.execution_arn(workflow, name)
        with self._record_lock:
            status, events = self.engine.describe(arn), self.engine.history(arn)
            if status["status"] != "RUNNING" or len(events) <= self._recorded.get(name, 0):
                return
            self._recorded[name] = len(events)
            definition, redrive_count = self.definitions[workflow], self.engine.redrive_count(name)
            self.records.write(summarize(status, events, workflow, definition, redrive_count, self.session.id))

    def _checkpointing(self, dispatcher):
        """Each Task first brings its execution's record up to date, from the execution's own thread: a
        session killed while the Task runs leaves a record that knows every earlier state succeeded."""

        def dispatch(resource: str, parameters: dict, control):
            if self._ending.is_set():
                _held_until_stopped(control)
            if control.execution_name:
                try:
                    self.checkpoint(control.execution_name)
                except PipelineError as unwritten:  # a full disk: the record lags, the Task says the rest
                    self.on_event(SessionEvent(f"the record of {control.execution_name} is behind: {unwritten}"))
                self.prepare_ahead(control)
            return dispatcher(resource, parameters, control)

        return dispatch

    def redrive(self, name: str) -> ExecutionResult:
        """Re-run a failed execution from its failed state with that state's input (Step Functions' redrive).

        Like Step Functions, a redrive runs the definition the execution ran; when the workflow now renders
        another one, that is said instead of silently running the old one (``land_again`` runs the new one).
        """
        previous = self.records.read(name)
        state, state_input = self.records.redrive_point(previous)
        workflow = Workflow(previous["workflow"])
        if json.loads(previous["definition"]) != self._parsed[workflow]:
            raise PipelineError(
                f"execution {name} ran an earlier definition of {workflow.state_machine_name(self.config.name)} than "
                f"the workflow renders now; a redrive re-runs the one it ran, as Step Functions does. To run the "
                f"workflow as it is now, land the file again (local redrive {name} --land-again does)"
            )
        definition = json.loads(previous["definition"])
        definition["StartAt"] = state
        machine = self.arns[workflow]
        self.engine.client.update_state_machine(stateMachineArn=machine, definition=json.dumps(definition))
        try:
            count = previous.get("redrive_count", 0) + 1
            with self._record_lock:  # an earlier run in this session: its events are not this run's
                self._recorded.pop(name, None)
            self.engine.start_execution(machine, name, state_input, redrive_count=count)
            self.record_started(name)
            return self.wait(name, workflow)
        finally:
            self.engine.client.update_state_machine(stateMachineArn=machine, definition=self.definitions[workflow])

    def land_again(self, name: str) -> ExecutionResult:
        """Land an execution's file again (a new version: a new execution with the current definition)."""
        record = self.records.read(name)
        bucket, key = record["input"]["bucket"], record["input"]["key"]
        path = self.workspace.path(bucket, key)
        if not path.is_file():
            raise PipelineError(f"s3://{bucket}/{key}, the file execution {name} ran on, is no longer in the workspace")

        def put_again() -> str:
            self.workspace.put_file(bucket, key, path, keep_version=True)
            return key

        return self._land_and_follow(put_again)


def _reason(item: object) -> str:
    """The handler reports an ignored or rejected record as ``{..., "reason": ...}``."""
    return str(item.get("reason", "")) if isinstance(item, dict) else str(item)


def _held_until_stopped(control, seconds: float = ENDING_SECONDS) -> None:
    """The session is ending: this Task does not start; it waits until its execution is stopped (one the
    session did not stop in time goes on)."""
    deadline = time.monotonic() + seconds
    while control.running() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not control.running():
        raise TaskStopped("the local runtime session ended")
