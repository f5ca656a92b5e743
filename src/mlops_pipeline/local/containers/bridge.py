"""Run inside a server's sandbox: start the server, and relay a unix socket to its port.

    python bridge.py SOCKET PORT -- COMMAND...

The server owns port PORT in its private network; the runtime, outside that network, connects to
SOCKET (in a folder both see). The bridge exits with the server's status, and a SIGTERM is passed on.
Standard library only: it runs with the container environment's interpreter.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

CHUNK = 1 << 16


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        pass


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.close()
        return
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    for stream in (writer, upstream_writer):
        stream.close()


def _serve(socket_path: str, port: int) -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.start_unix_server(lambda r, w: _relay(r, w, port), path=socket_path))
    os.chmod(socket_path, 0o666)
    loop.run_forever()


def main(argv: list[str]) -> int:
    socket_path, port, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: bridge.py SOCKET PORT -- COMMAND...")
    server = subprocess.Popen(command)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: server.terminate())
    threading.Thread(target=_serve, args=(socket_path, int(port)), daemon=True).start()
    return server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
