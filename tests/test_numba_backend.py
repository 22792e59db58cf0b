"""The numba backend against the interpreter (the ground truth): every registry op, their
gradient graphs, random programs, the MLP training step, in float32 and float64; and what
users rely on besides results: argument checks before any kernel runs, reused buffers,
threads, the generated source and the drawing of the fusion plan.

Compiling costs Numba ~0.1 s per kernel, so examples are few and derandomized, and kernels
go to a cache folder kept under pytest's cache: a second run loads them from disk. The
checks against the interpreter and their tolerances are tests/against_interpreter.py's.
"""
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from irtoy import ops, pytree
from irtoy.backends.numba import lowering
from irtoy.backends.numba.kernels import index_text
from irtoy.benchmarks import workloads
from irtoy.passes import fusion
from against_interpreter import assert_same, check_op_case, check_op_gradient, check_program
from graph_programs import programs
from op_cases import CASES, DIFFERENTIABLE
from test_fusion import apply_chain, movement_chains

FEW = settings(max_examples=3, derandomize=True, deadline=None)


pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def fast(traced, **options):
    """The numba backend as users get it: kernels without bounds checks (the test suite
    otherwise runs in debug mode, which checks every pass and bounds-checks kernels), unless
    NUMBA_BOUNDSCHECK=1 turns them on for every kernel (`make test` runs these tests so too)."""
    return traced.compile("numba", debug=False, **options)


def on_both(traced, *args):
    """(interpreter's result, numba's result) of a traced function."""
    return traced.compile("numpy")(*args), fast(traced)(*args)


# -- every op ------------------------------------------------------------------------------

def test_every_registry_op_has_a_lowering_of_its_kind():
    fitting = {"source": lowering.Source, "elementwise": lowering.Scalar, "reduction": lowering.Reduction,
               "contraction": lowering.Call, "movement": (lowering.View, lowering.Call), "scan": lowering.Call,
               "scatter": lowering.Scatter, "window": lowering.Call, "random": lowering.Call,
               "gather": lowering.Gather, "sort": lowering.Call, "linalg": lowering.Call}
    assert set(fitting) == set(ops.KINDS)
    missing = sorted(set(ops.REGISTRY) - set(lowering.LOWERINGS))
    assert missing == [], f"ops without a numba lowering: {missing}"
    for name, op in ops.REGISTRY.items():
        low = lowering.lowering(name)
        assert isinstance(low, fitting[op.kind]), name
        assert isinstance(low, lowering.View) == op.view, name


def test_a_missing_lowering_names_the_file_to_add_it_to():
    with pytest.raises(lowering.LoweringError, match="no lowering for op 'no_such_op'") as error:
        lowering.lowering("no_such_op")
    (path,) = re.findall(r"[\w/]+\.py", str(error.value))
    assert os.path.exists(os.path.join(os.path.dirname(os.path.dirname(__file__)), path)), path


@pytest.mark.parametrize("op", sorted(CASES))
@FEW
@given(data=st.data())
def test_every_op_matches_the_interpreter(op, data):
    check_op_case(op, data.draw(CASES[op]), fast)


@pytest.mark.parametrize("op", DIFFERENTIABLE)
@settings(max_examples=2, derandomize=True, deadline=None)
@given(data=st.data())
def test_gradient_graph_of_every_op_matches_the_interpreter(op, data):
    check_op_gradient(data.draw(CASES[op]), fast)


@given(movement_chains())
@settings(max_examples=200)
def test_index_arithmetic_in_kernels_reads_what_numpy_views_see(case):
    base, expected, view = apply_chain(*case)
    for index in np.ndindex(*expected.shape):
        names = [str(i) for i in index]
        position = tuple(eval(e) for e in index_text(view, names))
        assert base[position] == expected[index]


# -- random graphs -------------------------------------------------------------------------

@settings(max_examples=10, derandomize=True, deadline=None)
@given(programs(max_steps=6))
def test_random_programs_and_gradients_match_in_float64(program):
    check_program(program, fast)


UNARY = {"exp": lambda a: np.exp(-a * a), "tanh": np.tanh, "sqrt": lambda a: np.sqrt(a * a + 1),
         "log": lambda a: np.log(a * a + 1), "negative": lambda a: -a, "sin": np.sin}
BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
          "divide": lambda a, b: a / (b * b + 1), "where": lambda a, b: np.where(a > b, a, b * 0.5)}
REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


@st.composite
def float_programs(draw):
    """A few values of shapes broadcasting to (3, 4), combined by elementwise ops, reduced
    along random axes (keepdims, so results broadcast again), transposed, sliced, rolled."""
    shapes = [(), (4,), (3, 1), (1, 4), (3, 4)]
    steps = draw(st.lists(st.tuples(st.sampled_from(["unary", "binary", "reduce", "move"]),
                                    st.integers(0, 50), st.integers(0, 50), st.integers(0, 5)),
                          min_size=2, max_size=7))
    inputs = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=3))

    def fn(*xs):
        pool = list(xs)
        for kind, i, j, p in steps:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if kind == "unary":
                out = list(UNARY.values())[p % len(UNARY)](a)
            elif kind == "binary":
                out = list(BINARY.values())[p % len(BINARY)](a, b)
            elif kind == "reduce":
                axis = None if np.ndim(a) == 0 else p % np.ndim(a)
                out = list(REDUCE.values())[p % len(REDUCE)](a, axis=axis, keepdims=True)
            else:
                full = np.broadcast_to(a, (3, 4))
                out = full.T[::-1].T if p % 2 else np.concatenate([full[:, 1:], full[:, :1] * 1.5], axis=1)
            pool.append(out)
        return [np.sum(v) for v in pool[len(xs):]] + [pool[-1]]
    return fn, inputs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=8, derandomize=True, deadline=None)
@given(data=st.data())
def test_random_broadcasting_and_reducing_graphs_match(dtype, data):
    fn, shapes = data.draw(float_programs())
    rng = np.random.default_rng(len(shapes))
    args = [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]
    traced = irtoy.trace(fn, *args)
    expected, got = on_both(traced, *args)
    assert_same(expected, got, scale=10.0)


# -- the MLP training step -----------------------------------------------------------------

def mlp_arguments(dtype, sizes=(20, 16, 12, 5), batch=8):
    rng = np.random.default_rng(3)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), 1):
        params[f"w{i}"] = rng.uniform(-0.5, 0.5, (fan_in, fan_out)).astype(dtype)
        params[f"b{i}"] = rng.uniform(-0.1, 0.1, fan_out).astype(dtype)
    # moments well away from zero: Adam's first step divides by |g| + eps, which amplifies
    # rounding in gradients that are almost zero into differences of a whole step
    m = {k: rng.uniform(-1e-2, 1e-2, p.shape).astype(dtype) for k, p in params.items()}
    v = {k: rng.uniform(1e-4, 1e-3, p.shape).astype(dtype) for k, p in params.items()}
    data = workloads.batches(3, batch, sizes[0], sizes[-1], dtype=dtype)
    return params, m, v, data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_training_steps_match_the_interpreter(dtype):
    params, m, v, data = mlp_arguments(dtype)
    scalars = [np.asarray(s, dtype) for s in workloads.adam_scalars(5)]
    traced = irtoy.trace(workloads.mlp_train_step, params, m, v, *data[0], *scalars)
    assert "backward" in {traced.graph[n]["role"] for n in traced.graph.nx}
    slow, quick = traced.compile("numpy"), fast(traced)
    state_slow = state_fast = (params, m, v)
    for x, y in data:           # three steps, each from the previous step's results
        loss_s, *state_slow = slow(*state_slow, x, y, *scalars)
        loss_f, *state_fast = quick(*state_fast, x, y, *scalars)
        assert_same((loss_s, state_slow), (loss_f, state_fast))


# -- calling a compiled function -----------------------------------------------------------

@pytest.fixture(scope="module")
def layer():
    def fn(w, b, x, scale):
        return np.maximum(x @ w + b, 0).sum(axis=1) * scale
    args = (np.ones((4, 3), np.float32), np.zeros(3, np.float32), np.ones((2, 4), np.float32), 2.0)
    traced = irtoy.trace(fn, *args)
    return traced, fast(traced, profile=True), args


def test_wrong_shapes_and_dtypes_are_refused_before_any_kernel_runs(layer):
    traced, compiled, (w, b, x, scale) = layer
    bad_calls = [(np.ones((5, 3), np.float32), b, x, scale), (w, b, x.astype(np.float64), scale),
                 (w, np.zeros((1, 3), np.float32), x, scale), (w, b, x, np.ones(2)), (w, b, x)]
    for args in bad_calls:
        with pytest.raises(irtoy.ShapeError):
            compiled(*args)
        if len(args) == 4:
            with pytest.raises(irtoy.ShapeError):
                compiled.executable.run(list(args))
    assert compiled.executable.calls == 0 and sum(compiled.executable.times) == 0
    with pytest.raises(irtoy.ShapeError, match=r"argument x was traced as f32\[2,4\]"):
        compiled(w, b, np.ones((3, 4), np.float32), scale)


def test_strided_and_scalar_arguments_are_accepted(layer):
    traced, compiled, (w, b, x, scale) = layer
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((4, 6)).astype(np.float32)
    xt = rng.standard_normal((4, 2)).astype(np.float32).T          # not C-contiguous
    for args in [(wide[:, ::2], b, xt, 3), (w, b + 0.5, xt, np.float64(0.5)), (w, b, x, np.asarray(1.5))]:
        assert_same(traced.compile("numpy")(*args), compiled(*args))
    assert compiled.executable.calls == 3


def test_read_only_arguments_are_accepted(layer):
    traced, compiled, (w, b, x, scale) = layer
    frozen = [a.copy() for a in (w, b + 0.5, x)]
    for a in frozen:
        a.flags.writeable = False       # as np.frombuffer of bytes, or np.asarray of a jax array
    for args in [(*frozen, scale), (w, np.broadcast_to(np.float32(0.25), (3,)), x, scale)]:
        assert_same(traced.compile("numpy")(*args), compiled(*args))


def test_buffers_are_reused_across_calls_and_threads():
    def fn(x, y):
        h = np.tanh(x @ y) * 2
        g = np.exp(-(h @ y.T) ** 2)
        return (g * x).sum(axis=0), h.max()
    rng = np.random.default_rng(1)
    args = [[rng.standard_normal((6, 5)), rng.standard_normal((5, 5))] for _ in range(6)]
    traced = irtoy.trace(fn, *args[0])
    compiled, reference = fast(traced), traced.compile("numpy")
    assert 0 < compiled.executable.planned_bytes <= compiled.executable.unshared_bytes
    expected = [reference(*a) for a in args]
    for a, e in zip(args, expected):
        assert_same(e, compiled(*a))
    results = {}

    def worker(k):
        results[k] = [compiled(*args[(k + i) % 6]) for i in range(40)]
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, outs in results.items():
        for i, out in enumerate(outs):
            assert_same(expected[(k + i) % 6], out)


def test_parallel_kernels_match_the_interpreter():
    """Domains big enough for prange: elementwise, row reductions and a column reduction."""
    def fn(x, b):
        y = workloads.b1_function(x)
        z = np.exp(y - y.max(axis=1, keepdims=True))
        return y, z / z.sum(axis=1, keepdims=True), (z * b).sum(axis=0), z.argmax(axis=1)
    rng = np.random.default_rng(2)
    args = (rng.standard_normal((300, 200)).astype(np.float32), rng.standard_normal(200).astype(np.float32))
    traced = irtoy.trace(fn, *args)
    compiled = fast(traced)
    assert "prange" in compiled.source
    assert_same(traced.compile("numpy")(*args), compiled(*args), scale=100.0)


def test_nan_and_inf_behave_as_in_numpy():
    def fn(x):
        return (np.maximum(x, 0), np.minimum(x, 0), x.max(axis=1), x.min(axis=0), x.argmax(axis=1),
                np.exp(x), np.tanh(x), 1 / (1 + np.exp(-x)))
    x = np.array([[np.nan, 1, 2], [np.inf, -np.inf, 0], [-1, np.nan, np.inf], [1e-40, -88, 100]], np.float32)
    traced = irtoy.trace(fn, x)
    with np.errstate(all="ignore"):
        expected, got = on_both(traced, x)
    assert_same(expected, got)


# -- what the user can read ----------------------------------------------------------------

def test_source_shows_kernels_with_their_ir_and_the_driver(tmp_path):
    def fn(x, w, b):
        return np.tanh(x @ w + b).sum(axis=1)
    args = (np.ones((3, 4), np.float32), np.ones((4, 5), np.float32), np.ones(5, np.float32))
    compiled = fast(irtoy.trace(fn, *args))
    source = compiled.source
    assert "@njit(" in source and "def run(" in source and "np.matmul(" in source
    for n in compiled.stages["fused"].nx:
        node = compiled.stages["fused"][n]
        if node["op"] in ("add", "tanh", "sum"):
            assert f"%{n} " in source and "test_numba_backend.py:" in source
    kernels = fusion.kernels(compiled.stages["fused"])
    assert [k.describe(compiled.stages["fused"]) for k in kernels] == [
        "kernel 0 (loop over 3x5): matmul, add, tanh, sum"]
    dot = compiled.render(tmp_path / "fused.dot", stage="fused")
    text = open(dot).read()
    assert "cluster" in text and "kernel 0 (loop over 3x5)" in text


def test_debug_compiles_bounds_checked_kernels_with_the_same_results():
    def fn(x):
        return np.exp(x[:, ::2] - x.max(axis=1, keepdims=True))
    x = np.random.default_rng(4).standard_normal((5, 6)).astype(np.float32)
    traced = irtoy.trace(fn, x)
    checked = traced.compile("numba", debug=True)
    assert "boundscheck=True" in checked.source and "boundscheck=False" in fast(traced).source
    assert_same(traced.compile("numpy")(x), checked(x))


def test_profile_times_every_kernel(layer):
    traced, compiled, args = layer
    compiled(*args)
    table = compiled.profile()
    kernels = fusion.kernels(compiled.stages["fused"])
    assert len(table.splitlines()) == len(kernels) + 2
    assert all(f"kernel {k.id} (" in table for k in kernels) and "calls" in table.splitlines()[-1]


NO_JIT = """
import numpy as np, irtoy
x = np.linspace(-30, 30, 24, dtype=np.float32).reshape(4, 6)
traced = irtoy.trace(lambda x: np.exp(x / 4) * np.tanh(x) + np.maximum(x, 0).sum(axis=1, keepdims=True), x)
np.testing.assert_allclose(traced.compile("numba")(x), traced.compile("numpy")(x), rtol=2e-6)
print("same")
"""


def test_kernels_run_as_plain_python_under_numba_disable_jit(tmp_path):
    """NUMBA_DISABLE_JIT=1 (for stepping through a kernel in a debugger) runs the same code."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", IRTOY_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", NO_JIT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "same", out.stderr[-2000:]


def test_a_dtype_the_kernels_lack_is_refused_naming_the_value():
    traced = irtoy.trace(lambda x: x * 2 + 1, np.ones(3, np.float16))
    with pytest.raises(irtoy.IrtoyError, match=r"does not support float16: %0 f16\[3\] = input x\n.*backend='numpy'"):
        traced.compile("numba")


# -- kernel safety ---------------------------------------------------------------------------

def test_reductions_with_and_without_keepdims_in_one_kernel_store_at_their_own_shapes():
    """The gradient of a variance fuses a keepdims sum and a plain sum into one kernel, whose
    final loop computes members of shapes [3] and [1, 3]: each is indexed at its own shape."""
    x, v = np.random.default_rng(0).uniform(-1, 1, (2, 3)), np.array([0.5, 1.0, 2.0])
    traced = irtoy.trace(lambda x, v: np.sum(np.var(x, axis=0) * v), x, v).value_and_grad(wrt=0)
    expected = traced.compile("numpy")(x, v)
    for compiled in [traced.compile("numba", debug=True), fast(traced)]:   # debug: indices checked
        assert re.search(r"o\d+\[0, i1\] = ", compiled.source)
        for _ in range(50):
            assert_same(expected, compiled(x, v))


def test_an_index_outside_its_buffer_is_refused_when_the_kernel_is_generated():
    from dataclasses import replace
    from irtoy.backends.numba.bounds import check_kernel_indices
    from irtoy.backends.numba.kernels import Code
    x = np.ones((2, 3))
    compiled = fast(irtoy.trace(lambda x: np.exp(x) + 1, x))
    plan = compiled.executable.plan
    (kernel,) = [k for k in plan.kernels if k.is_loop]
    code = plan.codes[kernel.id]
    check_kernel_indices(plan.graph, kernel, code)
    for wrong, why in [("o0[i0 + 1, i1]", "axis 0 of length 2 is indexed from 1 to 2"),
                       ("o0[i1]", "1 indices for 2 axes"), ("o0[i0, 3 - i1]", "from 1 to 3")]:
        body = tuple(Code(line.depth, line.text.replace("o0[i0, i1]", wrong)) if isinstance(line, Code) else line
                     for line in code.body)
        with pytest.raises(lowering.LoweringError, match=rf"kernel {kernel.id}.* buffer o0 of shape \[2, 3\].*{why}"):
            check_kernel_indices(plan.graph, kernel, replace(code, body=body))


INTEGERS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", INTEGERS)
def test_integer_powers_wrap_around_as_numpy_does(dtype):
    x = np.array([0, 1, 2, 3, 7, 100, 3, 2], dtype)
    y = np.array([0, 5, 7, 3, 9, 3, 40, 63], dtype)
    fn = lambda x, y: [x ** y, (x ** y).astype(np.float32), x ** 2]
    assert_same(fn(x, y), fast(irtoy.trace(fn, x, y))(x, y))


@pytest.mark.parametrize("base", [np.float32, np.float64])
def test_floats_to_integer_powers_of_every_width(base):
    """A float to an integer array's power: LLVM turns it into a call to the compiler
    runtime's powi, which the kernel must find (a missing one crashed the process)."""
    x = np.array([1.5, -2.0, 0.5, 3.0, 0.0, -0.75], base)
    for dtype in INTEGERS:
        y = np.array([4, 3, 7, 0, 2, 5], dtype)
        if np.dtype(dtype).kind == "i":
            y[[1, 2]] = [-3, -7]
        fn = lambda x, y: [x ** y, x ** y.astype(np.float32)]
        assert_same(fn(x, y), fast(irtoy.trace(fn, x, y))(x, y))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
@pytest.mark.parametrize("size", [5, 100_000])       # a small and a large kernel
def test_a_negative_integer_exponent_is_refused_as_numpy_refuses_it(dtype, size):
    """NumPy's ValueError from the interpreter; from numba, an IrtoyError that is a ValueError
    too, naming the node and line. The kernel stays serial: Numba runs no raising loop in parallel."""
    x, y = np.full(size, 3, dtype), np.ones(size, dtype)
    y[size // 2] = -1
    traced = irtoy.trace(lambda x, y: x ** y + 1, x, y)
    with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed") as numpy_error:
        traced.compile("numpy")(x, y)
    assert "test_numba_backend.py" in str(numpy_error.value.__notes__)
    with pytest.raises(irtoy.IrtoyError, match=r"not allowed, in\n  %\d+ .*= power .*\n  at .*test_numba_backend.py:\d+") \
            as error:
        compiled = fast(traced)
        compiled(x, y)
    assert isinstance(error.value, ValueError)
    assert not any(code.parallel for code in compiled.executable.plan.codes.values())


@pytest.mark.parametrize("fn", [lambda x: x.sum().reshape(1), lambda x: x.max()[None],
                                lambda x: x.sum() * np.ones(2, np.float32), lambda x: np.broadcast_to(x.min(), (2,))],
                         ids=["sum-reshape", "max-newaxis", "sum-broadcast", "min-broadcast_to"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int16])
def test_zero_dimensional_kernel_results_keep_their_dtype(fn, dtype):
    x = np.arange(1, 7, dtype=dtype).reshape(2, 3)
    assert_same(fn(x), fast(irtoy.trace(fn, x))(x))


def integer_ops(x, y):
    return [x + y, x - y, x * y, x / y, x ** 3, np.maximum(x, y), np.minimum(x, y), x > y, x == y, -x,
            np.abs(x), np.sign(x), x.sum(0), x.sum(), x.mean(1), x.max(0), x.min(), np.argmax(x, axis=1),
            np.where(x > 1, x, y), x.astype(np.int8), x.astype(np.uint16), x.astype(np.float32)]


@pytest.mark.parametrize("dtype, other", list(zip(INTEGERS, INTEGERS[3:] + INTEGERS[:3])))
def test_integer_ops_of_every_width_match_the_interpreter(dtype, other):
    """Each integer dtype, with a second one, negated too (wrapping around when unsigned)."""
    x = np.array([[0, 1, 2, 127], [5, 3, 4, 100]]).astype(dtype)
    y = np.array([1, 2, 3, 7]).astype(other)
    traced = irtoy.trace(integer_ops, x, y)
    with np.errstate(all="ignore"):
        assert_same(*on_both(traced, x, y))
        assert_same(*on_both(irtoy.trace(integer_ops, -x, y), -x, y))
