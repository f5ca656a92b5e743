"""WarmServers: servers started ahead of a lease, idle ones reused, all stopped with the session."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlops_pipeline.local.containers.warm import MAX_IDLE_SERVERS, WarmServer, WarmServers
from mlops_pipeline.local.tasks import TaskStopped


@dataclass
class StandIn:
    """A server that answers until it is stopped."""

    stopped: bool = False
    log_path: Path = field(default_factory=lambda: Path("serve.log"))

    def answers(self) -> bool:
        return not self.stopped

    def stop(self) -> None:
        self.stopped = True


def starting(started: list, release: threading.Event | None = None, entered: threading.Event | None = None):
    """A ``start`` that records each server it makes, after ``release`` is set (when given); ``entered`` is set
    as it begins (the server is then registered as starting)."""

    def start() -> WarmServer:
        if entered is not None:
            entered.set()
        if release is not None:
            release.wait(30)
        server = StandIn()
        started.append(server)
        return WarmServer(server, Path("/nonexistent/folder"))  # type: ignore[arg-type]

    return start


def starting_ahead(servers: WarmServers, started: list, release: threading.Event) -> threading.Thread:
    """A thread starting a server ahead for ``m`` (done once ``release`` is set), returned once the server is
    registered as starting."""
    entered = threading.Event()
    ahead = threading.Thread(target=servers.start_ahead, args=("m", starting(started, release, entered)))
    ahead.start()
    assert entered.wait(10)
    return ahead


def test_a_lease_waits_for_the_server_starting_ahead_and_takes_it():
    servers, started, release = WarmServers(), [], threading.Event()
    ahead = starting_ahead(servers, started, release)
    threading.Timer(0.3, release.set).start()
    with servers.lease("m", starting(started)) as (warm, running):
        assert running and warm.ahead and warm.server is started[0]
    ahead.join(5)
    assert len(started) == 1
    with servers.lease("m", starting(started)) as (warm, running):
        assert running and not warm.ahead  # it has served one transform: now it is an earlier transform's
    servers.close()
    assert started[0].stopped


def test_a_lease_waiting_for_a_server_starting_ahead_gives_up_when_its_state_ends():
    servers, started, release = WarmServers(), [], threading.Event()
    ahead = starting_ahead(servers, started, release)
    ended = time.monotonic() + 0.3

    def check() -> None:
        if time.monotonic() > ended:
            raise TaskStopped("the state ended")

    with pytest.raises(TaskStopped):
        with servers.lease("m", starting(started), check):
            pass
    assert time.monotonic() - ended < 5 and started == []  # it did not wait for the start, nor start its own
    release.set()
    ahead.join(5)
    servers.close()
    assert len(started) == 1 and started[0].stopped


def test_a_server_that_finishes_starting_after_the_session_closed_is_stopped():
    servers, started, release = WarmServers(), [], threading.Event()
    ahead = starting_ahead(servers, started, release)
    servers.close()
    release.set()
    ahead.join(5)
    assert len(started) == 1 and started[0].stopped
    servers.start_ahead("m", starting(started))
    assert len(started) == 1  # nothing starts after the close


def lease_and_keep(servers: WarmServers, key: str, started: list) -> tuple[StandIn, bool]:
    """One transform of ``key``'s model: the server it used, and whether that was already running."""
    with servers.lease(key, starting(started)) as (warm, running):
        return warm.server, running


def test_idle_servers_beyond_the_limit_are_stopped_least_recently_used_first():
    """A long `local watch` scores with a new model after each training: the servers of older models stop."""
    assert MAX_IDLE_SERVERS == 2
    servers, started = WarmServers(), []
    a, b = (lease_and_keep(servers, key, started)[0] for key in ("a", "b"))
    assert (lease_and_keep(servers, "a", started)) == (a, True)  # used again: now b is the least recent
    c, running = lease_and_keep(servers, "c", started)
    assert not running and b.stopped and not a.stopped and not c.stopped
    assert lease_and_keep(servers, "a", started) == (a, True) and len(started) == 3
    servers.close()
    assert all(server.stopped for server in started)


def test_a_server_started_ahead_for_a_transform_that_never_came_is_stopped_as_newer_ones_are_kept():
    servers, started = WarmServers(), []
    servers.start_ahead("failed-before-its-transform", starting(started))
    orphan = started[0]
    for key in ("b", "c"):
        lease_and_keep(servers, key, started)
    assert orphan.stopped and [server.stopped for server in started[1:]] == [False, False]
    servers.close()
