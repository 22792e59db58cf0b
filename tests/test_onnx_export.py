"""irtoy.onnx.export and backend="onnxruntime": every op, its gradient graph and a whole
training step exported, checked by onnx.checker (full_check) and run in onnxruntime against
the interpreter; where onnxruntime has no kernel for an op and dtype, ONNX's reference
evaluator runs the model instead."""
import numpy as np
import onnx
import onnx.reference
import onnxruntime
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
import irtoy.onnx
from irtoy import ops, pytree
from irtoy.onnx.export_ops import NOT_EXPORTED
from irtoy.onnx.exporter import EXPORTERS
from op_cases import CASES, DIFFERENTIABLE

FEW = settings(max_examples=4, derandomize=True, deadline=None)
TOLERANCE = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-10, 1e-12)}


def run_onnx(model, args):
    """The model's outputs for flat `args`: onnxruntime's, or (no kernel for an op and dtype)
    ONNX's reference evaluator's."""
    feed = {v.name: np.asarray(a) for v, a in zip(model.graph.input, args)}
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except onnxruntime.capi.onnxruntime_pybind11_state.NotImplemented:
        return onnx.reference.ReferenceEvaluator(model).run(None, feed)
    return session.run(None, feed)


def assert_exports_exactly(traced, *args, **kwargs):
    """Export `traced`, check the model in full, and compare onnxruntime with the interpreter."""
    compiled = traced.compile(backend="numpy")
    model = irtoy.onnx.export(compiled)
    onnx.checker.check_model(model, full_check=True)
    expected, _ = pytree.flatten(compiled(*args, **kwargs))
    flat, _ = pytree.flatten((args, kwargs))
    got = run_onnx(model, flat)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        e = np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        rtol, atol = TOLERANCE.get(e.dtype, (0, 0))
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return model


def test_every_op_has_an_export_rule_or_a_reason():
    ops_ = {name for name, op in ops.REGISTRY.items() if op.kind != "source"}
    assert ops_ - set(EXPORTERS) == set(NOT_EXPORTED), ops_ - set(EXPORTERS) - set(NOT_EXPORTED)
    assert not set(EXPORTERS) & set(NOT_EXPORTED)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", sorted(set(CASES) - set(NOT_EXPORTED)))
@FEW
@given(data=st.data())
def test_every_op_runs_in_onnx_as_on_the_interpreter(op, data):
    case = data.draw(CASES[op])
    traced = irtoy.trace(case.fn, *case.args)
    assert op in traced.graph.count_ops()
    model = assert_exports_exactly(traced, *case.args)
    assert model.graph.node


EXPORTED_DIFFERENTIABLE = [name for name in DIFFERENTIABLE if name not in NOT_EXPORTED]
# ops whose own rule exports but whose gradient graph holds an op export refuses
GRADIENT_REFUSED = {"det": "svd"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", EXPORTED_DIFFERENTIABLE)
@settings(max_examples=2, derandomize=True, deadline=None)
@given(data=st.data())
def test_every_gradient_graph_runs_in_onnx(op, data):
    case = data.draw(CASES[op])
    args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in case.args]
    if not any(a.dtype.kind == "f" for a in args):
        return
    with np.errstate(all="ignore"):
        if np.asarray(case.fn(*args)).dtype.kind != "f":     # x.astype(int), say: no gradient to export
            return
    wrt = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    traced = irtoy.trace(lambda *xs: np.sum(case.fn(*xs)), *args).value_and_grad(wrt=wrt)
    if op in GRADIENT_REFUSED:
        with pytest.raises(irtoy.IrtoyError, match=rf"\({GRADIENT_REFUSED[op]}\) to ONNX: ONNX has no operator"):
            irtoy.onnx.export(traced.compile(backend="numpy"))
        return
    assert_exports_exactly(traced, *args)


def loss(params, x, y):
    h = np.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(logp * y).sum() / x.shape[0]


def train_step(params, x, y):
    value, grads = irtoy.value_and_grad(loss)(params, x, y)
    return value, {k: params[k] - 0.1 * grads[k] for k in params}


def mlp_data():
    rng = np.random.default_rng(0)
    params = {"w1": rng.normal(size=(4, 8)).astype(np.float32), "b1": np.zeros(8, np.float32),
              "w2": rng.normal(size=(8, 3)).astype(np.float32)}
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    return params, x, y


def test_a_whole_training_step_exports_with_shapes_names_and_source_lines(tmp_path):
    params, x, y = mlp_data()
    traced = irtoy.trace(train_step, params, x, y)
    model = assert_exports_exactly(traced, params, x, y)
    irtoy.onnx.export(traced.compile(), tmp_path / "step.onnx")
    assert onnx.load(tmp_path / "step.onnx") == model
    assert [v.name for v in model.graph.input] == ["params['b1']", "params['w1']", "params['w2']", "x", "y"]
    with_shapes = {v.name for v in model.graph.value_info} | {v.name for v in model.graph.input} | \
        {v.name for v in model.graph.output} | {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        assert set(node.output) <= with_shapes, node
    lines = {node.doc_string for node in model.graph.node}
    assert any(line.endswith(f"test_onnx_export.py:{loss.__code__.co_firstlineno + 1}") for line in lines)


def test_export_refuses_an_op_without_a_rule_naming_it_and_the_line(monkeypatch):
    monkeypatch.delitem(EXPORTERS, "exp")
    traced = irtoy.trace(lambda x: np.exp(x) + 1, np.ones(3, np.float32))
    with pytest.raises(irtoy.IrtoyError, match=r"\(exp\) to ONNX: irtoy has no ONNX rule for the op 'exp'\n"
                                                r"  at \S*test_onnx_export.py:\d+"):
        irtoy.onnx.export(traced)


def test_random_numbers_export_bit_for_bit():
    traced = irtoy.trace(lambda seed: ops.random_uniform(seed, (3, 4), stream=5) * 2, np.int64(7))
    model = assert_exports_exactly(traced, np.int64(7))
    expected = traced.compile()(np.int64(9))
    np.testing.assert_array_equal(run_onnx(model, [np.int64(9)])[0], expected)


def test_the_onnxruntime_backend_comes_through_its_entry_point():
    from irtoy import backends
    assert "onnxruntime" not in backends.BUILTIN and "onnxruntime" in backends.available()
    params, x, y = mlp_data()
    traced = irtoy.trace(train_step, params, x, y)
    expected = traced.compile("numpy")(params, x, y)
    got = traced.compile("onnxruntime", donate="params")(params, x, y)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(got[1][k], expected[1][k], rtol=1e-5, atol=1e-6)


def test_an_exported_graph_imports_back_and_computes_the_same():
    params, x, y = mlp_data()
    compiled = irtoy.trace(loss, params, x, y).compile()
    back = irtoy.onnx.load(irtoy.onnx.export(compiled))
    assert back.arg_names == ["params['b1']", "params['w1']", "params['w2']", "x", "y"]
    (value,) = back.compile()(params["b1"], params["w1"], params["w2"], x, y)
    np.testing.assert_allclose(value, compiled(params, x, y), rtol=1e-6)


def test_an_nn_model_training_step_exports_whole():
    """Conv, batch norm, dropout, pooling, dense, softmax cross-entropy and Adam's update: one
    graph, run in onnxruntime as on the interpreter. (No batch norm right after a convolution:
    the convolution's bias then has a zero gradient made of rounding errors, which Adam scales
    up to a full step, in onnxruntime and NumPy differently.)"""
    from irtoy import nn
    net = nn.Sequential([nn.Conv2D(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2), nn.BatchNorm(), nn.Dropout(0.25),
                         nn.Flatten(), nn.Dense(4 * 4 * 4, 3)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(1e-2), backend="numpy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 6)
    compiled = model.compiled_step(x, y)
    args = model._train_args(x, model.targets(y))
    exported = assert_exports_exactly(compiled.traced, *args)
    ops_used = {node.op_type for node in exported.graph.node}
    assert {"Conv", "MaxPool", "ScatterElements", "BitwiseXor"} <= ops_used     # forward, backward, dropout


def test_export_takes_an_opset_from_18_and_refuses_older():
    traced = irtoy.trace(lambda x: np.sum(np.exp(x), axis=0), np.ones((2, 3), np.float32))
    model = irtoy.onnx.export(traced, opset=21)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 21)]
    onnx.checker.check_model(model, full_check=True)
    with pytest.raises(irtoy.IrtoyError, match="opset=13: irtoy exports ONNX opsets 18 to"):
        irtoy.onnx.export(traced, opset=13)
    with pytest.raises(irtoy.IrtoyError, match="no stage 'fused'"):
        irtoy.onnx.export(traced, stage="fused")


# -- the values the drawn cases miss: signed zeros, infinities, NaN, integer extremes ----------

SPECIAL_FLOATS = [0.0, -0.0, 1e-30, -1e-30, 0.25, -0.25, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, -7.0, 1e30, -1e30,
                  np.inf, -np.inf, np.nan]


def special_values(dtype):
    """Every special value of `dtype`: for integers the extremes, 0, +-1, and the shift counts
    around the widths (8, 16, 32, 64) that fit."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.array(SPECIAL_FLOATS, dtype)
    if dtype.kind == "b":
        return np.array([False, True])
    info = np.iinfo(dtype)
    picks = [info.min, info.min + 1, -65, -64, -9, -8, -7, -3, -1, 0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 63, 64, 65,
             info.max - 1, info.max]
    return np.array(sorted({v for v in picks if info.min <= v <= info.max}), dtype)


def assert_same_numbers(got, expected):
    """Equal up to the float tolerance, NaN where NaN, and zeros of the same sign."""
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected)
        return
    rtol, atol = TOLERANCE[expected.dtype]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    zeros = expected == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(expected[zeros]))


def assert_special_values_export(fn, *args):
    compiled = irtoy.trace(fn, *args).compile(backend="numpy")
    model = irtoy.onnx.export(compiled)
    onnx.checker.check_model(model, full_check=True)
    with np.errstate(all="ignore"):
        expected = np.asarray(compiled(*args))
        np.testing.assert_array_equal(expected, fn(*args))        # the interpreter is NumPy
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {v.name: a for v, a in zip(model.graph.input, args)})     # onnxruntime has every kernel
    assert_same_numbers(got, expected)


FLOAT_UNARY = [np.log1p, np.expm1, np.log2, np.log10, np.exp2, np.cbrt, np.signbit, np.floor, np.ceil, np.rint,
               np.trunc]
FLOAT_BINARY = [np.logaddexp, np.logaddexp2, np.copysign]
INTEGER_UNARY = [np.floor, np.ceil, np.trunc, np.signbit]


@pytest.mark.parametrize("dtype", FLOATS := [np.float32, np.float64])
@pytest.mark.parametrize("ufunc", FLOAT_UNARY, ids=lambda f: f.__name__)
def test_float_functions_export_with_numpys_special_values(ufunc, dtype):
    assert_special_values_export(lambda x: ufunc(x), special_values(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("ufunc", FLOAT_BINARY, ids=lambda f: f.__name__)
def test_binary_float_functions_export_with_numpys_special_values(ufunc, dtype):
    x = special_values(dtype)
    assert_special_values_export(lambda x, y: ufunc(x, y), x[:, None], x[None, :])


INTEGERS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", INTEGERS)
@pytest.mark.parametrize("ufunc", INTEGER_UNARY, ids=lambda f: f.__name__)
def test_integer_rounding_and_signbit_export_at_the_extremes(ufunc, dtype):
    assert_special_values_export(lambda x: ufunc(x), special_values(dtype))


@pytest.mark.parametrize("dtype", FLOATS + INTEGERS)
@pytest.mark.parametrize("ufunc", [np.floor_divide, np.remainder, np.fmod], ids=lambda f: f.__name__)
def test_division_exports_with_numpys_signs_and_zero_divisors_at_the_extremes(ufunc, dtype):
    x = special_values(dtype)
    assert_special_values_export(lambda x, y: ufunc(x, y), x[:, None], x[None, :])


@pytest.mark.parametrize("dtype", INTEGERS + [np.bool_])
@pytest.mark.parametrize("ufunc", [np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.left_shift, np.right_shift],
                         ids=lambda f: f.__name__)
def test_bitwise_ops_and_shifts_export_at_the_extremes_and_past_the_width(ufunc, dtype):
    if dtype == np.bool_ and ufunc in (np.left_shift, np.right_shift):
        dtype = np.int8         # NumPy shifts booleans as int8
    x = special_values(dtype)
    assert_special_values_export(lambda x, y: ufunc(x, y), x[:, None], x[None, :])


@pytest.mark.parametrize("dtype", INTEGERS + [np.bool_])
def test_invert_exports_at_the_extremes(dtype):
    assert_special_values_export(lambda x: np.invert(x), special_values(dtype))


@pytest.mark.parametrize("dtype", [np.float16] + FLOATS + INTEGERS + [np.bool_])
@pytest.mark.parametrize("fn", [np.argmin, np.argmax, lambda x, axis: np.argsort(x, axis, kind="stable")],
                         ids=["argmin", "argmax", "argsort"])
def test_arg_reductions_and_argsort_export_with_numpys_ties_and_nans(fn, dtype):
    """Ties go to the first entry (argsort keeps them in order), NaN as NumPy puts it (argmin
    and argmax: the first NaN; argsort: NaNs last), uint64 above int64's range in order."""
    values = np.resize(special_values(dtype), (3, 24))
    values[1] = values[1, ::-1]
    values[2] = values[2, np.arange(24) // 4]       # runs of four equal entries
    for axis in (0, 1):
        assert_special_values_export(lambda x: fn(x, axis=axis), values)


@pytest.mark.parametrize("dtype", FLOATS + INTEGERS)
@pytest.mark.parametrize("fn", [np.prod, np.cumsum, np.cumprod], ids=lambda f: f.__name__)
def test_products_and_running_sums_export_wrapping_and_with_zeros_and_nans(fn, dtype):
    values = np.resize(special_values(dtype), (3, 24))
    for axis in (0, 1):
        assert_special_values_export(lambda x: fn(x, axis=axis), values)


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
@pytest.mark.parametrize("fn", [np.prod, np.cumprod, np.cumsum], ids=lambda f: f.__name__)
def test_products_and_running_sums_over_an_empty_axis_export(fn, dtype):
    """An empty product is 1 and an empty running product is empty (an ONNX Scan of no steps
    would crash onnxruntime's process)."""
    assert_special_values_export(lambda x: fn(x, axis=1), np.ones((2, 0), dtype))


def test_signbit_of_booleans_exports_as_numpys_all_false():
    assert_special_values_export(lambda x: np.signbit(x), np.array([True, False]))


def test_slogdet_of_singular_matrices_exports_as_numpys_zero_and_minus_infinity():
    """NumPy's slogdet does not raise on a singular matrix: sign 0 and log -inf, also when the
    zero pivot comes before the last column."""
    singular = np.array([[[0.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]])
    assert_special_values_export(lambda a: np.stack(np.linalg.slogdet(a), axis=-1), singular)


# zero and tiny diagonal entries: elimination must swap rows (the determinants are negative)
NEEDS_ROW_SWAPS = np.array([[[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [4.0, 1.0, 0.0]],
                            [[1e-3, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fn", [np.linalg.inv, np.linalg.det, lambda a: np.stack(np.linalg.slogdet(a), axis=-1),
                                lambda a: np.linalg.solve(a, a[..., ::-1] + 1), lambda a: np.linalg.solve(a[1], a[0, 0])],
                         ids=["inv", "det", "slogdet", "solve", "solve_vector"])
def test_linear_algebra_exports_where_rows_must_be_swapped(fn, dtype):
    a = NEEDS_ROW_SWAPS.astype(dtype)
    assert_exports_exactly(irtoy.trace(fn, a), a)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2), (1, 1), (3, 1), (1, 3)])
def test_qr_exports_with_numpys_signs(shape, dtype):
    """Q and R themselves, not squared: R's diagonal has LAPACK's signs (negative where the
    column's leading entry is positive), and a matrix whose column is zero below the diagonal
    takes no reflection there."""
    a = np.random.default_rng(0).normal(size=shape).astype(dtype)
    assert_exports_exactly(irtoy.trace(lambda a: tuple(np.linalg.qr(a)), a), a)
    upper = np.triu(np.arange(1.0, 10.0).reshape(3, 3) - 5).astype(dtype)      # zero below the diagonal
    assert_exports_exactly(irtoy.trace(lambda a: tuple(np.linalg.qr(a)), upper), upper)


def test_export_to_a_path_that_cannot_be_written_is_one_error_naming_it(tmp_path):
    traced = irtoy.trace(np.exp, np.ones(3))
    (tmp_path / "afile").write_text("")
    for path, why in [(tmp_path, "it is a folder"), (tmp_path / "afile" / "model.onnx", "afile is a file, not a folder")]:
        with pytest.raises(irtoy.IrtoyError, match=f"cannot write .*: .*{why}"):
            irtoy.onnx.export(traced, path)
