"""Fashion-MNIST MLP benchmark: irtoy's compiled training step against hand-written NumPy loops.

    python benchmarks/fashion.py [--epochs 5] [--backend numba] [--limit N] [--data DIR]

The configuration is tinynn's: 784-400-100-10 ReLU MLP, softmax cross-entropy, Adam(1e-3),
batches of 128, inputs scaled to [0, 1]. The trainers start from the same weights
(`references.mlp_init`) and see the same batches in the same order every epoch:

  - irtoy: `nn.Model(...).fit`, the whole step (forward, loss, backward, Adam) one graph,
    compiled once with the chosen backend (numba by default) before the clock starts;
  - tinynn loop: the step as tinynn writes it (benchmarks/tinynn.py), layer objects and
    Adam on the flattened gradients, every expression a new array;
  - NumPy in place: the same step tuned by hand (`references.mlp_train_step`), Adam
    updated in place, a harder baseline than most NumPy code.

The trainers take turns ten times an epoch, each training on the next tenth of the epoch's
batches, so a spell of other work on the machine slows them alike. After each epoch
they are evaluated on the 10,000 test images (not timed). The interpreter (backend "numpy")
trains another copy over the same batches, for comparison. The median epoch times and
their ratios to both NumPy loops are printed (and the best epochs', less disturbed by other
work on the machine). Targets: at least 86.5% test accuracy after 5 epochs, and an irtoy
epoch in at most 0.6 times the tinynn loop's.
"""
import argparse
import statistics
import time

import numpy as np

from irtoy import nn
from irtoy.benchmarks.references import adam_init, mlp_init, mlp_train_step
from irtoy.benchmarks.tinynn import TinynnMLP

SIZES = (784, 400, 100, 10)
BATCH = 128
TARGET_ACCURACY = 0.865
TURNS = 10          # trainers take turns ten times an epoch


def irtoy_model(backend, seed=0):
    """The irtoy MLP, starting from exactly the reference's initial weights."""
    net = nn.Sequential([nn.Flatten(), nn.Dense(784, 400), nn.ReLU(), nn.Dense(400, 100), nn.ReLU(),
                         nn.Dense(100, 10)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-3), backend=backend)
    model.build((28, 28))
    start = mlp_init(SIZES, seed=seed)
    model.params = {f"dense{i}": {"w": start[f"w{i}"].copy(), "b": start[f"b{i}"].copy()} for i in (1, 2, 3)}
    return model


def numpy_epoch(train_step, x, y_onehot):
    """One pass of a hand-written loop over x in order (x already shuffled)."""
    start = time.perf_counter()
    flat = x.reshape(len(x), -1)
    for i in range(0, len(x), BATCH):
        train_step(flat[i:i + BATCH], y_onehot[i:i + BATCH])
    return time.perf_counter() - start


def numpy_accuracy(params, x, y):
    h = x.reshape(len(x), -1)
    for i in (1, 2):
        h = np.maximum(h @ params[f"w{i}"] + params[f"b{i}"], 0)
    return float(np.mean((h @ params["w3"] + params["b3"]).argmax(axis=1) == y))


def irtoy_epoch(model, x, y):
    """One pass of `fit` over x in order (x already shuffled); its time excludes nothing but
    the progress bar (off)."""
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=False)
    return time.perf_counter() - start


def turns(n, count=TURNS):
    """Slices cutting an epoch of n samples into `count` turns of whole batches."""
    steps = nn.datasets.num_batches(n, BATCH)
    bounds = [min(n, BATCH * (steps * k // count)) for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


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
    steps = nn.datasets.num_batches(len(x_train), BATCH)
    print(f"Fashion-MNIST: MLP {'-'.join(map(str, SIZES))} ReLU, Adam(1e-3), batch {BATCH}, "
          f"{len(x_train)} training images ({steps} steps an epoch), {len(x_test)} test images")

    models = {f"irtoy {args.backend}": irtoy_model(args.backend)}
    if not args.skip_interpreter and args.backend != "numpy":
        models["interpreter"] = irtoy_model("numpy")
    for name, model in models.items():
        print(f"{name}: compiled the training step in {compile_steps(model, x_train, y_train):.1f} s")
    tinynn_params, tuned_params = mlp_init(SIZES, seed=0), mlp_init(SIZES, seed=0)
    tinynn_net, adam_state = TinynnMLP(tinynn_params), adam_init(tuned_params)
    loops = {"tinynn loop": (tinynn_net.train_step, tinynn_params),
             "NumPy in place": (lambda x, y: mlp_train_step(tuned_params, adam_state, x, y), tuned_params)}
    one_hot = np.eye(10, dtype=np.float32)

    names = list(models) + list(loops)
    times = {name: [] for name in names}
    accuracy = {}
    print("\nepoch  " + "  ".join(f"{name + ' acc':>20} {'s':>6}" for name in names))
    rng = np.random.default_rng(0)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        x, y = x_train[order], y_train[order]
        for name in names:
            times[name].append(0.0)
        for part in turns(len(x)):
            for name, model in models.items():
                times[name][-1] += irtoy_epoch(model, x[part], y[part])
            for name, (train_step, _) in loops.items():
                times[name][-1] += numpy_epoch(train_step, x[part], one_hot[y[part]])
        for name, model in models.items():
            accuracy[name] = model.evaluate(x_test, y_test)["accuracy"]
        for name, (_, params) in loops.items():
            accuracy[name] = numpy_accuracy(params, x_test, y_test)
        print(f"{epoch:>5}  " + "  ".join(f"{accuracy[name]:>20.4f} {times[name][-1]:>6.2f}" for name in names),
              flush=True)

    print("\nepoch time, median (best) over the epochs, and as a multiple of each NumPy loop's:")
    for name in names:
        median, best = statistics.median(times[name]), min(times[name])
        ratios = "   ".join(f"{median / statistics.median(times[loop]):5.2f}x "
                           f"({best / min(times[loop]):5.2f}x) of {loop}" for loop in loops)
        print(f"  {name:<14} {median:6.2f} s ({best:6.2f} s)   {ratios}")
    ratio = statistics.median(times[names[0]]) / statistics.median(times["tinynn loop"])
    final = accuracy[names[0]]
    print(f"{names[0]} / tinynn loop: {ratio:.2f}; "
          f"/ NumPy in place: {statistics.median(times[names[0]]) / statistics.median(times['NumPy in place']):.2f}")
    print(f"{names[0]} test accuracy after {args.epochs} epochs: {final:.4f} "
          f"(target >= {TARGET_ACCURACY}: {'met' if final >= TARGET_ACCURACY else 'NOT met'})")


if __name__ == "__main__":
    main()
