"""The state graph as inline SVG: states in layers by how soon the start reaches them, coloured by outcome.

Edges are ``Next``, a Choice's branches and ``Default``, and ``Catch`` (dashed). Layers come from a
breadth-first walk from ``StartAt`` (an edge back to an earlier layer is drawn beside the nodes); within a
layer the states the execution entered come first, then the others in the order the walk found them, Fail
states last, so the way the execution took runs down the left.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from html import escape

from mlops_pipeline.report.model import NOT_ENTERED, StateRun

NODE_WIDTH, NODE_HEIGHT, GAP_X, GAP_Y, MARGIN = 210, 42, 22, 30, 12
BACK_EDGE_OFFSET = 36
#: fill, stroke of each outcome.
COLOURS = {
    "succeeded": ("#c8e6c9", "#2e7d32"),
    "failed": ("#ffcdd2", "#c62828"),
    "caught": ("#ffe0b2", "#ef6c00"),
    "running": ("#bbdefb", "#1565c0"),
    NOT_ENTERED: ("#f5f5f5", "#9e9e9e"),
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    catch: bool


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # the state's Type
    layer: int
    x: int
    y: int


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    width: int
    height: int


def edges_of(definition: dict) -> list[Edge]:
    edges = []
    for name, state in definition.get("States", {}).items():
        targets = [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [state.get("Next"), state.get("Default")]
        edges += [Edge(name, target, False) for target in targets if target]
        edges += [Edge(name, catch["Next"], True) for catch in state.get("Catch", []) if catch.get("Next")]
    return edges


def layers(definition: dict, edges: list[Edge]) -> dict[str, int]:
    """Each state's distance from ``StartAt``; states the walk does not reach come last."""
    states = definition.get("States", {})
    start = definition.get("StartAt")
    depth = {start: 0} if start in states else {}
    queue = deque(depth)
    while queue:
        name = queue.popleft()
        for edge in edges:
            if edge.source == name and edge.target in states and edge.target not in depth:
                depth[edge.target] = depth[name] + 1
                queue.append(edge.target)
    last = max(depth.values(), default=-1) + 1
    return {**depth, **{name: last for name in states if name not in depth}}


def layout(definition: dict, entered: frozenset[str] = frozenset()) -> Layout:
    states = definition.get("States", {})
    edges = edges_of(definition)
    depth = layers(definition, edges)
    rows: dict[int, list[str]] = {}
    for name in sorted(depth, key=lambda n: (depth[n], n not in entered, states[n].get("Type") == "Fail")):
        rows.setdefault(depth[name], []).append(name)
    nodes = {}
    for layer, names in rows.items():
        for column, name in enumerate(names):
            x = MARGIN + column * (NODE_WIDTH + GAP_X)
            y = MARGIN + layer * (NODE_HEIGHT + GAP_Y)
            nodes[name] = Node(name, states[name].get("Type", "?"), layer, x, y)
    columns = max((len(names) for names in rows.values()), default=1)
    width = 2 * MARGIN + columns * (NODE_WIDTH + GAP_X) + BACK_EDGE_OFFSET
    height = 2 * MARGIN + len(rows) * (NODE_HEIGHT + GAP_Y)
    return Layout(nodes, tuple(e for e in edges if e.target in nodes), width, height)


def duration_text(run: StateRun) -> str:
    if run.outcome == NOT_ENTERED:
        return "not entered"
    seconds = "" if run.seconds is None else _seconds_text(run.seconds)
    times = f" ×{run.entries}" if run.entries > 1 else ""
    return f"{run.outcome} {seconds}{times}".strip()


def _seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _edge_path(edge: Edge, nodes: dict[str, Node]) -> str:
    source, target = nodes[edge.source], nodes[edge.target]
    if target.layer > source.layer:
        x1, y1 = source.x + NODE_WIDTH / 2, source.y + NODE_HEIGHT
        x2, y2 = target.x + NODE_WIDTH / 2, target.y
        bend = (y2 - y1) / 2
        return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + bend:.0f} {x2:.0f},{y2 - bend:.0f} {x2:.0f},{y2:.0f}"
    if target.layer == source.layer:  # side by side: the facing sides, straight across
        left, right = (source, target) if source.x < target.x else (target, source)
        y = source.y + NODE_HEIGHT / 2
        x1, x2 = (left.x + NODE_WIDTH, right.x) if source is left else (right.x, left.x + NODE_WIDTH)
        return f"M{x1:.0f},{y:.0f} L{x2:.0f},{y:.0f}"
    # back to an earlier layer (a retry loop): out of the right side and around
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT / 2
    x2, y2 = target.x + NODE_WIDTH, target.y + NODE_HEIGHT / 2
    out = max(x1, x2) + BACK_EDGE_OFFSET
    return f"M{x1:.0f},{y1:.0f} C{out:.0f},{y1:.0f} {out:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


def graph_svg(definition: dict, runs: dict[str, StateRun]) -> str:
    """The definition's states and edges as an SVG element, each state filled with its outcome's colour."""
    drawn = layout(definition, frozenset(name for name, run in runs.items() if run.entries))
    parts = [
        f'<svg class="graph" width="{drawn.width}" height="{drawn.height}" '
        f'viewBox="0 0 {drawn.width} {drawn.height}" role="img" aria-label="state graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#616161"/></marker></defs>',
    ]
    for edge in drawn.edges:
        dash = ' stroke-dasharray="5,4"' if edge.catch else ""
        parts.append(
            f'<path class="edge{" catch" if edge.catch else ""}" d="{_edge_path(edge, drawn.nodes)}" fill="none" '
            f'stroke="#757575" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>'
        )
    for node in drawn.nodes.values():
        run = runs.get(node.name, StateRun(NOT_ENTERED))
        fill, stroke = COLOURS.get(run.outcome, COLOURS[NOT_ENTERED])
        name, detail = escape(node.name), escape(duration_text(run))
        tip = escape(f"{node.name} ({node.kind}): {duration_text(run)}" + (f", {run.error}" if run.error else ""))
        parts.append(
            f'<g class="state {escape(run.outcome.replace(" ", "-"))}" data-state="{name}"><title>{tip}</title>'
            f'<rect x="{node.x}" y="{node.y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{node.x + 8}" y="{node.y + 17}" class="state-name">{_fit(name, node.name)}</text>'
            f'<text x="{node.x + 8}" y="{node.y + 33}" class="state-detail">{escape(node.kind)} · {detail}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _fit(escaped: str, raw: str, limit: int = 28) -> str:
    """A name too long for its box is cut with an ellipsis (the full name is the box's tooltip)."""
    return escaped if len(raw) <= limit else escape(raw[: limit - 1]) + "…"
