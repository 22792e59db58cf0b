"""The public API: `trace` a function into a `Traced`, `compile` that into a `Compiled`.

    traced = irtoy.trace(fn, *example_args)    # records the ops: stages "traced", "shaped"
    grads = traced.value_and_grad(wrt=0)       # adds the backward nodes: stage "grad"
    f = grads.compile(backend="numpy")          # cleanup passes, then the backend
    f(*args)                                    # same calling convention as fn

Every graph along the way is kept in `stages` (in order), so each can be printed and drawn.
"""
import inspect
import os

import numpy as np

from irtoy import backends, pytree, render as render_mod
from irtoy.errors import IrtoyError, ShapeError
from irtoy.arguments import check_argument, check_weak_int
from irtoy.passes import (check_graph, differentiate, eliminate_common_subexpressions, eliminate_dead_code,
                          fold_constants, infer_shapes, simplify)
from irtoy.tracing import trace_function

DEBUG = os.environ.get("IRTOY_DEBUG", "") not in ("", "0")


def run_pass(stages, name, pass_fn, graph, debug):
    """Run one pass, check the result in debug mode, and keep it as stage `name`."""
    out = pass_fn(graph)
    if debug:
        check_graph(out, stage=f"the graph after the {name!r} pass")
    stages[name] = out
    return out


def cleanup_passes():
    """The passes `compile` runs before handing the graph to a backend, in order, with the
    name each result is kept under in `stages`."""
    return [("folded", fold_constants), ("simplified", simplify),
            ("deduplicated", eliminate_common_subexpressions), ("optimized", eliminate_dead_code)]


class Traced:
    """A traced function: its graph (every stage so far) and its calling convention."""

    def __init__(self, stages, in_tree, out_tree, arg_names, name="fn"):
        self.stages = dict(stages)
        self.in_tree, self.out_tree = in_tree, out_tree
        self.arg_names = list(arg_names)
        self.name = name

    @property
    def graph(self):
        """The latest stage's graph."""
        return list(self.stages.values())[-1]

    @property
    def input_specs(self):
        return [self.graph.spec(n) for n in self.graph.inputs]

    def __str__(self):
        return f"{self.name}: {self.graph}"

    def __repr__(self):
        return f"<irtoy.Traced {self.name}: stages {list(self.stages)}, {len(self.graph)} nodes>"

    def grad(self, wrt=0):
        """The gradient of this (scalar) function with respect to argument(s) `wrt`.

        `wrt` is an argument index, an argument name, or a tuple of them. The result is a new
        Traced with a "grad" stage, returning the gradients in the structure of the chosen
        argument(s) (a tuple of them when `wrt` is a tuple).
        """
        return self._differentiate(wrt, with_value=False)

    def value_and_grad(self, wrt=0):
        """Like `grad`, but the new function returns `(value, gradients)`."""
        return self._differentiate(wrt, with_value=True)

    def _differentiate(self, wrt, with_value):
        graph, out_tree = differentiate_function(self.graph, self.in_tree, self.out_tree, self.arg_names,
                                                 wrt, with_value, self.name)
        stage, k = "grad", 1
        while stage in self.stages:         # differentiating a gradient again
            k += 1
            stage = f"grad{k}"
        kind = "value_and_grad" if with_value else "grad"
        return Traced({**self.stages, stage: graph}, self.in_tree, out_tree, self.arg_names,
                      f"{kind}({self.name})")

    def render(self, path, stage=None, **options):
        """Draw a stage (default: the latest) to `path`; .svg/.png/.pdf/.dot by extension.
        The same signature as `Compiled.render`, whose stages go on to the backend's."""
        stage = chosen_stage(self.stages, stage, path, self.name)
        return render_mod.render(self.stages[stage], path, title=options.pop("title", f"{self.name}: {stage}"),
                                 **options)

    def compile(self, backend="numpy", profile=False, debug=None, donate=(), **options):
        """Run the cleanup passes and compile with `backend` ("numpy", "numba", "jax", ...).

        `donate` names arguments (an index, a name, or a tuple of them, as `wrt` in `grad`)
        whose arrays the caller will not use again, so the call may write its outputs into
        them, as JAX's `donate_argnums`: `params, m = step(params, m, x)` then updates in
        place. A backend that cannot use them (the interpreter) returns new arrays.

        Other options go to the backend. The jax backend takes `devices` (a count or a list
        of JAX devices) and `split_batch` (arguments, named as in `donate`, whose first
        axis is split over the devices; the others are copied to each).
        """
        debug = DEBUG if debug is None else debug
        stages = dict(self.stages)
        graph = self.graph
        for name, pass_fn in cleanup_passes():
            graph = run_pass(stages, name, pass_fn, graph, debug)
        if donate is not None and not (isinstance(donate, tuple) and not donate):
            graph = graph.copy()
            for i in select_arguments(donate, self.arg_names, self.in_tree, self.name, "donate")[0]:
                graph[graph.inputs[i]]["donated"] = True
        if "split_batch" in options:
            options["batch_inputs"] = select_arguments(options.pop("split_batch"), self.arg_names, self.in_tree,
                                                       self.name, "split_batch")[0]
        compile_graph = backends.get(backend)
        taken = inspect.signature(compile_graph).parameters
        for option in options:
            if option not in taken:
                raise IrtoyError(f"the {backend} backend takes no option {option!r}")
        executable = compile_graph(graph, profile=profile, debug=debug, **options)
        stages.update(executable.stages)
        return Compiled(self, stages, executable, backend)


def chosen_stage(stages, stage, path, fn_name):
    """The name of the stage `render(path, stage)` draws: `stage`, or the latest one; an
    IrtoyError listing the stages when `stage` is none of them."""
    if stage is None:
        return list(stages)[-1]
    if stage not in stages:
        swapped = (f"; the path comes first: render({str(stage)!r}, stage={str(path)!r})"
                   if str(path) in stages else "")
        raise IrtoyError(f"{fn_name} has no stage {stage!r} to draw; its stages are "
                         f"{', '.join(stages)}{swapped}")
    return stage


def differentiate_function(graph, in_tree, out_tree, arg_names, wrt, with_value, name):
    """The graph of the gradient of function `name` (traced as `graph`) with respect to its
    arguments `wrt`, and the structure of its results: what `Traced.grad` and `irtoy.grad`
    both do."""
    positions, grads_tree = select_arguments(wrt, arg_names, in_tree, name)
    if out_tree != pytree.LEAF:
        raise ShapeError(f"cannot differentiate {name}: it must return one scalar, but it returns "
                         f"a structure {out_tree}")
    graph = differentiate(graph, [graph.inputs[i] for i in positions], with_value, name=name)
    out_tree = pytree.TreeDef("tuple", (), (pytree.LEAF, grads_tree)) if with_value else grads_tree
    return graph, out_tree


def select_arguments(wrt, arg_names, in_tree, fn_name, option="wrt"):
    """The flat input positions `wrt` picks, and the pytree structure of their gradients.

    `wrt` is an argument index, an argument name, or a tuple of them. Inputs are laid out
    argument by argument, in the order the function was traced with (`arg_names`).
    """
    positional, keywords = in_tree.children
    n_positional = len(positional.children)
    trees = list(positional.children) + [keywords.children[keywords.keys.index(k)]
                                         for k in arg_names[n_positional:]]
    starts = [sum(t.num_leaves for t in trees[:i]) for i in range(len(trees))]

    def one(w):
        if isinstance(w, str) and w in arg_names:
            i = arg_names.index(w)
        elif isinstance(w, (int, np.integer)) and not isinstance(w, bool) and 0 <= w < n_positional:
            i = int(w)
        else:
            raise IrtoyError(f"{option}={w!r} names no argument of {fn_name}: its arguments are "
                             f"{', '.join(f'{k} {n!r}' for k, n in enumerate(arg_names))}")
        return list(range(starts[i], starts[i] + trees[i].num_leaves)), trees[i]

    if isinstance(wrt, tuple):
        picked = [one(w) for w in wrt]
        positions = [p for chosen, _ in picked for p in chosen]
        return positions, pytree.TreeDef("tuple", (), tuple(tree for _, tree in picked))
    return one(wrt)


class Compiled:
    """A compiled function: call it like the traced one; `stages` keeps every graph.

    It returns NumPy arrays, in the structure the traced function returned: a 0-d array
    where that function returned a scalar (a sum, a loss, the gradient of a scalar argument),
    on every backend, as JAX returns arrays.
    """

    def __init__(self, traced, stages, executable, backend):
        self.traced = traced
        self.stages = stages
        self.executable = executable
        self.backend = backend
        self.graph = list(stages.values())[-1]
        self._specs = traced.input_specs
        self._names = [traced.graph[n].get("name", f"input {i}") for i, n in enumerate(traced.graph.inputs)]
        self._arity = _leaf_arity(traced.in_tree)
        self._rebuild = _rebuilder(traced.out_tree, [self.graph.spec(o).shape == () for o in self.graph.outputs])
        self._self_checking = getattr(executable, "checks_arguments", False)
        # Python int arguments converted to narrower integer dtypes, checked on every backend
        self._weak_ints = weak_int_inputs(traced.graph)

    def __call__(self, *args, **kwargs):
        if not kwargs and len(args) == self._arity:
            # Fast path: traced with one array or number per positional argument, so `args`
            # are the flat inputs already. A bad call is refused before anything runs (a
            # backend with `checks_arguments` checks them itself); the full checks below then
            # say what is wrong, exactly as without the fast path.
            try:
                self._check_weak_ints(args)
                flat = args if self._self_checking else [self._check(i, v) for i, v in enumerate(args)]
                return self._rebuild(self.executable.run(flat))
            except ShapeError:
                pass
        leaves, tree = pytree.flatten((args, kwargs), "(args, kwargs)")
        if tree != self.traced.in_tree:
            raise ShapeError(self._mismatch(tree))
        self._check_weak_ints(leaves)
        flat = leaves if self._self_checking else [self._check(i, v) for i, v in enumerate(leaves)]
        return self._rebuild(self.executable.run(flat))

    def _check_weak_ints(self, flat):
        for i, weak_casts in self._weak_ints:
            check_weak_int(flat[i], weak_casts, self._names[i], self.traced.name)

    def _mismatch(self, tree):
        """What differs between this call's arguments (structured as `tree`) and the traced ones."""
        name, names = self.traced.name, self.traced.arg_names
        (traced_pos, traced_kw), (pos, kw) = self.traced.in_tree.children, tree.children
        if len(pos.children) != len(traced_pos.children) or kw.keys != traced_kw.keys:
            return (f"{name}({', '.join(names)}) was traced with {len(traced_pos.children)} positional "
                    f"argument(s) and keywords {list(traced_kw.keys)}, but this call passes "
                    f"{len(pos.children)} and keywords {list(kw.keys)}")
        given = list(pos.children) + list(kw.children)
        traced = list(traced_pos.children) + list(traced_kw.children)
        labels = list(names[:len(traced_pos.children)]) + list(traced_kw.keys)
        k = next(i for i, (a, b) in enumerate(zip(traced, given)) if a != b)
        return (f"{name}: argument {labels[k]!r} was traced structured as {traced[k]}, but this call "
                f"passes {given[k]}")

    def _check(self, i, value):
        return check_argument(value, self._specs[i], self._names[i], self.traced.name)

    @property
    def source(self):
        """The generated source code (backends that generate code)."""
        if not hasattr(self.executable, "source"):
            raise IrtoyError(f"the {self.backend} backend runs the graph directly and generates no source")
        return self.executable.source

    def render(self, path, stage=None, **options):
        """Draw a stage ("traced", "shaped", "grad", "simplified", "fused", ...; default: the
        latest) to `path`, as `Traced.render` does; the backend may add how it draws a stage
        (the numba backend boxes each kernel)."""
        stage = chosen_stage(self.stages, stage, path, self.traced.name)
        if hasattr(self.executable, "render_options"):
            options = {**self.executable.render_options(stage), **options}
        return render_mod.render(self.stages[stage], path, title=options.pop("title", f"{self.traced.name}: {stage}"),
                                 **options)

    def profile(self):
        """The per-node time table of a `compile(..., profile=True)` function, as text."""
        return self.executable.profile_table()

    def __repr__(self):
        return f"<irtoy.Compiled {self.traced.name} on {self.backend}: stages {list(self.stages)}>"


def weak_int_inputs(graph):
    """[(input position, its weak casts)] of the Python number inputs of `graph` that meet
    narrower integer arrays (see GraphBuilder.weak_cast)."""
    return [(i, graph[n]["weak_casts"]) for i, n in enumerate(graph.inputs) if graph[n].get("weak_casts")]


def _leaf_arity(in_tree):
    """How many positional arguments, if every argument is one leaf and there are no keywords."""
    positional, keywords = in_tree.children
    if keywords.children or any(c.kind != "leaf" for c in positional.children):
        return None
    return len(positional.children)


def _rebuilder(tree, scalars):
    """A function from the flat outputs to `tree`'s structure, made once per compiled function
    (as a Python expression: rebuilding a small tuple then costs about as much as a tuple).

    Every result is a NumPy array, as JAX returns arrays: a backend may give a 0-d result as
    a NumPy scalar (np.sum does), so the outputs flagged in `scalars` become 0-d arrays.
    """
    if any(type(k) not in (str, int) for k in _dict_keys(tree)):
        return lambda leaves: pytree.unflatten(tree, [np.asarray(v) if s else v for v, s in zip(leaves, scalars)])
    position = iter(range(tree.num_leaves))

    def text(t):
        if t.kind == "leaf":
            i = next(position)
            return f"asarray(out[{i}])" if scalars[i] else f"out[{i}]"
        inner = [text(c) for c in t.children]
        if t.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(t.keys, inner)) + "}"
        if t.kind == "list":
            return "[" + ", ".join(inner) + "]"
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"

    return eval(f"lambda out: {text(tree)}", {"asarray": np.asarray})


def _dict_keys(tree):
    keys = list(tree.keys)
    for child in tree.children:
        keys += _dict_keys(child)
    return keys


def trace(fn, *example_args, **example_kwargs):
    """Record `fn(*example_args, **example_kwargs)` as a graph.

    Example arguments may be arrays, Python numbers, `irtoy.Spec(shape, dtype)` or pytrees
    (dicts, lists, tuples) of them; only their shapes and dtypes matter. Python numbers are
    weakly typed, as in NumPy 2 and JAX: they take the dtype of the arrays they meet.
    """
    trace_, in_tree, out_tree, names = trace_function(fn, example_args, example_kwargs)
    examples = pytree.flatten((example_args, example_kwargs))[0]
    for i, weak_casts in weak_int_inputs(trace_.graph):      # 300 where int8 meets it, as NumPy refuses
        check_weak_int(examples[i], weak_casts, f"{trace_.graph[trace_.graph.inputs[i]]['name']}",
                       getattr(fn, "__name__", "fn"))
    if trace_.captures:
        raise IrtoyError("irtoy.trace called inside a traced function closed over traced values; "
                         "use irtoy.grad / irtoy.value_and_grad to compose transformations")
    stages = {"traced": trace_.graph}
    debug = DEBUG
    graph = trace_.graph
    if debug:
        check_graph(graph, stage="the traced graph")
    run_pass(stages, "shaped", infer_shapes, graph, debug)
    return Traced(stages, in_tree, out_tree, names, getattr(fn, "__name__", "fn"))
