"""The cases of `irtoy bench`: one function per case, returning its row of the table.

Each case times, in one process, a hand-written NumPy baseline (benchmarks/references.py;
for B2 benchmarks/tinynn.py), the same computation traced by irtoy (benchmarks/workloads.py)
on the interpreter, and on the numba backend, and gives medians and their ratios to the
baseline (a ratio below 1 is faster than NumPy):

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

Training steps run on a stream of distinct batches (never one batch again and again, which
lets Adam's moments decay into denormals and slows NumPy), with every backend starting from
the same parameters.
"""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

import irtoy
from irtoy.benchmarks import references, tinynn
from irtoy.benchmarks.timing import peak_bytes, time_interleaved
from irtoy.benchmarks.workloads import (adam_scalars, b1_function, batches, conv_sgd_step, copy_tree,
                                        embedding_setup, embedding_sgd_step, embedding_sgd_step_numpy,
                                        mlp_train_step, scalar_function)
from irtoy.compare import duration_text, largest_difference


@dataclass
class Row:
    """One line of the table: a case's median seconds per call, or a figure shown as it is (B3)."""
    case: str
    what: str
    numpy: float = None         # seconds per call (medians)
    interpreter: float = None
    numba: float = None
    target: float = None        # the highest acceptable numba / NumPy ratio
    shown: str = ""             # for rows that are not ratios (B3)
    met: bool = None
    notes: tuple = ()

    def ratio(self, seconds):
        return seconds / self.numpy

    def cells(self):
        if self.shown:
            return [self.case, self.what, "", "", self.shown, self.target_text(), self.met_text()]
        interp = f"{duration_text(self.interpreter)} ({self.ratio(self.interpreter):.2f}x)" if self.interpreter else ""
        return [self.case, self.what, duration_text(self.numpy), interp,
                f"{duration_text(self.numba)} ({self.ratio(self.numba):.2f}x)", self.target_text(), self.met_text()]

    def target_text(self):
        if self.target is None:
            return ""
        return self.target if isinstance(self.target, str) else f"<= {self.target:.2f}x"

    def met_text(self):
        return "" if self.met is None else "yes" if self.met else "NO"


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


def check_agreement(a, b, what):
    gap = largest_difference(a, b)
    if gap > 1.0:
        raise AssertionError(f"{what}: numba and the interpreter disagree ({gap:.1f} x the tolerance)")


# -- the cases ------------------------------------------------------------------------------

def case_b1(seconds, n=4_194_304, name="B1", target=0.22):
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 3
    traced = irtoy.trace(b1_function, x)
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    check_agreement(slow(x), fast(x), name)
    np.testing.assert_allclose(fast(x), references.b1_numpy(x), rtol=1e-5, atol=1e-6)
    t = time_interleaved({"numpy": lambda: references.b1_numpy(x), "interpreter": lambda: slow(x),
                          "numba": lambda: fast(x)}, seconds)
    return Row(name, f"fused elementwise, {n:,} float32", t["numpy"], t["interpreter"], t["numba"], target)


def case_b1_small(seconds):
    return case_b1(seconds, n=65_536, name="B1-small", target=0.5)


def mlp_setup(batch=128, sizes=(784, 400, 100, 10), count=32):
    params = references.mlp_init(sizes, seed=0)
    data = batches(count, batch, sizes[0], sizes[-1])
    zeros = {k: np.zeros_like(p) for k, p in params.items()}
    traced = irtoy.trace(mlp_train_step, params, zeros, zeros, *data[0], *adam_scalars(1))
    return params, data, traced


def case_b2(seconds):
    params, data, traced = mlp_setup()
    slow, fast = traced.compile("numpy"), traced.compile("numba", donate=("params", "m", "v"))
    args = (params, {k: np.zeros_like(p) for k, p in params.items()},
            {k: np.zeros_like(p) for k, p in params.items()}, *data[0], *adam_scalars(1))
    check_agreement(slow(*copy_tree(args))[0], fast(*copy_tree(args))[0], "B2 loss")
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
    t = time_interleaved({"numpy": tinynn_step, "in place": in_place_step, "interpreter": slow_step,
                          "numba": fast_step, "products": matrix_products}, seconds)
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
             f"B2 loss after {fast_state['t']} numba steps: {float(fast_state['loss']):.4f}")
    return Row("B2", "MLP 784-400-100-10 train step (Adam)", t["numpy"], t["interpreter"], t["numba"], 0.30,
               notes=notes)


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
    met = cold["first_call"] <= 3.0 and warm["first_call"] <= 0.3
    notes = (f"B3 a fresh process first imports numpy, irtoy and numba: {cold['imports']:.2f} s and "
             f"{warm['imports']:.2f} s (not counted); first call = trace + compile + run, including "
             f"Numba's one-time start-up (about {numba_start_up():.2f} s, measured alone)",)
    return Row("B3", "B2's first call, fresh process", shown=f"cold {cold['first_call']:.2f} s / cached "
               f"{warm['first_call']:.2f} s", target="<= 3 s / <= 0.3 s", met=met, notes=notes)


def case_b4(seconds):
    args = (0.3, 0.7, 1.4)
    traced = irtoy.trace(scalar_function, *args).value_and_grad(wrt=(0, 1, 2))
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    value, grads = fast(*args)
    ref_value, ref_grads = references.seed_scalar(*args)
    np.testing.assert_allclose([value, *grads], [ref_value, *ref_grads], rtol=1e-12)
    t = time_interleaved({"numpy": lambda: references.seed_scalar(*args), "interpreter": lambda: slow(*args),
                          "numba": lambda: fast(*args)}, seconds)
    return Row("B4", "scalar function value and gradient, float64", t["numpy"], t["interpreter"], t["numba"], 3.5,
               notes=("B4's baseline is plain Python with `math`; the compiled call includes its argument checks",))


def case_b5(seconds):
    params = references.conv_init(seed=0)
    data = batches(16, 32, (1, 28, 28))
    traced = irtoy.trace(conv_sgd_step, params, *data[0])
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    check_agreement(slow(params, *data[0]), fast(params, *data[0]), "B5")
    reference = {"params": copy_tree(params), "t": 0}
    states = {"interpreter": [copy_tree(params), 0], "numba": [copy_tree(params), 0]}

    def numpy_step():
        reference["t"] += 1
        references.conv_sgd_step(reference["params"], *data[reference["t"] % len(data)])

    def irtoy_step(name, compiled):
        def step():
            state = states[name]
            state[1] += 1
            _, state[0] = compiled(state[0], *data[state[1] % len(data)])
        return step

    t = time_interleaved({"numpy": numpy_step, "interpreter": irtoy_step("interpreter", slow),
                          "numba": irtoy_step("numba", fast)}, seconds)
    return Row("B5", "conv 3x3 + pool + dense train step (SGD)", t["numpy"], t["interpreter"], t["numba"], 0.6)


def case_b6(seconds):
    params, data = embedding_setup()
    traced = irtoy.trace(embedding_sgd_step, params, *data[0])
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    check_agreement(slow(params, *data[0]), fast(params, *data[0]), "B6")
    expected, got = embedding_sgd_step_numpy(params, *data[0]), fast(params, *data[0])
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4)
    np.testing.assert_allclose(got[1]["table"], expected[1]["table"], rtol=1e-4, atol=1e-7)
    states = {name: [copy_tree(params), 0] for name in ("numpy", "interpreter", "numba")}

    def step(name, fn):
        def one():
            state = states[name]
            state[1] += 1
            _, state[0] = fn(state[0], *data[state[1] % len(data)])
        return one

    t = time_interleaved({"numpy": step("numpy", embedding_sgd_step_numpy), "interpreter": step("interpreter", slow),
                          "numba": step("numba", fast)}, seconds)
    return Row("B6", "embedding 50,000x128 + softmax CE on labels (SGD)", t["numpy"], t["interpreter"], t["numba"],
               1.0)


CASES = {"B1": case_b1, "B1-small": case_b1_small, "B2": case_b2, "B3": case_b3, "B4": case_b4, "B5": case_b5,
         "B6": case_b6}
