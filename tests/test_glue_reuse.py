"""What makes two Glue runs the same run (``local.glue_reuse``), and when earlier outputs may be served.

No script runs here: a run's outputs are written by the test as the entry point writes them (whole files
under the run's destination), so each case isolates one difference.
"""

from __future__ import annotations

import pytest

from conftest import GLUE_DIR
from mlops_pipeline.layout import glue_scripts
from mlops_pipeline.local.glue_reuse import REUSABLE, identify, remember, serve
from mlops_pipeline.local.integrations.glue_job import NAMES_ONLY
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.stores import Workspace

JOB = {"Name": "transform", "Command": {"Name": "pythonshell", "ScriptLocation": "s3://src/glue_transforms/run.py"}}
PARAMS = {"JobName": "transform", "Timeout": 60}
LANDED = b"employee_id,age,attrition\nE1,30,no\nE2,41,yes\n"
OUTPUTS = {"train/train.csv": b"0,30\n1,41\n", "report.json": b'{"warnings": ["few rows"]}'}


@pytest.fixture
def workspace(tmp_path):
    workspace = Workspace.resolve(tmp_path / "ws")
    for name, path in glue_scripts(GLUE_DIR):  # as the runtime provisions them
        workspace.put_file("src", f"glue_transforms/{name}", path)
    return workspace


def arguments(stem: str, **changed) -> dict:
    return {
        "--KIND": "train",
        "--S3_SOURCE": f"s3://extracts/p/{stem}/landed/data/train/a.csv",
        "--LANDED_URI": "s3://store/data/train/a.csv",
        "--S3_DEST": f"s3://extracts/p/{stem}/",
        "--SEED": "42",
        "--TRANSFORM_MODULE": "attrition_transform",
        "--extra-py-files": "s3://src/glue_transforms/attrition_transform.py",
        **changed,
    }


def execution(workspace, stem: str, landed: bytes = LANDED, **changed):
    """An execution's pinned copy of the landed file, and the identity of its Glue run."""
    workspace.put_bytes("extracts", f"p/{stem}/landed/data/train/a.csv", landed)
    script = workspace.path("src", "glue_transforms/run_transform.py")
    return identify(workspace, JOB, PARAMS, arguments(stem, **changed), script, NAMES_ONLY)


def ran(workspace, stem: str, identity, outputs: dict = OUTPUTS) -> None:
    """The run wrote its outputs and succeeded: recorded as reusable."""
    for key, data in outputs.items():
        workspace.put_bytes("extracts", f"p/{stem}/{key}", data)
    run = {"Id": f"jr_{stem}", "JobName": "transform", "CompletedOn": "2026-01-01T00:00:00+00:00"}
    assert remember(Records.of_workspace(workspace.root), workspace, identity, run, f"train-{stem}")


def test_the_same_code_arguments_and_bytes_in_another_execution_are_the_same_run(workspace):
    first = execution(workspace, "t1")
    ran(workspace, "t1", first)
    second = execution(workspace, "t2")
    assert second.digest == first.digest  # the job stem in the paths is not part of it
    earlier = serve(Records.of_workspace(workspace.root), workspace, second)
    assert earlier["RunId"] == "jr_t1" and earlier["Execution"] == "train-t1"
    # what the run wrote, not the landed copy that was there before it
    assert list(earlier["Outputs"]) == ["--S3_DEST"] and set(earlier["Outputs"]["--S3_DEST"]) == set(OUTPUTS)
    for key, data in OUTPUTS.items():
        copied, original = workspace.path("extracts", f"p/t2/{key}"), workspace.path("extracts", f"p/t1/{key}")
        assert copied.read_bytes() == data
        assert copied.stat().st_ino != original.stat().st_ino  # a copy: never a file two executions share
    assert not [p for p in workspace.root.rglob(".tmp-*")]


@pytest.mark.parametrize(
    "what",
    ["landed bytes", "an argument", "the transform module", "the data checks", "the entry point", "the timeout"],
)
def test_a_difference_in_what_runs_or_what_it_reads_is_another_run(workspace, what):
    first = execution(workspace, "t1")
    ran(workspace, "t1", first)
    if what == "landed bytes":
        second = execution(workspace, "t2", landed=LANDED.replace(b"41", b"42"))
    elif what == "an argument":
        second = execution(workspace, "t2", **{"--SEED": "7"})
    elif what == "the timeout":
        second = identify(
            workspace,
            JOB,
            {**PARAMS, "Timeout": 30},
            arguments("t2"),
            workspace.path("src", "glue_transforms/run_transform.py"),
            NAMES_ONLY,
        )
    else:
        name = {
            "the transform module": "attrition_transform.py",
            "the data checks": "mlops_data_checks.py",
            "the entry point": "run_transform.py",
        }[what]
        script = workspace.path("src", f"glue_transforms/{name}")
        workspace.put_bytes("src", f"glue_transforms/{name}", script.read_bytes() + b"\n# edited\n")
        second = execution(workspace, "t2")
    assert second.digest != first.digest
    assert serve(Records.of_workspace(workspace.root), workspace, second) is None
    assert not workspace.path("extracts", "p/t2/report.json").exists()


def test_the_landed_name_is_text_only_for_the_entry_point(workspace):
    """``--LANDED_URI`` only names the file in messages: the feature store's current object is not read."""
    first = execution(workspace, "t1")
    workspace.put_bytes("store", "data/train/a.csv", b"another version landed meanwhile\n")
    assert execution(workspace, "t2").digest == first.digest
    assert execution(workspace, "t3", **{"--LANDED_URI": "s3://store/data/train/b.csv"}).digest != first.digest


@pytest.mark.parametrize("damage", ["removed", "altered"])
def test_an_earlier_output_missing_or_changed_serves_nothing(workspace, damage):
    first = execution(workspace, "t1")
    ran(workspace, "t1", first)
    report = workspace.path("extracts", "p/t1/report.json")
    if damage == "removed":
        report.unlink()
    else:
        report.write_bytes(b'{"warnings": []}')
    second = execution(workspace, "t2")
    assert serve(Records.of_workspace(workspace.root), workspace, second) is None
    assert [key for key, _ in workspace.objects("extracts", "p/t2/")] == ["p/t2/landed/data/train/a.csv"]
    assert not [p for p in workspace.root.rglob(".tmp-*")]  # nothing half-copied left


def test_only_recorded_runs_are_served(workspace):
    second = execution(workspace, "t2")
    assert serve(Records.of_workspace(workspace.root), workspace, second) is None
    assert Records.of_workspace(workspace.root).names(REUSABLE) == []
