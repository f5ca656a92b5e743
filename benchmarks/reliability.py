"""The reliability figures of docs/reliability.md, produced by the tests that try each failure.

    python benchmarks/reliability.py [--full]

Runs each group of tests (pytest, with a JUnit report) and prints one Markdown table row per group: what
was tried, how many cases ran, how many passed, how long it took. ``--full`` runs every combination of the
kill matrix (``MLOPS_FULL_KILL_MATRIX=1``: 2 commands x 4 signals x 2 phases) instead of its pairwise cover.
Exit status 1 when any case failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Group:
    """What was tried, and the tests that try it."""

    tried: str
    tests: tuple[str, ...]


GROUPS = (
    Group(
        "Two uploads of one key, events delivered in reverse order: each execution reads its own version",
        (
            "tests/test_runtime.py::test_each_landed_version_is_scored_from_its_own_bytes_whatever_the_event_order",
            "tests/test_s3.py::test_a_copy_reads_the_version_it_names_and_only_bytes_whose_etag_matches",
            "tests/test_s3_landing.py::test_unversioned_bucket_the_same_bytes_landed_twice_are_two_landings",
            "tests/test_s3_landing.py::test_versioned_bucket_the_version_id_names_the_landing",
            "tests/test_s3_landing.py::test_versioning_suspended_null_version_ids_fall_back_to_the_sequencer",
        ),
    ),
    Group(
        "Two overlapping trainings, the older landing finishing last: the newer stays approved",
        (
            "tests/test_runtime.py::test_a_model_from_an_older_landing_finishing_last_does_not_replace_the_newer_one",
            "tests/test_s3.py::test_conditional_writes_refuse_a_stale_or_existing_object_as_s3_does",
        ),
    ),
    Group(
        "Kill matrix: local run / local up x SIGINT, SIGTERM, SIGHUP, SIGKILL x tuning / transform; no process "
        "left, every execution ABORTED or ended, redrive completes without re-running finished states; a second "
        "signal while the session ends (a trainer ignoring SIGTERM) kills its jobs at once, each execution recorded",
        ("tests/test_kill_matrix.py",),
    ),
    Group(
        "Full disk (ENOSPC) while writing a job's output and an execution record: one line, record kept, no temp file",
        (
            "tests/test_runtime.py::test_a_full_disk_fails_the_job_in_one_line_and_leaves_no_half_written_file",
            "tests/test_executions.py::test_a_full_disk_keeps_the_last_complete_record_and_says_where_in_one_line",
            "tests/test_stores.py::test_a_failed_atomic_write_leaves_the_old_content_and_no_temp_file",
            "tests/test_executions.py::test_a_record_left_running_by_a_dead_session_is_closed_aborted_at_its_state",
        ),
    ),
    Group(
        "Records whatever the order of threads and commands: a redrive's first Task before its start returns, an "
        "execution ending after it was last followed, Ctrl-C while an end is recorded, a recovery while a session "
        "opens or closes or is killed while it takes its lock, two recoveries at once, two sessions passing landed "
        "files on at once, `local up` scanning while `local run` lands its file",
        (
            "tests/test_runtime.py::test_a_redrive_whose_first_task_checkpoints_before_the_start_returns_keeps_the"
            "_first_records",
            "tests/test_runtime.py::test_an_execution_that_ended_after_it_was_last_followed_is_recorded_as_it_ended"
            "_when_the_session_closes",
            "tests/test_runtime.py::test_ctrl_c_while_an_ended_execution_is_being_recorded_leaves_its_record_and"
            "_notice_whole",
            "tests/test_sessions.py",
            "tests/test_recovery.py",
            "tests/test_watcher.py::test_two_sessions_polling_one_workspace_pass_each_landed_version_on_once",
            "tests/test_watcher.py::test_a_key_whose_execution_has_no_record_yet_is_forgotten_only_once_its_session"
            "_is_gone",
            "tests/test_runtime.py::test_the_file_a_run_lands_is_its_own_to_pass_on_though_local_up_watches_the"
            "_workspace",
        ),
    ),
    Group(
        "Landing handler: malformed records beside a good one, duplicates (1 000 sequential, 16 threads), 200 "
        "concurrent files, throttling beyond retries",
        (
            "tests/test_s3_landing.py::test_a_malformed_record_is_rejected_and_the_good_one_still_starts_once",
            "tests/test_s3_landing.py::test_an_event_that_is_not_an_s3_event_is_rejected_without_raising",
            "tests/test_s3_landing.py::test_same_event_delivered_1000_times_sequentially_starts_one_execution",
            "tests/test_s3_landing.py::test_same_event_from_16_threads_starts_one_execution",
            "tests/test_s3_landing.py::test_200_distinct_files_landing_concurrently_start_200_executions",
            "tests/test_s3_landing.py::test_throttled_beyond_the_retries_raises_after_the_others_and_a_redelivery"
            "_starts_only_the_missing_one",
        ),
    ),
    Group(
        "Dead letters replayed through the handler (moto SQS): exactly once still holds",
        ("tests/test_dead_letters.py",),
    ),
    Group(
        "Servers and jobs die with their owner: state end, program exit, session close, kill -9 of the session; "
        "MaxRuntimeInSeconds",
        (
            "tests/test_server_lifecycle.py",
            "tests/test_processes.py",
            "tests/test_sagemaker_training.py::test_a_job_past_its_max_runtime_is_stopped_as_sagemaker_stops_it",
            "tests/test_sagemaker_training.py::test_a_job_whose_state_ends_first_is_stopped_not_max_runtime_exceeded",
        ),
    ),
)


@dataclass(frozen=True)
class Outcome:
    cases: int
    passed: int
    failed: int
    skipped: int
    seconds: float


def run(group: Group, env: dict[str, str]) -> Outcome:
    """The group's tests in one pytest process; counts from its JUnit report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        started = time.monotonic()
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *group.tests]
        subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        cases = ElementTree.parse(report).getroot().iter("testcase")
        outcomes = [_outcome(case) for case in cases]
    return Outcome(
        len(outcomes), outcomes.count("passed"), outcomes.count("failed"), outcomes.count("skipped"), seconds
    )


def _outcome(case: ElementTree.Element) -> str:
    if case.find("skipped") is not None:
        return "skipped"
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "passed"


def kill_matrix_scenarios() -> int:
    """How many scenarios the kill matrix's two test cases (``run``, ``up``) run, by the test's own rule."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_kill_matrix import cases

    return len(cases("run")) + len(cases("up"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every combination of the kill matrix")
    args = parser.parse_args()
    if args.full:
        os.environ["MLOPS_FULL_KILL_MATRIX"] = "1"
    env = dict(os.environ)
    print("| what was tried | cases | passed | failed | skipped | seconds |")
    print("|---|---|---|---|---|---|")
    failed = 0
    for group in GROUPS:
        outcome = run(group, env)
        cases = str(outcome.cases)
        if group.tests == ("tests/test_kill_matrix.py",):
            cases += f" (the matrix's 2 run {kill_matrix_scenarios()} scenarios)"
        print(
            f"| {group.tried} | {cases} | {outcome.passed} | {outcome.failed} | {outcome.skipped} "
            f"| {outcome.seconds:.0f} |",
            flush=True,
        )
        failed += outcome.failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
