"""Failure notifications on one machine: what the failures topic receives on AWS, kept in the workspace.

When an execution ends FAILED, TIMED_OUT or ABORTED, the runtime builds its notice with the Lambda's own
:func:`~mlops_pipeline.handlers.failure_notice.build_notice` (from the local history), keeps it as one JSON
line in ``s3://<metadata>/<pipeline>/notifications/failures.jsonl`` (``layout.notifications_key``) and, when
the workflow gives ``notifications.webhook_url``, POSTs it there as JSON.

An execution a dead session left RUNNING, which the next command's recovery closes ABORTED, gets its
notice then (:meth:`LocalNotifier.notify_recorded`, from its record and history).

Exactly one notice per ended attempt: its ``id`` (execution ARN, redrive count, status) is looked up in the
file before it is added, under a lock, so no session keeps or sends it twice; a redrive that fails again
is a new attempt, as on AWS (a new status change with ``redriveCount`` + 1). A webhook that does not
answer 2xx within :data:`WEBHOOK_SECONDS` costs one warning, kept in the line (``webhook``), never the
session; nor does a notice that cannot be kept (a full disk): it is printed with the reason.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mlops_pipeline.handlers.failure_notice import NOTIFIED_STATUSES, build_notice
from mlops_pipeline.layout import notifications_key
from mlops_pipeline.local.events import NotificationEvent
from mlops_pipeline.local.stores import Workspace, disk_full, exclusively, write_atomic
from mlops_pipeline.target import Target

WEBHOOK_SECONDS = 3.0


@dataclass
class LocalNotifier:
    path: Path  # the workspace's notifications file
    webhook_url: str | None = None
    timeout: float = WEBHOOK_SECONDS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def notify(self, status: dict, history: list[dict], redrive_count: int = 0) -> NotificationEvent | None:
        """The notice of an execution that ended (``status``: DescribeExecution's answer), kept and sent once;
        None when it did not fail or its notice was kept already."""
        if status["status"] not in NOTIFIED_STATUSES:
            return None
        notice = build_notice({**status, "redriveCount": redrive_count}, history).as_json()
        with self._lock, self._file_lock():
            if notice["id"] in self.kept_ids():
                return None
            problem = self._post(notice) if self.webhook_url else None
            webhook = None if not self.webhook_url else {"url": self.webhook_url, "problem": problem}
            try:
                self._append({**notice, "webhook": webhook})
            except OSError as error:  # the notice is printed all the same; the session goes on
                unkept = disk_full(error, self.path) or f"{self.path}: {error.strerror or error}"
                return NotificationEvent(notice, self.path, problem, unkept=unkept)
        return NotificationEvent(notice, self.path, problem)

    @classmethod
    def of_pipeline(cls, workspace: Workspace, target: Target, webhook_url: str | None = None) -> "LocalNotifier":
        """The notifier of a pipeline's workspace: its notices under ``layout.notifications_key``."""
        path = workspace.path(target.metadata_bucket, notifications_key(target.pipeline_name))
        return cls(path, webhook_url)

    def notify_recorded(self, record: dict, history: list[dict]) -> list[str]:
        """The notice of an execution recovery closed ABORTED (no session saw it end), as one line per
        thing done, for the recovery report."""
        status = {
            "executionArn": record["execution_arn"],
            "stateMachineArn": record["state_machine_arn"],
            "name": record["name"],
            "status": record["status"],
            "stopDate": record.get("stop_date"),
            "error": record.get("error"),
            "cause": record.get("cause"),
        }
        event = self.notify(status, history, record.get("redrive_count", 0))
        if event is None:
            return []
        lines = [f"failure notice of {record['name']} ({record['status']}) {_where(event)}"]
        if event.webhook_problem:
            lines.append(f"failure notice of {record['name']} not delivered: {event.webhook_problem}")
        return lines

    def kept(self) -> list[dict]:
        """Every notice kept, oldest first."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def kept_ids(self) -> set[str]:
        return {notice["id"] for notice in self.kept()}

    def _append(self, line: dict) -> None:
        """The file with one more line, written whole through a temp file: never half a line."""
        before = self.path.read_bytes() if self.path.is_file() else b""
        write_atomic(self.path, before + json.dumps(line, ensure_ascii=False).encode() + b"\n")

    def _file_lock(self):
        """Sessions of one workspace take turns (an advisory lock beside the file)."""
        return exclusively(self.path.parent / f".{self.path.name}.lock")

    def _post(self, notice: dict) -> str | None:
        """POST the notice as JSON; why it was not taken (one line), or None."""
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(notice, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            return f"the webhook answered HTTP {error.code}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return f"the webhook could not be reached: {' '.join(str(reason).split())}"
        return None


def _where(event: NotificationEvent) -> str:
    return f"not kept: {event.unkept}" if event.unkept else f"kept in {event.path}"
