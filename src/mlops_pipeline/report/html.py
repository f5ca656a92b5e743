"""The report as one HTML file: styles, graph and plots inline, no script and nothing fetched, so it opens
offline and can be mailed or archived as it is. Every text that comes from users or AWS is escaped."""

from __future__ import annotations

import datetime
from html import escape
from pathlib import Path

from mlops_pipeline.local.stores import write_atomic
from mlops_pipeline.report.charts import histogram_svg, hyperparameter_svgs, metrics_svg, trials_svg
from mlops_pipeline.report.graph import COLOURS, duration_text, graph_svg
from mlops_pipeline.report.model import OUTCOMES, ExecutionReport, Gate, Tuning

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#212121;max-width:1500px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0}
.status{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;color:#fff}
.SUCCEEDED{background:#2e7d32}.FAILED,.TIMED_OUT,.ABORTED{background:#c62828}.RUNNING{background:#1565c0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #e0e0e0;padding:3px 8px;text-align:left}
th{background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.best{font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}dt{color:#616161}dd{margin:0}
.legend-item{display:inline-block;margin-right:14px}.swatch{display:inline-block;width:12px;height:12px;
border:1.5px solid;border-radius:3px;vertical-align:-2px;margin-right:4px}
svg text{font:12px system-ui,sans-serif;fill:#212121}svg .state-name{font-weight:600}
svg .state-detail,svg .tick{fill:#616161;font-size:11px}svg .chart-title{font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}.cause{white-space:pre-wrap;background:#fff3f3;padding:8px;
border-left:3px solid #c62828}.warning{color:#8d4b00}.muted{color:#757575}
"""


def render(report: ExecutionReport) -> str:
    sections = [_header(report), _graph(report)]
    if report.workflow == "training":
        sections += [_tuning(report.tuning), _model(report)]
    sections.append(_data(report))
    if report.workflow == "scoring":
        sections.append(_scoring(report))
    title = f"{report.workflow} execution {report.name}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body></html>\n"
    )


def write(report: ExecutionReport, path: Path) -> Path:
    """Write the page atomically (a reader never sees half of it); the file's path."""
    write_atomic(path, render(report).encode("utf-8"))
    return path


def _header(report: ExecutionReport) -> str:
    items = [
        ("landed file", report.source),
        ("started", _time(report.start)),
        ("stopped", _time(report.stop)),
        ("took", _took(report)),
        ("where", report.where),
    ]
    if report.model_name:
        items.insert(1, ("model", report.model_name))
    parts = [
        f"<h1>{escape(report.workflow.capitalize())} execution {escape(report.name)} "
        f'<span class="status {escape(report.status)}">{escape(report.status)}</span></h1>',
        _definitions(items),
    ]
    if report.console_url:
        parts.append(f'<p><a href="{escape(report.console_url)}">Open in the Step Functions console</a></p>')
    if report.error or report.cause:
        parts.append(f"<p><b>error:</b> {escape(report.error or '')}</p>")
        parts.append(f'<div class="cause">{escape(report.cause or "")}</div>')
    return "\n".join(parts)


def _graph(report: ExecutionReport) -> str:
    legend = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{COLOURS[o][0]};'
        f'border-color:{COLOURS[o][1]}"></span>{escape(o)}</span>'
        for o in OUTCOMES
    )
    return (
        f'<h2 id="graph">State graph</h2><p>{legend}<span class="legend-item muted">- - - Catch</span></p>'
        + graph_svg(report.definition, report.states)
        + _state_table(report)
    )


def _state_table(report: ExecutionReport) -> str:
    rows = [
        f"<tr><td>{escape(name)}</td><td>{escape(duration_text(run))}</td><td>{escape(run.error or '')}</td></tr>"
        for name, run in report.states.items()
        if run.entries
    ]
    return (
        "<details><summary>States entered</summary><table><tr><th>state</th><th>outcome, time</th>"
        f"<th>error</th></tr>{''.join(rows)}</table></details>"
    )


def _tuning(tuning: Tuning | None) -> str:
    if tuning is None:
        return '<h2 id="tuning">Tuning</h2><p class="muted">The execution did not start a tuning job.</p>'
    names = sorted({name for trial in tuning.trials for name in trial.hyperparameters})
    head = "".join(f"<th>{escape(name)}</th>" for name in names)
    rows = []
    for index, trial in enumerate(tuning.trials, 1):
        best = trial.name == tuning.best
        cells = "".join(f'<td class="num">{escape(trial.hyperparameters.get(n, ""))}</td>' for n in names)
        rows.append(
            f'<tr{" class=best" if best else ""}><td class="num">{index}</td><td>{escape(trial.name)}'
            f"{' (best)' if best else ''}</td><td>{escape(trial.status)}</td>"
            f'<td class="num">{_value(trial.objective)}</td>{cells}<td class="num">{_duration(trial.seconds)}</td></tr>'
        )
    plots = [trials_svg(tuning), *hyperparameter_svgs(tuning)]
    return (
        f'<h2 id="tuning">Tuning job {escape(tuning.job_name)}</h2>'
        f'<div class="plots">{"".join(plots)}</div>'
        f"<table><tr><th>#</th><th>trial</th><th>status</th><th>{escape(tuning.metric)}</th>{head}"
        f"<th>time</th></tr>{''.join(rows)}</table>"
    )


def _model(report: ExecutionReport) -> str:
    parts = ['<h2 id="model">Best model against the gate and the baseline</h2>']
    if report.gate:
        parts.append(_gate(report.gate))
    elif report.status != "RUNNING":
        parts.append('<p class="muted">No approval record: the gate did not approve a model in this execution.</p>')
    if not report.metrics:
        parts.append('<p class="muted">No metrics: no training job of this execution reported any.</p>')
        return "".join(parts)
    parts.append(metrics_svg(report.metrics, report.gate))
    rows = "".join(
        f'<tr><td>{escape(row.name)}</td><td class="num">{_value(row.value)}</td>'
        f'<td class="num">{_value(row.baseline)}</td></tr>'
        for row in report.metrics
    )
    parts.append(f"<table><tr><th>metric</th><th>model</th><th>learns nothing</th></tr>{rows}</table>")
    return "".join(parts)


def _gate(gate: Gate) -> str:
    return _definitions(
        [
            ("gate", f"{gate.metric} {gate.comparison} {_value(gate.threshold)}"),
            ("model", _value(gate.value)),
            ("a model that learns nothing", _value(gate.baseline)),
            ("the model approved before", _value(gate.approved_model_value) if gate.approved_model_value else "none"),
        ]
    )


def _data(report: ExecutionReport) -> str:
    parts = ['<h2 id="data">Data checks</h2>']
    if report.warnings:
        items = "".join(f'<li class="warning">{escape(w)}</li>' for w in report.warnings)
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append('<p class="muted">No data warnings.</p>')
    for split, counts in (report.class_counts or {}).items():
        if isinstance(counts, dict):
            text = ", ".join(f"{label}: {count}" for label, count in counts.items())
            parts.append(f"<p>class counts, {escape(str(split))}: {escape(text)}</p>")
    return "".join(parts)


def _scoring(report: ExecutionReport) -> str:
    parts = ['<h2 id="predictions">Predicted probabilities</h2>']
    histogram = report.predictions
    if histogram is None:
        parts.append('<p class="muted">No predictions were published by this execution.</p>')
        return "".join(parts)
    parts.append(histogram_svg(histogram))
    if histogram.outside:
        parts.append(f'<p class="warning">{histogram.outside} rows are not a probability between 0 and 1.</p>')
    return "".join(parts)


def _definitions(items: list[tuple[str, str]]) -> str:
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items if v)
    return f"<dl>{body}</dl>"


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.1f} s"


def _time(moment: datetime.datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _took(report: ExecutionReport) -> str:
    if report.start and report.stop:
        return _duration((report.stop - report.start).total_seconds())
    return "running" if report.status == "RUNNING" else ""
