"""An autoencoder: squeeze Fashion-MNIST images through 32 numbers and rebuild them.

The encoder 784-256-32 (ReLU) maps a 28x28 image to a 32-number code; the decoder 32-256-784
(ReLU, then a sigmoid so pixels land in [0, 1]) rebuilds the image from the code. The target
of the network is its own input and the loss is the squared error (irtoy's MSE: half the
sum of squares per image, averaged over the batch). Nothing tells the network what the
classes are; still, the code keeps enough to redraw the shape of each garment.

    python examples/autoencoder.py [--backend numba|numpy] [--epochs N] [--limit N] [--data DIR]

Prints the mean squared error per pixel on test images after training, next to the error of
always answering the average training image, and draws test images above their
reconstructions to examples-out/autoencoder.png (needs matplotlib; skipped without it).
"""
import argparse
import os
import sys

import numpy as np

from irtoy import nn


def make_model(backend="numba"):
    """784 pixels squeezed through 32 numbers and back, trained to give back its input."""
    net = nn.Sequential([
        nn.Dense(784, 256, weight_init="he_uniform"), nn.ReLU(), nn.Dense(256, 32),                 # encoder
        nn.Dense(32, 256, weight_init="he_uniform"), nn.ReLU(), nn.Dense(256, 784), nn.Sigmoid(),   # decoder
    ])
    return nn.Model(net, loss=nn.MSE(), optimizer=nn.Adam(lr=1e-3), backend=backend)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba",
                        help="numba (default), numpy (the interpreter), onnxruntime or jax")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=20000, help="train on the first N images")
    parser.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", default="examples-out")
    args = parser.parse_args()

    try:
        (x_train, _), (x_test, _) = nn.datasets.fashion_mnist(args.data)
    except nn.datasets.DatasetNotFound as e:
        sys.exit(f"Fashion-MNIST is not available: {e}")
    x_train = x_train[:args.limit].reshape(-1, 784)
    x_test = x_test[:2000].reshape(-1, 784)

    model = make_model(args.backend)
    history = model.fit(x_train, x_train, epochs=args.epochs, batch_size=128)

    rebuilt = model.predict(x_test)
    error = float(np.mean((rebuilt - x_test) ** 2))
    baseline = float(np.mean((x_train.mean(axis=0) - x_test) ** 2))
    print(f"autoencoder ({args.backend}): {len(x_train)} images, {args.epochs} epochs, "
          f"{sum(history['time']):.1f} s; final training loss {history['loss'][-1]:.4f}")
    print(f"test reconstruction error per pixel: {error:.4f} (the average image: {baseline:.4f})")
    draw(x_test[:8], rebuilt[:8], os.path.join(args.out, "autoencoder.png"))


def draw(originals, rebuilt, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("skipped the drawing: matplotlib is not installed (pip install matplotlib)")
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig, axes = plt.subplots(2, len(originals), figsize=(1.2 * len(originals), 2.6))
    for i, row in enumerate((originals, rebuilt)):
        for ax, image in zip(axes[i], row):
            ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
    axes[0][0].set_title("test images", loc="left", fontsize=9)
    axes[1][0].set_title("rebuilt from 32 numbers", loc="left", fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"drew test images and their reconstructions to {path}")


if __name__ == "__main__":
    main()
