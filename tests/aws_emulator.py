"""moto_server, the AWS emulator the tests speak HTTP to, started on a free localhost port."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator


class EmulatorFailed(RuntimeError):
    """moto_server did not start; the message holds the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(log_path: Path, timeout: float = 60) -> Iterator[str]:
    """Run moto_server until the block ends (even when it fails); yields its endpoint URL."""
    port = free_port()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_listening(server, port, log_path, timeout)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def _wait_listening(server: subprocess.Popen, port: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise EmulatorFailed(f"moto_server exited {server.returncode}: {log_path.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise EmulatorFailed(f"moto_server did not listen within {timeout:.0f} s") from None
            time.sleep(0.2)


def reset(endpoint: str) -> None:
    """Forget every resource (moto's own reset API), so tests sharing a server start empty."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=json.dumps({}).encode(), method="POST")
    urllib.request.urlopen(request, timeout=30).close()


def emulator_environment(endpoint: str, folder: Path, region: str = "us-east-1") -> dict[str, str]:
    """Fake credentials and the emulator's endpoint, for a process and the commands it runs."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-aws-credentials"),
    }
