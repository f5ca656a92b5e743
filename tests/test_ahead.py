"""Reading the Tasks ahead of a running state: which they are, and what of their Parameters is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_pipeline.local.ahead import known_parameters, tasks, tasks_ahead, written_out

GOLDEN = Path(__file__).parent / "golden"


def scoring() -> dict:
    return json.loads((GOLDEN / "scoring.asl.json").read_text())


PUBLISHING = ["PublishPredictions", "PublishLatestPredictions", "CatalogPredictions"]  # through a Pass


@pytest.mark.parametrize(
    ("running", "ahead"),
    [
        ("TransformScoringData", ["ReadScoringDataReport", "BatchTransform", *PUBLISHING]),
        ("DescribeApprovedModel", ["TransformScoringData", "ReadScoringDataReport", "BatchTransform", *PUBLISHING]),
        ("PinLandedObject", ["CheckTrainingRunning"]),  # through a Pass; the Choice after it ends the look
        ("CatalogPredictions", []),  # a Pass, then Succeed
        ("NoSuchState", []),
    ],
)
def test_the_tasks_ahead_follow_next_through_tasks_and_passes_only(running, ahead):
    assert [name for name, _ in tasks_ahead(scoring(), running)] == ahead


def test_the_tasks_ahead_of_a_state_in_a_branch_are_those_of_its_branch_and_a_loop_ends():
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {"Type": "Task", "Resource": "r", "Next": "B"},
                            "B": {"Type": "Task", "Resource": "r", "Next": "A"},
                        },
                    }
                ],
            }
        },
    }
    assert [name for name, _ in tasks_ahead(definition, "A")] == ["B"]
    assert [name for name, _ in tasks(definition)] == ["A", "B"]  # every Task, those of branches included


INPUT = {"approved": {"record": {"model_name": "m-7", "versions": [3, 4]}}, "job_stem": "s1", "count": 0}
CONTEXT = {"Execution": {"Name": "exec-1", "RedriveCount": 0}, "State": {"Name": "TransformScoringData"}}


def test_what_the_input_and_the_execution_tell_is_known_and_the_rest_stays_as_written():
    parameters = {
        "ModelName.$": "$.approved.record.model_name",
        "Version.$": "$.approved.record.versions[1]",
        "Count.$": "$.count",  # a falsy value is still a value
        "Execution.$": "$$.Execution.Name",
        "Retry.$": "$$.State.RetryCount",  # the state that will run it has its own
        "Name.$": "States.Format('attrition-{}', $.job_stem)",
        "Later.$": "$.data.report",  # a state still to run adds it
        "Items.$": "$.approved.record.versions[*]",
        "Wrong.$": "$.job_stem.first",  # a field of a string
        "Index.$": "$.approved.record[0]",  # an index of an object
        "Variable.$": "$threshold",
        "Output": {"Path.$": "$.job_stem", "Accept": "text/csv"},
        "Channels": [{"Uri.$": "$.job_stem"}, "plain"],
        "BatchStrategy": "MultiRecord",
    }
    assert known_parameters(parameters, INPUT, CONTEXT) == {
        "ModelName": "m-7",
        "Version": 4,
        "Count": 0,
        "Execution": "exec-1",
        "Retry.$": "$$.State.RetryCount",
        "Name.$": "States.Format('attrition-{}', $.job_stem)",
        "Later.$": "$.data.report",
        "Items.$": "$.approved.record.versions[*]",
        "Wrong.$": "$.job_stem.first",
        "Index.$": "$.approved.record[0]",
        "Variable.$": "$threshold",
        "Output": {"Path": "s1", "Accept": "text/csv"},
        "Channels": [{"Uri": "s1"}, "plain"],
        "BatchStrategy": "MultiRecord",
    }


def test_the_batch_transform_ahead_of_the_scoring_glue_job_knows_its_model_and_variables():
    """What the scoring execution's input tells when TransformScoringData starts: enough to pick the server."""
    batch = dict(tasks_ahead(scoring(), "TransformScoringData"))["BatchTransform"]
    known = known_parameters(batch["Parameters"], INPUT, CONTEXT)
    assert known["ModelName"] == "m-7" and "TransformJobName.$" in known
    assert written_out({key: known[key] for key in ("ModelName", "BatchStrategy", "MaxPayloadInMB")})
    assert not written_out(known) and not written_out([{"a.$": "$"}])
