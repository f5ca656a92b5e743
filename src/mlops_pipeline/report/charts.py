"""The report's plots as inline SVG (no script, no external file): tuning trials, hyperparameters against
the objective, the best model's metrics against the baseline and gate, predicted probabilities."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from mlops_pipeline.report.model import Gate, Histogram, MetricRow, Tuning

POINT, BEST_LINE, BASELINE, GATE, BAR = "#1565c0", "#ef6c00", "#757575", "#c62828", "#42a5f5"


@dataclass(frozen=True)
class Frame:
    """A plot area inside an SVG of ``width`` × ``height``, with room for the axes' labels."""

    width: int
    height: int
    left: int = 52
    right: int = 12
    top: int = 26
    bottom: int = 36

    def x(self, value: float, low: float, high: float) -> float:
        span = (high - low) or 1.0
        return self.left + (value - low) / span * (self.width - self.left - self.right)

    def y(self, value: float, low: float, high: float) -> float:
        span = (high - low) or 1.0
        return self.height - self.bottom - (value - low) / span * (self.height - self.top - self.bottom)


def _number(value: float) -> str:
    return f"{value:.4g}"


def _open(frame: Frame, css: str, label: str, title: str) -> list[str]:
    return [
        f'<svg class="chart {css}" width="{frame.width}" height="{frame.height}" '
        f'viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{escape(label)}">',
        f'<text x="{frame.left}" y="16" class="chart-title">{escape(title)}</text>',
    ]


def _y_axis(frame: Frame, low: float, high: float, label: str) -> list[str]:
    parts = [
        f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.height - frame.bottom}" '
        'stroke="#9e9e9e"/>',
        f'<line x1="{frame.left}" y1="{frame.height - frame.bottom}" x2="{frame.width - frame.right}" '
        f'y2="{frame.height - frame.bottom}" stroke="#9e9e9e"/>',
    ]
    for tick in _ticks(low, high):
        y = frame.y(tick, low, high)
        parts.append(
            f'<line x1="{frame.left - 4}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" stroke="#eeeeee"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_number(tick)}</text>'
        )
    middle = (frame.top + frame.height - frame.bottom) / 2
    parts.append(
        f'<text x="12" y="{middle:.0f}" class="axis-label" transform="rotate(-90 12 {middle:.0f})" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return parts


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    step *= next(m for m in (1, 2, 5, 10) if (high - low) / (step * m) <= count + 1)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _range(values: list[float], *extra: float | None) -> tuple[float, float]:
    every = [v for v in (*values, *extra) if v is not None]
    low, high = min(every), max(every)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 0.5
    return low - pad, high + pad


def trials_svg(tuning: Tuning, width: int = 560, height: int = 260) -> str:
    """The objective of each trial in the order they started, and the best so far as a step line."""
    frame = Frame(width, height)
    scored = [(i, t.objective) for i, t in enumerate(tuning.trials, 1) if t.objective is not None]
    parts = _open(frame, "trials", "objective per trial", f"{tuning.metric} per trial ({tuning.objective_type})")
    if not scored:
        return "".join(
            [*parts, f'<text x="{frame.left}" y="60">no trial reported {escape(tuning.metric)}</text></svg>']
        )
    low, high = _range([v for _, v in scored])
    count = len(tuning.trials)
    parts += _y_axis(frame, low, high, tuning.metric)
    better = max if tuning.objective_type == "Maximize" else min
    best, line = None, []
    for index, value in scored:
        best = value if best is None else better(best, value)
        line.append(f"{frame.x(index, 0.5, count + 0.5):.1f},{frame.y(best, low, high):.1f}")
    if len(line) == 1:
        line.append(line[0])
    step_points = " ".join(line)
    parts.append(
        f'<polyline class="best-so-far" points="{step_points}" fill="none" stroke="{BEST_LINE}" stroke-width="2"/>'
    )
    for index, value in scored:
        trial = tuning.trials[index - 1]
        marker = ' stroke="#000" stroke-width="2"' if trial.name == tuning.best else ""
        parts.append(
            f'<circle class="trial" cx="{frame.x(index, 0.5, count + 0.5):.1f}" cy="{frame.y(value, low, high):.1f}" '
            f'r="5" fill="{POINT}"{marker}><title>{escape(trial.name)}: {_number(value)}</title></circle>'
        )
    for index in _ticks(1, count, 6) if count > 1 else [1]:
        if float(index).is_integer():
            x = frame.x(index, 0.5, count + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{height - frame.bottom + 14}" class="tick" '
                f'text-anchor="middle">{int(index)}</text>'
            )
    parts.append(
        f'<text x="{(frame.left + width) / 2:.0f}" y="{height - 4}" class="axis-label" '
        'text-anchor="middle">trial</text>'
        f'<text x="{width - 150}" y="16" class="legend" fill="{BEST_LINE}">— best so far</text></svg>'
    )
    return "".join(parts)


def hyperparameter_svgs(tuning: Tuning, width: int = 270, height: int = 200) -> list[str]:
    """One small plot per tuned hyperparameter: its value (numbers on a scale, categories side by side)
    against the trial's objective."""
    names = sorted({name for trial in tuning.trials for name in trial.hyperparameters})
    scored = [t for t in tuning.trials if t.objective is not None]
    if not scored:
        return []
    low, high = _range([t.objective for t in scored])
    plots = []
    for name in names:
        frame = Frame(width, height, left=48)
        raw = [(t.hyperparameters.get(name), t) for t in scored if name in t.hyperparameters]
        numbers = _numbers([value for value, _ in raw])
        if numbers is not None:
            x_low, x_high = _range(numbers)
            positions = numbers
            labels = [(tick, _number(tick)) for tick in _ticks(x_low, x_high, 3)]
        else:
            levels = sorted({value for value, _ in raw})
            x_low, x_high = -0.5, len(levels) - 0.5
            positions = [levels.index(value) for value, _ in raw]
            labels = list(enumerate(levels))
        parts = _open(frame, "hyperparameter", f"{name} against {tuning.metric}", name)
        parts += _y_axis(frame, low, high, tuning.metric)
        for position, (value, trial) in zip(positions, raw, strict=True):
            parts.append(
                f'<circle cx="{frame.x(position, x_low, x_high):.1f}" cy="{frame.y(trial.objective, low, high):.1f}" '
                f'r="4" fill="{POINT}"><title>{escape(f"{trial.name}: {name}={value}, {trial.objective:.4g}")}'
                "</title></circle>"
            )
        for position, label in labels:
            parts.append(
                f'<text x="{frame.x(position, x_low, x_high):.1f}" y="{height - frame.bottom + 14}" class="tick" '
                f'text-anchor="middle">{escape(str(label))}</text>'
            )
        parts.append("</svg>")
        plots.append("".join(parts))
    return plots


def _numbers(values: list[str | None]) -> list[float] | None:
    try:
        return [float(value) for value in values]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def metrics_svg(rows: tuple[MetricRow, ...], gate: Gate | None, width: int = 560) -> str:
    """Each metric of the best model as a bar, the baseline (a model that learnt nothing) as a grey mark and,
    for the gate's metric, the threshold as a red one."""
    row_height, label_width, top = 26, 110, 26
    height = top + row_height * len(rows) + 10
    high = max([1.0, *(r.value for r in rows), *(r.baseline or 0 for r in rows)])
    if gate and gate.threshold is not None:
        high = max(high, gate.threshold)
    span = width - label_width - 70
    parts = [
        f'<svg class="chart metrics" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="metrics against baseline and gate">',
        f'<text x="{label_width}" y="16" class="legend"><tspan fill="{BAR}">■ model</tspan> '
        f'<tspan fill="{BASELINE}">| learns nothing</tspan> <tspan fill="{GATE}">| gate threshold</tspan></text>',
    ]
    for index, row in enumerate(rows):
        y = top + index * row_height
        length = max(row.value, 0) / high * span
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(row.name)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="14" fill="{BAR}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" class="tick">{row.value:.4f}</text>'
        )
        marks = [(row.baseline, BASELINE, "learns nothing")]
        if gate and gate.metric == row.name:
            marks.append((gate.threshold, GATE, f"gate {gate.comparison} {gate.threshold}"))
        for value, colour, what in marks:
            if value is not None:
                x = label_width + max(value, 0) / high * span
                parts.append(
                    f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 22}" stroke="{colour}" stroke-width="3">'
                    f"<title>{escape(what)}: {_number(value)}</title></line>"
                )
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(histogram: Histogram, width: int = 560, height: int = 240) -> str:
    """How many rows fell in each probability bin."""
    frame = Frame(width, height)
    bins = len(histogram.counts)
    top = max(histogram.counts) or 1
    parts = _open(frame, "histogram", "predicted probabilities", f"{histogram.column}: {histogram.rows} rows")
    parts += _y_axis(frame, 0, top, "rows")
    for index, count in enumerate(histogram.counts):
        x1, x2 = frame.x(index / bins, 0, 1), frame.x((index + 1) / bins, 0, 1)
        y = frame.y(count, 0, top)
        parts.append(
            f'<rect class="bin" x="{x1 + 1:.1f}" y="{y:.1f}" width="{x2 - x1 - 2:.1f}" '
            f'height="{height - frame.bottom - y:.1f}" fill="{BAR}">'
            f"<title>{index / bins:.2f}–{(index + 1) / bins:.2f}: {count}</title></rect>"
        )
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<text x="{frame.x(tick, 0, 1):.1f}" y="{height - frame.bottom + 14}" class="tick" '
            f'text-anchor="middle">{tick:g}</text>'
        )
    parts.append(
        f'<text x="{(frame.left + width) / 2:.0f}" y="{height - 4}" class="axis-label" text-anchor="middle">'
        "predicted probability</text></svg>"
    )
    return "".join(parts)
