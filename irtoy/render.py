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
           edge_labels=True, size=None, id_prefix=""):
    """The graphviz.Digraph of `graph`.

    clusters: {label: [node ids]} drawn as boxes (e.g. fused kernels); group_scopes: box the
    nodes of each top-level name scope; highlight: {node id: "added"} outlines changed nodes;
    id_prefix: prepended to the SVG element ids (`node7`, `cluster0`), so several drawings can
    share one HTML page.
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
                 "id": f"{id_prefix}node{n}"}
        if n in highlight:
            attrs.update(color=HIGHLIGHT.get(highlight[n], "#d73027"), penwidth="3")
        target.node(f"n{n}", node_label(graph, n), **attrs)

    for i, (label, members) in enumerate(groups.items()):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            sub.attr(label=str(label), style="rounded,dashed", color="#7570b3", fontsize="11", id=f"{id_prefix}cluster{i}")
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
    how to install graphviz. An unknown format, or a path that cannot be written, is a
    RenderError naming the path.
    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "svg"
    if fmt not in graphviz.FORMATS:
        raise RenderError(f"cannot draw {path}: graphviz knows no format {fmt!r}; use .svg, .png, .pdf or .dot")
    dot = to_dot(graph, **options)
    if fmt in ("dot", "gv"):
        return write(path, dot.source)
    try:
        data = dot.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        source = os.path.splitext(path)[0] + ".dot"
        write(source, dot.source)
        raise RenderError(f"cannot draw {path}: graphviz's `dot` program is not installed. The graph's "
                          f"source was written to {source}. Install graphviz (Debian/Ubuntu: "
                          f"`apt-get install graphviz`, macOS: `brew install graphviz`, conda: "
                          f"`conda install graphviz`) and draw again.") from None
    except graphviz.CalledProcessError as e:
        detail = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"cannot draw {path}: graphviz's `dot` failed to write {fmt!r}"
                          f"{': ' + detail[0] if detail else ''}") from None
    return write(path, data)


def write(path, data):
    """atomic_write, with a path that cannot be written (a folder, a path under a regular
    file, a read-only folder, a full disk) told as a RenderError naming it."""
    if os.path.isdir(path):
        raise RenderError(f"cannot write {path}: it is a folder")
    folder = os.path.dirname(path)
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if folder and not os.path.isdir(folder):
        raise RenderError(f"cannot write {path}: {folder} is a file, not a folder")
    try:
        return atomic_write(path, data)
    except OSError as e:
        raise RenderError(f"cannot write {path}: {e.strerror or e}") from None


def svg(dot):
    """A drawing (to_dot or to_dot_collapsed) as an SVG string, for embedding in a report."""
    try:
        return dot.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise RenderError("graphviz's `dot` program is not installed (apt-get install graphviz)") from None


def to_dot_collapsed(graph, title=None, rankdir="TB", depth=1, id_prefix=""):
    """A summary drawing: each name scope (to `depth` levels) drawn as one box.

    Large models stay legible this way: a 3-layer MLP's training step is a few hundred nodes,
    but only a handful of scopes (dense1, dense2, loss, ...). Nodes outside any scope are
    drawn as themselves.
    """
    def group(n):
        scope = graph[n].get("scope") or ""
        return "/".join(scope.split("/")[:depth]) if scope else None

    dot = graphviz.Digraph("irtoy", graph_attr={"rankdir": rankdir, "fontname": "Helvetica",
                                                **({"label": title, "labelloc": "t"} if title else {})},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "10"})
    members = {}
    for n in graph.nx:
        members.setdefault(group(n), []).append(n)
    for scope, nodes in members.items():
        if scope is None:
            continue
        ops_in = sorted({graph[n]["op"] for n in nodes})
        roles = {graph[n].get("role") for n in nodes}
        role = next((r for r in ("update", "backward", "forward") if r in roles), "forward")
        dot.node(f"s_{scope}", f"{scope}\n{len(nodes)} nodes: {', '.join(ops_in[:4])}{'…' if len(ops_in) > 4 else ''}",
                 fillcolor=ROLE_COLORS[role], id=f"{id_prefix}scope_{scope}", penwidth="2")
    for n in members.get(None, []):
        node = graph[n]
        dot.node(f"n{n}", node_label(graph, n), fillcolor=ROLE_COLORS.get(node.get("role"), "#ffffff"),
                 id=f"{id_prefix}node{n}", tooltip=f"%{n} {node['op']}" + (f" at {node['src']}" if node.get("src") else ""))
    seen = set()
    for a, b in graph.nx.edges():
        ga, gb = group(a), group(b)
        tail = f"s_{ga}" if ga else f"n{a}"
        head = f"s_{gb}" if gb else f"n{b}"
        if tail != head and (tail, head) not in seen:
            seen.add((tail, head))
            dot.edge(tail, head)
    return dot
