"""The benchmark suite: irtoy's backends (interpreter, numba, jax, onnxruntime) against hand-written NumPy.

    irtoy bench                    # every case, one table
    irtoy bench B2 B4 --seconds 3  # some cases, timed longer

The cases are in benchmarks/cases.py; this module runs them and prints their rows as one
table, then each case's notes and how often the machine's load got in the way.
"""
import irtoy
from irtoy.benchmarks.cases import CASES, EXTRA_BACKENDS, Row
from irtoy.benchmarks.timing import load_summary


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
            row = Row(name, "FAILED", shown=f"{type(e).__name__}: {str(e).splitlines()[0][:60]}")
        rows.append(row)
    out("")
    out(table(rows))
    for row in rows:
        for note in row.notes:
            out(note)
    load = load_summary()
    if load:
        out(load)
    return rows


def table(rows):
    head = ["case", "what", "NumPy by hand", "interpreter", "numba", *EXTRA_BACKENDS]
    lines = [head] + [r.cells() for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text + ["(medians of repeats in one run; ratios are time / NumPy time, lower is faster)"])
