"""What a local session tells whoever watches it: typed events, so the reporter reads fields, not dict keys.

The runtime calls its ``on_event`` callback with these, from the session's thread and from tuning threads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_pipeline.local.executions import ExecutionResult

#: A Glue ``JobRun``'s ``StateDetail`` when ``--reuse`` served it from an earlier run's outputs.
REUSED_DETAIL = "reused the outputs of run {run} (execution {execution})"


@dataclass(frozen=True)
class StateEvent:
    """One Step Functions history event of an execution (``TaskStateEntered``, ``TaskFailed``...)."""

    execution: str
    type: str
    timestamp: datetime.datetime
    details: dict[str, Any] = field(default_factory=dict)  # the event's ``...EventDetails``

    @classmethod
    def from_history(cls, execution: str, event: dict) -> "StateEvent":
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return cls(execution, event["type"], event["timestamp"], details)

    @property
    def state(self) -> str | None:
        """The state's name for ``...StateEntered`` and ``...StateExited`` events."""
        return self.details.get("name")

    @property
    def reused(self) -> str | None:
        """For a Task that succeeded by reusing an earlier run's outputs (``--reuse``): what it reused."""
        return reused_detail(self.type, self.details)


def reused_detail(event_type: str, details: dict) -> str | None:
    """The ``StateDetail`` of a ``TaskSucceeded`` whose result is a Glue run served from an earlier run's
    outputs (it names that run in ``PredecessorRuns``); None for any other event."""
    output = details.get("output") if event_type == "TaskSucceeded" else None
    if not isinstance(output, str) or '"PredecessorRuns"' not in output:
        return None
    import json  # here: the CLI's --help imports no json

    try:
        result = json.loads(output)
    except ValueError:
        return None
    detail = result.get("StateDetail") if isinstance(result, dict) else None
    marker = REUSED_DETAIL.split("{", 1)[0]
    return detail if isinstance(detail, str) and detail.startswith(marker) and result.get("PredecessorRuns") else None


@dataclass(frozen=True)
class RetryEvent:
    """A Task state met ``error`` and its Retry calls it again in ``seconds``: retry ``attempt`` of the
    retrier's ``max_attempts``. Step Functions records no event for the wait (none of the 62 types of
    botocore's stepfunctions ``HistoryEventType`` is one): the next is the call's ``TaskScheduled``."""

    execution: str
    state: str
    error: str
    seconds: float
    attempt: int
    max_attempts: int


@dataclass(frozen=True)
class TrialEvent:
    """A tuning trial (training job) ended."""

    tuning_job: str
    training_job: str
    status: str
    objective: float | None
    best: float | None
    done: int
    total: int
    metric: str
    hyperparameters: dict[str, str]
    failure: str | None = None


@dataclass(frozen=True)
class LandingEvent:
    """A landed object was passed to the landing handler: it started an execution, or it was ignored."""

    key: str
    execution: str | None = None
    ignored: str | None = None  # why nothing started


@dataclass(frozen=True)
class ScheduleEvent:
    """A schedule fired: the landing handler started an execution of the latest file, or said why not."""

    schedule: str
    scheduled_time: str
    execution: str | None = None
    ignored: str | None = None  # why nothing started (no file under the prefix, a duplicate)


@dataclass(frozen=True)
class ContainerEvent:
    """Progress of preparing a container (its Python environment), or a warning about it."""

    message: str


@dataclass(frozen=True)
class SessionEvent:
    """What a session did of its own: on start, to clean up after one that ended without doing it
    (``Recovered``); as it ends (``Ending``)."""

    message: str
    headline: str = "Recovered"


@dataclass(frozen=True)
class ExecutionEnded:
    result: "ExecutionResult"


@dataclass(frozen=True)
class NotificationEvent:
    """A failed, timed-out or aborted execution's notice (``handlers.failure_notice``) was kept in ``path``;
    ``webhook_problem`` says why the webhook did not take it, ``unkept`` why it could not be kept."""

    notice: dict
    path: Path
    webhook_problem: str | None = None
    unkept: str | None = None
