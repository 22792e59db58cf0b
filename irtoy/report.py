"""The compile report: one self-contained HTML page showing every stage of a compilation.

For each stage (traced, shaped, grad, simplified, fused, ...) the page shows the graph drawn
by graphviz (inline SVG, so the page opens from disk with no network), the IR text, node
counts and what the pass changed (added nodes are outlined in green). Below them: the
generated Numba source, the interpreter's time per node, and the interpreter-vs-numba table.
Clicking a node shows its op, type, role, source line and inputs; the search box finds nodes
by op, name, id or source line; graphs with name scopes can be viewed grouped by scope.

The page's template, style sheet and script are files beside this module, in
irtoy/report_assets/ (shipped as package data); they are inlined into the page, so it opens
from disk with nothing else.
"""
import html
import json
import os
import re
from importlib import resources

import numpy as np

from irtoy import render
from irtoy.api import Compiled, Traced
from irtoy.errors import IrtoyError
from irtoy.ir import format_value
from irtoy.passes import fusion


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
    sections = [stage_section(name, graph, previous)
                for (name, graph), previous in zip(final.stages.items(), [None] + list(final.stages.values()))]
    source = final.source if hasattr(final.executable, "source") else None
    table = None if comparison is None else str(comparison)
    if table is None and len(compiled) > 1:
        from irtoy.compare import compare
        table = str(compare(traced, *args, **kwargs))
    page = report_asset("report.html").format(
        title=html.escape(title or f"irtoy report: {traced.name}"),
        style=report_asset("report.css"), script=report_asset("report.js"),
        summary=summary(traced, final),
        stages="\n".join(s for s, _ in sections),
        nodes=json.dumps({name: data for (_, data), name in zip(sections, final.stages)}).replace("</", "<\\/"),
        source=source_section(source, kernel_ids(final.stages)),
        kernels=json.dumps(kernel_ids(final.stages)),
        profile=html.escape(profiled.profile()),
        compare=f"<pre>{html.escape(table)}</pre>" if table else "<p>Only one backend was compiled.</p>",
    )
    return render.write(os.path.join(out_dir, "index.html"), page)


def report_asset(name):
    """The text of irtoy/report_assets/NAME: the page's template (report.html, whose {fields}
    report() fills in), style sheet (report.css) or script (report.js)."""
    return (resources.files("irtoy") / "report_assets" / name).read_text(encoding="utf-8")


def summary(traced, final):
    rows = "".join(f"<tr><td><a href='#stage-{name}'>{name}</a></td><td>{len(g)}</td></tr>"
                   for name, g in final.stages.items())
    inputs = ", ".join(f"{html.escape(traced.graph[n].get('name', ''))}: {traced.graph.spec(n)}"
                       for n in traced.graph.inputs)
    return f"<p><b>inputs</b> {inputs}</p><table><tr><th>stage</th><th>nodes</th></tr>{rows}</table>"


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
    return {n: "added" for n in added}, text


def stage_section(name, graph, previous):
    """The HTML of one stage, and the facts of its nodes for the click panel."""
    highlight, what = changes(graph, previous)
    prefix = f"{name}-"
    drawing = strip_xml_header(render.svg(render.to_dot(graph, highlight=highlight, id_prefix=prefix,
                                                        **stage_clusters(graph))))
    scoped = any(graph[n].get("scope") for n in graph.nx)
    grouped = ""
    if scoped:
        grouped = strip_xml_header(render.svg(render.to_dot_collapsed(graph, id_prefix=prefix + "g-")))
        grouped = (f"<label><input type='checkbox' class='group-toggle' data-stage='{name}'> group by scope</label>"
                   f"<div class='graph grouped' id='grouped-{name}' hidden>{grouped}</div>")
    counts = ", ".join(f"{op} {k}" for op, k in sorted(graph.count_ops().items()))
    section = f"""
<section class="stage" id="stage-{name}">
  <h2>{html.escape(name)} <small>{len(graph)} nodes</small></h2>
  <p class="changes">{html.escape(what)}</p>
  <p class="counts">{html.escape(counts)}</p>
  {grouped}
  <div class="graph full" id="graph-{name}">{drawing}</div>
  <details><summary>IR text</summary><pre>{html.escape(str(graph))}</pre></details>
</section>"""
    return section, {str(n): node_facts(graph, n) for n in graph.nx}


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
