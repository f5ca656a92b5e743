"""Model servers kept warm within a session.

Starting ``serve`` (its Python, the model's libraries, gunicorn's workers) takes about a second, most of a
batch transform of a few thousand rows. A batch transform of the same model artifact with the same serving
variables (the same image, ``ModelDataUrl`` and bytes, environment) therefore reuses the server the previous
one left idle, when it still runs and answers ``/ping``. A server whose transform failed or was stopped is
stopped, never reused. The session's end stops every idle server and removes its folder. SageMaker starts
a container per transform job; what differs is only that a reused server's output goes on in the log of
the job that started it (the later job's log names that file).
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

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class WarmServers:
    """One session's idle servers, by what they serve (``key``)."""

    def __init__(self) -> None:
        self._idle: dict[Hashable, WarmServer] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self, key: Hashable, start: Callable[[], WarmServer]) -> Iterator[tuple[WarmServer, bool]]:
        """An idle server for ``key`` that still answers, else a new one from ``start``; and whether it was
        reused. Kept for the next lease when the block ends normally, stopped when it raises."""
        warm = self._take(key)
        reused = warm is not None
        warm = warm or start()
        try:
            yield warm, reused
        except BaseException:
            warm.stop()
            raise
        with self._lock:
            previous, self._idle[key] = self._idle.get(key), warm
        if previous is not None:  # two transforms of one model ran at once: one server stays warm
            previous.stop()

    def _take(self, key: Hashable) -> WarmServer | None:
        with self._lock:
            warm = self._idle.pop(key, None)
        if warm is not None and not warm.server.answers():
            warm.stop()
            return None
        return warm

    def close(self) -> None:
        """The session ends: stop every idle server."""
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for warm in idle:
            warm.stop()
