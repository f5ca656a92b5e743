"""Real-time endpoints on this machine: a stable localhost port in front of the model's ``serve``.

An endpoint is a front listener on ``127.0.0.1:<port>`` (the port is recorded with the endpoint and bound
again by every session that serves it) that forwards ``POST /invocations`` and ``GET /ping`` to the current
backend: the image's ``serve`` with the model unpacked, started as a batch transform starts one (process
group, isolation, bridge: ``Containers.start_server``). A new model is swapped in as SageMaker's default
blue/green update does it: the new backend starts and must answer ``/ping``; then new requests go to it,
requests in flight finish on the old one, and the old one is stopped. A backend that does not start leaves
the old one serving. The session keeps its endpoints until it closes.
"""

from __future__ import annotations

import errno
import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from mlops_pipeline.local.containers.warm import WarmServer

HOST = "127.0.0.1"
FORWARDED_PATHS = {"GET": ("/ping",), "POST": ("/invocations",)}
#: How long one forwarded request may take (InvokeEndpoint's limit: 60 s for the model to answer).
INVOCATION_TIMEOUT_SECONDS = 60.0
#: Headers passed on to the model server (the rest describe the connection, not the request).
PASSED_HEADERS = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")


@dataclass
class Backend:
    """One model server behind an endpoint, with the requests it is answering now."""

    warm: WarmServer
    config_name: str
    _in_flight: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def retire(self, timeout: float = INVOCATION_TIMEOUT_SECONDS) -> None:
        """Stop once the requests it is answering have finished (at most ``timeout`` later)."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)
        self.warm.stop()

    def forward(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, str, bytes]:
        """(status, content type, body) of the model server's answer."""
        connection = self.warm.server.endpoint.connect(INVOCATION_TIMEOUT_SECONDS)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()


class FrontListener:
    """The endpoint's port: an HTTP server forwarding to whichever backend is current."""

    def __init__(self, name: str, port: int):
        self.name = name
        self._backend: Backend | None = None
        self._lock = threading.Lock()
        self._http = _bind(port, self)
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, name=f"endpoint-{name}", daemon=True)
        self._thread.start()

    @property
    def backend(self) -> Backend | None:
        return self._backend

    def acquire(self) -> Backend | None:
        """The current backend, counted as answering one more request (``leave`` when done)."""
        with self._lock:
            backend = self._backend
            if backend is not None:
                backend.enter()
            return backend

    def swap(self, new: Backend) -> Backend | None:
        """New requests go to ``new`` from now on; the previous backend (if any) is returned to be retired."""
        with self._lock:
            old, self._backend = self._backend, new
        return old

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.warm.stop()


def _bind(port: int, front: FrontListener) -> ThreadingHTTPServer:
    """Bind the recorded port; when something else holds it now, another one (the record is updated)."""
    handler = type("EndpointHandler", (_Handler,), {"front": front})
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as error:
        if error.errno != errno.EADDRINUSE or port == 0:
            raise
        server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    front: FrontListener

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.path not in FORWARDED_PATHS[method]:
            self._answer(404, "text/plain", f"{method} {self.path}: an endpoint answers /ping and /invocations\n")
            return
        backend = self.front.acquire()
        if backend is None:
            self._answer(503, "text/plain", f"endpoint {self.front.name} has no model serving yet\n")
            return
        try:
            headers = {key: self.headers[key] for key in PASSED_HEADERS if self.headers.get(key)}
            status, content_type, answer = backend.forward(method, self.path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            status, content_type, answer = 502, "text/plain", f"the model server did not answer: {error}\n".encode()
        finally:
            backend.leave()
        self._answer(status, content_type, answer)

    def _answer(self, status: int, content_type: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # requests are not logged to the terminal
        pass


class Endpoints:
    """One session's served endpoints, by name; closed (listeners and model servers stopped) with the session."""

    def __init__(self) -> None:
        self._fronts: dict[str, FrontListener] = {}
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def serving(self, name: str) -> FrontListener | None:
        with self._lock:
            return self._fronts.get(name)

    def deploy(self, name: str, port: int, config_name: str, start: Callable[[], WarmServer]) -> int:
        """Start a backend for ``config_name`` (``start`` raises when it does not answer ``/ping``: nothing
        changes then) and make it the endpoint's; the port it is served on."""
        backend = Backend(start(), config_name)  # its server outlives this thread: Containers.start_server
        with self._lock:
            if self.closed.is_set():
                backend.warm.stop()
                raise RuntimeError("the session closed")
            front = self._fronts.get(name)
            if front is None:
                try:
                    front = self._fronts[name] = FrontListener(name, port)
                except OSError:
                    backend.warm.stop()
                    raise
        old = front.swap(backend)
        if old is not None:
            threading.Thread(target=old.retire, name=f"retire-{name}", daemon=True).start()
        return front.port

    def close(self) -> None:
        self.closed.set()
        with self._lock:
            fronts, self._fronts = list(self._fronts.values()), {}
        for front in fronts:
            front.close()
