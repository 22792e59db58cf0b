"""The benchmark suite: irtoy's interpreter and numba backend against hand-written NumPy.

    irtoy bench                    # every case, one table
    irtoy bench B2 B4 --seconds 3  # some cases, timed longer

Each case times, in one process, a hand-written NumPy baseline (benchmarks/references.py;
for B2 benchmarks/tinynn.py), the same computation traced by irtoy on the interpreter, and
on the numba backend, and prints medians and their ratios to the baseline (a ratio below 1
is faster than NumPy):

    B1        y = tanh(1.7 x + 0.3) * sigmoid(x) + 0.5 x**2, float32, 4,194,304 elements
    B1-small  the same on 65,536 elements
    B2        one training step of a 784-400-100-10 ReLU MLP: softmax cross-entropy, gradients
              by irtoy's autodiff pass, Adam(1e-3) written with irtoy ops; batch 128, float32;
              compiled with the weights and moments donated (updated in place). The NumPy
              step is tinynn's (benchmarks/tinynn.py); a note gives the ratio to a tuned one
    B3        B2's first call in a fresh process: empty kernel cache, then warm (subprocesses)
    B4        value and gradient of the three-input scalar function (examples/scalar_function.py) on float64 Python floats
    B5        conv 3x3 (8 channels, padding 1), ReLU, 2x2 max-pool, dense, softmax CE, SGD,
              on 32x1x28x28 images

Training steps run on a stream of distinct batches (never one batch again and again, which
lets Adam's moments decay into denormals and slows NumPy), with every backend starting from
the same parameters.
"""
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

import irtoy
from irtoy import ops
from irtoy.compare import duration_text, largest_difference, time_calls


# -- the computations, written as irtoy traces them ---------------------------------------

def b1_function(x):
    return np.tanh(x * 1.7 + 0.3) * (1 / (1 + np.exp(-x))) + 0.5 * x * x


def seed_function(x1, x2, x3):
    """The scalar function of three variables from examples/scalar_function.py."""
    return ((np.sin(x1 + 1.0) + np.cos(2.0 * x2)) * np.tan(np.log(x3))
            + (np.sin(x2 + 1.0) + np.cos(2.0 * x1)) * np.exp(1.0 + np.sin(x3)))


def softmax_cross_entropy(logits, y_onehot):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(y_onehot * log_probs).sum() / logits.shape[0]


def mlp_loss(params, x, y_onehot):
    h1 = np.maximum(x @ params["w1"] + params["b1"], 0)
    h2 = np.maximum(h1 @ params["w2"] + params["b2"], 0)
    return softmax_cross_entropy(h2 @ params["w3"] + params["b3"], y_onehot)


def adam(params, grads, m, v, step_size, bias2_sqrt, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's Adam update (as benchmarks/references.py): new params, m and v."""
    new_p, new_m, new_v = {}, {}, {}
    for k in params:
        new_m[k] = b1 * m[k] + (1 - b1) * grads[k]
        new_v[k] = b2 * v[k] + (1 - b2) * (grads[k] * grads[k])
        new_p[k] = params[k] - step_size * (new_m[k] / (np.sqrt(new_v[k]) / bias2_sqrt + eps))
    return new_p, new_m, new_v


def mlp_train_step(params, m, v, x, y_onehot, step_size, bias2_sqrt):
    """Loss, gradients (autodiff) and one Adam step: (loss, params, m, v)."""
    loss, grads = irtoy.value_and_grad(mlp_loss)(params, x, y_onehot)
    new_p, new_m, new_v = adam(params, grads, m, v, step_size, bias2_sqrt)
    return loss, new_p, new_m, new_v


def adam_scalars(t, lr=1e-3, b1=0.9, b2=0.999):
    """The step-dependent scalars of Adam's step t (1-based): step size and sqrt(1 - b2**t)."""
    return np.float32(lr / (1 - b1 ** t)), np.float32(math.sqrt(1 - b2 ** t))


def conv_loss(params, x, y_onehot):
    conv = ops.conv2d(x, params["conv_w"], stride=1, padding=1) + params["conv_b"][None, :, None, None]
    pooled = ops.max_pool2d(np.maximum(conv, 0), 2)
    flat = pooled.reshape(x.shape[0], -1)
    return softmax_cross_entropy(flat @ params["dense_w"] + params["dense_b"], y_onehot)


def conv_sgd_step(params, x, y_onehot, lr=0.01):
    loss, grads = irtoy.value_and_grad(conv_loss)(params, x, y_onehot)
    return loss, {k: params[k] - lr * grads[k] for k in params}


# -- data ---------------------------------------------------------------------------------

def batches(count, batch, features, classes=10, seed=1, dtype=np.float32):
    """`count` distinct batches of inputs in [0, 1) and one-hot labels, to cycle through."""
    rng = np.random.default_rng(seed)
    eye = np.eye(classes, dtype=dtype)
    shape = (batch,) + ((features,) if isinstance(features, int) else tuple(features))
    return [(rng.random(shape, dtype=dtype), eye[rng.integers(0, classes, batch)]) for _ in range(count)]


def copy_tree(tree):
    leaves, treedef = irtoy.pytree.flatten(tree)
    return irtoy.pytree.unflatten(treedef, [np.array(a, copy=True) for a in leaves])


# -- timing -------------------------------------------------------------------------------

def time_interleaved(fns, seconds):
    """Per-call times of each function in `fns` ({name: fn}), measured in alternating rounds
    so that a change in the machine's load affects every contender alike. Each round waits
    (a little) for other processes to leave the CPUs alone; QUIET counts how often it did."""
    for fn in fns.values():
        fn()
    samples = {name: [] for name in fns}
    started = time.perf_counter()
    rounds = 0
    while rounds < 5 or (time.perf_counter() - started < seconds * len(fns) and rounds < 2000):
        QUIET["rounds"] += 1
        QUIET["busy"] += not wait_until_quiet()
        for name, fn in fns.items():
            samples[name] += time_calls(fn, seconds=0.0, min_repeats=1)
        rounds += 1
    return {name: float(np.median(s)) for name, s in samples.items()}


QUIET = {"rounds": 0, "busy": 0}


def busy_fraction(window=0.1):
    """The share of all CPUs other processes used over `window` seconds (Linux), else 0."""
    def ticks():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)
    try:
        busy0, total0 = ticks()
        time.sleep(window)
        busy1, total1 = ticks()
    except OSError:
        return 0.0
    return (busy1 - busy0) / max(1, total1 - total0)


PATIENCE = 3.0      # seconds a timing round waits for idle CPUs before it starts anyway


def wait_until_quiet(limit=0.1):
    """Wait up to PATIENCE seconds for the CPUs to be idle; True if they became so."""
    deadline = time.perf_counter() + PATIENCE
    while busy_fraction() > limit:
        if time.perf_counter() > deadline:
            return False
    return True


@dataclass
class Row:
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
    from irtoy.benchmarks import references
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
    from irtoy.benchmarks import references
    params = references.mlp_init(sizes, seed=0)
    data = batches(count, batch, sizes[0], sizes[-1])
    zeros = {k: np.zeros_like(p) for k, p in params.items()}
    traced = irtoy.trace(mlp_train_step, params, zeros, zeros, *data[0], *adam_scalars(1))
    return params, data, traced


def case_b2(seconds):
    from irtoy.benchmarks import references, tinynn
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


def peak_bytes(fn):
    """Most memory NumPy held at once during one call of `fn`, above what it held before."""
    fn()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


FIRST_CALL = """
import json, time
started = time.perf_counter()
import numpy as np
import irtoy
import numba
imported = time.perf_counter()
from irtoy import bench
params, data, _ = bench.mlp_setup(count=1)
zeros = {k: np.zeros_like(p) for k, p in params.items()}
args = (params, zeros, zeros, *data[0], *bench.adam_scalars(1))
began = time.perf_counter()
compiled = irtoy.trace(bench.mlp_train_step, *args).compile("numba")
compiled(*args)
done = time.perf_counter()
print(json.dumps({"imports": imported - started, "first_call": done - began,
                  "cache": compiled.executable.cache}))
"""


def first_call_in_fresh_process(cache_dir):
    import json
    env = dict(os.environ, IRTOY_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"the B3 subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


NUMBA_START = """
import json, time
import numba
started = time.perf_counter()
numba.njit(lambda x: x + 1)(1.0)
print(json.dumps({"start": time.perf_counter() - started}))
"""


def numba_start_up():
    """Seconds Numba takes to compile its first function in a fresh process (its one-time
    initialization, paid by the first compile or cache load of any Numba user)."""
    import json
    out = subprocess.run([sys.executable, "-c", NUMBA_START], capture_output=True, text=True, timeout=600)
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
    from irtoy.benchmarks import references
    args = (0.3, 0.7, 1.4)
    traced = irtoy.trace(seed_function, *args).value_and_grad(wrt=(0, 1, 2))
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    value, grads = fast(*args)
    ref_value, ref_grads = references.seed_scalar(*args)
    np.testing.assert_allclose([value, *grads], [ref_value, *ref_grads], rtol=1e-12)
    t = time_interleaved({"numpy": lambda: references.seed_scalar(*args), "interpreter": lambda: slow(*args),
                          "numba": lambda: fast(*args)}, seconds)
    return Row("B4", "scalar function value and gradient, float64", t["numpy"], t["interpreter"], t["numba"], 3.5,
               notes=("B4's baseline is plain Python with `math`; the compiled call includes its argument checks",))


def case_b5(seconds):
    from irtoy.benchmarks import references
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


CASES = {"B1": case_b1, "B1-small": case_b1_small, "B2": case_b2, "B3": case_b3, "B4": case_b4, "B5": case_b5}


def run(cases=None, seconds=1.0, out=print):
    """Run the cases (all by default) and print the table; returns the rows."""
    names = list(cases or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise irtoy.IrtoyError(f"no benchmark case {', '.join(unknown)}; the cases are {', '.join(CASES)}")
    rows = []
    for name in names:
        out(f"running {name} ...")
        try:
            row = CASES[name](seconds)
        except Exception as e:          # one broken case must not hide the others' figures
            row = Row(name, "failed", shown=f"{type(e).__name__}: {str(e).splitlines()[0][:60]}", met=False)
        if row.met is None and row.numba is not None:
            row.met = row.ratio(row.numba) <= row.target
        rows.append(row)
    out("")
    out(table(rows))
    for row in rows:
        for note in row.notes:
            out(note)
    if QUIET["rounds"]:
        out(f"{QUIET['busy']} of {QUIET['rounds']} timing rounds started while other processes kept the "
            f"CPUs busy; load average now {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return rows


def table(rows):
    head = ["case", "what", "NumPy by hand", "interpreter", "numba", "target", "met"]
    lines = [head] + [r.cells() for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text + ["(medians of repeats in one run; ratios are time / NumPy time, lower is faster)"])
