"""HTTP to a model server, over TCP (direct mode) or the unix socket of its bridge (isolated mode)."""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@dataclass(frozen=True)
class Endpoint:
    """Where a server answers: ``host:port``, or a unix socket."""

    host: str = "127.0.0.1"
    port: int = 0
    socket_path: str = ""

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.socket_path:
            return _UnixConnection(self.socket_path, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def __str__(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else f"http://{self.host}:{self.port}"


def request(
    endpoint: Endpoint,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 60.0,
) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    connection = endpoint.connect(timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Session:
    """A kept-alive connection for a sequence of requests (one per thread); reconnects once when the server
    closed an idle connection."""

    def __init__(self, endpoint: Endpoint, timeout: float):
        self.endpoint, self.timeout = endpoint, timeout
        self.connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = self.endpoint.connect(self.timeout)
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
