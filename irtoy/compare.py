"""Interpreter against JIT: compile one traced function on each backend and time it.

    print(irtoy.compare(step, params, x, y))

    backend   compile (cold)  compile (cached)  median run  spread (p25-p75)  speedup  agrees
    numpy             0.01 s                 -     23.1 ms    22.8 - 23.6 ms    1.00x     yes
    numba             2.90 s            0.21 s      4.2 ms      4.1 - 4.3 ms    5.50x     yes

"cold" compiles into an empty cache folder (in this process, so Numba itself is already
loaded); "cached" compiles the same graph again from that folder, as a new process would.
Runs are timed after one warm-up call, over enough repeats to take about `seconds`; the
speedup is the interpreter's median over each backend's. Results agree when every output
is close to the interpreter's (relative 1e-4 in float32, 1e-9 in float64).
The returned Comparison prints as the table and keeps the raw figures in `rows`.
"""
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from irtoy import pytree
from irtoy.api import Compiled, Traced, trace

TOLERANCE = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


@dataclass
class Comparison:
    """The figures per backend (`rows`, a list of dicts) and a printable table."""
    name: str
    rows: list = field(default_factory=list)

    def row(self, backend):
        return next(r for r in self.rows if r["backend"] == backend)

    def __str__(self):
        head = ("backend", "compile (cold)", "compile (cached)", "median run", "spread (p25-p75)",
                "speedup", "agrees")
        lines = []
        for r in self.rows:
            lines.append((r["backend"], seconds_text(r["compile_cold"]), seconds_text(r["compile_cached"]),
                          duration_text(r["median"]), f"{duration_text(r['p25'])} - {duration_text(r['p75'])}",
                          f"{r['speedup']:.2f}x", "yes" if r["agrees"] else f"NO ({r['error']:.1e})"))
        widths = [max(len(str(x)) for x in column) for column in zip(head, *lines)]
        text = [f"{self.name}:"]
        for line in [head] + lines:
            text.append("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(line, widths))))
        return "\n".join(text)

    __repr__ = __str__


def seconds_text(s):
    return "-" if s is None else f"{s:.2f} s"


def duration_text(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def compare(traced_or_fn, *args, **kwargs):
    """Compile `traced_or_fn` (a Traced, a Compiled or a plain function, traced with the
    arguments) on the interpreter and on numba, and time both on `args`."""
    return compare_backends(traced_or_fn, args, kwargs)


def compare_backends(traced_or_fn, args, kwargs=None, backends=("numpy", "numba"), seconds=1.0):
    """`compare` with the options spelled out: which backends, and about how long to time each."""
    kwargs = kwargs or {}
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
    reference = outputs[backends[0]]
    for r in result.rows:
        r["speedup"] = result.rows[0]["median"] / r["median"]
        r["error"] = largest_difference(reference, outputs[r["backend"]])
        r["agrees"] = r["error"] <= 1.0
    return result


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

