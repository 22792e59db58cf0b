"""Small dataset loaders for examples and tests.

Training something real is the best check that a compiler computes the right
numbers, so irtoy ships a few classic datasets as plain NumPy arrays: a
generated spiral, the iris table (bundled), and readers for the public file
formats of MNIST, Fashion-MNIST (IDX) and CIFAR-10 (binary version).  Nothing
is downloaded: files are read from disk, and a missing dataset raises
:class:`DatasetNotFound` saying where we looked and how to get the data.
Formats are parsed by hand and checked against their headers; pickle is never
used.
"""

import csv
import gzip
import io
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from irtoy.errors import IrtoyError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


class DatasetNotFound(IrtoyError, FileNotFoundError):
    """A dataset's files are not on disk; the message says how to get them."""


class DatasetFormatError(IrtoyError, ValueError):
    """A dataset file exists but is not in the expected format."""


# ---------------------------------------------------------------- generated

def spiral(n_per_class=100, classes=3, noise=0.2, seed=0):
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Returns ``x`` float32 of shape (n_per_class * classes, 2) and ``y`` int64
    class labels, grouped by class.  ``noise`` perturbs the angle.
    """
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k in range(classes):
        radius = np.linspace(0.0, 1.0, n_per_class)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class)
        angle = angle + rng.standard_normal(n_per_class) * noise
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


# ---------------------------------------------------------------- bundled

def iris():
    """Fisher's iris table: ``x`` float32 (150, 4) in cm, ``y`` int64 (150,).

    Columns are sepal length, sepal width, petal length, petal width; labels
    index :data:`IRIS_CLASSES`.
    """
    text = (resources.files("irtoy.nn") / "data" / "iris.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    x = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float32)
    y = np.array([IRIS_CLASSES.index(r["species"]) for r in rows], dtype=np.int64)
    return x, y


# ---------------------------------------------------------------- IDX files

# IDX dtype codes (third byte of the magic number) and their big-endian types.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DatasetFormatError(f"{path}: broken gzip data ({e})") from e


def read_idx(path):
    """Read one IDX file (optionally gzipped) into a native-endian array.

    The header is a magic number ``0 0 <dtype code> <ndim>`` followed by
    ``ndim`` big-endian uint32 sizes, then the data, also big-endian.  The
    magic, the dtype code and the data length are all checked.
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0:2] != b"\x00\x00":
        raise DatasetFormatError(f"{path}: not an IDX file (bad magic number "
                                 f"{data[:4].hex() or 'empty file'})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DatasetFormatError(f"{path}: unknown IDX dtype code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetFormatError(
            f"{path}: header promises shape {shape} ({expected} data bytes) but "
            f"the file holds {len(data) - header} bytes (truncated or corrupt?)")
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(folder, name):
    """Return ``folder/name`` or ``folder/name.gz``, whichever exists, else None."""
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_split(folder, prefix, how_to_get):
    images_name, labels_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images_path, labels_path = _find(folder, images_name), _find(folder, labels_name)
    missing = [n for n, p in ((images_name, images_path), (labels_name, labels_path)) if p is None]
    if missing:
        raise DatasetNotFound(f"looked in {folder} for {', '.join(missing)} "
                              f"(or .gz) and did not find it; {how_to_get}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetFormatError(f"{images_path}: expected uint8 images (N, rows, cols), "
                                 f"got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetFormatError(f"{labels_path}: expected uint8 labels (N,), "
                                 f"got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DatasetFormatError(f"{folder}: {len(images)} {prefix} images "
                                 f"but {len(labels)} labels")
    return images.astype(np.float32) / np.float32(255.0), labels.astype(np.int64)


def _load_idx_dataset(path, how_to_get):
    folder = Path(path)
    return (_load_idx_split(folder, "train", how_to_get),
            _load_idx_split(folder, "t10k", how_to_get))


def fashion_mnist(path=None):
    """Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Images are float32 (N, 28, 28) in [0, 1], labels int64 indexing
    :data:`FASHION_MNIST_CLASSES`.  Reads the four IDX files (plain or .gz)
    from ``path``, by default where Debian's ``dataset-fashion-mnist`` puts them.
    """
    folder = FASHION_MNIST_DIR if path is None else path
    return _load_idx_dataset(folder, "install it with `apt-get install "
                             "dataset-fashion-mnist` or pass path= to a folder "
                             "holding the IDX files")


def mnist(path):
    """MNIST digits from the four IDX files (plain or .gz) in folder ``path``.

    Same layout and return value as :func:`fashion_mnist`.
    """
    return _load_idx_dataset(path, "the IDX files are published at "
                             "http://yann.lecun.com/exdb/mnist/ (and mirrors); "
                             "pass path= to the folder holding them")


# ---------------------------------------------------------------- CIFAR-10

_CIFAR_RECORD = 1 + 3 * 32 * 32


def _read_cifar_batch(path):
    data = path.read_bytes()
    if len(data) == 0 or len(data) % _CIFAR_RECORD:
        raise DatasetFormatError(f"{path}: size {len(data)} is not a multiple of "
                                 f"the {_CIFAR_RECORD}-byte CIFAR-10 record")
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_CLASSES):
        raise DatasetFormatError(f"{path}: label {labels.max()} out of range 0..9")
    images = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255.0)
    return images, labels


def cifar10(path):
    """CIFAR-10 binary version as ``((x_train, y_train), (x_test, y_test))``.

    Reads ``data_batch_1.bin`` .. ``data_batch_5.bin`` and ``test_batch.bin``
    from ``path`` or its ``cifar-10-batches-bin`` subfolder.  Images are
    float32 (N, 3, 32, 32) in [0, 1], labels int64 indexing
    :data:`CIFAR10_CLASSES`.  The Python (pickle) version is refused.
    """
    root = Path(path)
    folder = root / "cifar-10-batches-bin"
    if not folder.is_dir():
        folder = root
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        if (root / "cifar-10-batches-py").is_dir() or (folder / "data_batch_1").is_file():
            raise DatasetFormatError(
                f"{root} holds the Python (pickle) version of CIFAR-10, which irtoy "
                "will not load since unpickling can run arbitrary code; download "
                "the 'CIFAR-10 binary version' (cifar-10-binary.tar.gz) instead")
        raise DatasetNotFound(
            f"looked in {folder} for {', '.join(missing)} and did not find it; "
            "the binary version (cifar-10-binary.tar.gz) is published at "
            "https://www.cs.toronto.edu/~kriz/cifar.html, pass path= to where it "
            "is unpacked")
    train = [_read_cifar_batch(folder / n) for n in names[:5]]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), _read_cifar_batch(folder / names[5])


# ---------------------------------------------------------------- batching

def num_batches(n, batch_size, drop_last=False):
    """How many batches :func:`batches` yields for ``n`` samples."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(x, y, batch_size, shuffle=True, seed=None, drop_last=False):
    """Yield ``(xb, yb)`` mini-batches covering each sample once.

    With ``shuffle`` the order comes from ``np.random.default_rng(seed)``;
    with ``drop_last`` a final short batch is left out.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    count = num_batches(n, batch_size, drop_last)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    for i in range(count):
        index = order[i * batch_size:(i + 1) * batch_size]
        yield x[index], y[index]
