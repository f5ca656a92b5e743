"""The plots: one point per scored trial and a best-so-far line that only improves, a small plot per
hyperparameter (numbers on a scale, categories side by side), metric bars with the baseline and the gate,
the probability histogram."""

from __future__ import annotations

import re

from mlops_pipeline.report.charts import _ticks, histogram_svg, hyperparameter_svgs, metrics_svg, trials_svg
from mlops_pipeline.report.model import Gate, Histogram, MetricRow, Trial, Tuning


def tuning(kind="Maximize") -> Tuning:
    values = [0.70, 0.65, 0.80, None, 0.75]
    trials = tuple(
        Trial(f"job-{i}", "Completed" if v is not None else "Failed", v, {"max_depth": str(2 + i), "booster": b}, 3.0)
        for i, (v, b) in enumerate(zip(values, ["gbtree", "dart", "gbtree", "dart", "<b>x</b>"], strict=True))
    )
    return Tuning("job", "roc_auc", kind, trials, "job-2")


def points(polyline: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in polyline.split()]


def test_each_scored_trial_is_a_point_and_the_best_so_far_never_gets_worse():
    svg = trials_svg(tuning())
    assert len(re.findall(r'<circle class="trial"', svg)) == 4  # the failed trial has no objective
    line = points(re.search(r'class="best-so-far" points="([^"]+)"', svg).group(1))
    ys = [y for _, y in line]
    assert ys == sorted(ys, reverse=True)  # SVG y grows downwards: a higher objective is a smaller y
    assert 'stroke="#000"' in re.search(r"<circle[^>]*><title>job-2:", svg).group(0)  # the best is marked

    minimized = points(re.search(r'points="([^"]+)"', trials_svg(tuning("Minimize"))).group(1))
    assert [y for _, y in minimized] == sorted(y for _, y in minimized)


def test_no_objective_at_all_says_so():
    empty = Tuning("job", "roc_auc", "Maximize", (Trial("job-0", "Failed", None, {}, None),), None)
    assert "no trial reported roc_auc" in trials_svg(empty)
    assert hyperparameter_svgs(empty) == []


def test_one_small_plot_per_hyperparameter_categories_side_by_side_escaped():
    plots = hyperparameter_svgs(tuning())
    assert len(plots) == 2
    booster, depth = plots  # sorted by name
    assert "&lt;b&gt;x&lt;/b&gt;" in booster and "<b>" not in booster
    assert len(re.findall(r"<circle", depth)) == 4


def test_metric_bars_with_the_baseline_and_the_gate_threshold():
    rows = (MetricRow("roc_auc", 0.8, 0.5), MetricRow("logloss", 1.7, None))
    svg = metrics_svg(rows, Gate("roc_auc", ">=", 0.7, 0.8, 0.5, None))
    assert svg.count("<rect") == 2
    assert "learns nothing: 0.5</title>" in svg and "gate &gt;= 0.7: 0.7</title>" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert widths[1] > widths[0]  # a metric above 1 widens the scale, not the page


def test_histogram_bars_have_heights_in_proportion():
    svg = histogram_svg(Histogram("probability", (0,) * 10 + (10, 5) + (0,) * 8, 15, 0))
    heights = [float(h) for h in re.findall(r'<rect class="bin"[^>]* height="([0-9.]+)"', svg)]
    assert len(heights) == 20 and heights[10] == 2 * heights[11] > 0 and heights[0] == 0
    assert "probability: 15 rows" in svg


def test_ticks_are_round_numbers_inside_the_range():
    assert _ticks(0.61, 0.83) == [0.65, 0.7, 0.75, 0.8]
    assert _ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1]
    assert _ticks(3, 3) == [3]
