"""glue:startJobRun.sync runs the job's script from the source-repository store with merged arguments."""

from __future__ import annotations

import json
import time

import pytest

from conftest import GLUE_DIR, dispatch, running_control
from mlops_pipeline.demo_data import write_demo_csv
from mlops_pipeline.local.integrations.glue_job import define_job, start_job_run_sync
from mlops_pipeline.local.tasks import TaskFailure


@pytest.fixture
def glue(services):
    for path in GLUE_DIR.glob("*.py"):
        services.workspace.put_file("src", f"glue_transforms/{path.name}", path)
    define_job(
        services,
        "transform",
        "s3://src/glue_transforms/run_transform.py",
        {"--LABEL": "attrition", "--ID_COLUMN": "employee_id", "--TRANSFORM_MODULE": "attrition_transform"},
    )
    return services


def arguments(**extra) -> dict:
    return {
        "--KIND": "train",
        "--S3_SOURCE": "s3://store/data/train/a.csv",
        "--S3_DEST": "s3://extracts/p/t1/",
        "--extra-py-files": "s3://src/glue_transforms/attrition_transform.py",
        **extra,
    }


def test_a_run_writes_the_extract_and_leaves_the_landed_file_alone(glue, tmp_path):
    landed = glue.workspace.put_file("store", "data/train/a.csv", write_demo_csv(tmp_path / "a.csv", 500))
    before = landed.read_bytes()
    run = start_job_run_sync(glue, {"JobName": "transform", "Arguments": arguments()}, running_control())
    assert run["JobRunState"] == "SUCCEEDED" and run["Id"].startswith("jr_")
    assert run["Arguments"]["--LABEL"] == "attrition"  # the job's default arguments
    assert [key for key, _ in glue.workspace.objects("extracts")] == [
        "p/t1/report.json",
        "p/t1/train/schema.json",
        "p/t1/train/train.csv",
        "p/t1/validation/validation.csv",
    ]
    assert landed.read_bytes() == before


def test_a_failing_script_fails_the_run_with_its_error_line(glue, tmp_path):
    glue.workspace.put_bytes("store", "data/train/a.csv", b"employee_id,age\n1,30\n")
    with pytest.raises(TaskFailure) as failure:
        start_job_run_sync(glue, {"JobName": "transform", "Arguments": arguments()}, running_control())
    run = json.loads(failure.value.cause)
    assert failure.value.error == "States.TaskFailed" and run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith("ERROR:") and "label column 'attrition' is missing" in run["ErrorMessage"]


def test_an_unknown_job_is_entity_not_found(glue):
    with pytest.raises(TaskFailure, match="Glue job nope not found") as failure:
        dispatch(glue, "glue:startJobRun.sync", {"JobName": "nope"})
    assert failure.value.error == "Glue.EntityNotFoundException"
    assert "(Service: AWSGlue; Status Code: 400; Error Code: EntityNotFoundException;" in failure.value.cause


def test_a_run_longer_than_its_timeout_is_stopped_and_ends_timeout(glue, monkeypatch):
    """Glue stops a run at its Timeout (minutes; here one minute lasts a tenth of a second)."""
    from mlops_pipeline.local.integrations import glue_job

    monkeypatch.setattr(glue_job, "MINUTE", 0.1)
    glue.workspace.put_bytes("src", "glue_transforms/slow.py", b"import time\ntime.sleep(60)\n")
    params = {
        "JobName": "transform",
        "Timeout": 2,
        "Arguments": {"--scriptLocation": "s3://src/glue_transforms/slow.py"},
    }
    started = time.monotonic()
    with pytest.raises(TaskFailure) as failure:
        start_job_run_sync(glue, params, running_control())
    run = json.loads(failure.value.cause)
    assert failure.value.error == "States.TaskFailed" and run["JobRunState"] == "TIMEOUT" and run["Timeout"] == 2
    assert run["ErrorMessage"] == "the job run exceeded its Timeout of 2 minutes and was stopped"
    assert time.monotonic() - started < 30


def pinned(glue, stem: str, source) -> dict:
    """An execution's own copy of the landed file (PinLandedObject's), and its Glue run's arguments."""
    glue.workspace.put_file("extracts", f"p/{stem}/landed/data/train/a.csv", source)
    return arguments(
        **{"--S3_SOURCE": f"s3://extracts/p/{stem}/landed/data/train/a.csv", "--S3_DEST": f"s3://extracts/p/{stem}/"}
    )


def extract(glue, stem: str) -> dict[str, bytes]:
    return {key: path.read_bytes() for key, path in glue.workspace.objects("extracts", f"p/{stem}/")}


def test_an_identical_run_with_reuse_is_served_from_the_earlier_outputs_without_running(glue, tmp_path):
    source = write_demo_csv(tmp_path / "a.csv", 500)
    first = start_job_run_sync(
        glue, {"JobName": "transform", "Arguments": pinned(glue, "t1", source)}, running_control("x-1")
    )
    glue.reuse_glue_runs = True
    params = {"JobName": "transform", "Arguments": pinned(glue, "t2", source)}
    run = start_job_run_sync(glue, params, running_control("x-2"))
    assert run["JobRunState"] == "SUCCEEDED" and run["Id"] not in (first["Id"], None)
    assert run["PredecessorRuns"] == [{"JobName": "transform", "RunId": first["Id"]}]
    assert run["StateDetail"] == f"reused the outputs of run {first['Id']} (execution x-1)"
    assert run["Arguments"]["--S3_DEST"] == "s3://extracts/p/t2/"  # this run's own arguments
    log = open(run["LogPath"]).read()
    assert "the script did not run" in log and "transform: wrote" not in log  # no Glue process ran
    assert "transform: wrote" in open(first["LogPath"]).read()
    earlier, served = extract(glue, "t1"), extract(glue, "t2")
    assert {k.replace("p/t1/", "p/t2/"): v for k, v in earlier.items()} == served  # report.json included
    assert glue.records.get("glue-job-runs", run["Id"])["PredecessorRuns"] == run["PredecessorRuns"]


def test_without_reuse_an_identical_run_runs_again(glue, tmp_path):
    source = write_demo_csv(tmp_path / "a.csv", 500)
    start_job_run_sync(glue, {"JobName": "transform", "Arguments": pinned(glue, "t1", source)}, running_control())
    run = start_job_run_sync(glue, {"JobName": "transform", "Arguments": pinned(glue, "t2", source)}, running_control())
    assert "PredecessorRuns" not in run and "transform: wrote" in open(run["LogPath"]).read()
