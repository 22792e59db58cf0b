"""Interpreter against JIT: compile one traced function on each backend and time it.

    print(irtoy.compare(step, params, x, y))

    backend   compile (cold)  compile (cached)  median run  spread (p25-p75)  speedup  error  agrees
    numpy             0.01 s                 -     23.1 ms    22.8 - 23.6 ms    1.00x   18.8     yes
    numba             2.90 s            0.21 s      4.2 ms      4.1 - 4.3 ms    5.50x   0.25     yes

"cold" compiles into an empty cache folder (in this process, so Numba itself is already
loaded); "cached" compiles the same graph again from that folder, as a new process would.
Runs are timed after one warm-up call, over enough repeats to take about `seconds`; the
speedup is the interpreter's median over each backend's.

Results are judged against the exact answer, not against the float32 interpreter: a float32
graph is run once more by the interpreter with every float32 (and float16) value widened to
float64, and each output is rounded back to its own dtype. A float32 interpreter is itself
off from that answer where float32 rounding adds up (a long sum, a softmax: 18.8 tolerances
above), and a backend that rounds differently, or better, is no less right. So `error` is the
largest difference from the float64 run, in units of the tolerance (relative 1e-4 in float32,
1e-2 in float16, 1e-9 in float64), and an output agrees when it equals the interpreter's, or
its error is at most 1 or at most ROUNDING_ALLOWANCE times the interpreter's own error on that
output. Integer and boolean outputs must equal the interpreter's.
The returned Comparison prints as the table and keeps the raw figures in `rows`.
"""
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from irtoy import pytree
from irtoy.api import Compiled, Traced, trace
from irtoy.backends import interpreter, usable as usable_backends

TOLERANCE = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}
NARROW_FLOATS = (np.dtype(np.float16), np.dtype(np.float32))
# How many times the float32 interpreter's own distance from the float64 answer another
# backend may be off: its sums run in another order, so its rounding differs, but a wrong
# result is off by far more than rounding.
ROUNDING_ALLOWANCE = 4.0
REFERENCE_NOTE = ("error: the largest difference from a float64 run of the interpreter, in units of the tolerance\n"
                  "       (relative 1e-4 in float32, 1e-9 in float64); agrees: equal to the interpreter's result,\n"
                  f"       or an error at most 1, or at most {ROUNDING_ALLOWANCE:g}x the interpreter's own (float32 rounding)")


@dataclass
class Comparison:
    """The figures per backend (`rows`, a list of dicts) and a printable table."""
    name: str
    rows: list = field(default_factory=list)
    reference: str = REFERENCE_NOTE

    def row(self, backend):
        return next(r for r in self.rows if r["backend"] == backend)

    def __str__(self):
        head = ("backend", "compile (cold)", "compile (cached)", "median run", "spread (p25-p75)",
                "speedup", "error", "agrees")
        lines = []
        for r in self.rows:
            lines.append((r["backend"], seconds_text(r["compile_cold"]), seconds_text(r["compile_cached"]),
                          duration_text(r["median"]), f"{duration_text(r['p25'])} - {duration_text(r['p75'])}",
                          f"{r['speedup']:.2f}x", error_text(r["error"]), "yes" if r["agrees"] else "NO"))
        widths = [max(len(str(x)) for x in column) for column in zip(head, *lines)]
        text = [f"{self.name}:"]
        for line in [head] + lines:
            text.append("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(line, widths))))
        return "\n".join(text + [self.reference])

    __repr__ = __str__


def seconds_text(s):
    return "-" if s is None else f"{s:.2f} s"


def error_text(error):
    return f"{error:.2g}" if error < 100 else f"{error:.1e}"


def duration_text(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def compare(traced_or_fn, *args, **kwargs):
    """Compile `traced_or_fn` (a Traced, a Compiled or a plain function, traced with the
    arguments) on the interpreter, on numba and on every other backend installed (jax with
    the extra irtoy[jax]), and time each on `args`."""
    return compare_backends(traced_or_fn, args, kwargs)


def compare_backends(traced_or_fn, args, kwargs=None, backends=None, seconds=1.0):
    """`compare` with the options spelled out: which backends (default: every one that can
    run here, the interpreter first), and about how long to time each."""
    kwargs = kwargs or {}
    backends = tuple(backends or usable_backends())
    traced = as_traced(traced_or_fn, args, kwargs)
    result = Comparison(traced.name)
    outputs = {}
    for backend in backends:
        compiled, cold, cached = timed_compile(traced, backend)
        samples = time_calls(lambda: compiled(*args, **kwargs), seconds)
        outputs[backend] = compiled(*args, **kwargs)
        result.rows.append(dict(backend=backend, compile_cold=cold, compile_cached=cached,
                                median=float(np.median(samples)), p25=float(np.percentile(samples, 25)),
                                p75=float(np.percentile(samples, 75)), repeats=len(samples), samples=samples))
    interpreted = outputs[backends[0]] if backends[0] == "numpy" else traced.compile("numpy")(*args, **kwargs)
    exact = float64_run(traced, args, kwargs)
    for r in result.rows:
        r["speedup"] = result.rows[0]["median"] / r["median"]
        r["error"], r["agrees"] = judge(exact, interpreted, outputs[r["backend"]])
    return result


def float64_run(traced, args, kwargs):
    """The outputs of `traced` computed by the interpreter with every float16 and float32
    value (arguments, constants, casts) widened to float64, then rounded to each output's
    own dtype: the exact answer as closely as its dtype can hold it. Random numbers are drawn
    as the graph draws them, so both runs see the same ones."""
    graph = traced.graph.copy()
    for n in graph.nx:
        node = graph[n]
        if node["op"] == "const" and np.asarray(node["value"]).dtype in NARROW_FLOATS:
            node["value"] = np.asarray(node["value"], np.float64)
        if node["op"] == "cast" and np.dtype(node["attrs"]["dtype"]) in NARROW_FLOATS:
            node["attrs"]["dtype"] = "float64"
    leaves = [np.asarray(a) for a in pytree.flatten((args, kwargs))[0]]
    widened = [a.astype(np.float64) if a.dtype in NARROW_FLOATS else a for a in leaves]
    results = interpreter.compile_graph(graph).run(widened)
    rounded = [np.asarray(v).astype(traced.graph[o]["dtype"]) for v, o in zip(results, traced.graph.outputs)]
    return pytree.unflatten(traced.out_tree, rounded)


def judge(exact, interpreted, got):
    """(error, agrees) of one backend's outputs `got`: the largest difference of a float
    output from the float64 run `exact`, in units of the tolerance, and whether every output
    agrees (equal to the interpreter's, or within the tolerance, or within ROUNDING_ALLOWANCE
    times the interpreter's own error)."""
    worst, agrees = 0.0, True
    exact, interpreted, got = (pytree.flatten(tree)[0] for tree in (exact, interpreted, got))
    for e, i, g in zip(exact, interpreted, got):
        e, i, g = np.asarray(e), np.asarray(i), np.asarray(g)
        if g.shape == i.shape and g.dtype == i.dtype and np.array_equal(g, i, equal_nan=g.dtype.kind in "fc"):
            worst = max(worst, largest_difference(e, i) if e.dtype.kind in "fc" else 0.0)
            continue
        if e.dtype.kind not in "fc":
            return float("inf"), False
        error = largest_difference(e, g)
        worst = max(worst, error)
        agrees = agrees and error <= max(1.0, ROUNDING_ALLOWANCE * largest_difference(e, i))
    return worst, agrees


def as_traced(traced_or_fn, args, kwargs):
    if isinstance(traced_or_fn, Traced):
        return traced_or_fn
    if isinstance(traced_or_fn, Compiled):
        return traced_or_fn.traced
    return trace(traced_or_fn, *args, **kwargs)


def timed_compile(traced, backend):
    """(compiled, cold seconds, cached seconds or None)."""
    if backend != "numba":
        started = time.perf_counter()
        compiled = traced.compile(backend)
        return compiled, time.perf_counter() - started, None
    from irtoy.backends.numba import cache
    with tempfile.TemporaryDirectory(prefix="irtoy-compare-") as folder, cache.using_cache_dir(folder):
        started = time.perf_counter()
        traced.compile(backend)
        cold = time.perf_counter() - started
        with cache.forgetting_loaded():
            started = time.perf_counter()
            compiled = traced.compile(backend)
            cached = time.perf_counter() - started
    return compiled, cold, cached


def time_calls(fn, seconds=1.0, min_repeats=5, max_repeats=10000, sample=2e-3):
    """Per-call times of `fn` in a steady loop: after warming up for about `sample` seconds
    (caches, sleeping thread pools and clock speeds settle as they do in a running program),
    calls are timed in batches of about `sample` seconds, for about `seconds` in all."""
    fn()
    started = time.perf_counter()
    fn()
    once = max(time.perf_counter() - started, 1e-7)
    batch = max(1, int(sample / once))
    for _ in range(batch):      # warm up: caches, thread pools and clocks as in a running loop
        fn()
    repeats = int(min(max_repeats, max(min_repeats, seconds / (once * batch))))
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - started) / batch)
    return samples


def largest_difference(expected, got):
    """The largest difference between two output pytrees, in units of the tolerance (<= 1: close)."""
    worst = 0.0
    for a, b in zip(pytree.flatten(expected)[0], pytree.flatten(got)[0]):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return float("inf")
        if a.dtype.kind not in "fc":
            worst = max(worst, 0.0 if np.array_equal(a, b) else float("inf"))
            continue
        tolerance = TOLERANCE.get(a.dtype, 1e-9)
        scale = np.maximum(np.abs(a), np.max(np.abs(a), initial=0.0) * 1e-3 + 1e-30)
        with np.errstate(invalid="ignore"):
            gap = np.abs(a.astype(np.float64) - b) / (tolerance * scale)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        worst = max(worst, float(np.max(np.where(same, 0.0, gap), initial=0.0)))
    return worst

