"""Dataset loaders: file formats on small generated files, bundled iris, batching."""

import gzip
import struct

import numpy as np
import pytest

from irtoy.errors import IrtoyError
from irtoy.nn import datasets
from irtoy.nn.datasets import DatasetFormatError, DatasetNotFound


# ---------------------------------------------------------------- helpers

def idx_bytes(array, code=0x08):
    """Encode an array in the IDX format: magic, big-endian sizes, data."""
    dtypes = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtypes[code]).tobytes()


def write_idx_dataset(folder, n_train=7, n_test=3, gz=False, seed=0):
    """Write the four MNIST-style IDX files; return the raw uint8 arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte"][0, 0, :2] = (0, 255)  # hit both ends of the range
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def check_idx_result(result, arrays):
    (xtr, ytr), (xte, yte) = result
    assert xtr.dtype == np.float32 and xte.dtype == np.float32
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    assert xtr.shape == (7, 28, 28) and xte.shape == (3, 28, 28)
    np.testing.assert_allclose(xtr * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_allclose(xte * 255, arrays["t10k-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])
    assert xtr.min() == 0.0 and xtr.max() == 1.0


# ---------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("loader", [datasets.fashion_mnist, datasets.mnist])
def test_idx_dataset_roundtrip(tmp_path, gz, loader):
    arrays = write_idx_dataset(tmp_path, gz=gz)
    check_idx_result(loader(tmp_path), arrays)
    check_idx_result(loader(str(tmp_path)), arrays)


def test_read_idx_other_dtypes_are_native_endian(tmp_path):
    ints = np.array([[1, -2, 70000], [3, 4, -5]], dtype=np.int32)
    (tmp_path / "ints").write_bytes(idx_bytes(ints, 0x0C))
    got = datasets.read_idx(tmp_path / "ints")
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, ints)
    floats = np.array([0.5, -1.25], dtype=np.float32)
    (tmp_path / "floats.gz").write_bytes(gzip.compress(idx_bytes(floats, 0x0D)))
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "floats.gz"), floats)


def test_idx_bad_magic(tmp_path):
    write_idx_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x1f\x8b\x08\x01" + bytes(20))
    with pytest.raises(DatasetFormatError, match="bad magic number"):
        datasets.mnist(tmp_path)


def test_idx_bad_dtype_code(tmp_path):
    write_idx_dataset(tmp_path)
    data = bytearray((tmp_path / "t10k-labels-idx1-ubyte").read_bytes())
    data[2] = 0x42
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match="dtype code 0x42"):
        datasets.mnist(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_file(tmp_path, gz):
    write_idx_dataset(tmp_path)
    data = (tmp_path / "train-images-idx3-ubyte").read_bytes()[:-100]
    (tmp_path / "train-images-idx3-ubyte").unlink()
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetFormatError, match=r"\(7, 28, 28\).*truncated") as info:
        datasets.fashion_mnist(tmp_path)
    assert name in str(info.value)


def test_idx_truncated_header_and_broken_gzip(tmp_path):
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DatasetFormatError, match="truncated IDX header"):
        datasets.read_idx(tmp_path / "short")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match="empty file"):
        datasets.read_idx(tmp_path / "empty")
    whole = gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetFormatError, match="cut.gz"):
        datasets.read_idx(tmp_path / "cut.gz")


def test_idx_wrong_kind_of_file(tmp_path):
    write_idx_dataset(tmp_path)
    labels = np.zeros((7, 2), np.uint8)  # 2-D labels are not MNIST labels
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(DatasetFormatError, match="expected uint8 labels"):
        datasets.mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(6, np.uint8)))
    with pytest.raises(DatasetFormatError, match="7 train images but 6 labels"):
        datasets.mnist(tmp_path)


def test_missing_dataset_message(tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        datasets.fashion_mnist(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "train-images-idx3-ubyte" in message and "path=" in message
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, IrtoyError)

    with pytest.raises(DatasetNotFound, match="yann.lecun.com") as info:
        datasets.mnist(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_default_location_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DatasetNotFound, match="absent.*apt-get install dataset-fashion-mnist"):
        datasets.fashion_mnist()


def test_partial_dataset_names_missing_file(tmp_path):
    write_idx_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFound, match="t10k-labels-idx1-ubyte"):
        datasets.fashion_mnist(tmp_path)


def test_real_fashion_mnist():
    """The Debian package's files; CI installs dataset-fashion-mnist, so no skip."""
    (xtr, ytr), (xte, yte) = datasets.fashion_mnist()
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    for x in (xtr, xte):
        assert x.min() == 0.0 and x.max() == 1.0
    for y in (ytr, yte):
        assert set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(np.bincount(ytr), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(yte), [1000] * 10)


# ---------------------------------------------------------------- CIFAR-10

def write_cifar(folder, counts=(2, 3, 1, 2, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    written = []
    for name, n in zip(names, counts):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], pixels.reshape(n, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        written.append((pixels, labels))
    return written


@pytest.mark.parametrize("subfolder", [False, True])
def test_cifar10_binary(tmp_path, subfolder):
    folder = tmp_path / "cifar-10-batches-bin" if subfolder else tmp_path
    folder.mkdir(exist_ok=True)
    written = write_cifar(folder)
    (xtr, ytr), (xte, yte) = datasets.cifar10(tmp_path)
    assert xtr.shape == (12, 3, 32, 32) and xte.shape == (3, 3, 32, 32)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0
    pixels = np.concatenate([p for p, _ in written[:5]])
    np.testing.assert_allclose(xtr * 255, pixels, atol=1e-4)
    np.testing.assert_array_equal(ytr, np.concatenate([lab for _, lab in written[:5]]))
    np.testing.assert_allclose(xte * 255, written[5][0], atol=1e-4)
    np.testing.assert_array_equal(yte, written[5][1])


def test_cifar10_bad_size_and_label(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_3.bin").write_bytes(bytes(3073 + 10))
    with pytest.raises(DatasetFormatError, match="data_batch_3.bin.*3073"):
        datasets.cifar10(tmp_path)
    (tmp_path / "data_batch_3.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(DatasetFormatError, match="label 12"):
        datasets.cifar10(tmp_path)


def test_cifar10_missing_and_pickle_refused(tmp_path):
    with pytest.raises(DatasetNotFound, match="data_batch_1.bin.*cifar-10-binary") as info:
        datasets.cifar10(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\x80\x04not read")
    with pytest.raises(DatasetFormatError, match="pickle.*binary version"):
        datasets.cifar10(tmp_path)


# ---------------------------------------------------------------- iris

def test_iris_counts_and_means():
    x, y = datasets.iris()
    assert x.shape == (150, 4) and x.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])
    np.testing.assert_allclose(x.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=5e-4)
    np.testing.assert_allclose(x[y == 0].mean(axis=0), [5.006, 3.428, 1.462, 0.246], atol=5e-4)
    np.testing.assert_allclose(x[y == 2].mean(axis=0), [6.588, 2.974, 5.552, 2.026], atol=5e-4)
    np.testing.assert_allclose(x[0], [5.1, 3.5, 1.4, 0.2])
    assert datasets.IRIS_CLASSES[y[-1]] == "virginica"


# ---------------------------------------------------------------- spiral

def test_spiral_shape_classes_and_seed():
    x, y = datasets.spiral(n_per_class=50, classes=4)
    assert x.shape == (200, 2) and x.dtype == np.float32
    assert y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    assert np.all(np.linalg.norm(x, axis=1) <= 1.0 + 1e-6)
    x2, y2 = datasets.spiral(n_per_class=50, classes=4)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = datasets.spiral(n_per_class=50, classes=4, seed=1)
    assert not np.array_equal(x, x3)
    x4, _ = datasets.spiral(n_per_class=50, classes=4, noise=0.0, seed=1)
    x5, _ = datasets.spiral(n_per_class=50, classes=4, noise=0.0, seed=2)
    np.testing.assert_array_equal(x4, x5)


# ---------------------------------------------------------------- batches

def collect(*args, **kwargs):
    return list(datasets.batches(*args, **kwargs))


def test_batches_cover_every_sample_once():
    x = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    for shuffle in (False, True):
        out = collect(x, y, 5, shuffle=shuffle, seed=3)
        assert [len(yb) for _, yb in out] == [5, 5, 5, 5, 3]
        assert len(out) == datasets.num_batches(23, 5)
        seen = np.concatenate([yb for _, yb in out])
        np.testing.assert_array_equal(np.sort(seen), y)
        for xb, yb in out:
            np.testing.assert_array_equal(xb, x[yb])  # x and y stay paired
    unshuffled = np.concatenate([yb for _, yb in collect(x, y, 5, shuffle=False)])
    np.testing.assert_array_equal(unshuffled, y)


def test_batches_shuffle_depends_on_seed():
    x = y = np.arange(100)
    order = lambda seed: np.concatenate([yb for _, yb in collect(x, y, 10, seed=seed)])
    np.testing.assert_array_equal(order(1), order(1))
    assert not np.array_equal(order(1), order(2))
    assert not np.array_equal(order(1), y)


def test_batches_drop_last():
    x = y = np.arange(23)
    out = collect(x, y, 5, drop_last=True, seed=0)
    assert [len(yb) for _, yb in out] == [5, 5, 5, 5]
    assert len(np.unique(np.concatenate([yb for _, yb in out]))) == 20
    assert datasets.num_batches(23, 5, drop_last=True) == 4
    assert datasets.num_batches(20, 5, drop_last=True) == datasets.num_batches(20, 5) == 4
    assert collect(x[:3], y[:3], 5, drop_last=True) == []
    assert datasets.num_batches(0, 5) == 0


def test_batches_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        collect(np.zeros(4), np.zeros(4), 0)
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        collect(np.zeros(4), np.zeros(3), 2)
