"""The `mlops-pipeline demo` and `local ...` commands, as a user runs them."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_WORKFLOW, REPO, cli_env, run_cli
from mlops_pipeline.cli import main
from mlops_pipeline.local.sessions import SESSION_ENV, SESSIONS


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory):
    """`mlops-pipeline demo` run for real, in a clean environment without AWS credentials."""
    workspace = tmp_path_factory.mktemp("demo") / "ws"
    result = run_cli("demo", "--rows", 2000, "--score-rows", 300, "--workspace", workspace, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace, result.stdout


@pytest.mark.slow
def test_the_demo_ends_with_predictions_metrics_and_trials(demo_workspace):
    workspace, output = demo_workspace
    assert "Model approved:" in output and "Best model" in output and "Tuning job attrition-" in output
    # the first approval reads a latest.json that is not there yet; its Catch carries on
    assert "caught     ReadLatestForUpdate  S3.NoSuchKeyException" in output
    assert "failed     ReadLatestForUpdate" not in output
    (predictions,) = (workspace / "s3" / "attrition-output" / "attrition" / "predictions").glob(
        "run=*/employees_score.csv"
    )
    assert f"Predictions: {predictions}  (300 rows: employee_id,probability;" in output
    with open(workspace / "demo-data" / "employees_score.csv") as landed, open(predictions) as predicted:
        header, *rows = csv.reader(predicted)
        assert header == ["employee_id", "probability"]
        assert [row["employee_id"] for row in csv.DictReader(landed)] == [row[0] for row in rows]


@pytest.mark.slow
def test_executions_history_tables_ls_and_cat_read_the_records(demo_workspace):
    workspace = str(demo_workspace[0])
    listed = cli("local", "executions", "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", workspace)
    assert listed.exit_code == 0 and listed.output.count("SUCCEEDED") == 2
    assert "ModelApproved" not in listed.output and "ReadLatestForUpdate" not in listed.output  # nothing failed
    name = next(word for word in listed.output.split() if word.startswith("score-"))
    history = cli("local", "history", name, "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", workspace)
    assert (
        "TaskStateEntered" in history.output
        and "BatchTransform" in history.output
        and "status: SUCCEEDED" in history.output
    )
    tables = cli("local", "tables", "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", workspace)
    assert "attrition_output.predictions" in tables.output and "probability double" in tables.output
    assert "run string (partition)" in tables.output
    found = cli("local", "executions", "--workspace", workspace)  # no --workflow: the one the workspace ran
    assert found.exit_code == 0 and found.output.count("SUCCEEDED") == 2
    assert "s3://attrition-output/" in cli("local", "ls", "--workspace", workspace).output
    uri = "s3://attrition-output/attrition/latest-predictions/employees_score.csv"
    assert uri in cli("local", "ls", "s3://attrition-output/attrition/", "--workspace", workspace).output
    assert len(cli("local", "cat", uri, "--workspace", workspace).output.splitlines()) == 301  # a header, 300 rows
    redrive = cli(
        "local", "redrive", name, "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", workspace, "--project", str(REPO)
    )
    assert redrive.exit_code == 1 and "succeeded; only failed" in redrive.output


@pytest.mark.slow
def test_demo_again_with_reuse_serves_both_glue_transforms_with_the_same_extracts(demo_workspace, tmp_path):
    """The edit-run loop: the same files again with --reuse; neither Glue transform runs, the rest does."""
    import json
    import shutil

    workspace = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], workspace, symlinks=True)  # the module's workspace stays as it was
    # The copy keeps the Glue runs, not the approved model: the gate would hold the new model to the first
    # run's (champion and margin), which an unseeded tuning may miss; reuse is what this test is about.
    from mlops_pipeline.layout import latest_model_key
    from mlops_pipeline.local.integrations.sagemaker_registry import GROUPS
    from mlops_pipeline.local.stores import Workspace

    shutil.rmtree(workspace / "services" / GROUPS)
    Workspace.resolve(workspace).path("attrition-metadata", latest_model_key("attrition")).unlink()
    result = run_cli("demo", "--rows", 2000, "--score-rows", 300, "--workspace", workspace, "--reuse", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for state in ("TransformTrainingData", "TransformScoringData"):
        assert f"reused     {state}" in result.stdout and f"succeeded  {state}" not in result.stdout
    assert "succeeded  TuneHyperparameters" in result.stdout and "succeeded  BatchTransform" in result.stdout
    # the extracts are the same bytes as the runs wrote without reuse (the example's tuning is not seeded, so
    # the models, and with them the predictions, may differ between any two runs)
    stems = [path.parent for path in (workspace / "s3" / "attrition-extracts").glob("attrition/*/report.json")]
    extracts = [
        {
            path.relative_to(stem): path.read_bytes()
            for path in stem.rglob("*")
            if path.is_file() and "landed" not in path.parts
        }
        for stem in sorted(stems, key=lambda stem: stem.name)
    ]
    assert len(extracts) == 4 and extracts.count(extracts[0]) == 2 and extracts.count(extracts[-1]) == 2
    executions = workspace / "s3" / "attrition-metadata" / "attrition" / "executions"
    (record,) = [
        json.loads(path.read_text())
        for path in executions.glob("train-*/execution.json")
        if json.loads(path.read_text())["reused"]
    ]
    assert [reused["state"] for reused in record["reused"]] == ["TransformTrainingData"]
    assert record["reused"][0]["detail"].startswith("reused the outputs of run jr_")
    (log,) = (executions / record["name"] / "logs" / "glue").glob("*.log")
    assert "the script did not run" in log.read_text()
    history = cli("local", "history", record["name"], "--workspace", str(workspace))
    assert f"TaskSucceeded                {record['reused'][0]['detail']}" in history.output


def test_land_copies_into_the_feature_store(tmp_path):
    source = tmp_path / "mine.csv"
    source.write_text("employee_id,attrition\n1,0\n")
    result = cli(
        "local", "land", "train", str(source), "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", str(tmp_path / "ws")
    )
    assert result.exit_code == 0 and "s3://attrition-feature-store/data/train/mine.csv" in result.output
    assert (
        tmp_path / "ws" / "s3" / "attrition-feature-store" / "data" / "train" / "mine.csv"
    ).read_text() == source.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["local", "cat", "s3://attrition-output/none.csv"], "s3://attrition-output/none.csv: no such object"),
        (["local", "ls", "s3://attrition-output/"], "nothing under s3://attrition-output/"),
        (["local", "history", "nope", "--workflow", str(EXAMPLE_WORKFLOW)], "no execution named 'nope'"),
        (["local", "tables", "--workflow", str(EXAMPLE_WORKFLOW)], "no catalog yet"),
        (["local", "notifications", "--workflow", str(EXAMPLE_WORKFLOW)], "no failure notices kept in "),
        (["local", "invoke", "--endpoint", "nope", "{file}"], "no endpoint nope in "),
        (
            [
                "local",
                "run",
                "--workflow",
                str(EXAMPLE_WORKFLOW),
                "--train",
                "{file}",
                "--score",
                "{file}",
                "--project",
                "{tmp}",
            ],
            "run_transform.py not found",
        ),
    ],
)
def test_user_errors_are_one_line_and_exit_1(tmp_path, args, message):
    data = tmp_path / "x.csv"
    data.write_text("a\n1\n")
    args = [a.format(file=data, tmp=tmp_path) for a in args] + ["--workspace", str(tmp_path / "ws")]
    result = cli(*args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_help_names_every_local_command():
    result = cli("local", "--help")
    local_commands = ("run", "up", "land", "ls", "cat", "executions", "history", "redrive", "tables")
    for command in (*local_commands, "notifications", "schedules", "invoke"):
        assert f"  {command} " in result.output


def test_schedules_lists_each_schedule_with_its_next_fire_times(tmp_path):
    workflow = tmp_path / "scheduled.py"
    text = EXAMPLE_WORKFLOW.read_text().replace(
        "from mlops_pipeline.config import (\n", "from mlops_pipeline.config import (\n    Schedules,\n"
    )
    text = text.replace(
        "    inference=InferenceSettings(",
        '    schedules=Schedules(retraining="cron(30 2 1 1 ? 2099)", batch_scoring="rate(6 hours)"),\n'
        "    inference=InferenceSettings(",
    )
    workflow.write_text(text)
    result = cli("local", "schedules", "--workflow", str(workflow), "--workspace", str(tmp_path / "ws"), "--count", "2")
    assert result.exit_code == 0, result.output
    retraining, scoring = result.output.splitlines()[1:]
    assert retraining.split()[:3] == ["attrition-retraining", "training", "cron(30"]
    assert retraining.endswith("2099-01-01T02:30+00:00")  # the one fire its year allows
    assert scoring.startswith("attrition-batch-scoring  scoring   rate(6 hours)") and scoring.count("+00:00") == 2
    unscheduled = cli("local", "schedules", "--workflow", str(EXAMPLE_WORKFLOW), "--workspace", str(tmp_path / "ws"))
    assert unscheduled.output == f"attrition has no schedules (PipelineConfig.schedules in {EXAMPLE_WORKFLOW})\n"


@pytest.mark.parametrize("command", [["local", "run"], ["local", "up"], ["demo"]])
def test_reuse_is_an_option_of_the_commands_that_run_pipelines(command):
    assert "--reuse" in cli(*command, "--help").output


def session_fork_servers(session: str) -> list[int]:
    """Pids of the session's fork server processes (``zygote.py`` in the command line, the session's mark in the
    environment; in a view, also the bubblewrap processes that run one)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command, environ = (entry / "cmdline").read_bytes(), (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"zygote.py" in command and f"{SESSION_ENV}={session}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_watches_the_workspace_s_pipeline_and_a_signal_ends_it_as_it_ends_run(signum, tmp_path):
    """`local up` without --workflow in a workspace that only ran hr-churn (from the repository's folder, where the
    example workflow is too) watches hr-churn, its training jobs' fork server warming up before any file lands;
    Ctrl-C or SIGTERM, even of an idle `up`, ends it with 128 + the signal and says what it stopped."""
    from mlops_pipeline.local.stores import Workspace

    workflow = tmp_path / "hr_churn.py"
    workflow.write_text(EXAMPLE_WORKFLOW.read_text().replace('name="attrition",', 'name="hr-churn",'))
    workspace = Workspace.resolve(tmp_path / "ws")
    workspace.remember_pipeline("hr-churn", workflow, REPO)
    env = cli_env() | {"MLOPS_WORKSPACE": str(workspace.root)}
    command = [sys.executable, "-m", "mlops_pipeline.cli", "local", "up", "--interval", "0.2"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        time.sleep(1.0)  # into the watch loop
        (session,) = [path.stem for path in (workspace.root / SESSIONS).glob("*.lock")]
        fork_servers = session_fork_servers(session)  # the training jobs' own, before any file lands
        process.send_signal(signum)
        rest, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert first.startswith(f"Watching {workspace.root / 's3' / 'hr-churn-feature-store'} "), first + rest + errors
    assert fork_servers, "no fork server was warming up for the training jobs"
    assert process.returncode == 128 + signum, first + rest + errors
    name = signal.Signals(signum).name
    assert errors.splitlines() == [f"pipeline hr-churn ({workflow})", f"Stopped by {name}: no execution was running."]
    assert rest == "Stopped watching.\n" and set(workspace.pipelines()) == {"hr-churn"}


@pytest.mark.slow
def test_a_reader_that_stops_reading_leaves_the_run_to_finish(tmp_path):
    """`local run ... | head -1`: once the reader has gone, what is printed is dropped and the run goes on to its
    end. rich ended the program from whichever thread printed next; from a tuning thread (a trial's line) that
    ended the thread, and left the training execution and the session waiting for ever."""
    from conftest import hr_project, write_hr_like

    project = hr_project(tmp_path / "project")
    train = write_hr_like(tmp_path / "train.csv", 300, seed=11)
    score = write_hr_like(tmp_path / "score.csv", 30, seed=12, label=False, start=12_000)
    command = [sys.executable, "-m", "mlops_pipeline.cli", "local", "run", "--workflow", "workflows/hr.py"]
    command += ["--train", str(train), "--score", str(score), "--workspace", str(tmp_path / "ws")]
    process = subprocess.Popen(command, cwd=project, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"Landing train.csv")
    process.stdout.close()
    try:
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    records = (tmp_path / "ws" / "s3" / "hr-metadata" / "hr" / "executions").glob("*/execution.json")
    assert sorted(json.loads(path.read_text())["status"] for path in records) == ["SUCCEEDED", "SUCCEEDED"]
    assert list((tmp_path / "ws" / "s3" / "hr-output" / "hr" / "predictions").glob("run=*/score.csv"))
