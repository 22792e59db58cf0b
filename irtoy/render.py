"""Drawing graphs with graphviz.

Each node is a box labelled with its op and type (constants with their value when small),
filled by role: inputs blue, constants grey, forward white, backward orange, optimizer
updates green. Edges run from argument to user in argument order and are labelled with the
type they carry; the tooltip of a node gives its id, op and the user's source line. Nodes
can be grouped into boxes (clusters): by name scope, or by the kernel they were fused into.
"""
import os

import graphviz

from irtoy.errors import RenderError
from irtoy.files import atomic_write
from irtoy.ir import format_value

ROLE_COLORS = {
    "input": "#cfe3ff", "const": "#e8e8e8", "forward": "#ffffff",
    "backward": "#ffd9b8", "update": "#cdeec4",
}
HIGHLIGHT = {"added": "#1a9850", "removed": "#d73027"}


def node_label(graph, n):
    node = graph[n]
    spec = str(graph.spec(n)) if "shape" in node else ""
    if node["op"] == "input":
        head = node.get("name") or "input"
    elif node["op"] == "const":
        head = format_value(node["value"], limit=4)
    else:
        head = node["op"]
    return f"{head}\n{spec}" if spec else head


def to_dot(graph, title=None, rankdir="TB", clusters=None, group_scopes=False, highlight=None,
           edge_labels=True, size=None):
    """The graphviz.Digraph of `graph`.

    clusters: {label: [node ids]} drawn as boxes (e.g. fused kernels); group_scopes: box the
    nodes of each top-level name scope; highlight: {node id: "added"} outlines changed nodes.
    """
    graph_attr = {"rankdir": rankdir, "fontname": "Helvetica", "ordering": "in", "newrank": "true"}
    if title:
        graph_attr.update(label=title, labelloc="t", fontsize="14")
    if size:
        graph_attr["size"] = str(size)
    dot = graphviz.Digraph("irtoy", graph_attr=graph_attr,
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "10"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "8", "color": "#555555"})
    highlight = highlight or {}
    groups = dict(clusters or {})
    if group_scopes and not clusters:
        for n in graph.nx:
            top = (graph[n].get("scope") or "").split("/")[0]
            if top:
                groups.setdefault(top, []).append(n)
    grouped = {n for members in groups.values() for n in members}

    def add(target, n):
        node = graph[n]
        attrs = {"fillcolor": ROLE_COLORS.get(node.get("role"), "#ffffff"),
                 "tooltip": f"%{n} {node['op']}" + (f" at {node['src']}" if node.get("src") else ""),
                 "id": f"node{n}"}
        if n in highlight:
            attrs.update(color=HIGHLIGHT.get(highlight[n], "#d73027"), penwidth="3")
        target.node(f"n{n}", node_label(graph, n), **attrs)

    for i, (label, members) in enumerate(groups.items()):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            sub.attr(label=str(label), style="rounded,dashed", color="#7570b3", fontsize="11", id=f"cluster{i}")
            for n in members:
                add(sub, n)
    for n in graph.order():
        if n not in grouped:
            add(dot, n)
    for n in graph.order():
        for position, a in enumerate(graph.args(n)):
            label = str(graph.spec(a)) if edge_labels and "shape" in graph[a] else ""
            if len(graph.args(n)) > 1:
                label = f"{position}: {label}" if label else str(position)
            dot.edge(f"n{a}", f"n{n}", label=label)
    for position, out in enumerate(graph.outputs):
        dot.node(f"out{position}", f"output {position}", shape="plaintext", style="")
        dot.edge(f"n{out}", f"out{position}", style="dashed")
    roles = sorted({graph[n].get("role") for n in graph.nx} & set(ROLE_COLORS), key=list(ROLE_COLORS).index)
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label="roles", style="rounded", color="#bbbbbb", fontsize="10")
        for role in roles:
            legend.node(f"legend_{role}", role, fillcolor=ROLE_COLORS[role])
    return dot


def render(graph, path, **options):
    """Draw `graph` to `path`; the format follows the extension (.svg, .png, .pdf, .dot).

    Without graphviz's `dot` program the .dot source is still written, and the error says
    how to install graphviz.
    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "svg"
    dot = to_dot(graph, **options)
    if fmt in ("dot", "gv"):
        return atomic_write(path, dot.source)
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        source = os.path.splitext(path)[0] + ".dot"
        atomic_write(source, dot.source)
        raise RenderError(f"cannot draw {path}: graphviz's `dot` program is not installed. The graph's "
                          f"source was written to {source}. Install graphviz (Debian/Ubuntu: "
                          f"`apt-get install graphviz`, macOS: `brew install graphviz`, conda: "
                          f"`conda install graphviz`) and draw again.") from None
    return atomic_write(path, data)


def svg(graph, **options):
    """The drawing as an SVG string (for embedding in a report)."""
    try:
        return to_dot(graph, **options).pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise RenderError("graphviz's `dot` program is not installed (apt-get install graphviz)") from None
