"""The import graph of irtoy's own modules, read from the source: no cycles, the floor stays
the floor, and the nn library uses only the public API."""
import ast
import pathlib

import networkx as nx

ROOT = pathlib.Path(__file__).resolve().parent.parent
# folder in the repository -> the package it installs as
PACKAGES = {"irtoy": "irtoy", "passes": "irtoy.passes", "backends": "irtoy.backends", "benchmarks": "irtoy.benchmarks"}


def module_files():
    """{module name: path} for every module irtoy installs."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package] + parts)] = path
    return found


def imported_modules(path, name, modules):
    """The irtoy modules `path` (module `name`) imports anywhere in it, functions included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:                # `from irtoy import ops` imports irtoy.ops
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {t for t in targets if t in modules and t != name}


def import_graph():
    modules = module_files()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in imported_modules(path, name, modules):
            graph.add_edge(name, target)
    return graph


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph()
    assert ("irtoy.tracing", "irtoy.builder") in graph.edges
    assert ("irtoy.passes.autodiff", "irtoy.ops") in graph.edges
    assert ("irtoy.ops", "irtoy.ops.registry") in graph.edges
    assert len(graph) > 40


def test_no_import_cycles_lazy_imports_included():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:5])


def test_the_op_registry_imports_only_errors_and_the_source_helper():
    graph = import_graph()
    for module in graph:
        if module == "irtoy.ops" or module.startswith("irtoy.ops."):
            outside = {t for t in graph.successors(module) if not t.startswith("irtoy.ops")}
            assert outside <= {"irtoy.errors", "irtoy.source"}, f"{module} imports {outside}"


def test_the_nn_library_uses_the_public_api_only():
    graph = import_graph()
    internals = ("irtoy.tracing", "irtoy.builder", "irtoy.ir", "irtoy.passes", "irtoy.backends", "irtoy.api")
    for module in graph:
        if module.startswith("irtoy.nn"):
            used = {t for t in graph.successors(module) if t.startswith(internals)}
            assert not used, f"{module} imports irtoy internals {used}"
