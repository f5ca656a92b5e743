"""Kill an owner's process groups once the owner is gone.

    python watchdog.py

Started by the local runtime once for the groups one session starts (``processes.Watchdog``), in a session of its
own, with the read end of a pipe as stdin; only the runtime holds the write end. The runtime writes a line
``PGID GRACE`` for each group it starts and ``-PGID`` once it has ended that group itself. When the pipe closes,
because the runtime died (even by kill -9), the watchdog sends SIGTERM to every group still watched, waits up to
each one's GRACE seconds for it to end and sends SIGKILL to what is left. Standard library only: it runs without
site packages.
"""

from __future__ import annotations

import os
import signal
import sys
import time

POLL_SECONDS = 0.05


def _signal(pgid: int, number: int) -> bool:
    try:
        os.killpg(pgid, number)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def watched_until_closed(fd: int) -> dict[int, float]:
    """Read the owner's lines until its end of the pipe closes: the groups still watched then, with their grace."""
    watched: dict[int, float] = {}
    pending = b""
    while chunk := os.read(fd, 4096):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            fields = line.split()
            if len(fields) == 2:
                watched[int(fields[0])] = float(fields[1])
            elif len(fields) == 1 and fields[0].startswith(b"-"):
                watched.pop(int(fields[0][1:]), None)
    return watched


def kill_all(watched: dict[int, float]) -> None:
    """SIGTERM every group, then SIGKILL each one still there once its own grace has passed."""
    started = time.monotonic()
    left = {pgid: grace for pgid, grace in watched.items() if _signal(pgid, signal.SIGTERM)}
    while left:
        time.sleep(POLL_SECONDS)
        elapsed = time.monotonic() - started
        for pgid, grace in list(left.items()):
            if not _signal(pgid, 0):
                del left[pgid]
            elif elapsed >= grace:
                _signal(pgid, signal.SIGKILL)
                del left[pgid]


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner's Ctrl-C is the owner's to handle
    kill_all(watched_until_closed(0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
