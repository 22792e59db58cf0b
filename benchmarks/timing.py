"""How the benchmark cases time and weigh their contenders, on a machine others share.

Contenders are timed in alternating rounds, so that a change in the machine's load slows
them alike, and each round first waits (up to PATIENCE seconds) for the CPUs to be idle,
judged from /proc/stat on Linux. ROUND_COUNTS keeps how many rounds ran and how many had to
start while other processes kept the CPUs busy, which the table's last line reports.
"""
import os
import time
import tracemalloc

import numpy as np

from irtoy.compare import time_calls

PATIENCE = 3.0      # seconds a timing round waits for idle CPUs before it starts anyway
ROUND_COUNTS = {"rounds": 0, "busy": 0}


def time_interleaved(fns, seconds):
    """Per-call times of each function in `fns` ({name: fn}), measured in alternating rounds
    so that a change in the machine's load affects every contender alike. Each round waits
    (a little) for other processes to leave the CPUs alone; ROUND_COUNTS counts the rounds
    and those that started while the CPUs were still busy."""
    for fn in fns.values():
        fn()
    samples = {name: [] for name in fns}
    started = time.perf_counter()
    rounds = 0
    while rounds < 5 or (time.perf_counter() - started < seconds * len(fns) and rounds < 2000):
        ROUND_COUNTS["rounds"] += 1
        ROUND_COUNTS["busy"] += not wait_until_quiet()
        for name, fn in fns.items():
            samples[name] += time_calls(fn, seconds=0.0, min_repeats=1)
        rounds += 1
    return {name: float(np.median(s)) for name, s in samples.items()}


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


def wait_until_quiet(limit=0.1):
    """Wait up to PATIENCE seconds for the CPUs to be idle; True if they became so."""
    deadline = time.perf_counter() + PATIENCE
    while busy_fraction() > limit:
        if time.perf_counter() > deadline:
            return False
    return True


def load_summary():
    """One line on how often timing rounds started on a busy machine, or None if none ran."""
    if not ROUND_COUNTS["rounds"]:
        return None
    return (f"{ROUND_COUNTS['busy']} of {ROUND_COUNTS['rounds']} timing rounds started while other processes "
            f"kept the CPUs busy; load average now {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


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
