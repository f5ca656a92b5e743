"""The page: everything inline (no script, nothing fetched from the network), every user or AWS text
escaped, the sections a training or a scoring execution has."""

from __future__ import annotations

import datetime
import re
from html.parser import HTMLParser

from mlops_pipeline.report.html import render, write
from mlops_pipeline.report.model import ExecutionReport, Gate, Histogram, MetricRow, StateRun, Trial, Tuning

EVIL = "<script>alert(1)</script>"
T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def report(workflow="training", **changes) -> ExecutionReport:
    values = dict(
        name="train-x-1",
        workflow=workflow,
        status="FAILED",
        start=T0,
        stop=T0 + datetime.timedelta(seconds=90),
        error="QualityGateFailed",
        cause=f"roc_auc 0.4 < 0.5 for {EVIL}",
        source=f"s3://fs/data/train/{EVIL}.csv",
        definition={"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}},
        states={"A": StateRun("failed", 3.0, 1, EVIL)},
        where="local workspace /w",
        tuning=Tuning("job", EVIL, "Maximize", (Trial("job-1", "Completed", 0.7, {EVIL: "3"}, 2.0),), "job-1"),
        metrics=(MetricRow(EVIL, 0.7, 0.5),),
        gate=Gate(EVIL, ">=", 0.5, 0.7, 0.5, None),
        warnings=(f"column {EVIL!r} is constant",),
        class_counts={"training file": {EVIL: 3, "0": 9}},
        predictions=Histogram(EVIL, (1,) * 20, 20, 0),
    )
    values.update(changes)
    return ExecutionReport(**values)


class Resources(HTMLParser):
    """Every element and every attribute that could load something."""

    def __init__(self):
        super().__init__()
        self.tags, self.links = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [(tag, name, value) for name, value in attrs if name in ("src", "href", "srcset", "data")]


def test_user_text_is_escaped_everywhere_and_nothing_runs():
    for workflow in ("training", "scoring"):
        page = render(report(workflow))
        assert "<script" not in page.lower()
        assert page.count("&lt;script&gt;") >= (8 if workflow == "training" else 5)
        parser = Resources()
        parser.feed(page)
        assert "script" not in parser.tags and "iframe" not in parser.tags


def test_nothing_is_fetched_the_page_opens_offline():
    page = render(report())
    parser = Resources()
    parser.feed(page)
    assert parser.links == [] and not re.search(r"https?://", page) and "url(" not in page and "@import" not in page


def test_an_aws_report_links_only_the_console():
    url = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:x"
    page = render(report(console_url=url))
    parser = Resources()
    parser.feed(page)
    assert parser.links == [("a", "href", url)]
    assert re.findall(r"https?://[^\"'<\s]+", page) == [url]


def test_training_shows_tuning_and_the_gate_scoring_shows_the_probabilities():
    training, scoring = render(report("training")), render(report("scoring"))
    assert 'id="tuning"' in training and 'id="model"' in training and 'id="predictions"' not in training
    assert 'id="predictions"' in scoring and 'id="tuning"' not in scoring
    assert "2026-03-01 12:00:00 UTC" in training and "90.0 s" in training
    assert 'id="graph"' in training and 'id="graph"' in scoring


def test_a_training_execution_that_never_tuned_says_so(tmp_path):
    path = write(report(tuning=None, gate=None, metrics=()), tmp_path / "deep" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "did not start a tuning job" in page and "No approval record" in page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # written through a temp file, renamed
