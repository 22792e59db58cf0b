"""Fashion-MNIST MLP benchmark: irtoy's compiled training step against a hand-written NumPy loop.

    python benchmarks/fashion.py [--epochs 5] [--backend numba] [--limit N] [--data DIR]

The configuration is the classic one: 784-400-100-10 ReLU MLP, softmax cross-entropy,
Adam(1e-3), batches of 128, inputs scaled to [0, 1]. The trainers start from the same
weights (`references.mlp_init`) and see the same batches in the same order every epoch:

  - irtoy: `nn.Model(...).fit`, the whole step (forward, loss, backward, Adam) one graph,
    compiled once with the chosen backend (numba by default) before the clock starts;
  - NumPy: `references.mlp_train_step`, the forward and backward pass written by hand.

Epochs alternate between the trainers, so a busy machine slows them alike. After each epoch
they are evaluated on the 10,000 test images (not timed). The interpreter (backend "numpy")
trains a third copy over the same batches, for comparison. The median epoch times and
their ratios to the NumPy loop are printed (and the best epochs', less disturbed by other
work on the machine). Targets: at least 86.5% test accuracy after 5 epochs, and an irtoy
epoch in at most 0.6 times the NumPy loop's.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from irtoy import nn  # noqa: E402
from benchmarks.references import adam_init, mlp_init, mlp_train_step  # noqa: E402

SIZES = (784, 400, 100, 10)
BATCH = 128
TARGET_ACCURACY, TARGET_RATIO = 0.865, 0.6


def irtoy_model(backend, seed=0):
    """The irtoy MLP, starting from exactly the reference's initial weights."""
    net = nn.Sequential([nn.Flatten(), nn.Dense(784, 400), nn.ReLU(), nn.Dense(400, 100), nn.ReLU(),
                         nn.Dense(100, 10)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-3), backend=backend)
    model.build((28, 28))
    start = mlp_init(SIZES, seed=seed)
    model.params = {f"dense{i}": {"w": start[f"w{i}"].copy(), "b": start[f"b{i}"].copy()} for i in (1, 2, 3)}
    return model


def numpy_epoch(params, state, x, y_onehot):
    """One epoch of the hand-written loop over x in order (x already shuffled)."""
    start = time.perf_counter()
    flat = x.reshape(len(x), -1)
    for i in range(0, len(x), BATCH):
        mlp_train_step(params, state, flat[i:i + BATCH], y_onehot[i:i + BATCH])
    return time.perf_counter() - start


def numpy_accuracy(params, x, y):
    h = x.reshape(len(x), -1)
    for i in (1, 2):
        h = np.maximum(h @ params[f"w{i}"] + params[f"b{i}"], 0)
    return float(np.mean((h @ params["w3"] + params["b3"]).argmax(axis=1) == y))


def irtoy_epoch(model, x, y):
    """One epoch of `fit` over x in order (x already shuffled); its time excludes nothing but
    the progress bar (off)."""
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=False)
    return time.perf_counter() - start


def compile_steps(model, x, y):
    """Compile the training step for the full batch and the short last one; return seconds."""
    start = time.perf_counter()
    model.compiled_step(x[:BATCH], y[:BATCH])
    if len(x) % BATCH:
        model.compiled_step(x[:len(x) % BATCH], y[:len(x) % BATCH])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--limit", type=int, default=None, help="use the first N training images only")
    parser.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--skip-interpreter", action="store_true", help="do not time the interpreter")
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = nn.datasets.fashion_mnist(args.data)
    x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    steps = -(-len(x_train) // BATCH)
    print(f"Fashion-MNIST: MLP {'-'.join(map(str, SIZES))} ReLU, Adam(1e-3), batch {BATCH}, "
          f"{len(x_train)} training images ({steps} steps an epoch), {len(x_test)} test images")

    models = {f"irtoy {args.backend}": irtoy_model(args.backend)}
    if not args.skip_interpreter and args.backend != "numpy":
        models["interpreter"] = irtoy_model("numpy")
    for name, model in models.items():
        print(f"{name}: compiled the training step in {compile_steps(model, x_train, y_train):.1f} s")
    params = mlp_init(SIZES, seed=0)
    adam_state = adam_init(params)
    one_hot = np.eye(10, dtype=np.float32)

    names = list(models) + ["NumPy loop"]
    times = {name: [] for name in names}
    accuracy = {}
    print("\nepoch  " + "  ".join(f"{name + ' acc':>16} {'s':>6}" for name in names))
    rng = np.random.default_rng(0)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        x, y = x_train[order], y_train[order]
        for name, model in models.items():
            times[name].append(irtoy_epoch(model, x, y))
            accuracy[name] = model.evaluate(x_test, y_test)["accuracy"]
        times["NumPy loop"].append(numpy_epoch(params, adam_state, x, one_hot[y]))
        accuracy["NumPy loop"] = numpy_accuracy(params, x_test, y_test)
        print(f"{epoch:>5}  " + "  ".join(f"{accuracy[name]:>16.4f} {times[name][-1]:>6.2f}" for name in names),
              flush=True)

    reference = statistics.median(times["NumPy loop"])
    best_reference = min(times["NumPy loop"])
    print("\nepoch time, median (best) over the epochs, and as a multiple of the NumPy loop's:")
    for name in names:
        median, best = statistics.median(times[name]), min(times[name])
        print(f"  {name:<12} {median:6.2f} s ({best:6.2f} s)   "
              f"{median / reference:5.2f}x ({best / best_reference:5.2f}x)")
    ratio = statistics.median(times[names[0]]) / reference
    final = accuracy[names[0]]
    print(f"{names[0]} / NumPy loop: {ratio:.2f} "
          f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    print(f"{names[0]} test accuracy after {args.epochs} epochs: {final:.4f} "
          f"(target >= {TARGET_ACCURACY}: {'met' if final >= TARGET_ACCURACY else 'NOT met'})")


if __name__ == "__main__":
    main()
