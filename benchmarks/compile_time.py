"""How long irtoy itself takes to compile B2's training step for numba, kernels aside.

    python benchmarks/compile_time.py [repeats]

traces B2's step (the MLP 784-400-100-10 with Adam, as `irtoy bench` runs it), compiles it
once so every kernel is loaded, then times further compiles: each runs the cleanup passes,
fusion, the code plan and the emitted source, and takes its kernels from this process's
memory. Prints the median and quartiles, and where the time goes for one compile.
"""
import statistics
import sys
import time

from irtoy.backends.numba.emit import module_source
from irtoy.backends.numba.plan import make_plan
from irtoy.benchmarks.cases import mlp_setup
from irtoy.passes import fusion

DONATED = ("params", "m", "v")


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def quartiles_text(times):
    q1, median, q3 = statistics.quantiles(times, n=4)
    return f"median {1e3 * median:.0f} ms, p25-p75 {1e3 * q1:.0f}-{1e3 * q3:.0f} ms"


def main(repeats=15):
    _, _, traced = mlp_setup()
    compiled = traced.compile("numba", donate=DONATED)        # loads (or compiles) every kernel
    _, whole = timed(lambda: traced.compile("numba", donate=DONATED), repeats)
    optimized = compiled.stages["optimized"]
    fused, fuse_times = timed(lambda: fusion.fuse(optimized), repeats)
    plan, plan_times = timed(lambda: make_plan(fused), repeats)
    _, emit_times = timed(lambda: module_source(plan), repeats)
    print(f"B2's step, {len(optimized)} nodes, {repeats} compiles with the kernels in memory:")
    print(f"  whole compile   {quartiles_text(whole)}")
    print(f"  fusion          {quartiles_text(fuse_times)}")
    print(f"  code plan       {quartiles_text(plan_times)}")
    print(f"  emitted source  {quartiles_text(emit_times)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
