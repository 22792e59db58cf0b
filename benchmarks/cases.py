"""The cases of `irtoy bench`: one function per case, returning its row of the table.

Each case times, in one process, a hand-written NumPy baseline (benchmarks/references.py;
for B2 benchmarks/tinynn.py), the same computation traced by irtoy (benchmarks/workloads.py)
on the interpreter, on the numba backend and, with the extras irtoy[jax] and irtoy[onnx]
installed, on the jax and onnxruntime backends (every case but B3), and gives medians and
their ratios to the baseline (a ratio below 1 is faster than NumPy):

    B1        y = tanh(1.7 x + 0.3) * sigmoid(x) + 0.5 x**2, float32, 4,194,304 elements
    B1-small  the same on 65,536 elements
    B2        one training step of a 784-400-100-10 ReLU MLP: softmax cross-entropy, gradients
              by irtoy's autodiff pass, Adam(1e-3) written with irtoy ops; batch 128, float32;
              compiled with the weights and moments donated (updated in place). The NumPy
              step is tinynn's (benchmarks/tinynn.py); a note gives the ratio to a tuned one
    B3        B2's first call in a fresh process: empty kernel cache, then warm (subprocesses)
    B4        value and gradient of the scalar function of three inputs
              (examples/scalar_function.py), on float64 Python floats
    B5        conv 3x3 (8 channels, padding 1), ReLU, 2x2 max-pool, dense, softmax CE, SGD,
              on 32x1x28x28 images
    B6        an embedding lookup in a 50,000 x 128 table (256 samples of 20 tokens, averaged),
              dense, softmax CE on integer labels (a gather), SGD: the table's gradient is a
              scatter-add of the rows looked up; float32

The table gives figures, not verdicts: there is no pass/fail column. Thresholds on these
ratios would be measured against baselines whose own time moves by up to 2x from run to run
(B2's NumPy step, see the README), on machines of every speed and load, and B3's cached first
call includes Numba's own start-up, which irtoy cannot shorten; a "NO" would say more about
the machine than about irtoy.

Training steps run on a stream of distinct batches (never one batch again and again, which
lets Adam's moments decay into denormals and slows NumPy), with every backend starting from
the same parameters.
"""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

import irtoy
from irtoy.benchmarks import references, tinynn
from irtoy.benchmarks.timing import peak_bytes, time_interleaved
from irtoy.benchmarks.workloads import (adam_scalars, b1_function, batches, conv_sgd_step, copy_tree,
                                        embedding_setup, embedding_sgd_step, embedding_sgd_step_numpy,
                                        mlp_train_step, scalar_function)
from irtoy.backends import usable as usable_backends
from irtoy.compare import duration_text, float64_run, judge


@dataclass
class Row:
    """One line of the table: a case's median seconds per call, or a figure shown as it is (B3)."""
    case: str
    what: str
    numpy: float = None         # seconds per call (medians)
    interpreter: float = None
    numba: float = None
    shown: str = ""             # for rows that are not ratios (B3)
    notes: tuple = ()
    extras: dict = field(default_factory=dict)      # {backend of EXTRA_BACKENDS: seconds per call}

    def ratio(self, seconds):
        return seconds / self.numpy

    def timed(self, seconds):
        return f"{duration_text(seconds)} ({self.ratio(seconds):.2f}x)" if seconds else ""

    def cells(self):
        if self.shown:
            return [self.case, self.what, "", "", self.shown] + [""] * len(EXTRA_BACKENDS)
        return [self.case, self.what, duration_text(self.numpy), self.timed(self.interpreter),
                self.timed(self.numba)] + [self.timed(self.extras.get(name)) for name in EXTRA_BACKENDS]


EXTRA_BACKENDS = ("jax", "onnxruntime")     # the table's last columns, each filled when its extra is installed


def on_extras(case, traced, **options):
    """({backend: `traced` compiled by it}, notes) for each of EXTRA_BACKENDS whose extra is
    installed. A backend that cannot run the graph (onnxruntime has no float64 Tan, say)
    leaves its cell empty, and a note says why."""
    compiled, notes = {}, []
    for name in EXTRA_BACKENDS:
        if name in usable_backends():
            try:
                compiled[name] = traced.compile(name, **options)
            except irtoy.IrtoyError as e:
                notes.append(f"{case} {name}: {str(e).splitlines()[0]}")
    return compiled, tuple(notes)


def stepper(compiled, params, batches_):
    """A no-argument function doing one training step with `compiled`, on the next batch."""
    state = {"params": copy_tree(params), "m": {k: np.zeros_like(p) for k, p in params.items()},
             "v": {k: np.zeros_like(p) for k, p in params.items()}, "t": 0}

    def step():
        state["t"] += 1
        x, y = batches_[state["t"] % len(batches_)]
        s1, s2 = adam_scalars(state["t"])
        state["loss"], state["params"], state["m"], state["v"] = compiled(
            state["params"], state["m"], state["v"], x, y, s1, s2)
    return step, state


def sgd_stepper(step_fn, params, batches_):
    """A no-argument function doing one step of `step_fn` ((params, *batch) -> (loss, new
    params)) from its own copy of `params`, on the next batch."""
    state = {"params": copy_tree(params), "t": 0}

    def step():
        state["t"] += 1
        _, state["params"] = step_fn(state["params"], *batches_[state["t"] % len(batches_)])
    return step


def check_agreement(traced, args, interpreted, got, what, backend="numba"):
    """Stop the case if a backend's outputs `got` disagree, as irtoy.compare judges them: against
    a float64 run of the interpreter, allowing for the float32 interpreter's own rounding."""
    error, agrees = judge(float64_run(traced, args, {}), interpreted, got)
    if not agrees:
        raise AssertionError(f"{what}: {backend} is off from a float64 run of the interpreter by {error:.1f} tolerances")


# -- the cases ------------------------------------------------------------------------------

def case_b1(seconds, n=4_194_304, name="B1"):
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 3
    traced = irtoy.trace(b1_function, x)
    slow, fast, (extras, notes) = traced.compile("numpy"), traced.compile("numba"), on_extras(name, traced)
    contenders = {"numpy": lambda: references.b1_numpy(x), "interpreter": lambda: slow(x), "numba": lambda: fast(x)}
    check_agreement(traced, (x,), slow(x), fast(x), name)
    np.testing.assert_allclose(fast(x), references.b1_numpy(x), rtol=1e-5, atol=1e-6)
    for backend, compiled in extras.items():
        check_agreement(traced, (x,), slow(x), compiled(x), name, backend)
        contenders[backend] = lambda compiled=compiled: compiled(x)
    t = time_interleaved(contenders, seconds)
    return Row(name, f"fused elementwise, {n:,} float32", t["numpy"], t["interpreter"], t["numba"], notes=notes,
               extras={backend: t[backend] for backend in extras})


def case_b1_small(seconds):
    return case_b1(seconds, n=65_536, name="B1-small")


def mlp_setup(batch=128, sizes=(784, 400, 100, 10), count=32):
    params = references.mlp_init(sizes, seed=0)
    data = batches(count, batch, sizes[0], sizes[-1])
    zeros = {k: np.zeros_like(p) for k, p in params.items()}
    traced = irtoy.trace(mlp_train_step, params, zeros, zeros, *data[0], *adam_scalars(1))
    return params, data, traced


def case_b2(seconds):
    params, data, traced = mlp_setup()
    slow, fast = traced.compile("numpy"), traced.compile("numba", donate=("params", "m", "v"))
    extras, extra_notes = on_extras("B2", traced, donate=("params", "m", "v"))
    args = (params, {k: np.zeros_like(p) for k, p in params.items()},
            {k: np.zeros_like(p) for k, p in params.items()}, *data[0], *adam_scalars(1))
    check_agreement(traced, args, slow(*copy_tree(args)), fast(*copy_tree(args)), "B2")
    for backend, compiled in extras.items():
        check_agreement(traced, args, slow(*copy_tree(args)), compiled(*copy_tree(args)), "B2", backend)
    net = tinynn.TinynnMLP(copy_tree(params))
    reference = {"params": copy_tree(params), "state": references.adam_init(params), "t": 0, "tinynn": 0}

    def tinynn_step():
        reference["tinynn"] += 1
        net.train_step(*data[reference["tinynn"] % len(data)])

    def in_place_step():
        reference["t"] += 1
        x, y = data[reference["t"] % len(data)]
        references.mlp_train_step(reference["params"], reference["state"], x, y)

    def matrix_products():
        """The step's eight products alone (same shapes, no activations), as every contender
        calls them: through NumPy, into the same OpenBLAS."""
        x, p = data[reference["t"] % len(data)][0], reference["params"]
        h1 = x @ p["w1"]
        h2 = h1 @ p["w2"]
        g3 = h2 @ p["w3"]
        g2 = g3 @ p["w3"].T
        g1 = g2 @ p["w2"].T
        return h2.T @ g3, h1.T @ g2, x.T @ g1

    slow_step, _ = stepper(slow, params, data)
    fast_step, fast_state = stepper(fast, params, data)
    contenders = {"numpy": tinynn_step, "in place": in_place_step, "interpreter": slow_step, "numba": fast_step,
                  "products": matrix_products}
    for backend, compiled in extras.items():
        contenders[backend] = stepper(compiled, params, data)[0]
    t = time_interleaved(contenders, seconds)
    peaks = {name: peak_bytes(fn) for name, fn in [("numpy", tinynn_step), ("in place", in_place_step),
                                                   ("interpreter", slow_step), ("numba", fast_step)]}
    notes = (f"B2 the NumPy step is written the tinynn way (benchmarks/tinynn.py); the same step tuned by "
             f"hand, Adam updated in place (references.mlp_train_step), takes {duration_text(t['in place'])}: "
             f"numba {t['numba'] / t['in place']:.2f}x, interpreter {t['interpreter'] / t['in place']:.2f}x "
             f"of it; the step's matrix products alone take {duration_text(t['products'])} "
             f"({t['products'] / t['numpy']:.2f}x tinynn's step, {t['products'] / t['in place']:.2f}x the tuned one)",
             f"B2 peak memory of one step, arrays allocated during the call (tracemalloc): NumPy "
             f"{peaks['numpy'] / 1e6:.1f} MB (tuned: {peaks['in place'] / 1e6:.1f} MB), interpreter "
             f"{peaks['interpreter'] / 1e6:.1f} MB, numba {peaks['numba'] / 1e6:.1f} MB (new weights and moments "
             f"written into the donated ones) + {fast.executable.planned_bytes / 1e6:.1f} MB of intermediate "
             f"buffers it keeps between calls ({fast.executable.unshared_bytes / 1e6:.1f} MB if none were shared)",
             f"B2 loss after {fast_state['t']} numba steps: {float(fast_state['loss']):.4f}") + extra_notes
    return Row("B2", "MLP 784-400-100-10 train step (Adam)", t["numpy"], t["interpreter"], t["numba"],
               notes=notes, extras={backend: t[backend] for backend in extras})


FIRST_CALL_CODE = """
import json, time
started = time.perf_counter()
import numpy as np
import irtoy
import numba
imported = time.perf_counter()
from irtoy.benchmarks import cases, workloads
params, data, _ = cases.mlp_setup(count=1)
zeros = {k: np.zeros_like(p) for k, p in params.items()}
args = (params, zeros, zeros, *data[0], *workloads.adam_scalars(1))
began = time.perf_counter()
compiled = irtoy.trace(workloads.mlp_train_step, *args).compile("numba")
compiled(*args)
done = time.perf_counter()
print(json.dumps({"imports": imported - started, "first_call": done - began,
                  "loaded_from": compiled.executable.loaded_from}))
"""


def first_call_in_fresh_process(cache_dir):
    env = dict(os.environ, IRTOY_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", FIRST_CALL_CODE], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"the B3 subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


NUMBA_START_CODE = """
import json, time
import numba
started = time.perf_counter()
numba.njit(lambda x: x + 1)(1.0)
print(json.dumps({"start": time.perf_counter() - started}))
"""


def numba_start_up():
    """Seconds Numba takes to compile its first function in a fresh process (its one-time
    initialization, paid by the first compile or cache load of any Numba user)."""
    out = subprocess.run([sys.executable, "-c", NUMBA_START_CODE], capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])["start"] if out.returncode == 0 else float("nan")


def case_b3(seconds):
    with tempfile.TemporaryDirectory(prefix="irtoy-bench-") as folder:
        cold = first_call_in_fresh_process(folder)
        warm = first_call_in_fresh_process(folder)
    notes = (f"B3 a fresh process first imports numpy, irtoy and numba: {cold['imports']:.2f} s and "
             f"{warm['imports']:.2f} s (not counted); first call = trace + compile + run, including "
             f"Numba's one-time start-up (about {numba_start_up():.2f} s, measured alone)",)
    return Row("B3", "B2's first call, fresh process", shown=f"cold {cold['first_call']:.2f} s / cached "
               f"{warm['first_call']:.2f} s", notes=notes)


def case_b4(seconds):
    args = (0.3, 0.7, 1.4)
    traced = irtoy.trace(scalar_function, *args).value_and_grad(wrt=(0, 1, 2))
    slow, fast, (extras, notes) = traced.compile("numpy"), traced.compile("numba"), on_extras("B4", traced)
    ref_value, ref_grads = references.seed_scalar(*args)
    contenders = {"numpy": lambda: references.seed_scalar(*args), "interpreter": lambda: slow(*args),
                  "numba": lambda: fast(*args)}
    for backend, compiled in {"numba": fast, **extras}.items():
        value, grads = compiled(*args)
        np.testing.assert_allclose([value, *grads], [ref_value, *ref_grads], rtol=1e-12, err_msg=backend)
        contenders[backend] = lambda compiled=compiled: compiled(*args)
    t = time_interleaved(contenders, seconds)
    return Row("B4", "scalar function value and gradient, float64", t["numpy"], t["interpreter"], t["numba"],
               notes=("B4's baseline is plain Python with `math`; the compiled call includes its argument checks",)
               + notes,
               extras={backend: t[backend] for backend in extras})


def case_b5(seconds):
    params = references.conv_init(seed=0)
    data = batches(16, 32, (1, 28, 28))
    traced = irtoy.trace(conv_sgd_step, params, *data[0])
    slow, fast, (extras, notes) = traced.compile("numpy"), traced.compile("numba"), on_extras("B5", traced)
    for backend, compiled in {"numba": fast, **extras}.items():
        check_agreement(traced, (params, *data[0]), slow(params, *data[0]), compiled(params, *data[0]), "B5", backend)
    reference = {"params": copy_tree(params), "t": 0}

    def numpy_step():       # updates the weights in place
        reference["t"] += 1
        references.conv_sgd_step(reference["params"], *data[reference["t"] % len(data)])

    contenders = {name: sgd_stepper(compiled, params, data) for name, compiled in
                  {"interpreter": slow, "numba": fast, **extras}.items()}
    t = time_interleaved({"numpy": numpy_step, **contenders}, seconds)
    return Row("B5", "conv 3x3 + pool + dense train step (SGD)", t["numpy"], t["interpreter"], t["numba"], notes=notes,
               extras={backend: t[backend] for backend in extras})


def case_b6(seconds):
    params, data = embedding_setup()
    traced = irtoy.trace(embedding_sgd_step, params, *data[0])
    slow, fast, (extras, notes) = traced.compile("numpy"), traced.compile("numba"), on_extras("B6", traced)
    for backend, compiled in {"numba": fast, **extras}.items():
        check_agreement(traced, (params, *data[0]), slow(params, *data[0]), compiled(params, *data[0]), "B6", backend)
    expected, got = embedding_sgd_step_numpy(params, *data[0]), fast(params, *data[0])
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4)
    np.testing.assert_allclose(got[1]["table"], expected[1]["table"], rtol=1e-4, atol=1e-7)
    contenders = {"numpy": embedding_sgd_step_numpy, "interpreter": slow, "numba": fast, **extras}
    t = time_interleaved({name: sgd_stepper(fn, params, data) for name, fn in contenders.items()}, seconds)
    return Row("B6", "embedding 50,000x128 + softmax CE on labels (SGD)", t["numpy"], t["interpreter"], t["numba"],
               notes=notes, extras={backend: t[backend] for backend in extras})


CASES = {"B1": case_b1, "B1-small": case_b1_small, "B2": case_b2, "B3": case_b3, "B4": case_b4, "B5": case_b5,
         "B6": case_b6}
