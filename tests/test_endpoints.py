"""The endpoint's front listener: a stable port, a swap that fails no request, a start that fails changes
nothing (real HTTP; the model servers here are small HTTP servers standing in for ``serve``)."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import call
from mlops_pipeline.local.containers.http import Endpoint
from mlops_pipeline.local.endpoints import Endpoints


class _Model(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answer = b""

    def do_GET(self) -> None:
        self._reply(b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.02)  # requests are still in flight when the swap happens
        self._reply(self.answer)

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class FakeWarm:
    """What ``Endpoints`` needs of a started model server: where it answers, and stop()."""

    def __init__(self, answer: bytes):
        handler = type("Model", (_Model,), {"answer": answer})
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.server = type("Server", (), {"endpoint": Endpoint(port=self.http.server_address[1])})()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def endpoints():
    served = Endpoints()
    yield served
    served.close()


def ask(port: int):
    return call(Endpoint(port=port), "POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv"}, timeout=10)


def test_a_swap_under_load_fails_no_request_and_stops_the_old_server_after_its_last_answer(endpoints):
    first, second = FakeWarm(b"first\n"), FakeWarm(b"second\n")
    port = endpoints.deploy("ep", 0, "c-1", lambda: first)
    answers, failures, stop = [], [], threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                reply = ask(port)
                (answers if reply.status_code == 200 else failures).append(reply.text)
            except OSError as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    assert endpoints.deploy("ep", port, "c-2", lambda: second) == port
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert "first\n" in answers and answers[-1] == "second\n"
    assert answers.index("second\n") > 0 and "first\n" not in answers[answers.index("second\n") + 8 :]
    assert first.stopped.wait(5) and not second.stopped.is_set()
    assert endpoints.serving("ep").backend.config_name == "c-2"


def test_a_model_that_does_not_start_leaves_the_serving_one(endpoints):
    first = FakeWarm(b"first\n")
    port = endpoints.deploy("ep", 0, "c-1", lambda: first)

    def broken():
        raise RuntimeError("the inference server exited with status 1")

    with pytest.raises(RuntimeError):
        endpoints.deploy("ep", port, "c-2", broken)
    assert ask(port).text == "first\n" and not first.stopped.is_set()


def test_the_recorded_port_is_bound_again_or_another_one_when_it_is_taken(endpoints):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        port = endpoints.deploy("ep", busy, "c-1", lambda: FakeWarm(b"x\n"))
    assert port != busy and ask(port).text == "x\n"
    free = port
    endpoints.close()
    again = Endpoints()
    try:
        assert again.deploy("ep", free, "c-1", lambda: FakeWarm(b"y\n")) == free
        assert ask(free).text == "y\n"
    finally:
        again.close()


def test_only_ping_and_invocations_are_forwarded(endpoints):
    port = endpoints.deploy("ep", 0, "c-1", lambda: FakeWarm(b"x\n"))
    assert call(Endpoint(port=port), "GET", "/ping").status_code == 200
    assert call(Endpoint(port=port), "GET", "/metrics").status_code == 404
