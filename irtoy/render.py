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
from irtoy.files import checked_write
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
    """Write a drawing or page: a path that cannot be written is a RenderError naming it."""
    return checked_write(path, data, RenderError)


def svg(dot):
    """A drawing (to_dot or to_dot_collapsed) as an SVG string, for embedding in a report."""
    try:
        return dot.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise RenderError("graphviz's `dot` program is not installed (apt-get install graphviz)") from None


def layer_groups(graph, depth=1):
    """{label: [node ids]}: how a large graph is grouped into layers for drawing.

    Each name scope (to `depth` levels) is a group, as `irtoy.scope` and the nn layers name
    them (dense1, relu1, loss, optimizer, ...). Inputs outside any scope are grouped by the
    argument they are leaves of (`params` holds params['w'] and params['b']), so a training
    step's two dozen weights and optimizer states do not spread across the drawing; an argument
    with a single leaf stays a node of its own. Other nodes outside any scope belong to no group.
    """
    groups = {}
    for n in graph.order():
        node = graph[n]
        if node.get("scope"):
            groups.setdefault("/".join(node["scope"].split("/")[:depth]), []).append(n)
        elif node["op"] == "input":
            groups.setdefault(argument_of(node.get("name") or "input"), []).append(n)
    return {label: members for label, members in groups.items()
            if len(members) > 1 or graph[members[0]]["op"] != "input"}


def argument_of(input_name):
    """The argument an input is a leaf of: `params` for `params['dense1']['w']`."""
    return input_name.split("[")[0]


def to_dot_collapsed(graph, title=None, rankdir="TB", depth=1, id_prefix="", expand=None, clusters=None):
    """A summary drawing: each of the graph's layer_groups drawn as one box.

    Large models stay legible this way: a 3-layer MLP's training step is a few hundred nodes,
    but only a handful of layers (dense1, dense2, loss, optimizer, ...). Nodes in no group are
    drawn as themselves. `expand`: the label of one group drawn opened instead, its nodes inside
    a box with the label, wired to the boxes around them. In the SVG, group k (in layer_groups
    order) has the id `{id_prefix}group{k}`, whether drawn as a box or opened. `clusters`:
    {label: [node ids]} (a fused graph's kernels) boxed inside the opened group, each box
    holding the group's nodes of that kernel.
    """
    groups = layer_groups(graph, depth)
    dot = graphviz.Digraph("irtoy", graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "newrank": "true",
                                                **({"label": title, "labelloc": "t"} if title else {})},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "10"},
                           edge_attr={"color": "#555555"})
    drawn_as = {}           # node id -> the name of what stands for it in the drawing

    def add_node(target, n):
        node = graph[n]
        target.node(f"n{n}", node_label(graph, n), fillcolor=ROLE_COLORS.get(node.get("role"), "#ffffff"),
                    id=f"{id_prefix}node{n}",
                    tooltip=f"%{n} {node['op']}" + (f" at {node['src']}" if node.get("src") else ""))
        drawn_as[n] = f"n{n}"

    for k, (label, members) in enumerate(groups.items()):
        if label == expand:
            with dot.subgraph(name=f"cluster_{k}") as sub:
                sub.attr(label=f"{label} (click to close)", style="rounded,dashed", color="#7570b3",
                         fontsize="11", id=f"{id_prefix}group{k}")
                for i, (kernel, kernel_nodes) in enumerate((clusters or {}).items()):
                    inside = [n for n in kernel_nodes if n in members]
                    if inside:
                        with sub.subgraph(name=f"cluster_{k}_{i}") as box:
                            box.attr(label=str(kernel), style="rounded,dotted", color="#999999", fontsize="9",
                                     id=f"{id_prefix}cluster{i}")
                            for n in inside:
                                add_node(box, n)
                for n in members:
                    if n not in drawn_as:
                        add_node(sub, n)
            continue
        ops_in = sorted({graph[n]["op"] for n in members})
        roles = {graph[n].get("role") for n in members}
        role = next((r for r in ("update", "backward", "forward", "input") if r in roles), "forward")
        dot.node(f"g{k}", f"{label}\n{len(members)} nodes: {', '.join(ops_in[:4])}{'…' if len(ops_in) > 4 else ''}",
                 fillcolor=ROLE_COLORS[role], id=f"{id_prefix}group{k}", penwidth="2",
                 tooltip=f"{label}: click to open")
        drawn_as.update((n, f"g{k}") for n in members)
    for n in graph.order():
        if n not in drawn_as:
            add_node(dot, n)
    seen = set()
    for a, b in graph.nx.edges():
        tail, head = drawn_as[a], drawn_as[b]
        if tail != head and (tail, head) not in seen:
            seen.add((tail, head))
            dot.edge(tail, head)
    return dot
