"""The fusion pass and the index maps it reads movement ops with.

No Numba here: the plan is plain data, checked on the MLP training step (the kernels a
reader expects), on random programs with their gradients (the partition is legal), and the
index maps against NumPy's own views.
"""
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import irtoy
from irtoy import ops
from irtoy.benchmarks import workloads
from irtoy.passes import fusion, views
from graph_programs import programs
from op_cases import basic_index


def optimized_graph(fn, *args):
    return irtoy.trace(fn, *args).compile("numpy").graph


@pytest.fixture(scope="module")
def mlp_step_plan():
    sizes, batch = (20, 16, 12, 5), 8
    rng = np.random.default_rng(0)
    params = {"w1": rng.random((20, 16), np.float32), "b1": rng.random(16, np.float32),
              "w2": rng.random((16, 12), np.float32), "b2": rng.random(12, np.float32),
              "w3": rng.random((12, 5), np.float32), "b3": rng.random(5, np.float32)}
    zeros = {k: np.zeros_like(p) for k, p in params.items()}
    x, y = workloads.batches(1, batch, sizes[0], sizes[-1])[0]
    graph = optimized_graph(workloads.mlp_train_step, params, zeros, zeros, x, y, np.float32(1), np.float32(1))
    fused = fusion.fuse(graph)
    return fused, fusion.kernels(fused)


def kernel_ops(graph, kernel):
    return [graph[n]["op"] for n in kernel.nodes]


def test_bias_and_relu_fuse_after_their_matmul(mlp_step_plan):
    graph, kernels = mlp_step_plan
    layers = [k for k in kernels if k.head is not None and "maximum" in kernel_ops(graph, k)]
    assert len(layers) == 2                       # the two hidden layers
    for k in layers:
        assert graph[k.head]["op"] == "matmul" and k.nodes[0] == k.head
        assert {"add", "maximum"} <= set(kernel_ops(graph, k))
        assert k.domain == graph[k.head]["shape"]
        add = next(n for n in k.nodes if graph[n]["op"] == "add")
        assert k.head in graph.args(add)          # the bias is added to the product in the loop


def test_softmax_reductions_fuse_with_the_elementwise_ops_feeding_them(mlp_step_plan):
    graph, kernels = mlp_step_plan
    exp_sum = [k for k in kernels if {"exp", "sum"} <= set(kernel_ops(graph, k))]
    assert exp_sum, "exp(x - max) and its sum should share a loop"
    k = exp_sum[0]
    exp = next(n for n in k.nodes if graph[n]["op"] == "exp")
    total = next(n for n in k.nodes if graph[n]["op"] == "sum")
    assert graph.args(total) == [exp] and "subtract" in kernel_ops(graph, k)
    maxes = [k for k in kernels if "max" in kernel_ops(graph, k)]
    assert len(maxes) == 1 and maxes[0].head is not None    # the logits' max right after the matmul


def test_each_parameter_update_is_one_pass(mlp_step_plan):
    graph, kernels = mlp_step_plan
    for name in ["w1", "w2", "w3", "b1", "b2", "b3"]:
        param = next(n for n in graph.inputs if graph[n]["name"] == f"params[{name!r}]")
        new_param = [n for n in graph.outputs if graph[n]["op"] == "subtract" and param in graph.args(n)]
        (update,) = {graph[n]["kernel"] for n in new_param}
        k = kernels[update]
        assert {"sqrt", "divide", "subtract"} <= set(kernel_ops(graph, k))
        if name.startswith("w"):
            assert k.head is not None             # the weight gradient's matmul feeds it directly


def check_plan(graph):
    """The invariants of a fusion plan, on a fused graph."""
    kernels = fusion.kernels(graph)
    assert [k.id for k in kernels] == list(range(len(kernels)))
    done = set(graph.inputs) | {n for n in graph.nx if graph[n]["op"] == "const"}
    owner = {}
    for k in kernels:
        assert len(k.inputs) + len(k.outputs) <= fusion.MAX_KERNEL_ARGS + 1
        for base in k.inputs:
            assert base in done or base == k.head, f"kernel {k.id} reads %{base} before it is computed"
        for n in k.nodes:
            assert n not in owner
            owner[n] = k.id
            part = fusion.part_in_kernel(graph, n)
            if k.is_loop and n in k.after:
                axes = k.after[n]
                assert part == "point"
                reduced = [1 if i in axes else d for i, d in enumerate(k.domain)]
                assert graph[n]["shape"] in (tuple(reduced), tuple(d for i, d in enumerate(k.domain) if i not in axes))
            elif k.is_loop and n != k.head:
                assert part in ("point", "sink")
                assert fusion.loop_domain(graph, n) == k.domain
                totals = [a for a in graph.args(n) if a in k.nodes
                          and (fusion.part_in_kernel(graph, a) == "sink" or a in k.after)]
                assert not totals, f"%{n} uses a reduction of its own kernel at the points of its loop"
        done |= set(k.nodes)
        for n in k.nodes:
            if n in graph.outputs or any(graph[u].get("kernel") != k.id for u in graph.users(n)):
                assert n in k.outputs or n == k.head
    computed = {n for n in graph.nx if fusion.part_in_kernel(graph, n) not in ("argument", "view")}
    assert computed == set(owner)


@given(programs(max_steps=8))
@settings(max_examples=60)
def test_random_programs_and_their_gradients_partition_legally(program):
    args = program.inputs()
    traced = irtoy.trace(program.fn, *args)
    for graph in (traced.compile("numpy").graph,
                  traced.value_and_grad(wrt=tuple(range(len(args)))).compile("numpy").graph):
        check_plan(fusion.fuse(graph))


def test_a_kernel_never_reads_more_than_the_cap():
    def many(*xs):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total
    args = [np.full((3, 4), i, np.float32) for i in range(fusion.MAX_KERNEL_ARGS + 8)]
    graph = fusion.fuse(optimized_graph(many, *args))
    kernels = fusion.kernels(graph)
    assert len(kernels) >= 2
    check_plan(graph)


def test_movement_ops_are_read_through_not_copied():
    def fn(x, b):
        return (x.T[::2] * 2 + b[None, 1:]).sum(axis=0)
    graph = fusion.fuse(optimized_graph(fn, np.ones((4, 6), np.float32), np.ones(5, np.float32)))
    (kernel,) = fusion.kernels(graph)
    assert {graph[v]["op"] for v in kernel.views} >= {"transpose", "getitem"}
    assert {b for b in kernel.inputs if graph[b]["op"] != "const"} == set(graph.inputs)


# -- index maps against NumPy's views ------------------------------------------------------

def test_every_view_op_of_the_registry_has_an_index_map():
    assert set(views.INDEX_MAPS) == {name for name, op in ops.REGISTRY.items() if op.view}


@st.composite
def movement_chains(draw):
    """A shape and a few movement ops applied to it (as (op, attrs) in registry form)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    chain, current = [], shape
    for _ in range(draw(st.integers(1, 4))):
        kinds = ["transpose", "expand_dims", "squeeze", "broadcast_to", "reshape"]
        kind = draw(st.sampled_from(kinds + (["getitem"] * 2 if 0 not in current else [])))
        if kind == "transpose":
            attrs = {"axes": tuple(draw(st.permutations(range(len(current)))))}
        elif kind == "getitem":
            attrs = {"index": ops.normalize_index(draw(basic_index(current)), current)}
        elif kind == "expand_dims":
            attrs = {"axis": (draw(st.integers(0, len(current))),)}
        elif kind == "squeeze":
            attrs = {"axis": tuple(i for i, d in enumerate(current) if d == 1)}
        elif kind == "broadcast_to":
            attrs = {"shape": (draw(st.integers(1, 3)),) + tuple(3 if d == 1 else d for d in current)}
        else:
            attrs = {"shape": tuple(d for d in current if d != 1) + (1,)}
        current = ops.infer_spec(kind, [ops.Spec(current, np.float64)], attrs).shape
        chain.append((kind, attrs))
    return shape, chain


def apply_chain(shape, chain):
    """(base array, what NumPy's views of it give, the composed index map) for a chain."""
    base = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    expected, view = base, views.identity(shape)
    for op, attrs in chain:
        expected = ops.REGISTRY[op].impl(expected, **attrs)
        view = views.apply(op, attrs, view)
    return base, expected, view


@given(movement_chains())
@settings(max_examples=200)
def test_index_maps_read_what_numpy_views_see(case):
    base, expected, view = apply_chain(*case)
    assert view.shape == expected.shape
    for index in np.ndindex(*expected.shape):
        assert base[view.position(index)] == expected[index]


REDUCTIONS = {"sum": np.sum, "max": np.max, "mean": np.mean}


@st.composite
def two_reductions(draw):
    """Two reductions of one 4-d array over different axis sets, combined by an elementwise op
    that broadcasts one against the other (their totals end in different loops)."""
    axes = [tuple(sorted(draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True)))) for _ in range(2)]
    names = [draw(st.sampled_from(sorted(REDUCTIONS))) for _ in range(2)]
    kept = [4 - len(a) for a in axes]
    keepdims = kept[0] != kept[1] and draw(st.booleans())

    def fn(x):
        first, second = (REDUCTIONS[n](np.exp(x) if i else x, axis=a, keepdims=keepdims)
                         for i, (n, a) in enumerate(zip(names, axes)))
        return first[(None,) * max(0, second.ndim - first.ndim)] + second
    return fn, f"{names} over {axes}, keepdims={keepdims}"


@settings(max_examples=20, derandomize=True, deadline=None)
@given(two_reductions())
def test_reductions_over_different_axes_combined_by_broadcasting_match_the_interpreter(case):
    fn, label = case
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 4, 2))
    try:
        expected = fn(x)
    except ValueError:          # shapes that do not broadcast: not a case
        return
    traced = irtoy.trace(fn, x)
    np.testing.assert_allclose(traced.compile("numba", debug=False)(x), expected, rtol=1e-12, err_msg=label)
