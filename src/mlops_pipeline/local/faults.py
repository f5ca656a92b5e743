"""Injected faults: the next N calls of a Task answer an AWS error, so Retry and Catch can be tried locally.

A fault is ``TARGET=ERROR[*N]``, where the target is a Task resource (every state calling it) or a Task
state's name: ``sagemaker:createTransformJob.sync=SageMaker.AmazonSageMakerException*2`` makes the next
two batch transforms fail as a throttled SageMaker call does; ``BatchTransform=SageMaker.AmazonSageMakerException``
only that state's next call. ``ERROR`` is the name Step Functions reports (``S3.S3Exception``) or the
API's own error code (``SlowDown``); either way the runtime raises the API error and Step Functions
sees it under the name AWS would give it. Faults are separated by commas and used in the order given.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from mlops_pipeline.aws_errors import AwsError, code_for
from mlops_pipeline.errors import PipelineError


@dataclass
class Faults:
    """The faults still to inject, per Task resource (``glue:startJobRun.sync``)."""

    pending: dict[str, deque[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def parse(cls, text: str, tasks: dict[str, str]) -> "Faults":
        """``TARGET=ERROR[*N],...``; ``tasks`` maps each target (a resource or a Task state's name) to its
        resource. A mistake is one line."""
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            target, _, error = item.partition("=")
            error, _, count = error.partition("*")
            target, error, count = target.strip(), error.strip(), count.strip() or "1"
            if target not in tasks:
                raise PipelineError(f"fault {item!r}: no Task state or resource {target!r} (known: {', '.join(tasks)})")
            if not error or not count.isdigit():
                raise PipelineError(f"fault {item!r}: write TARGET=ERROR or TARGET=ERROR*N")
            try:
                code = code_for(tasks[target], error)
            except KeyError:
                raise PipelineError(f"fault {item!r}: {tasks[target]} cannot raise {error}") from None
            faults.pending.setdefault(target, deque()).extend([code] * int(count))
        return faults

    def take(self, resource: str, state: str) -> None:
        """Raise the next fault planned for this state, else for its resource, if any."""
        with self._lock:
            queue = self.pending.get(state) or self.pending.get(resource)
            code = queue.popleft() if queue else None
        if code is not None:
            raise AwsError(code, f"Injected fault: {code} (local runtime)")
