"""A session's lock file: never seen unlocked while its session lives, so no other command's recovery takes it
for a dead one (flock locks belong to each open file, so one process can play both commands)."""

from __future__ import annotations

from pathlib import Path

from mlops_pipeline.local import sessions
from mlops_pipeline.local.sessions import Session, dead_sessions, forget, is_alive


def test_a_recovery_while_a_session_opens_does_not_take_it_for_a_dead_one(tmp_path, monkeypatch):
    session, real_flock, found = Session(tmp_path), sessions.fcntl.flock, []

    def flock(handle, operation):  # another command's recovery runs as the session takes its lock
        if getattr(handle, "mode", "") == "w" and not found:  # the opening session's own file (is_alive reads)
            found.append([])  # once: the recovery's own flock calls go straight through
            found[0] += dead_sessions(tmp_path)
            for dead in found[0]:
                forget(tmp_path, dead)
        return real_flock(handle, operation)

    monkeypatch.setattr(sessions.fcntl, "flock", flock)
    session.open()
    try:
        assert found == [[]]
        assert session.lock_path.exists() and is_alive(tmp_path, session.id)
    finally:
        session.close()
    assert list((tmp_path / sessions.SESSIONS).iterdir()) == []


def test_a_closing_session_removes_its_lock_file_before_it_lets_the_lock_go(tmp_path, monkeypatch):
    session, real_unlink, alive_when_removed = Session(tmp_path).open(), Path.unlink, []

    def unlink(path, missing_ok=False):
        if path == session.lock_path:
            alive_when_removed.append(is_alive(tmp_path, session.id))
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    session.close()
    assert alive_when_removed == [True] and not session.lock_path.exists()
    assert dead_sessions(tmp_path) == []
