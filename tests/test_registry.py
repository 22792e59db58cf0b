"""The op registry is the one place an op is declared: every table derived from it agrees
with it, and every op has what each part of irtoy needs of it."""
import inspect

import numpy as np
import pytest

import irtoy
from irtoy import numpy_dispatch, ops
from irtoy.builder import Tracer
from irtoy.passes import VJP_RULES

OPS = sorted(ops.REGISTRY)


@pytest.mark.parametrize("name", OPS)
def test_every_op_record_is_complete(name):
    op = ops.REGISTRY[name]
    assert op.name == name
    assert op.kind in ops.KINDS
    assert op.cost >= 1
    if op.kind == "source":
        assert op.impl is None and op.function is None and op.arity == 0
        return
    assert callable(op.infer) and callable(op.impl)
    assert op.function is not None, f"{name} has no public function"
    assert getattr(ops, name) is op.function, f"irtoy.ops.{name} is not the op's public function"
    assert not op.view or op.kind == "movement"
    assert not op.commutative or op.arity == 2
    assert (name in VJP_RULES) == op.differentiable, f"{name}: a gradient rule exactly when differentiable"


@pytest.mark.parametrize("name", [n for n in OPS if ops.REGISTRY[n].numpy])
def test_numpy_callables_trace_to_their_op(name):
    op = ops.REGISTRY[name]
    for numpy_callable in op.numpy:
        assert numpy_dispatch.FUNCTIONS[numpy_callable] is op.function, numpy_callable


@pytest.mark.parametrize("name", [n for n in OPS if ops.REGISTRY[n].methods])
def test_array_methods_trace_to_their_op(name):
    op = ops.REGISTRY[name]
    for method in op.methods:
        assert getattr(Tracer, method) is op.function, method


def test_each_numpy_callable_and_method_belongs_to_one_op_or_composition():
    seen, methods = {}, {}
    for record in [*ops.REGISTRY.values(), *ops.COMPOSITES.values()]:
        for f in record.numpy:
            assert f not in seen, f"{f} traces to both {seen[f]} and {record.name}"
            seen[f] = record.name
        for m in record.methods:
            assert m not in methods, f"x.{m}() traces to both {methods[m]} and {record.name}"
            methods[m] = record.name


@pytest.mark.parametrize("name", sorted(ops.COMPOSITES))
def test_every_composition_record_is_complete(name):
    record = ops.COMPOSITES[name]
    assert name not in ops.REGISTRY, f"{name} is both an op and a composition"
    assert getattr(ops, name) is record.function, f"irtoy.ops.{name} is not the composition's function"
    assert record.doc, f"{name} has no docstring"
    for f in record.numpy:
        assert numpy_dispatch.FUNCTIONS[f] is record.function, f
    for m in record.methods:
        assert getattr(Tracer, m) is record.function, m


@pytest.mark.parametrize("name", [n for n in OPS if ops.REGISTRY[n].commutative])
def test_commutative_ops_commute(name):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    if name.startswith("bitwise_"):     # integers only
        x, y = rng.integers(-9, 9, size=(3, 4)), rng.integers(-9, 9, size=(4,))
    impl = ops.REGISTRY[name].impl
    np.testing.assert_array_equal(impl(x, y), impl(y, x))


def test_elementwise_ufunc_ops_take_their_arity_from_the_ufunc():
    for op in ops.REGISTRY.values():
        ufuncs = [f for f in op.numpy if isinstance(f, np.ufunc)]
        if op.kind == "elementwise" and ufuncs:
            assert op.arity == ufuncs[0].nin, op.name
            assert len(inspect.signature(op.function).parameters) == op.arity, op.name


def test_a_declared_op_traces_without_any_other_table(monkeypatch):
    """Declaring an op is enough for tracing, shape inference and the interpreter."""
    monkeypatch.setitem(ops.REGISTRY, "double", None)      # removed again after the test
    double = ops.declare("double", "elementwise", lambda specs: specs[0], lambda x: 2 * x, 1)(
        lambda x: ops.bind("double", x))
    f = irtoy.trace(lambda x: double(x) + 1, np.ones(3, np.float32)).compile("numpy")
    np.testing.assert_array_equal(f(np.arange(3, dtype=np.float32)), [1, 3, 5])
