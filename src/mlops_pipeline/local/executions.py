"""Execution records in the metadata store, so they outlive the process.

``s3://<metadata>/<pipeline>/executions/<name>/`` holds ``execution.json`` (status, input, output,
error, the failed state and the definition that ran), ``history.json`` (every event) and ``logs/``
(one log per job the execution ran).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.handlers.failure_notice import NOTIFIED_STATUSES
from mlops_pipeline.layout import executions_prefix
from mlops_pipeline.local.events import reused_detail
from mlops_pipeline.local.stores import LOGS, SERVER_LOGS, Workspace, disk_full, write_atomic
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

FAILURE_EVENTS = (
    "TaskFailed",
    "TaskTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "ExecutionFailed",
    "ExecutionAborted",
    "ExecutionTimedOut",
)

#: The history events whose details give an execution's error and cause: a failure's, or a stop's (StopExecution's).
END_DETAILS = {"ExecutionFailed": "executionFailedEventDetails", "ExecutionAborted": "executionAbortedEventDetails"}

#: The ``previousEventId`` AWS gives an ``ExecutionAborted`` event, whatever came before it (as moto's interpreter
#: writes it for a stopped execution; AWS's recorded history: LocalStack's AWS-validated snapshot
#: tests/aws/services/stepfunctions/v2/test_sfn_api.snapshot.json, ``test_stop_execution``, 06-05-2024).
ABORTED_PREVIOUS_EVENT_ID = 0


@dataclass(frozen=True)
class ExecutionResult:
    name: str
    workflow: Workflow
    status: str
    output: dict | None
    error: str | None
    cause: str | None
    failed_state: str | None
    fail_state: str | None
    folder: Path
    data_warnings: tuple[str, ...] = ()  # what the Glue job's checks reported

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def newest_log(self) -> Path | None:
        """The job log written last (the failed job's); a server started ahead may have written since."""
        logs = [path for path in (self.folder / LOGS).glob("*/*.log") if path.parent.name != SERVER_LOGS]
        return max(logs, key=lambda path: path.stat().st_mtime, default=None)


def summarize(
    status: dict, events: list[dict], workflow: Workflow, definition: str, redrive_count: int, session: str = ""
) -> dict:
    """The execution.json record of an execution: written when it starts, as its states end, and when it
    ends; ``session`` names the local session that runs it (while it runs)."""
    failed_state, fail_state, state_input = failure_point(events, json.loads(definition), status["status"])
    end = next((e for e in reversed(events) if e["type"] in END_DETAILS), None)
    details = end.get(END_DETAILS[end["type"]], {}) if end else {}
    return {
        "name": status["name"],
        "workflow": workflow.value,
        "status": status["status"],
        "execution_arn": status["executionArn"],
        "state_machine_arn": status["stateMachineArn"],
        "start_date": status["startDate"].isoformat(),
        "stop_date": status["stopDate"].isoformat() if status.get("stopDate") else None,
        "input": json.loads(status.get("input") or "null"),
        "output": json.loads(status["output"]) if status.get("output") else None,
        "error": details.get("error") or status.get("error"),
        "cause": details.get("cause") or status.get("cause"),
        "failed_state": failed_state,
        "fail_state": fail_state,
        "failed_state_input": state_input,
        "redrive_count": redrive_count,
        "definition": definition,
        "history": events,
        "data_warnings": data_warnings(events),
        "reused": reused_states(events),
        "session": session if status["status"] == "RUNNING" else "",
    }


def data_warnings(events: list[dict]) -> list[str]:
    """The warnings of the data report the execution read (``$.data.report``), as its states passed it on."""
    for event in reversed(events):
        warnings = report_warnings(event.get("stateExitedEventDetails", {}).get("output"))
        if warnings is not None:
            return warnings
    return []


def report_warnings(output: str | None) -> list[str] | None:
    """The warnings of the data report a state's output (JSON text) carries, or None when it carries none."""
    if not output or '"report"' not in output:
        return None
    data = _field(json.loads(output), "data")
    warnings = _field(_field(data, "report"), "warnings")
    return list(warnings) if isinstance(warnings, list) else None


def _field(value: object, name: str) -> object:
    return value.get(name) if isinstance(value, dict) else None


def reused_states(events: list[dict]) -> list[dict]:
    """[{"state", "detail"}] of the Tasks served from an earlier run's outputs (``--reuse``)."""
    reused, state = [], None
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if event["type"].endswith("StateEntered"):
            state = details.get("name")
        detail = reused_detail(event["type"], details)
        if detail:
            reused.append({"state": state, "detail": detail})
    return reused


def failure_point(events: list[dict], definition: dict, status: str) -> tuple[str | None, str | None, dict | None]:
    """(state whose error failed the execution, the Fail state it led to, that state's input).

    A Task caught into a Fail state is the failed state; a Fail state reached by a Choice (a gate that
    said no) has no failed Task, so there is nothing to redrive. An execution that is running or succeeded
    has none, whatever errors its Catchers handled (DescribeExecution gives it no error either): only the
    statuses a failure notice is sent for have one.
    """
    entered = [
        (e["stateEnteredEventDetails"]["name"], e["stateEnteredEventDetails"].get("input"))
        for e in events
        if e["type"].endswith("StateEntered")
    ]
    if status not in NOTIFIED_STATUSES or not entered or not any(e["type"] in FAILURE_EVENTS for e in events):
        return None, None, None
    states = definition.get("States", {})
    last_name, last_input = entered[-1]
    if states.get(last_name, {}).get("Type") != "Fail":
        return last_name, None, json.loads(last_input or "null")
    if len(entered) < 2 or states.get(entered[-2][0], {}).get("Type") != "Task":
        return None, last_name, None
    name, state_input = entered[-2]
    return name, last_name, json.loads(state_input or "null")


def executions_root(workspace: Workspace, target: Target) -> Path:
    """``s3://<metadata>/<pipeline>/executions/`` in the workspace."""
    return workspace.folder(target.metadata_bucket, executions_prefix(target.pipeline_name))


class ExecutionRecords:
    def __init__(self, root: Path):
        self.root = root

    def write(self, record: dict) -> ExecutionResult:
        """``execution.json`` (small) first, then the history; on a full disk the last complete files stay
        and the error is one line naming the file."""
        folder = self.root / record["name"]
        history = record.pop("history")
        self._keep_start_date(record)
        suffix = f"-redrive-{record['redrive_count']}" if record["redrive_count"] else ""
        for path, content in (("execution.json", record), (f"history{suffix}.json", history)):
            try:
                write_atomic(folder / path, json.dumps(content, indent=2, default=str).encode())
            except OSError as error:
                full = disk_full(error, folder / path)
                if full is None:
                    raise
                raise PipelineError(full) from None
        return ExecutionResult(
            record["name"],
            Workflow(record["workflow"]),
            record["status"],
            record["output"],
            record["error"],
            record["cause"],
            record["failed_state"],
            record["fail_state"],
            folder,
            tuple(record.get("data_warnings", ())),
        )

    def _keep_start_date(self, record: dict) -> None:
        """A redriven execution keeps the date it first started; the redrive's own start is its ``redriveDate``
        (DescribeExecution's ``startDate`` and ``redriveDate``, botocore's stepfunctions model)."""
        if "redrive_date" in record:  # a record as written before (recovery closing it): its dates stand
            return
        record["redrive_date"] = None
        if record["redrive_count"] and (self.root / record["name"] / "execution.json").exists():
            first = self.read(record["name"])["start_date"]
            record["redrive_date"], record["start_date"] = record["start_date"], first

    def running(self) -> list[dict]:
        """The records of executions recorded as RUNNING."""
        records = [self.read(name) for name in self.names()]
        return [record for record in records if record["status"] == "RUNNING"]

    def abort(self, name: str, cause: str) -> ExecutionResult:
        """Close the record of an execution whose session died: ABORTED, as a stopped execution is on AWS,
        with the state it was in as the one a redrive resumes."""
        record = self.read(name)
        suffix = f"-redrive-{record['redrive_count']}" if record["redrive_count"] else ""
        history_path = self.root / name / f"history{suffix}.json"
        history = json.loads(history_path.read_text()) if history_path.exists() else []
        now = datetime.datetime.now(datetime.timezone.utc)
        history.append(
            {
                "id": len(history) + 1,
                "previousEventId": ABORTED_PREVIOUS_EVENT_ID,
                "timestamp": str(now),
                "type": "ExecutionAborted",
                "executionAbortedEventDetails": {"cause": cause},
            }
        )
        failed_state, fail_state, state_input = failure_point(history, json.loads(record["definition"]), "ABORTED")
        record.update(
            status="ABORTED",
            stop_date=now.isoformat(),
            error=None,
            cause=cause,
            failed_state=failed_state,
            fail_state=fail_state,
            failed_state_input=state_input,
            session="",
            history=history,
        )
        return self.write(record)

    def read(self, name: str) -> dict:
        path = self.root / name / "execution.json"
        if not path.exists():
            known = ", ".join(self.names()[-5:]) or "none"
            raise PipelineError(f"no execution named {name!r} in {self.root} (latest: {known})")
        return json.loads(path.read_text())

    def names(self) -> list[str]:
        folders = [p.parent for p in self.root.glob("*/execution.json")] if self.root.is_dir() else []
        return [p.name for p in sorted(folders, key=lambda p: (p / "execution.json").stat().st_mtime)]

    def history(self, name: str) -> list[dict]:
        self.read(name)
        histories = sorted((self.root / name).glob("history*.json"), key=_redrive_order)
        return [event for path in histories for event in json.loads(path.read_text())]

    @staticmethod
    def redrive_point(record: dict) -> tuple[str, dict]:
        """Where a redrive starts, or a clear reason why this execution cannot be redriven."""
        if record["status"] == "SUCCEEDED":
            raise PipelineError(
                f"execution {record['name']} succeeded; only failed, timed-out or aborted executions can be redriven"
            )
        if record["status"] == "RUNNING":
            raise PipelineError(f"execution {record['name']} is still running")
        if not record.get("failed_state"):
            raise PipelineError(
                f"execution {record['name']} ended in {record.get('fail_state')} by a decision, not an error; "
                "there is no failed state to redrive (land the file again after fixing the cause)"
            )
        return record["failed_state"], record["failed_state_input"]


def _redrive_order(path: Path) -> int:
    match = re.search(r"-redrive-(\d+)", path.name)
    return int(match.group(1)) if match else 0
