"""Recovery after a session that died: one command at a time closes what it left."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import left_running, read_only_open
from mlops_pipeline.local.executions import ExecutionRecords, executions_root
from mlops_pipeline.local.recovery import recover
from mlops_pipeline.local.sessions import OPENING, SESSIONS, Session
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.target import local_target


def test_two_commands_recovering_at_once_close_a_record_left_running_once(tmp_path, monkeypatch):
    workspace, target = Workspace.resolve(tmp_path / "ws"), local_target("attrition")
    name = left_running(workspace, target)
    first_closing, go_on, original_abort = threading.Event(), threading.Event(), ExecutionRecords.abort

    def abort(self, *args):  # the first command is closing the record when the second one starts
        first_closing.set()
        assert go_on.wait(10)
        return original_abort(self, *args)

    monkeypatch.setattr(ExecutionRecords, "abort", abort)
    found: dict[str, list[str]] = {}
    first = threading.Thread(target=lambda: found.setdefault("first", recover(workspace, target)))
    second = threading.Thread(target=lambda: found.setdefault("second", recover(workspace, target)))
    first.start()
    assert first_closing.wait(10)
    second.start()
    second.join(0.5)
    go_on.set()
    first.join(10)
    second.join(10)
    assert [line for line in found["first"] if "recorded ABORTED" in line] == [
        f"execution {name} recorded ABORTED (the local session a-session-that-died that ran it ended without "
        "stopping it); `local redrive` resumes it"
    ]
    assert found["second"] == []
    history = ExecutionRecords(executions_root(workspace, target)).history(name)
    assert [event["type"] for event in history].count("ExecutionAborted") == 1


def test_a_workspace_no_session_ever_ran_in_is_left_as_it_is(tmp_path):
    assert recover(Workspace.resolve(tmp_path / "nothing-here"), local_target("attrition")) == []
    assert not (tmp_path / "nothing-here").exists()


def test_a_workspace_this_process_may_only_read_is_recovered_without_writing(tmp_path, monkeypatch):
    import builtins

    from mlops_pipeline.local import stores

    workspace = Workspace.resolve(tmp_path / "ws")
    (workspace.root / "watcher").mkdir(parents=True)
    monkeypatch.setattr(stores, "open", read_only_open(builtins.open), raising=False)
    assert recover(workspace, local_target("attrition")) == []
    assert [path.name for path in workspace.root.rglob("*")] == ["watcher"]


def test_the_lock_file_of_a_session_killed_while_it_started_is_removed_by_the_next_recovery(tmp_path):
    workspace, target = Workspace.resolve(tmp_path / "ws"), local_target("attrition")
    killed_while_renaming = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from mlops_pipeline.local.sessions import Session\n"
        "os.rename = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
        "Session(Path(sys.argv[1])).open()\n"
    )
    ended = subprocess.run([sys.executable, "-c", killed_while_renaming, str(workspace.root)], capture_output=True)
    assert ended.returncode == -signal.SIGKILL, ended.stderr
    (left,) = (workspace.root / SESSIONS).glob(f"*{OPENING}")
    opening_now = Session(workspace.root)  # another session taking its lock at this moment: locked, and new
    with open(opening_now.lock_path.with_name(f"{opening_now.id}{OPENING}"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert recover(workspace, target) == []  # the killed one is new too: a session may be opening it
        an_hour_ago = time.time() - 3600
        for path in (left, Path(held.name)):
            os.utime(path, (an_hour_ago, an_hour_ago))
        assert recover(workspace, target) == ["removed 1 lock file(s) of session(s) killed while they started"]
        assert not left.exists() and Path(held.name).exists()  # still locked: its session lives
