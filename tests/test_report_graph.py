"""The state graph's layout: layers by reachability from StartAt, Fail states after the others, Catch edges
dashed, each state coloured by its outcome and labelled with its time."""

from __future__ import annotations

import re

from mlops_pipeline.report.graph import COLOURS, NODE_WIDTH, edges_of, graph_svg, layers, layout
from mlops_pipeline.report.model import StateRun

DEFINITION = {
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Choice", "Choices": [{"Next": "Invalid"}], "Default": "Train"},
        "Invalid": {"Type": "Fail"},
        "Train": {"Type": "Task", "Next": "Record", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "TrainFailed"}]},
        "TrainFailed": {"Type": "Fail"},
        "Record": {"Type": "Task", "Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Again"}]},
        "Again": {"Type": "Wait", "Seconds": 1, "Next": "Record"},
        "Done": {"Type": "Succeed"},
        "Orphan": {"Type": "Pass", "End": True},
    },
}


def test_layers_follow_reachability_and_the_happy_path_runs_down_the_left():
    depth = layers(DEFINITION, edges_of(DEFINITION))
    assert depth == {
        "Validate": 0,
        "Invalid": 1,
        "Train": 1,
        "TrainFailed": 2,
        "Record": 2,
        "Done": 3,
        "Again": 3,
        "Orphan": 4,
    }
    nodes = layout(DEFINITION).nodes
    assert nodes["Train"].x < nodes["Invalid"].x  # a Fail state after the others in its layer
    assert nodes["Record"].x == nodes["Train"].x == nodes["Validate"].x
    assert nodes["Record"].y > nodes["Train"].y > nodes["Validate"].y
    took_the_fail_state = layout(DEFINITION, frozenset({"Validate", "Invalid"})).nodes
    assert took_the_fail_state["Invalid"].x < took_the_fail_state["Train"].x  # the way taken runs down the left


def test_catch_edges_are_dashed_and_a_loop_back_goes_around_the_side():
    svg = graph_svg(DEFINITION, {})
    edges = re.findall(r'<path class="edge( catch)?" d="([^"]+)"[^>]*>', svg)
    assert len(edges) == len(edges_of(DEFINITION)) == 7
    assert sum(1 for catch, _ in edges if catch) == 2
    assert all("stroke-dasharray" in tag for tag in re.findall(r'<path class="edge catch"[^>]*>', svg))
    back = layout(DEFINITION).nodes["Again"]
    loop = next(d for _, d in edges if d.startswith(f"M{back.x + NODE_WIDTH},"))
    assert " C" in loop  # Again -> Record leaves from the right side


def test_each_state_has_its_outcome_colour_and_time():
    runs = {
        "Validate": StateRun("succeeded", 0.01, 1),
        "Train": StateRun("caught", 75.0, 1, "SageMaker.ResourceLimitExceeded"),
        "TrainFailed": StateRun("failed", 0.0, 1),
        "Record": StateRun("succeeded", 1.5, 3),
    }
    svg = graph_svg(DEFINITION, runs)
    state = {name: block for name, block in re.findall(r'<g class="state [^"]+" data-state="([^"]+)">(.*?)</g>', svg)}
    assert set(state) == set(DEFINITION["States"])
    assert COLOURS["caught"][0] in state["Train"] and "caught 1 min 15 s" in state["Train"]
    assert "SageMaker.ResourceLimitExceeded" in state["Train"]
    assert COLOURS["failed"][0] in state["TrainFailed"]
    assert "succeeded 1.5 s ×3" in state["Record"]
    assert COLOURS["not entered"][0] in state["Done"] and "not entered" in state["Done"]


def test_state_names_are_escaped_and_long_ones_cut_with_the_full_name_as_tooltip():
    name = "Read<script>alert(1)</script>ReportWithAVeryLongName"
    definition = {"StartAt": name, "States": {name: {"Type": "Succeed"}}}
    svg = graph_svg(definition, {})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "…</text>" in svg
    assert f"<title>{name.replace('<', '&lt;').replace('>', '&gt;')} (Succeed)" in svg
