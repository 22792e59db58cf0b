"""The demo: train a small classifier on a built-in dataset, then show what irtoy made of it.

`irtoy demo` (the README's first command) trains an MLP on the generated three-arm spiral,
with its whole training step compiled to one graph by the numba backend, prints the test
accuracy, compares the interpreter and numba on that step, and writes the compile report
(every stage drawn, the generated source, the profile) to irtoy-report/index.html.
"""
import os

import numpy as np

from irtoy import nn
from irtoy.compare import compare
from irtoy.report import report


def run(out_dir="irtoy-report", epochs=40, backend="numba", verbose=True):
    x, y = nn.datasets.spiral(n_per_class=200, seed=0)
    order = np.random.default_rng(1).permutation(len(x))
    train, test = order[:480], order[480:]
    net = nn.Sequential([nn.Dense(2, 64), nn.ReLU(), nn.Dense(64, 64), nn.ReLU(), nn.Dense(64, 3)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2), backend=backend)
    print(f"training {net!r}\non the spiral dataset ({len(train)} training points, 3 classes), backend {backend}")
    model.fit(x[train], y[train], epochs=epochs, batch_size=32, verbose=verbose)
    result = model.evaluate(x[test], y[test])
    print(f"test accuracy {result['accuracy']:.3f}, test loss {result['loss']:.4f}")

    step = model.compiled_step(x[train][:32], y[train][:32])
    args = model._train_args(x[train][:32], model.targets(y[train][:32]))
    print("\ninterpreter against numba on one training step (batch 32):")
    comparison = compare(step.traced, *args)
    print(comparison)
    path = report(step, out_dir, args=list(args), comparison=comparison,
                  title="irtoy demo: one training step of a spiral classifier")
    print(f"\nthe compile report of the training step: {os.path.abspath(path)}")
    return result
