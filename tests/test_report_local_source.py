"""End to end: `local run` writes both executions' reports beside their records and says where; the training
report opens in headless Chromium with its state graph and its plots drawn; `report NAME` writes one anywhere;
the AWS source, given the same facts as AWS's answers, builds the same report."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from conftest import chromium, hr_project, run_cli, write_hr_like
from mlops_pipeline.local.executions import ExecutionRecords, executions_root
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.report.aws_source import AwsClients, aws_report
from mlops_pipeline.report.graph import COLOURS
from mlops_pipeline.report.local_source import local_report, training_job_summary
from mlops_pipeline.target import local_target

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One cheap pipeline run (two trials, small files) by `mlops-pipeline local run`, as a user runs it."""
    root = tmp_path_factory.mktemp("report")
    project = hr_project(root / "project")
    train = write_hr_like(root / "train.csv", 400, seed=1)
    score = write_hr_like(root / "score.csv", 150, seed=2, label=False, start=5000)
    result = run_cli(
        "local",
        "run",
        "--workflow",
        "workflows/hr.py",
        "--train",
        train,
        "--score",
        score,
        "--workspace",
        root / "ws",
        cwd=project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reports = dict(re.findall(r"^Report of (\S+): (file://\S+)$", result.stdout, re.MULTILINE))
    return project, Workspace.resolve(root / "ws"), reports


def test_local_run_ends_with_a_report_of_each_execution_beside_its_records(ran):
    _, workspace, reports = ran
    assert sorted(name.split("-")[0] for name in reports) == ["score", "train"]
    for name, link in reports.items():
        path = Path(link.removeprefix("file://"))
        assert path == workspace.s3_root / "hr-metadata" / "hr" / "executions" / name / "report.html"
        page = path.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and not re.search(r"https?://", page)


def png_colours(path: Path) -> tuple[int, int, set[tuple[int, ...]]]:
    """(width, height, distinct pixel colours) of a screenshot."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        return (*rgb.size, {colour for _, colour in rgb.getcolors(maxcolors=1 << 24)})


def browse(page: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={out / 'profile'}",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_training_report_opens_in_a_browser_with_its_graph_and_plots(ran, tmp_path):
    _, workspace, reports = ran
    name = next(n for n in reports if n.startswith("train-"))
    page = Path(reports[name].removeprefix("file://"))
    definition = json.loads(ExecutionRecords(executions_root(workspace, local_target("hr"))).read(name)["definition"])

    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    drawn = set(re.findall(r'<g class="state [^"]+" data-state="([^"]+)">', dom.stdout))
    assert drawn == set(definition["States"])  # every state of the definition is in the graph
    assert re.search(r'<g class="state succeeded" data-state="TuneHyperparameters">', dom.stdout)
    assert 'class="state not-entered" data-state="QualityGateFailed"' in dom.stdout
    assert len(re.findall(r'<circle class="trial"', dom.stdout)) == 2  # the objective of both trials
    assert 'class="best-so-far"' in dom.stdout and 'aria-label="max_depth against roc_auc"' in dom.stdout
    assert "Best model against the gate and the baseline" in dom.stdout and "roc_auc &gt;= 0.5000" in dom.stdout

    shot = tmp_path / "report.png"
    result = browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1400,2400")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    width, height, colours = png_colours(shot)
    assert (width, height) == (1400, 2400)
    assert len(colours) > 50  # text, shapes and plots, not a blank page
    succeeded = tuple(int(COLOURS["succeeded"][0][i : i + 2], 16) for i in (1, 3, 5))
    not_entered = tuple(int(COLOURS["not entered"][0][i : i + 2], 16) for i in (1, 3, 5))
    assert {succeeded, not_entered} <= colours  # the graph's boxes are painted in their outcomes' colours


def test_report_command_writes_the_scoring_report_where_asked(ran, tmp_path):
    project, workspace, reports = ran
    name = next(n for n in reports if n.startswith("score-"))
    out = tmp_path / "scoring <1>.html"
    result = run_cli("report", name, "--workspace", workspace.root, "--out", out, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {out.resolve().as_uri()}"
    page = out.read_text(encoding="utf-8")
    assert "probability: 150 rows" in page and len(re.findall(r'<rect class="bin"', page)) == 20
    missing = run_cli("report", "score-nothing", "--workspace", workspace.root, cwd=project)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines()[-1].startswith(
        "Error: no execution named 'score-nothing'"
    )


def test_the_aws_source_given_the_same_facts_builds_the_same_report(ran, aws_credentials):
    """The local records are AWS shapes: served back as AWS's answers (which the Stubber checks against
    botocore's output shapes), the AWS source builds the report the local source built."""
    _, workspace, reports = ran
    target = local_target("hr")
    name = next(n for n in reports if n.startswith("train-"))
    records = ExecutionRecords(executions_root(workspace, target))
    record, events = records.read(name), records.history(name)
    jobs = Records.of_workspace(workspace.root)
    tuning = jobs.get("tuning-jobs", record["output"]["tuning_job_name"])
    metric = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    trials = [training_job_summary(jobs.get("training-jobs", t), metric) for t in tuning["Local"]["Trials"]]
    best = jobs.get("training-jobs", tuning["BestTrainingJob"]["TrainingJobName"])

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    arn = {"executionArn": record["execution_arn"]}
    stubs = [Stubber(sfn), Stubber(sagemaker), Stubber(s3)]
    stubs[0].add_response(
        "describe_execution",
        {
            "executionArn": record["execution_arn"],
            "stateMachineArn": record["state_machine_arn"],
            "name": name,
            "status": record["status"],
            "startDate": record["start_date"],
            "stopDate": record["stop_date"],
            "input": json.dumps(record["input"]),
            "output": json.dumps(record["output"]),
        },
        arn,
    )
    stubs[0].add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": record["state_machine_arn"],
            "name": "hr-training",
            "definition": record["definition"],
            "roleArn": target.step_functions_role_arn,
            "updateDate": record["start_date"],
        },
        arn,
    )
    stubs[0].add_response("get_execution_history", {"events": events}, {**arn, "includeExecutionData": True})
    tuning_name = {"HyperParameterTuningJobName": tuning["HyperParameterTuningJobName"]}
    stubs[1].add_response("describe_hyper_parameter_tuning_job", _without_local(tuning), tuning_name)
    stubs[1].add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": trials}, tuning_name
    )
    stubs[1].add_response("describe_training_job", _without_local(best), {"TrainingJobName": best["TrainingJobName"]})
    data_report = workspace.path(target.extracts_bucket, f"hr/{record['input']['job_stem']}/report.json")
    stubs[2].add_response(
        "get_object",
        {"Body": _body(data_report.read_bytes())},
        {"Bucket": target.extracts_bucket, "Key": f"hr/{record['input']['job_stem']}/report.json"},
    )
    for stub in stubs:
        stub.activate()
    from_aws = aws_report(AwsClients(sfn, sagemaker, s3), target, name)
    for stub in stubs:
        stub.assert_no_pending_responses()

    local = local_report(workspace, target, name)
    same = dataclasses.replace(from_aws, where=local.where, console_url=None)
    assert same == local
    assert local.tuning and len(local.tuning.trials) == 2 and local.metrics and local.gate


def _without_local(describe: dict) -> dict:
    """What AWS answers: the local runtime's own bookkeeping (``Local``) left out."""
    return {key: value for key, value in describe.items() if key != "Local"}


def _body(data: bytes):
    import io

    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))
