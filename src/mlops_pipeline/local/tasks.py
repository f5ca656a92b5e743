"""What every local integration shares: how it fails and how it learns it must stop.

Integrations never import moto; the engine adapter turns these into Step Functions events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

#: The error Step Functions reports when a ``.sync`` job ends FAILED; Retry/Catch on it behave as on AWS.
TASK_FAILED = "States.TaskFailed"


class TaskFailure(Exception):
    """A task failed with an AWS error name (``States.TaskFailed``, ``SageMaker.ResourceInUse``...)."""

    def __init__(self, error: str, cause: str):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class TaskStopped(Exception):
    """The state timed out or the execution was stopped while the job ran; the job was killed."""


@dataclass(frozen=True)
class TaskControl:
    """Handed to each integration call: ``running()`` turns false on a state timeout or StopExecution (and when
    the state ends); ``state_input`` and ``context`` (the state's raw input and context object) let the Tasks
    ahead read what is already known of their Parameters (``ahead.py``)."""

    running: Callable[[], bool]
    execution_name: str = ""
    state_name: str = ""
    state_input: Any = None
    context: dict | None = None

    def check(self) -> None:
        if not self.running():
            raise TaskStopped("the state timed out or the execution was stopped")

    def limited_to(self, seconds: float) -> "TaskControl":
        """This control, also ending after ``seconds``: a job's own time limit (Glue's Timeout)."""
        deadline = time.monotonic() + seconds
        return replace(self, running=lambda: self.running() and time.monotonic() < deadline)


#: What the engine calls for a Task it intercepts: (resource, parameters, control) -> the AWS response shape;
#: the resource is the part of the ARN after ``arn:aws:states:::`` (``sagemaker:createModel``).
Dispatcher = Callable[[str, dict, TaskControl], Any]
