"""Model servers kept warm within a session, or started ahead of the transform that will use them.

Starting ``serve`` (its Python, the model's libraries, gunicorn's workers) takes one to two seconds, most of
a batch transform of a few thousand rows. So a server is started ahead, while the states before the
transform run (``start_ahead``, when the model is already known: ``sagemaker_transform.warm_up``), and a
batch transform of the same model artifact with the same serving variables (the same image,
``ModelDataUrl`` and bytes, environment) reuses the server the previous one left idle, when it still runs
and answers ``/ping``. A transform whose server is still starting waits for it. A server whose transform
failed or was stopped is stopped, never reused. At most ``MAX_IDLE_SERVERS`` idle at once, the least recently
used stopped first: a ``local watch`` session that trains a new model each day (or whose scoring executions
fail before their transform) would otherwise keep one server per model, each a few hundred MB, until it ends.
The session's end stops every idle server and removes its folder. SageMaker starts a container per transform
job; what differs is only that such a server's output goes on in the log it started with (the job's log names
that file).
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
#: Idle servers kept at once: the newest model's, and the one before it (a session scoring with two models).
MAX_IDLE_SERVERS = 2


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
        """``warm`` idles for the next lease of ``key``, the most recently used; stopped instead once the session
        has ended. Another idle for ``key`` (two transforms of one model ran at once) is stopped, and so are the
        least recently used beyond ``MAX_IDLE_SERVERS``."""
        with self._lock:
            if self._closed:
                stopping = [warm]
            else:
                previous = self._idle.pop(key, None)
                self._idle[key] = warm  # last in the dict's order: the most recently used
                oldest = list(self._idle)[: max(0, len(self._idle) - MAX_IDLE_SERVERS)]
                stopping = [server for server in (previous, *map(self._idle.pop, oldest)) if server is not None]
        for server in stopping:
            server.stop()

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
