"""Kill a process group once its owner is gone.

    python watchdog.py PGID GRACE

Started by the local runtime next to each job or server, in a session of its own, with the read end of a pipe
as stdin; only the runtime holds the write end. When the pipe closes, because the runtime released it or
because the runtime died (even by kill -9), the watchdog sends SIGTERM to the group, waits up to GRACE seconds
for it to end and sends SIGKILL to what is left. Standard library only: it runs without site packages.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _signal(pgid: int, number: int) -> bool:
    try:
        os.killpg(pgid, number)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str]) -> int:
    pgid, grace = int(argv[0]), float(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner's Ctrl-C is the owner's to handle
    while os.read(0, 4096):  # nobody writes; this returns b"" once the owner's end is closed
        pass
    if not _signal(pgid, signal.SIGTERM):
        return 0
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _signal(pgid, 0):
            return 0
        time.sleep(0.05)
    _signal(pgid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
