"""Local failure notifications: one notice per failed attempt, printed, kept in the workspace and POSTed to
the workflow's webhook (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_WORKFLOW, left_running, local_project, run_cli
from mlops_pipeline.cli import main
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.notifications import LocalNotifier

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:attrition-scoring:score-x-0123456789abcdef"


class Receiver:
    """A webhook on 127.0.0.1 that keeps every POST body and answers ``status``."""

    def __init__(self, status: int = 204):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/failures"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def ended(status: str = "FAILED") -> dict:
    """DescribeExecution's answer for an ended execution, as the local engine gives it."""
    start = datetime.datetime(2024, 5, 2, 10, 0, tzinfo=datetime.timezone.utc)
    return {
        "executionArn": EXECUTION,
        "stateMachineArn": EXECUTION.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "name": EXECUTION.rsplit(":", 1)[1],
        "status": status,
        "startDate": start,
        "stopDate": start + datetime.timedelta(seconds=4),
        "input": "{}",
    }


HISTORY = [
    {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "ReadApprovedModel"}},
    {"type": "TaskFailed", "taskFailedEventDetails": {"error": "S3.NoSuchKeyException", "cause": "no key"}},
    {"type": "FailStateEntered", "stateEnteredEventDetails": {"name": "NoApprovedModel"}},
    {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "NoApprovedModel", "cause": "none yet"}},
]


def test_one_notice_per_attempt_kept_and_posted_once(tmp_path):
    with Receiver() as receiver:
        notifier = LocalNotifier(tmp_path / "failures.jsonl", receiver.url)
        first = notifier.notify(ended(), HISTORY)
        assert notifier.notify(ended(), HISTORY) is None  # the same attempt, seen again
        redriven = notifier.notify(ended(), HISTORY, redrive_count=1)
        assert notifier.notify(ended("SUCCEEDED"), []) is None
    kept = notifier.kept()
    assert [line["id"] for line in kept] == [f"{EXECUTION}#0#FAILED", f"{EXECUTION}#1#FAILED"]
    assert first.notice["failed_state"] == "ReadApprovedModel" and redriven.webhook_problem is None
    assert [body for _, _, body in receiver.received] == [first.notice, redriven.notice]
    assert receiver.received[0][:2] == ("/hooks/failures", "application/json")
    assert kept[0] == {**first.notice, "webhook": {"url": receiver.url, "problem": None}}


def test_a_webhook_that_refuses_or_does_not_answer_is_one_warning_kept_with_the_notice(tmp_path):
    with Receiver(status=500) as receiver:
        refused = LocalNotifier(tmp_path / "a.jsonl", receiver.url).notify(ended(), HISTORY)
    assert refused.webhook_problem == "the webhook answered HTTP 500"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never answers
    with silent:
        notifier = LocalNotifier(tmp_path / "b.jsonl", f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.5)
        started = time.monotonic()
        unanswered = notifier.notify(ended(), HISTORY)
        assert time.monotonic() - started < 3
    assert unanswered.webhook_problem.startswith("the webhook could not be reached: ")
    assert notifier.kept()[0]["webhook"]["problem"] == unanswered.webhook_problem


def test_without_a_webhook_the_notice_is_kept(tmp_path):
    notifier = LocalNotifier(tmp_path / "n" / "failures.jsonl")
    notice = notifier.notify(ended("ABORTED"), HISTORY[:1])
    assert notice.webhook_problem is None and notifier.kept()[0]["webhook"] is None
    assert notice.notice["status"] == "ABORTED" and notice.notice["failed_state"] == "ReadApprovedModel"


@pytest.mark.slow
def test_a_failed_execution_is_printed_kept_and_posted_exactly_once(tmp_path):
    """``local run`` with an injected S3 error: the training execution fails at its first Task, at once."""
    train, score = write_demo_pair(tmp_path / "data", 300, 50)
    project = local_project(tmp_path / "project")
    workspace = tmp_path / "ws"
    with Receiver() as receiver:
        (project / "workflows").mkdir()
        (project / "workflows" / "attrition.py").write_text(
            EXAMPLE_WORKFLOW.read_text().replace(
                "PIPELINE = PipelineConfig(",
                "from mlops_pipeline.config import NotificationSettings\n\nPIPELINE = PipelineConfig(\n"
                f"    notifications=NotificationSettings(webhook_url={receiver.url!r}),",
            )
        )
        result = run_cli(
            *("local", "run", "--workflow", "workflows/attrition.py", "--workspace", workspace),
            *("--train", train, "--score", score, "--inject", "PinLandedObject=S3.AccessDeniedException"),
            cwd=project,
            timeout=300,
        )
    assert result.returncode == 1, result.stderr
    (line,) = (
        (workspace / "s3" / "attrition-metadata" / "attrition" / "notifications" / "failures.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    kept = json.loads(line)
    assert (kept["workflow"], kept["status"], kept["failed_state"]) == ("training", "FAILED", "PinLandedObject")
    assert kept["error"] == "LandedObjectUnavailable" and "S3.AccessDeniedException" in kept["cause"]
    assert kept["webhook"] == {"url": receiver.url, "problem": None}
    assert [body for _, _, body in receiver.received] == [{k: v for k, v in kept.items() if k != "webhook"}]
    assert result.stdout.count("Notification kept in") == 1
    said = " ".join(result.stdout.split())
    where = f"--workspace {workspace} --workflow workflows/attrition.py"
    redrive = f"mlops-pipeline local redrive {kept['execution']} {where}"
    assert f"{score} was not landed; once training has succeeded (`{redrive}`)" in said
    assert f"`mlops-pipeline local land score {score} {where}` lands it and `mlops-pipeline local up {where}`" in said
    assert kept["message"] in result.stdout  # the literal text subscribers read
    listed = CliRunner().invoke(main, ["local", "notifications", "--workspace", str(workspace)], terminal_width=200)
    row = listed.output.strip().splitlines()[-1].split()
    assert row[1:] == [kept["execution"], "FAILED", "PinLandedObject", "LandedObjectUnavailable", "delivered"]


def test_a_notice_that_cannot_be_kept_is_said_and_the_session_goes_on(tmp_path, monkeypatch):
    import errno

    from mlops_pipeline.local import notifications

    def full(target, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(notifications, "write_atomic", full)
    event = LocalNotifier(tmp_path / "failures.jsonl").notify(ended(), HISTORY)
    assert event.unkept.startswith(f"no space left on the device writing {tmp_path / 'failures.jsonl'}")
    assert event.notice["status"] == "FAILED" and not (tmp_path / "failures.jsonl").exists()


def test_an_execution_a_dead_session_left_running_gets_its_notice_when_recovery_closes_it(tmp_path):
    """``kill -9`` of a session: the next command's recovery records the execution ABORTED, and its notice is
    kept then, once (a second look finds nothing RUNNING)."""
    from mlops_pipeline.local.recovery import recover
    from mlops_pipeline.local.stores import Workspace
    from mlops_pipeline.target import local_target

    workspace, target = Workspace.resolve(tmp_path / "ws"), local_target("attrition")
    left_running(workspace, target)
    notifier = LocalNotifier.of_pipeline(workspace, target)
    done = recover(workspace, target, notifier)
    assert f"failure notice of score-x-0123456789abcdef (ABORTED) kept in {notifier.path}" in done
    (notice,) = notifier.kept()
    assert (notice["status"], notice["failed_state"], notice["workflow"]) == ("ABORTED", "BatchTransform", "scoring")
    assert "the local session a-session-that-died that ran it ended without stopping it" in notice["cause"]
    assert not [line for line in recover(workspace, target, notifier) if "failure notice" in line]
    assert len(notifier.kept()) == 1


@pytest.mark.parametrize(
    "command", [["local", "executions"], ["local", "history"], ["local", "notifications"], ["report"]]
)
def test_every_command_showing_executions_or_notices_recovers_first_and_sends_the_notice(tmp_path, command):
    """After ``kill -9`` of a session, whichever of these runs next closes the execution ABORTED and posts
    its notice to the pipeline's webhook: a later command finds nothing RUNNING, so the notice is now or never."""
    from mlops_pipeline.local.stores import Workspace
    from mlops_pipeline.target import local_target

    workspace = tmp_path / "ws"
    project = tmp_path / "project"
    (project / "workflows").mkdir(parents=True)
    name = left_running(Workspace.resolve(workspace), local_target("attrition"))
    with Receiver() as receiver:
        (project / "workflows" / "attrition.py").write_text(
            EXAMPLE_WORKFLOW.read_text().replace(
                "PIPELINE = PipelineConfig(",
                "from mlops_pipeline.config import NotificationSettings\n\nPIPELINE = PipelineConfig(\n"
                f"    notifications=NotificationSettings(webhook_url={receiver.url!r}),",
            )
        )
        arguments = {"history": [name], "report": [name, "--out", str(tmp_path / "report.html")]}
        arguments = arguments.get(command[-1], [])
        result = run_cli(
            *command, *arguments, "--workflow", "workflows/attrition.py", "--workspace", workspace, cwd=project
        )
    assert f"Recovered: execution {name} recorded ABORTED" in result.stderr, result.stderr
    assert f"Recovered: failure notice of {name} (ABORTED) kept in" in result.stderr
    ((_, _, body),) = receiver.received
    assert (body["execution"], body["status"], body["failed_state"]) == (name, "ABORTED", "BatchTransform")
