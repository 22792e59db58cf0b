"""A simple RNN learns a task that needs memory: is the sum of the two marked numbers above 1?

Each sequence has 10 steps of two channels: a number drawn uniformly from [0, 1], and a
marker that is 1 at exactly two steps and 0 elsewhere (the "adding problem" of Hochreiter
and Schmidhuber, asked as a yes/no question so that guessing scores 50%). The network has to
notice the marked numbers as they go by, remember them, and compare their sum with 1 at the
end. A linear classifier over the whole flattened sequence cannot do that (the answer
depends on products of markers and numbers) and stays near 70%; a 32-unit Elman RNN,
h_t = tanh(x_t wx + h_{t-1} wh + b), unrolled over the 10 steps into one irtoy graph with a
dense layer on its last state, gets above 90%.

    python examples/rnn.py [--backend numba|numpy] [--epochs N] [--train N]

Prints the linear baseline's and the RNN's test accuracy.
"""
import argparse

import numpy as np

from irtoy import nn

STEPS = 10


def marked_sums(n, seed):
    """n sequences (n, STEPS, 2) of [number, marker], and whether the marked numbers sum above 1."""
    rng = np.random.default_rng(seed)
    numbers = rng.uniform(0.0, 1.0, (n, STEPS))
    markers = np.zeros((n, STEPS))
    for row in markers:
        row[rng.choice(STEPS, size=2, replace=False)] = 1.0
    x = np.stack([numbers, markers], axis=2).astype(np.float32)
    y = ((numbers * markers).sum(axis=1) > 1.0).astype(np.int64)
    return x, y


def make_models(backend="numba"):
    """The baseline, a linear classifier of the whole sequence at once, and the RNN."""
    return {
        "linear": nn.Model(nn.Sequential([nn.Flatten(), nn.Dense(2 * STEPS, 2)]), loss=nn.SoftmaxCrossEntropy(),
                           optimizer=nn.Adam(lr=1e-2), backend=backend),
        "SimpleRNN": nn.Model(nn.Sequential([nn.SimpleRNN(2, 32), nn.Dense(32, 2)]), loss=nn.SoftmaxCrossEntropy(),
                              optimizer=nn.Adam(lr=1e-2), backend=backend),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba",
                        help="numba (default), numpy (the interpreter), onnxruntime or jax")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train", type=int, default=4000, help="number of training sequences")
    args = parser.parse_args()

    x_train, y_train = marked_sums(args.train, seed=0)
    x_test, y_test = marked_sums(1000, seed=1)
    print(f"{args.train} training and {len(x_test)} test sequences of {STEPS} steps; "
          f"{y_train.mean():.0%} of the training answers are yes")

    linear, rnn = make_models(args.backend).values()
    linear.fit(x_train, y_train, epochs=args.epochs, batch_size=50, verbose=False)
    linear_accuracy = linear.evaluate(x_test, y_test)["accuracy"]
    print(f"linear classifier on the flattened sequence: test accuracy {linear_accuracy:.4f}")

    history = rnn.fit(x_train, y_train, epochs=args.epochs, batch_size=50, verbose=False)
    result = rnn.evaluate(x_test, y_test)
    print(f"SimpleRNN(32) ({args.backend}, {sum(history['time']):.1f} s): final training accuracy "
          f"{history['accuracy'][-1]:.4f}, test accuracy {result['accuracy']:.4f} (test loss {result['loss']:.4f})")


if __name__ == "__main__":
    main()
