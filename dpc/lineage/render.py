"""Renderers for the lineage graph: Mermaid (for Markdown), Graphviz DOT, and offline HTML.

The HTML is one file with an inline SVG and no external reference at all, so it opens from
a mail attachment or an air-gapped laptop. Its layout is a swimlane per account (the
question people ask first is "which team owns this?") and one column per dependency depth,
so data flows left to right.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from html import escape

from dpc.lineage.graph import Edge, Lineage, Node
from dpc.triggers.model import ParentRef

ACCOUNT_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
STATUS_FILLS = {
    "SUCCEEDED": "#c8e6c9",
    "RUNNING": "#bbdefb",
    "FAILED": "#ffcdd2",
    "TIMED_OUT": "#ffe0b2",
    "ABORTED": "#e0e0e0",
    # a period's state (`dpc graph --central --period P`, dpc.observe.status)
    "done": "#c8e6c9",
    "running": "#bbdefb",
    "failed": "#ffcdd2",
    "late": "#e1bee7",
    "waiting": "#fff9c4",
}
NO_STATUS_FILL = "#ffffff"
UNDECLARED_FILL = "#f4f4f4"

BOX_WIDTH = 240
BOX_HEIGHT = 72
STRIPE_WIDTH = 8
COLUMN_GAP = 150
"""Room between columns for edge labels and for edges turning between lanes."""
COLUMN_PITCH = BOX_WIDTH + COLUMN_GAP
ROW_PITCH = BOX_HEIGHT + 18
LANE_LABEL_HEIGHT = 26
LANE_PADDING = 18
"""Below a lane's last row: the channel where edges that skip columns run, clear of boxes."""
MARGIN = 20
HEADER_HEIGHT = 64
MAX_LABELLED_EDGES = 80
"""Beyond this many edges, labels turn into hover tooltips: text on every edge is unreadable."""
MAX_NAME_CHARS = 28


def account_colours(lineage: Lineage) -> dict[str, str]:
    return {
        account: ACCOUNT_COLOURS[i % len(ACCOUNT_COLOURS)]
        for i, account in enumerate(lineage.accounts)
    }


def _node_lines(node: Node) -> list[str]:
    lines = [node.ref.name]
    if node.schedule:
        lines.append(f"schedule {node.schedule}")
    if node.condition:
        lines.append(node.condition)
    if node.status:
        lines.append(f"last run {node.status}")
    if not node.declared:
        lines.append("(not in this org)")
    return lines


# --- Mermaid ---------------------------------------------------------------------------


def to_mermaid(lineage: Lineage) -> str:
    ids = {node.ref: f"n{i}" for i, node in enumerate(lineage.nodes)}
    colours = account_colours(lineage)
    out = ["flowchart LR"]
    for account in lineage.accounts:
        out.append(f'  subgraph account_{_ident(account)}["account {_mermaid_text(account)}"]')
        for node in lineage.nodes:
            if node.ref.account == account:
                label = "<br/>".join(_mermaid_text(line) for line in _node_lines(node))
                out.append(f'    {ids[node.ref]}["{label}"]')
        out.append("  end")
        out.append(f"  style account_{_ident(account)} stroke:{colours[account]},stroke-width:2px")
    for edge in lineage.edges:
        arrow = "-->" if edge.block == "allOf" else "-.->"
        out.append(f'  {ids[edge.parent]} {arrow}|"{edge.label}"| {ids[edge.child]}')
    by_status: dict[str, list[str]] = defaultdict(list)
    for node in lineage.nodes:
        if node.status in STATUS_FILLS:
            by_status[node.status].append(ids[node.ref])
    for status, members in sorted(by_status.items()):
        out.append(f"  classDef {status} fill:{STATUS_FILLS[status]}")
        out.append(f"  class {','.join(members)} {status}")
    return "\n".join(out) + "\n"


def _ident(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def _mermaid_text(text: str) -> str:
    return escape(text, quote=False).replace('"', "#quot;")


# --- Graphviz DOT ----------------------------------------------------------------------


def to_dot(lineage: Lineage) -> str:
    colours = account_colours(lineage)
    out = [
        "digraph dpc {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fillcolor="white"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for account in lineage.accounts:
        out.append(f"  subgraph {_dot_quote('cluster_' + account)} {{")
        out.append(f"    label={_dot_quote('account ' + account)};")
        out.append(f'    style="filled,rounded"; color="{colours[account]}";')
        out.append(f'    fillcolor="{_tint(colours[account])}";')
        for node in lineage.nodes:
            if node.ref.account != account:
                continue
            attributes = [f"label={_dot_quote(chr(10).join(_node_lines(node)))}"]
            attributes.append(f'color="{colours[account]}"')
            if node.status in STATUS_FILLS:
                attributes.append(f'fillcolor="{STATUS_FILLS[node.status]}"')
            if not node.declared:
                attributes.append('style="rounded,filled,dashed"')
            out.append(f"    {_dot_quote(node.key)} [{', '.join(attributes)}];")
        out.append("  }")
    for edge in lineage.edges:
        style = "" if edge.block == "allOf" else ", style=dashed"
        out.append(
            f"  {_dot_quote(str(edge.parent))} -> {_dot_quote(str(edge.child))}"
            f" [label={_dot_quote(edge.label)}{style}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# --- HTML with an inline SVG -----------------------------------------------------------


@dataclass(frozen=True)
class Box:
    node: Node
    x: int
    y: int


@dataclass(frozen=True)
class Lane:
    account: str
    y: int
    height: int


@dataclass(frozen=True)
class Layout:
    boxes: dict[ParentRef, Box]
    lanes: tuple[Lane, ...]
    width: int
    height: int


def layout(lineage: Lineage) -> Layout:
    """Swimlanes by account (rows), dependency depth (columns).

    Within one lane and column, children sit in the order of their parents' heights (the
    barycentre heuristic), which keeps most edges short and uncrossed.
    """
    layer_of = lineage.layers()
    depth = 1 + max(layer_of.values(), default=0)
    cells: dict[tuple[str, int], list[Node]] = defaultdict(list)
    for node in lineage.nodes:
        cells[(node.ref.account, layer_of[node.ref])].append(node)
    parents: dict[ParentRef, list[ParentRef]] = defaultdict(list)
    for edge in lineage.edges:
        parents[edge.child].append(edge.parent)

    lane_rows = {
        account: max(len(cells.get((account, layer), ())) for layer in range(depth))
        for account in lineage.accounts
    }
    lanes: list[Lane] = []
    top = HEADER_HEIGHT
    for account in lineage.accounts:
        height = LANE_LABEL_HEIGHT + lane_rows[account] * ROW_PITCH + LANE_PADDING
        lanes.append(Lane(account, top, height))
        top += height
    lane_top = {lane.account: lane.y for lane in lanes}

    boxes: dict[ParentRef, Box] = {}
    for layer in range(depth):
        for account in lineage.accounts:
            members = cells.get((account, layer), [])

            def centre(node: Node) -> tuple[float, str]:
                placed = [boxes[p].y for p in parents[node.ref] if p in boxes]
                return (sum(placed) / len(placed) if placed else 0.0, node.ref.name)

            for row, node in enumerate(sorted(members, key=centre)):
                x = MARGIN + layer * COLUMN_PITCH
                y = lane_top[account] + LANE_LABEL_HEIGHT + row * ROW_PITCH
                boxes[node.ref] = Box(node, x, y)
    width = max(MARGIN * 2 + depth * COLUMN_PITCH - (COLUMN_PITCH - BOX_WIDTH), 720)
    return Layout(boxes, tuple(lanes), width, top + MARGIN)


def to_html(lineage: Lineage, title: str = "dpc dependency graph") -> str:
    return _HTML.format(
        title=escape(title),
        style=_STYLE,
        svg=to_svg(lineage, title),
        script=_SCRIPT,
    )


def to_svg(lineage: Lineage, title: str = "dpc dependency graph") -> str:
    plan = layout(lineage)
    colours = account_colours(lineage)
    labelled = len(lineage.edges) <= MAX_LABELLED_EDGES
    central = any(node.status for node in lineage.nodes)
    parts = [
        f'<svg id="lineage" width="{plan.width}" height="{plan.height}" '
        f'viewBox="0 0 {plan.width} {plan.height}" role="img" aria-label="{escape(title)}">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect x="0" y="0" width="{plan.width}" height="{plan.height}" fill="#ffffff"/>',
    ]
    parts.append(_header(lineage, title, central))
    for lane in plan.lanes:
        colour = colours[lane.account]
        parts.append(
            f'<g class="lane" data-account="{escape(lane.account)}">'
            f'<rect x="0" y="{lane.y}" width="{plan.width}" height="{lane.height}" '
            f'fill="{_tint(colour)}" stroke="{colour}" stroke-opacity="0.35"/>'
            f'<text class="lane-label" x="{MARGIN}" y="{lane.y + 18}" fill="{colour}">'
            f"account {escape(lane.account)}</text></g>"
        )
    routes = {edge: _route(edge, plan) for edge in lineage.edges}
    for edge, route in routes.items():
        parts.append(_svg_edge(edge, route))
    for box in plan.boxes.values():
        parts.append(_svg_node(box, colours[box.node.ref.account]))
    if labelled:  # after the boxes, so a label is never hidden under one
        parts += [_svg_edge_label(edge, route) for edge, route in routes.items()]
    parts.append("</svg>")
    return "\n".join(parts)


def _header(lineage: Lineage, title: str, central: bool) -> str:
    count = len([n for n in lineage.nodes if n.declared])
    summary = (
        f"{count} pipeline{'s' * (count != 1)} in {len(lineage.accounts)} "
        f"account{'s' * (len(lineage.accounts) != 1)}, {len(lineage.edges)} dependencies"
    )
    legend = [
        f'<text class="title" x="{MARGIN}" y="24">{escape(title)}</text>',
        f'<text class="summary" x="{MARGIN}" y="44">{escape(summary)}</text>',
    ]
    x = MARGIN + 420
    for label, dash in (("allOf", ""), ("anyOf", ' stroke-dasharray="6 4"')):
        legend.append(
            f'<line x1="{x}" y1="38" x2="{x + 36}" y2="38" stroke="#555" stroke-width="1.5"'
            f'{dash} marker-end="url(#arrow)"/>'
            f'<text class="summary" x="{x + 44}" y="42">{label}</text>'
        )
        x += 110
    if central:
        shown = {node.status for node in lineage.nodes}
        for status, fill in STATUS_FILLS.items():
            if status not in shown:
                continue
            legend.append(
                f'<rect x="{x}" y="29" width="14" height="14" fill="{fill}" stroke="#999"/>'
                f'<text class="summary" x="{x + 18}" y="41">{status}</text>'
            )
            x += 26 + 8 * len(status)
    return '<g class="legend">' + "".join(legend) + "</g>"


@dataclass(frozen=True)
class Route:
    path: str
    label_x: int
    label_y: int


def _route(edge: Edge, plan: Layout) -> Route:
    """Into the next column: one S-curve through the gap. Further: down into the channel
    below the parent's lane, along it, and up through the gap before the child, so the edge
    never runs behind a box of a column it skips."""
    start, end = plan.boxes[edge.parent], plan.boxes[edge.child]
    x1, y1 = start.x + BOX_WIDTH, start.y + BOX_HEIGHT // 2
    x2, y2 = end.x, end.y + BOX_HEIGHT // 2
    if x2 - x1 <= COLUMN_GAP:
        bend = (x2 - x1) // 2
        path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
        return Route(path, (x1 + x2) // 2, (y1 + y2) // 2)
    lane = next(lane for lane in plan.lanes if lane.account == edge.parent.account)
    channel = lane.y + lane.height - LANE_PADDING // 2
    turn = COLUMN_GAP // 3
    path = (
        f"M{x1},{y1} C{x1 + turn},{y1} {x1 + turn},{channel} {x1 + 2 * turn},{channel} "
        f"L{x2 - 2 * turn},{channel} "
        f"C{x2 - turn},{channel} {x2 - turn},{y2} {x2},{y2}"
    )
    return Route(path, x2 - COLUMN_GAP - BOX_WIDTH // 2, channel)


def _svg_edge(edge: Edge, route: Route) -> str:
    dash = ' stroke-dasharray="6 4"' if edge.block == "anyOf" else ""
    tooltip = f"{edge.parent} → {edge.child}: {edge.label}"
    return (
        f'<g class="edge" data-from="{escape(str(edge.parent))}" '
        f'data-to="{escape(str(edge.child))}" data-block="{edge.block}">'
        f"<title>{escape(tooltip)}</title>"
        f'<path d="{route.path}" fill="none" stroke="#555" stroke-width="1.5"{dash} '
        f'marker-end="url(#arrow)"/></g>'
    )


def _svg_edge_label(edge: Edge, route: Route) -> str:
    return (
        f'<text class="edge-label" x="{route.label_x}" y="{route.label_y - 8}" '
        f'text-anchor="middle" data-from="{escape(str(edge.parent))}" '
        f'data-to="{escape(str(edge.child))}">{edge.block}'
        f'<tspan x="{route.label_x}" dy="11">{escape("|".join(edge.statuses))}</tspan></text>'
    )


def _svg_node(box: Box, colour: str) -> str:
    node = box.node
    fill = STATUS_FILLS.get(node.status or "", NO_STATUS_FILL if node.declared else UNDECLARED_FILL)
    dash = "" if node.declared else ' stroke-dasharray="4 3"'
    lines = _node_lines(node)
    tooltip = "\n".join([node.key, *lines[1:], *([node.description] if node.description else [])])
    # In a box, the condition's blocks and its within/reset go on lines of their own.
    details = [part for line in lines[1:] for part in line.split(" · ", 1)]
    texts = [
        f'<text class="name" x="{STRIPE_WIDTH + 8}" y="20">{escape(_clip(lines[0]))}</text>',
        *(
            f'<text class="detail" x="{STRIPE_WIDTH + 8}" y="{36 + 14 * i}">'
            f"{escape(_clip(line, 38))}</text>"
            for i, line in enumerate(details[:3])
        ),
    ]
    return (
        f'<g class="node" data-pipeline="{escape(node.ref.name)}" '
        f'data-account="{escape(node.ref.account)}" data-status="{escape(node.status or "")}" '
        f'data-colour="{colour}" transform="translate({box.x},{box.y})">'
        f"<title>{escape(tooltip)}</title>"
        f'<rect class="box" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{fill}" '
        f'stroke="{colour}" stroke-width="1.5"{dash}/>'
        f'<rect class="stripe" width="{STRIPE_WIDTH}" height="{BOX_HEIGHT}" fill="{colour}"/>'
        + "".join(texts)
        + "</g>"
    )


def _clip(text: str, limit: int = MAX_NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tint(colour: str, keep: float = 0.1) -> str:
    """``colour`` mixed with white: a lane background light enough for black text."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - (255 - c) * keep):02x}" for c in (red, green, blue))


_STYLE = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
svg text { font-family: inherit; }
.title { font-size: 18px; font-weight: 600; fill: #222; }
.summary { font-size: 13px; fill: #444; }
.lane-label { font-size: 13px; font-weight: 600; }
.name { font-size: 13px; font-weight: 600; fill: #111; }
.detail { font-size: 11px; fill: #444; }
.edge-label { font-size: 10px; fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.node { cursor: pointer; }
svg.focused .node, svg.focused .edge { opacity: 0.15; }
svg.focused .node.lit, svg.focused .edge.lit { opacity: 1; }
"""

# Click a pipeline to see its upstream and downstream lineage; click the background to clear.
_SCRIPT = """
(function () {
  var svg = document.getElementById("lineage");
  var edges = Array.prototype.slice.call(svg.querySelectorAll(".edge"));
  var nodes = Array.prototype.slice.call(svg.querySelectorAll(".node"));
  function key(n) { return n.dataset.pipeline + "@" + n.dataset.account; }
  function walk(start, from, to) {
    var seen = {}, todo = [start];
    seen[start] = true;
    while (todo.length) {
      var at = todo.pop();
      edges.forEach(function (e) {
        if (e.dataset[from] === at) {
          e.classList.add("lit");
          if (!seen[e.dataset[to]]) { seen[e.dataset[to]] = true; todo.push(e.dataset[to]); }
        }
      });
    }
    return seen;
  }
  svg.addEventListener("click", function (event) {
    var hit = event.target.closest(".node");
    svg.querySelectorAll(".lit").forEach(function (e) { e.classList.remove("lit"); });
    if (!hit) { svg.classList.remove("focused"); return; }
    var lit = Object.assign(walk(key(hit), "to", "from"), walk(key(hit), "from", "to"));
    nodes.forEach(function (n) { if (lit[key(n)]) { n.classList.add("lit"); } });
    svg.classList.add("focused");
  });
})();
"""

_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{svg}
<script>{script}</script>
</body>
</html>
"""


def to_json(lineage: Lineage) -> str:
    """The graph as data, for tools: the same nodes and edges every picture shows."""
    return json.dumps(
        {
            "nodes": [
                {
                    "pipeline": n.ref.name,
                    "account": n.ref.account,
                    "schedule": n.schedule,
                    "condition": n.condition,
                    "status": n.status,
                    "declared": n.declared,
                }
                for n in lineage.nodes
            ],
            "edges": [
                {
                    "parent": {"pipeline": e.parent.name, "account": e.parent.account},
                    "child": {"pipeline": e.child.name, "account": e.child.account},
                    "block": e.block,
                    "statuses": list(e.statuses),
                }
                for e in lineage.edges
            ],
        },
        indent=2,
    )
