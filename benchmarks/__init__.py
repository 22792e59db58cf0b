"""irtoy's benchmarks, installed as irtoy.benchmarks so that `irtoy bench` can run them.

    suite.py        what `irtoy bench` runs: every case, one table
    cases.py        the cases B1 to B5, each timing NumPy, the interpreter and numba
    workloads.py    the computations as irtoy traces them, and their data
    timing.py       interleaved timing that waits for idle CPUs; peak memory
    references.py   the hand-written NumPy baselines
    tinynn.py       the MLP training step written the tinynn way (B2's baseline)
    fashion.py      script: Fashion-MNIST training, irtoy against the NumPy loops
    graph_sizes.py  script: node counts of the MLP's gradient graph at every stage
"""
