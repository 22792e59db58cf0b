"""Tracing plain NumPy code: pytrees, closures, methods, the text IR, and the errors users hit."""
import numpy as np
import pytest

import irtoy
from irtoy import Spec

X = np.arange(8, dtype=np.float32).reshape(2, 4) / 8


def layer(params, x):
    h = x @ params["w"] + params["b"]
    return np.maximum(h, 0.0).sum(axis=1, keepdims=True) / np.exp(x).mean()


PARAMS = {"w": np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "b": np.ones(3, np.float32)}


def test_traced_function_runs_like_the_original():
    f = irtoy.trace(layer, PARAMS, X).compile("numpy")
    np.testing.assert_allclose(f(PARAMS, X), layer(PARAMS, X), rtol=1e-6)


def test_text_ir_has_one_line_per_node_with_types_and_source_lines():
    text = str(irtoy.trace(layer, PARAMS, X))
    assert "%2 f32[2,4] = input x" in text
    assert "f32[4,3] = input params['w']" in text
    assert "f32[2,3] = matmul %2, %1" in text
    assert "sum %6 axis=(1,) keepdims=True" in text
    assert "test_tracing.py:12" in text        # the line of `h = x @ ...`
    assert len(text.splitlines()) == 1 + len(irtoy.trace(layer, PARAMS, X).graph)


def test_graph_is_a_networkx_multidigraph_with_plain_attributes():
    g = irtoy.trace(lambda x: x * x, X).graph
    mul = [n for n in g.nx if g.nx.nodes[n]["op"] == "multiply"][0]
    assert g.nx.nodes[mul]["shape"] == (2, 4) and g.nx.nodes[mul]["dtype"] == np.float32
    assert sorted(arg for _, _, arg in g.nx.in_edges(mul, data="arg")) == [0, 1]   # x used twice
    assert g.nx.number_of_edges() == 2


def test_pytrees_in_and_out_keep_their_structure():
    def fn(tree, scale, *, shift):
        a, (b, c) = tree["pair"], tree["nested"]
        return {"sum": a + b, "list": [c * scale, (a - shift,)]}

    tree = {"pair": X, "nested": (X[0], [X[1]][0])}
    f = irtoy.trace(fn, tree, 2.0, shift=np.float32(1)).compile()
    out = f(tree, 2.0, shift=np.float32(1))
    expected = fn(tree, 2.0, shift=np.float32(1))
    assert set(out) == {"sum", "list"} and isinstance(out["list"], list) and isinstance(out["list"][1], tuple)
    np.testing.assert_allclose(out["sum"], expected["sum"])
    np.testing.assert_allclose(out["list"][0], expected["list"][0])
    np.testing.assert_allclose(out["list"][1][0], expected["list"][1][0])


def test_specs_stand_in_for_example_arrays():
    traced = irtoy.trace(layer, {"w": Spec((4, 3)), "b": Spec((3,))}, Spec((5, 4), np.float32))
    x = np.ones((5, 4), np.float32)
    assert traced.compile()(PARAMS, x).shape == (5, 1)


def test_captured_arrays_become_constants_copied_at_trace_time():
    w = np.full((4,), 2.0, np.float32)
    f = irtoy.trace(lambda x: x * w + w, X).compile()
    assert irtoy.trace(lambda x: x * w + w, X).graph.count_ops()["const"] == 1   # used twice, one node
    expected = X * w + w
    w[:] = 100.0          # mutating the closure later does not change the compiled function
    np.testing.assert_allclose(f(X), expected)


def test_array_methods_and_numpy_functions_record_ops():
    def fn(x):
        y = x.T.reshape(-1, 2).astype(np.float64)
        z = np.concatenate([y, np.transpose(y)[:, :2].T], axis=0)
        w = np.where(z > 0.5, z, -z).max(axis=0) + np.reshape(x, (8,))[::3].mean()
        return w, x.shape[0] * x.ndim, np.stack([x[0], x[1]]).min(), np.expand_dims(x, 0).squeeze(0).sum()

    out = irtoy.trace(fn, X).compile()(X)
    for got, want in zip(out, fn(X)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_scalar_python_arguments_and_scalar_outputs():
    def fn(a, b):
        return a * b + 1

    f = irtoy.trace(fn, 2.0, 3.0).compile()
    assert float(f(4.0, 0.5)) == 3.0


def test_control_flow_on_traced_values_says_why_and_where():
    def branchy(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(irtoy.TraceError) as err:
        irtoy.trace(branchy, X)
    msg = str(err.value)
    assert "np.where" in msg and "test_tracing.py:" in msg and "if x.sum() > 0:" in msg


@pytest.mark.parametrize("fn, option", [
    (lambda x: np.reshape(x, (4, 2), order="F"), "reshape: the option(s) order"),
    (lambda x: np.ravel(x, order="F"), "ravel: the option(s) order"),
    (lambda x: np.exp(x, where=x > 0), "exp: the option(s) where"),
    (lambda x: np.maximum.reduce(x, axis=0, initial=5.0), "maximum.reduce: the option(s) initial"),
    (lambda x: np.concatenate([x, x], dtype=np.float64), "concatenate: the option(s) dtype"),
    (lambda x: np.zeros_like(x, shape=(3,)), "zeros_like: the option(s) shape"),
], ids=["reshape-order", "ravel-order", "ufunc-where", "reduce-initial", "concatenate-dtype", "zeros_like-shape"])
def test_numpy_options_that_would_change_the_result_are_refused_not_ignored(fn, option):
    with pytest.raises(irtoy.TraceError, match=r"numpy\." + option.replace("(s)", r"\(s\)") + r".*\n  at \S*test_tracing\.py:"):
        irtoy.trace(fn, X)


def test_numpy_function_without_an_op_is_named():
    with pytest.raises(irtoy.TraceError, match=r"numpy\.fft\.fft has no irtoy op.*\n  at .*test_tracing\.py:\d+"):
        irtoy.trace(lambda x: np.fft.fft(x), X)
    with pytest.raises(irtoy.TraceError, match=r"numpy\.unique has no irtoy op"):
        irtoy.trace(lambda x: np.unique(x), X)
    with pytest.raises(irtoy.TraceError, match="traced boolean mask .* use np.where"):
        irtoy.trace(lambda x: x[x > 0], X)


def test_shape_errors_name_op_shapes_and_line():
    with pytest.raises(irtoy.ShapeError) as err:
        irtoy.trace(lambda x, w: x @ w, X, X)
    assert "matmul(f32[2,4], f32[2,4])" in str(err.value)
    assert "test_tracing.py:" in str(err.value)


@pytest.mark.parametrize("fn, message", [
    (lambda x: x.sum(axis=3), r"sum\(f32\[2,4\], axis=3\): axis 3 is out of range for a 2-d array"),
    (lambda x: x.reshape(3, -1), r"reshape\(f32\[2,4\], 3, -1\): cannot reshape \(2, 4\) into \(3, -1\)"),
    (lambda x: x.reshape(-2, -4), r"reshape\(f32\[2,4\]\): .*sizes are never negative"),
    (lambda x: x.transpose(0, 5), r"transpose\(f32\[2,4\], 0, 5\): axes \(0, 5\) are out of range"),
    (lambda x: x[5], r"getitem\(f32\[2,4\], 5\): index 5 is out of bounds for axis 0 of size 2"),
    (lambda x: np.swapaxes(x, 0, 5), r"swapaxes\(f32\[2,4\], 0, 5\): axis 5 is out of range"),
    (lambda x: np.concatenate([x, x], axis=2), r"concatenate\(\[f32\[2,4\], f32\[2,4\]\].*\): axis 2 is out"),
], ids=["sum-axis", "reshape", "negative-reshape", "transpose", "getitem", "swapaxes", "concatenate"])
def test_argument_errors_name_op_shapes_and_line(fn, message):
    with pytest.raises(irtoy.ShapeError, match=r"(?s)" + message + r".*\n  at \S*test_tracing\.py:\d+"):
        irtoy.trace(fn, X)


def test_compiled_function_refuses_wrong_arguments_naming_them():
    f = irtoy.trace(layer, PARAMS, X).compile()
    with pytest.raises(irtoy.ShapeError, match=r"argument x was traced as f32\[2,4\], but this call passes f64\[2,4\]"):
        f(PARAMS, X.astype(np.float64))
    with pytest.raises(irtoy.ShapeError, match=r"argument params\['w'\] was traced as f32\[4,3\].*f32\[3,3\]"):
        f({"w": np.ones((3, 3), np.float32), "b": PARAMS["b"]}, X)
    with pytest.raises(irtoy.ShapeError, match=r"layer\(params, x\) was traced with 2 positional argument\(s\) "
                                               r"and keywords \[\], but this call passes 1"):
        f(PARAMS)
    with pytest.raises(irtoy.ShapeError, match=r"argument 'params' was traced structured as \{'b': \*, 'w': \*\}, "
                                               r"but this call passes \{'w': \*\}"):
        f({"w": PARAMS["w"]}, X)


def test_every_error_is_an_irtoy_error():
    for cls in (irtoy.TraceError, irtoy.ShapeError, irtoy.GraphError, irtoy.RenderError):
        assert issubclass(cls, irtoy.IrtoyError)


def test_scopes_are_recorded_on_nodes():
    def fn(x):
        with irtoy.scope("dense1"):
            h = x * 2
            with irtoy.scope("act"):
                h = np.tanh(h)
        return h + 1

    g = irtoy.trace(fn, X).graph
    scopes = {g[n]["op"]: g[n].get("scope") for n in g.nx}
    assert scopes["multiply"] == "dense1" and scopes["tanh"] == "dense1/act" and scopes["add"] == ""


def test_stages_are_kept_and_compiling_does_not_touch_the_traced_graph():
    traced = irtoy.trace(lambda x: (x * 2, (x * 3).sum()), X)
    before = str(traced.graph)
    f = traced.compile()
    assert list(f.stages)[:2] == ["traced", "shaped"]
    assert str(traced.graph) == before


def test_keyword_arguments_in_any_order():
    def fn(x, *, b, a):
        return x * a - b

    x, a, b = np.ones(3), np.full(3, 2.0), np.full(3, 0.5)
    f = irtoy.trace(fn, x, b=b, a=a).compile()
    np.testing.assert_allclose(f(x, b=b, a=a), fn(x, b=b, a=a))
    np.testing.assert_allclose(f(x, a=a, b=b), fn(x, a=a, b=b))


def test_results_never_alias_arguments_or_constants():
    w = np.arange(3.0)
    f = irtoy.trace(lambda x: (x, w, x), np.ones(3)).compile()
    x = np.ones(3)
    out = f(x)
    out[0][:] = 7.0
    out[1][:] = 7.0
    assert np.all(x == 1.0) and np.all(out[2] == 1.0)
    np.testing.assert_array_equal(f(x)[1], np.arange(3.0))


def test_variance_and_std_keep_float32():
    def fn(x):
        return np.var(x, axis=0), np.std(x), np.var(x, ddof=1)

    out = irtoy.trace(fn, X).compile()(X)
    for got, want in zip(out, fn(X)):
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_python_numbers_are_accepted_only_where_they_cast_within_their_kind(backend):
    f = irtoy.trace(lambda n, x: x * n, np.int64(2), np.float32(1.0)).compile(backend)
    assert float(f(3, 2)) == 6.0                                         # 2 fits float32
    assert float(f(True, 1.5)) == 1.5                                    # bool fits int64
    with pytest.raises(irtoy.ShapeError, match=r"argument n was traced as i64\[\], but this call passes f64\[\]"):
        f(3.5, 1.0)                                                      # never truncated to 3


def _assign_item(x):
    x[0] = 1.0
    return x


def _set_shape(x):
    x.shape = (4, 2)
    return x


def _set_new_attribute(x):
    x.mask = None
    return x


def _delete_attribute(x):
    del x.spec
    return x


@pytest.mark.parametrize("fn, message", [
    (_assign_item, r"item assignment \(x\[...\] = value\) on a traced value: traced arrays are immutable; "
                   r".*np\.where\(mask, new, x\).*np\.concatenate(?s:.*)x\[0\] = 1\.0"),
    (_set_shape, r"setting \.shape of a traced value: traced values are immutable(?s:.*)x\.shape = \(4, 2\)"),
    (_set_new_attribute, r"setting \.mask of a traced value: traced values are immutable(?s:.*)x\.mask = None"),
    (_delete_attribute, r"deleting \.spec of a traced value: traced values are immutable(?s:.*)del x\.spec"),
], ids=["item-assignment", "set-shape", "set-new-attribute", "delete-attribute"])
def test_writing_into_a_traced_value_says_it_is_immutable_and_where(fn, message):
    with pytest.raises(irtoy.TraceError, match=message) as err:
        irtoy.trace(fn, X)
    assert "\n  at " in str(err.value) and "test_tracing.py:" in str(err.value)


def _and_in_place(x, y):
    x &= y
    return x


def _or_in_place(x, y):
    x |= y
    return x


def _xor_in_place(x, y):
    x ^= y
    return x


@pytest.mark.parametrize("fn", [
    lambda x, y: x & y, lambda x, y: True & y, _and_in_place, lambda x, y: x | y, lambda x, y: False | y,
    _or_in_place, lambda x, y: x ^ y, lambda x, y: True ^ y, _xor_in_place, lambda x, y: ~x,
    lambda x, y: x.astype(np.int8) << 2, lambda x, y: 100 >> y.astype(np.uint16),
], ids=["and", "rand", "iand", "or", "ror", "ior", "xor", "rxor", "ixor", "invert", "lshift", "rrshift"])
def test_bitwise_operators_trace_as_numpys_bitwise_ufuncs(fn):
    masks = np.array([True, False, True, False]), np.array([True, True, False, False])
    np.testing.assert_array_equal(irtoy.trace(fn, *masks).compile()(*masks), fn(*masks))


def test_bitwise_operators_on_floats_are_refused_naming_the_op_and_line():
    with pytest.raises(irtoy.ShapeError, match=r"bitwise_and\(f32\[2\], f32\[2\]\): numpy.bitwise_and does not "
                                               r"take arguments of dtype float32 and float32\n  at \S*test_tracing"):
        irtoy.trace(lambda x, y: x & y, np.ones(2, np.float32), np.ones(2, np.float32))


@pytest.mark.parametrize("example, reason", [
    (np.array([1, "a"], dtype=object), r"dtype object is not supported"),
    (10**30, r"the Python int 10{30} fits no NumPy integer type"),
    ({"w": np.array([None, None])}, r"dtype object is not supported"),
], ids=["object-array", "huge-int", "object-array-in-dict"])
def test_example_arguments_irtoy_cannot_compute_with_are_refused_naming_them(example, reason):
    name = r"x\['w'\]" if isinstance(example, dict) else "x"
    with pytest.raises(irtoy.TraceError, match=rf"cannot trace with example argument {name}: {reason}"
                                               rf".*\n  at \S*test_tracing\.py:\d+"):
        irtoy.trace(lambda x: x, example)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_compiled_function_refuses_an_int_no_numpy_type_holds_naming_the_argument(backend):
    f = irtoy.trace(lambda n, x: x * n, np.int64(2), X).compile(backend)
    with pytest.raises(irtoy.ShapeError, match=r"argument n was traced as i64\[\], but this call passes "
                                               r"a value irtoy cannot take: the Python int 10{30} fits no NumPy "
                                               r"integer type"):
        f(10**30, X)
    np.testing.assert_array_equal(f(2**62, X), X * 2**62)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_compiled_function_refuses_object_arrays_naming_the_argument(backend):
    f = irtoy.trace(lambda n, x: x * n, np.int64(2), X).compile(backend)
    with pytest.raises(irtoy.ShapeError, match=r"argument x was traced as f32\[2,4\], but this call passes a value "
                                               r"irtoy cannot take: dtype object is not supported"):
        f(2, X.astype(object))


def test_values_irtoy_cannot_compute_with_are_refused_as_constants_naming_the_op():
    n = np.arange(3)
    with pytest.raises(irtoy.TraceError, match=r"add\(i64\[3\], 10{30}\): cannot use int 10{30} as a constant in a "
                                               r"traced function: the Python int 10{30} does not fit int64"
                                               r"\n  at \S*test_tracing\.py:\d+$"):
        irtoy.trace(lambda x: x + 10**30, n)
    with pytest.raises(irtoy.TraceError, match=r"<lambda> returns result\[1\]: cannot use ndarray of shape \(2,\) "
                                               r"and dtype object as a constant.*dtype object is not supported.*"
                                               r"\n  at \S*test_tracing\.py:\d+$"):
        irtoy.trace(lambda x: (x, np.array([1, "a"], dtype=object)), n)
    with pytest.raises(irtoy.TraceError, match=r"add\(i64\[3\], 'a'\): cannot use a str as an array in a traced "
                                               r"function\n  at \S*test_tracing\.py:\d+$"):  # the line named once
        irtoy.trace(lambda x: x + "a", n)
    with pytest.raises(irtoy.TraceError, match=r"multiply\(i64\[3\], object\[3\]\): cannot use ndarray.*dtype object"
                                               r".*\n  at \S*test_tracing\.py:\d+$"):
        irtoy.trace(lambda x: x * np.array([1, "a", 2], dtype=object), n)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_big_endian_arrays_are_taken_in_native_byte_order(backend):
    big_endian = np.arange(8, dtype=">f4").reshape(2, 4)
    assert not big_endian.dtype.isnative
    f = irtoy.trace(lambda x, w: x * w + 1, X, big_endian).compile(backend)     # traced as f32 too
    got = f(big_endian, big_endian)                                              # called with it
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, big_endian * big_endian + 1)
    g = irtoy.trace(lambda x: x * big_endian, X).compile(backend)                # a constant
    np.testing.assert_array_equal(g(X), X * big_endian)
    assert str(irtoy.trace(lambda x: x, big_endian)).splitlines()[1].strip() == "%0 f32[2,4] = input x"


@pytest.mark.parametrize("fn, message", [
    (lambda x: x.reshape(), r"reshape\(f32\[2,4\]\): sizes must be integers, not None"),
    (lambda x: x.transpose("a"), r"transpose\(f32\[2,4\], 'a'\): axes must be integers"),
    (lambda x: x.transpose(1), r"transpose\(f32\[2,4\]\): axes \(1,\) are not a permutation"),
    (lambda x: x.sum(axis="a"), r"sum\(f32\[2,4\], axis='a'\): axes must be integers, not 'a'"),
    (lambda x: x.astype("foo"), r"cast\(f32\[2,4\], 'foo'\): 'foo' is not a dtype"),
    (lambda x: irtoy.ops.concatenate([]), r"concatenate\(\[\]\): needs at least one array"),
], ids=["reshape-nothing", "transpose-string", "transpose-one-axis", "sum-axis-string", "astype-unknown",
        "concatenate-nothing"])
def test_malformed_op_arguments_are_shape_errors_naming_the_op_and_line(fn, message):
    with pytest.raises(irtoy.ShapeError, match=r"(?s)" + message + r".*\n  at \S*test_tracing\.py:\d+"):
        irtoy.trace(fn, X)
