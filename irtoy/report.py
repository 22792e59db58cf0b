"""The compile report: one self-contained HTML page showing every stage of a compilation.

A table gives the function's inputs and outputs. For each stage (traced, shaped, grad,
simplified, fused, ...) the page shows the graph drawn by graphviz (inline SVG, so the page
opens from disk with no network), the IR text, node counts and what the pass changed (added
nodes are outlined in green); a stage its pass left unchanged says which one it is the same
as instead. A training step is a few hundred nodes, too many to read at once, so a stage
with name scopes is also drawn grouped by layer, one box per layer, and once more per layer
with that layer opened in place; large stages open grouped. Below the stages: the generated
Numba source, the interpreter's time per node, and the interpreter-vs-numba table. With the
extra irtoy[onnx], each stage is also written beside the page as an ONNX model
(onnx/STAGE.onnx), linked from its section, to open in Netron or run in onnxruntime.

Python builds all the drawings and data; the page's small script only shows and hides them,
gives each drawing pan and zoom (svg-pan-zoom), shows a clicked node's op, type, role, source
line and inputs, and finds nodes by op, name, id or source line. The template, style sheet,
script and the vendored svg-pan-zoom are files beside this module, in irtoy/report_assets/
(shipped as package data); they are inlined into the page, so it opens from disk with nothing else.
"""
import html
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import numpy as np

from irtoy import render
from irtoy.api import Compiled, Traced
from irtoy.errors import IrtoyError
from irtoy.ir import format_value
from irtoy.passes import fusion

GROUPED_FROM = 60   # a stage of more nodes than this opens grouped by layer; smaller ones show every node


def example_arguments(traced, seed=0):
    """Random arguments matching a traced function's input specs (for timing and profiles)."""
    rng = np.random.default_rng(seed)
    leaves = []
    for spec in traced.input_specs:
        if spec.dtype.kind == "f":
            leaves.append(rng.standard_normal(spec.shape).astype(spec.dtype))
        elif spec.dtype.kind == "b":
            leaves.append(rng.random(spec.shape) < 0.5)
        else:
            leaves.append(np.zeros(spec.shape, spec.dtype))
    from irtoy import pytree
    args, kwargs = pytree.unflatten(traced.in_tree, leaves)
    return list(args), kwargs


def report(target, out_dir, args=None, kwargs=None, backends=("numpy", "numba"), comparison=None, title=None):
    """Write `out_dir/index.html` for a Traced or Compiled function; return its path.

    `args`/`kwargs` are used to profile and time the function; random ones of the traced
    shapes are made when none are given. `comparison`: an `irtoy.compare` result already
    measured, else one is measured when more than one backend is compiled.
    """
    traced = target.traced if isinstance(target, Compiled) else target
    if not isinstance(traced, Traced):
        raise TypeError(f"irtoy.report takes a Traced or Compiled function, not {type(target).__name__}")
    try:
        if args is None:
            args, kwargs = example_arguments(traced)
        kwargs = kwargs or {}
        profiled = traced.compile("numpy", profile=True)
        profiled(*args, **kwargs)
    except MemoryError as e:
        # the report runs the function to profile and time it: arguments or intermediates too large
        specs = ", ".join(str(s) for s in traced.input_specs)
        raise IrtoyError(f"cannot profile {traced.name} for the report: running it on arguments {specs} "
                         f"needs more memory than there is ({e}); trace it with smaller shapes") from None
    compiled = {"numpy": profiled}
    for backend in backends:
        if backend != "numpy":
            compiled[backend] = target if isinstance(target, Compiled) and target.backend == backend \
                else traced.compile(backend)
    final = compiled.get("numba", profiled)
    models = onnx_models(final)
    sections = stage_sections(final.stages, {name: onnx_link(name, model) for name, model in models.items()})
    source = final.source if hasattr(final.executable, "source") else None
    table = None if comparison is None else str(comparison)
    if table is None and len(compiled) > 1:
        from irtoy.compare import compare
        table = str(compare(traced, *args, **kwargs))
    page = report_asset("report.html").format(
        title=html.escape(title or f"irtoy report: {traced.name}"),
        style=report_asset("report.css"), script=report_asset("report.js"),
        pan_zoom=report_asset("svg-pan-zoom.min.js"),
        summary=summary(final),
        stages="\n".join(s for s, _ in sections),
        nodes=json.dumps({name: data for (_, data), name in zip(sections, final.stages)}).replace("</", "<\\/"),
        source=source_section(source, kernel_ids(final.stages)),
        kernels=json.dumps(kernel_ids(final.stages)),
        profile=html.escape(profiled.profile()),
        compare=f"<pre>{html.escape(table)}</pre>" if table else "<p>Only one backend was compiled.</p>",
    )
    path = render.write(os.path.join(out_dir, "index.html"), page)
    for name, model in models.items():
        if not isinstance(model, str):
            render.write(os.path.join(out_dir, "onnx", f"{name}.onnx"), model.SerializeToString())
    return path


def report_asset(name):
    """The text of irtoy/report_assets/NAME: the page's template (report.html, whose {fields}
    report() fills in), style sheet (report.css) or script (report.js)."""
    return (resources.files("irtoy") / "report_assets" / name).read_text(encoding="utf-8")


def summary(final):
    """The stages with their node counts, then the inputs and outputs as a table."""
    rows = "".join(f"<tr><td><a href='#stage-{name}'>{name}</a></td><td>{len(g)}</td></tr>"
                   for name, g in final.stages.items())
    return (f"<div class='summary'><table class='stages'><tr><th>stage</th><th>nodes</th></tr>{rows}</table>"
            f"{signature_table(final)}</div>")


def signature_table(final):
    """Inputs and outputs of the function, one row each: name, shape, dtype and role."""
    graph = list(final.stages.values())[-1]
    outputs = tree_paths(final.traced.out_tree, "result")

    def rows(nodes, names):
        return "".join(f"<tr><td>{html.escape(name)}</td><td>{graph.spec(n).shape}</td>"
                       f"<td>{graph.spec(n).dtype.name}</td><td>{graph[n].get('role', '')}</td></tr>"
                       for n, name in zip(nodes, names))
    inputs = rows(graph.inputs, [graph[n].get("name") or f"%{n}" for n in graph.inputs])
    return (f"<div class='signature'><table id='signature'>"
            f"<thead><tr><th>name</th><th>shape</th><th>dtype</th><th>role</th></tr></thead>"
            f"<tbody><tr><th colspan='4'>{len(graph.inputs)} inputs</th></tr>{inputs}</tbody>"
            f"<tbody><tr><th colspan='4'>{len(graph.outputs)} outputs</th></tr>{rows(graph.outputs, outputs)}</tbody>"
            f"</table></div>")


def tree_paths(tree, prefix):
    """Readable names of a TreeDef's leaves, as irtoy names inputs: `result[1]['w']`."""
    if tree.kind == "leaf":
        return [prefix]
    keys = [repr(k) for k in tree.keys] if tree.kind == "dict" else range(len(tree.children))
    return [path for key, child in zip(keys, tree.children) for path in tree_paths(child, f"{prefix}[{key}]")]


def node_facts(graph, n):
    node = graph[n]
    facts = {"id": f"%{n}", "op": node["op"], "role": node.get("role", ""), "src": node.get("src") or "",
             "scope": node.get("scope") or "", "name": node.get("name") or "",
             "inputs": [f"%{a}" for a in graph.args(n)],
             "attrs": {k: str(v) for k, v in node["attrs"].items()}}
    if "shape" in node:
        facts["type"] = str(graph.spec(n))
    if node["op"] == "const":
        facts["value"] = format_value(node["value"])
    return facts


def changes(graph, previous):
    """What a pass did: node ids it added and removed, and a one-line summary."""
    if previous is None:
        return {}, "the traced function"
    added = [n for n in graph.nx if n not in previous.nx]
    removed = [n for n in previous.nx if n not in graph.nx]

    def ops_of(g, nodes):
        counts = {}
        for n in nodes:
            counts[g[n]["op"]] = counts.get(g[n]["op"], 0) + 1
        return ", ".join(f"{op}×{k}" for op, k in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

    text = f"+{len(added)} nodes ({ops_of(graph, added)}); −{len(removed)} nodes ({ops_of(previous, removed)})"
    if fusion.kernels(graph) and not fusion.kernels(previous):
        text += f"; grouped into {len(fusion.kernels(graph))} kernels"
    return {n: "added" for n in added}, text


def onnx_models(compiled):
    """{stage: its ONNX model, or why it has none (the extra missing, an op ONNX cannot express)}."""
    try:
        from irtoy.onnx.engine import require
        require("onnx")
    except IrtoyError as e:
        return dict.fromkeys(compiled.stages, f"No ONNX model: {e}")
    from irtoy.onnx import export
    models = {}
    for name in compiled.stages:
        try:
            models[name] = export(compiled, stage=name)
        except IrtoyError as e:
            models[name] = f"Not exported to ONNX: {e}"
    return models


def onnx_link(name, model):
    """The line of a stage's section that links its ONNX model (written to onnx/STAGE.onnx)."""
    if isinstance(model, str):
        return f"<p class='onnx'>{html.escape(model)}</p>"
    return (f"<p class='onnx'>This stage as an ONNX model: <a href='onnx/{name}.onnx' download>onnx/{name}.onnx</a> "
            f"(open it in Netron: netron.app, or <code>pip install netron; netron onnx/{name}.onnx</code>)</p>")


def stage_sections(stages, onnx_links):
    """(html, node facts) of every stage. A stage whose pass changed nothing (the same IR text
    and drawing as the stage before it) is not drawn again: it says which stage it is the same as.
    `onnx_links`: {stage: the HTML line linking its ONNX model}."""
    sections, drawn, previous = [], None, None
    for name, graph in stages.items():
        if previous is not None and looks_the_same(graph, previous):
            sections.append(same_section(name, graph, drawn, onnx_links[name]))
        else:
            sections.append(stage_section(name, graph, previous, onnx_links[name]))
            drawn = name
        previous = graph
    return sections


def looks_the_same(graph, previous):
    return str(graph) == str(previous) and stage_drawing(graph).source == stage_drawing(previous).source


def same_section(name, graph, drawn, onnx_link):
    return f"""
<section class="stage same" id="stage-{name}" data-stage="{name}">
  <h2>{html.escape(name)} <small>{len(graph)} nodes</small></h2>
  <p class="changes">same as <a href="#stage-{drawn}">{html.escape(drawn)}</a>: the pass changed nothing</p>
  {onnx_link}
</section>""", {}


def stage_section(name, graph, previous, onnx_link):
    """The HTML of one stage, and the facts of its nodes for the click panel.

    Every node is drawn in the "all nodes" drawing. A graph with name scopes is also drawn
    grouped by layer (one box per layer_groups group), with one more drawing per group, where
    that group is opened in place; a graph of more than GROUPED_FROM nodes opens grouped.
    """
    highlight, what = changes(graph, previous)
    groups = render.layer_groups(graph)
    grouped_first = bool(groups) and len(graph) > GROUPED_FROM
    boxes = []      # (box id, kind, drawing, hidden)
    views = ""
    if groups:
        boxes.append((f"grouped-{name}", "grouped", render.to_dot_collapsed(graph, id_prefix=f"{name}-g-"),
                      not grouped_first))
        kernels = stage_clusters(graph).get("clusters")     # a fused stage boxes its kernels in an opened layer
        boxes += [(f"grouped-{name}-{k}", "grouped opened",
                   render.to_dot_collapsed(graph, id_prefix=f"{name}-g{k}-", expand=label, clusters=kernels), True)
                  for k, label in enumerate(groups)]
        views = (f"<p class='views'><button data-show='grouped-{name}' aria-pressed='{str(grouped_first).lower()}'>"
                 f"by layer ({len(groups)} groups)</button><button data-show='graph-{name}' "
                 f"aria-pressed='{str(not grouped_first).lower()}'>all {len(graph)} nodes</button></p>")
    boxes.append((f"graph-{name}", "full", stage_drawing(graph, highlight, id_prefix=f"{name}-"), grouped_first))
    counts = ", ".join(f"{op} {k}" for op, k in sorted(graph.count_ops().items()))
    section = f"""
<section class="stage" id="stage-{name}" data-stage="{name}">
  <h2>{html.escape(name)} <small>{len(graph)} nodes</small></h2>
  <p class="changes">{html.escape(what)}</p>
  <p class="counts">{html.escape(counts)}</p>
  {views}{drawing_boxes(boxes)}
  <p class="hint">drag to pan; zoom with Ctrl + wheel or the + and − buttons; click a node for its details{
      ", a layer to open or close it" if groups else ""}</p>
  <details><summary>IR text</summary><pre>{html.escape(str(graph))}</pre></details>
  {onnx_link}
</section>"""
    facts = {str(n): node_facts(graph, n) for n in graph.nx}
    for k, members in enumerate(groups.values()):
        for n in members:
            facts[str(n)]["group"] = k          # the search marks the layer box holding a match
    return section, facts


def stage_drawing(graph, highlight=None, id_prefix=""):
    """The drawing of every node of a stage (kernels boxed in a fused stage, else scopes)."""
    return render.to_dot(graph, highlight=highlight, id_prefix=id_prefix, **stage_clusters(graph))


def drawing_boxes(boxes):
    """Each (box id, kind, graphviz drawing, hidden) as inline SVG in its box; the page's script
    gives a box pan and zoom when it is shown. A hidden drawing waits in a <template>, which the
    browser neither lays out nor draws, so a page of a hundred drawings opens as fast as one of
    the few it shows. graphviz draws them side by side, one `dot` process per core."""
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        svgs = list(pool.map(render.svg, [dot for _, _, dot, _ in boxes]))
    html_boxes = []
    for (box_id, kind, _, hidden), svg in zip(boxes, svgs):
        drawing = strip_xml_header(svg)
        if hidden:
            drawing = f"<template>{drawing}</template>"
        html_boxes.append(f"<div class='graph {kind}' id='{box_id}'{' hidden' if hidden else ''}>{drawing}</div>")
    return "".join(html_boxes)


def stage_clusters(graph):
    """A fused stage draws each kernel as a box (cluster i is kernel_ids[i]); others group scopes."""
    kernels = fusion.kernels(graph)
    return {"clusters": fusion.clusters(graph)} if kernels else {"group_scopes": True}


def kernel_ids(stages):
    """The kernel ids of the fused stage, in the order its clusters are drawn."""
    return [k.id for k in fusion.kernels(stages["fused"])] if "fused" in stages else []


def strip_xml_header(svg):
    return svg[svg.index("<svg"):]


def source_section(source, kernel_order):
    """The generated source; each `# k3: kernel 4, kernel 7` header links to those kernels'
    boxes in the fused drawing (which link back here)."""
    if not source:
        return "<p>The interpreter generates no source.</p>"
    lines = []
    for line in source.splitlines():
        escaped = html.escape(line)
        header = re.match(r"# (\w+): (kernel \d+(, kernel \d+)*)$", line)
        if header:
            links = [f"<a href='#fused-cluster{kernel_order.index(int(k))}' class='to-cluster' "
                     f"data-kernel='{k}'>kernel {k}</a>" for k in re.findall(r"kernel (\d+)", header.group(2))
                     if int(k) in kernel_order]
            ids = " ".join(f"source-kernel{k}" for k in re.findall(r"kernel (\d+)", header.group(2)))
            escaped = f"<span class='kernel' id='source-{header.group(1)}' data-kernels='{ids}'># {header.group(1)}: " \
                      f"{', '.join(links)}</span>"
        lines.append(escaped)
    return "<pre class='source'>" + "\n".join(lines) + "</pre>"
