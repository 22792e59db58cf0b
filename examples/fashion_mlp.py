"""Fashion-MNIST with the classic MLP: 784-400-100-10, ReLU, Adam(1e-3), batches of 128.

Sixty thousand 28x28 grey images of clothes in ten classes (T-shirt, trouser, pullover,
dress, coat, sandal, shirt, sneaker, bag, ankle boot). The network flattens each image and
applies two ReLU layers; the training step (forward, softmax cross-entropy, backward, Adam
update) is one irtoy graph, compiled once and called for each of the 469 batches of an
epoch. After 5 epochs the test accuracy is about 87-88% (shirts and T-shirts are the usual
confusion).

    python examples/fashion_mlp.py [--backend numba|numpy] [--epochs 5] [--limit N] [--data DIR]

Prints the loss and the training and test accuracy after every epoch, and the final test
accuracy. `--limit N` trains on the first N training images only (a quick run). The data
is read from Debian's dataset-fashion-mnist package, or from `--data DIR` holding the four
IDX files. The trained model is saved to examples-out/fashion_mlp.npz.
"""
import argparse
import os
import sys

from irtoy import nn


def make_model(backend="numba"):
    """A 784-400-100-10 MLP on the flattened images."""
    net = nn.Sequential([nn.Flatten(), nn.Dense(784, 400), nn.ReLU(), nn.Dense(400, 100), nn.ReLU(),
                         nn.Dense(100, 10)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-3), backend=backend)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba",
                        help="numba (default), numpy (the interpreter), onnxruntime or jax")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", default="examples-out")
    args = parser.parse_args()

    try:
        (x_train, y_train), (x_test, y_test) = nn.datasets.fashion_mnist(args.data)
    except nn.datasets.DatasetNotFound as e:
        sys.exit(f"Fashion-MNIST is not available: {e}")
    x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images of {x_train.shape[1:]}")

    model = make_model(args.backend)
    for epoch in range(1, args.epochs + 1):
        history = model.fit(x_train, y_train, epochs=1, batch_size=args.batch_size,     # the line below says
                            validation_data=(x_test, y_test), verbose=0)                # how the epoch went
        print(f"epoch {epoch}: loss {history['loss'][0]:.4f}, train accuracy {history['accuracy'][0]:.4f}, "
              f"test accuracy {history['val_accuracy'][0]:.4f} ({history['time'][0]:.1f} s)", flush=True)

    print(f"final test accuracy: {history['val_accuracy'][0]:.4f}")
    print(f"saved the model to {model.save(os.path.join(args.out, 'fashion_mlp.npz'))}")


if __name__ == "__main__":
    main()
