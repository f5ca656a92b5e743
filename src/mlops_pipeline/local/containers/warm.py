"""Model servers kept warm within a session, or started ahead of the transform that will use them.

Starting ``serve`` (its Python, the model's libraries, gunicorn's workers) takes one to two seconds, most of
a batch transform of a few thousand rows. So a server is started ahead, while the states before the
transform run (``start_ahead``, when the model is already known: ``sagemaker_transform.warm_up``), and a
batch transform of the same model artifact with the same serving variables (the same image,
``ModelDataUrl`` and bytes, environment) reuses the server the previous one left idle, when it still runs
and answers ``/ping``. A transform whose server is still starting waits for it. A server whose transform
failed or was stopped is stopped, never reused. The session's end stops every idle server and removes its
folder. SageMaker starts a container per transform job; what differs is only that such a server's output
goes on in the log it started with (the job's log names that file).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Hashable, Iterator

if TYPE_CHECKING:
    from mlops_pipeline.local.containers import InferenceServer


@dataclass
class WarmServer:
    """A running server and the folder it serves its model from (removed with it)."""

    server: InferenceServer
    folder: Path
    ahead: bool = False  # started ahead of a transform, and has served none yet

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


#: How often a transform waiting for a server starting ahead checks that its state still runs.
WAIT_SECONDS = 0.1


class WarmServers:
    """One session's idle servers, by what they serve (``key``)."""

    def __init__(self) -> None:
        self._idle: dict[Hashable, WarmServer] = {}
        self._starting: dict[Hashable, threading.Event] = {}  # set once the server started ahead is idle (or failed)
        self._closed = False
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(
        self, key: Hashable, start: Callable[[], WarmServer], check: Callable[[], None] = lambda: None
    ) -> Iterator[tuple[WarmServer, bool]]:
        """An idle server for ``key`` that still answers (waiting for one still starting ahead, while ``check``
        does not raise: the state's end), else a new one from ``start``; and whether it was already running.
        Kept for the next lease when the block ends normally, stopped when it raises."""
        warm = self._take(key, check)
        reused = warm is not None
        warm = warm or start()
        try:
            yield warm, reused
        except BaseException:
            warm.stop()
            raise
        warm.ahead = False
        self._keep(key, warm)

    def start_ahead(self, key: Hashable, start: Callable[[], WarmServer]) -> None:
        """Start a server for ``key`` now, idle for the lease to come; nothing when one is idle or starting for
        it already, or the session has ended. What ``start`` raises is raised (the transform then starts its
        own, and reports why that fails)."""
        with self._lock:
            if self._closed or key in self._idle or key in self._starting:
                return
            ready = self._starting[key] = threading.Event()
        try:
            warm = start()
            warm.ahead = True
            self._keep(key, warm)
        finally:
            with self._lock:
                del self._starting[key]
            ready.set()

    def _keep(self, key: Hashable, warm: WarmServer) -> None:
        """``warm`` idles for the next lease of ``key``; stopped instead once the session has ended."""
        with self._lock:
            previous = warm if self._closed else self._idle.get(key)
            if not self._closed:
                self._idle[key] = warm
        if previous is not None:  # two transforms of one model ran at once: one server stays warm
            previous.stop()

    def _take(self, key: Hashable, check: Callable[[], None]) -> WarmServer | None:
        with self._lock:
            starting = self._starting.get(key)
        while starting is not None and not starting.wait(WAIT_SECONDS):
            check()
        with self._lock:
            warm = self._idle.pop(key, None)
        if warm is not None and not warm.server.answers():
            warm.stop()
            return None
        return warm

    def close(self) -> None:
        """The session ends: stop every idle server (and each one still starting ahead, once it has started)."""
        with self._lock:
            idle, self._idle, self._closed = list(self._idle.values()), {}, True
        for warm in idle:
            warm.stop()
