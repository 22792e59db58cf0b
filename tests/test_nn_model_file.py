"""Model.load on damaged and forged files: every one is refused with an IrtoyError naming the
file, or (when the damage touches nothing the model uses) loads exactly the saved model."""
import io
import json
import struct
import zipfile

import numpy as np
import pytest

from irtoy import nn
from irtoy.errors import IrtoyError

X = np.random.default_rng(0).normal(size=(24, 2)).astype(np.float32)
Y = np.arange(24) % 3


def net():
    return nn.Sequential([nn.Dense(2, 4), nn.BatchNorm(), nn.Tanh(), nn.Dense(4, 3)])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = nn.Model(net(), loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=0.02), backend="numpy")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=False)
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    model.save(path)
    return model, path.read_bytes()


def same_model(a, b):
    flat = lambda m: {k: v for part in ("params", "state", "opt_state")
                      for k, v in nn.model._flatten(part, getattr(m, part)).items()}
    fa, fb = flat(a), flat(b)
    return (fa.keys() == fb.keys() and all(np.array_equal(fa[k], fb[k]) for k in fa)
            and a.metadata() == b.metadata())


def load_or_refuse(path, model):
    """Load `path`: it must raise IrtoyError naming the file, or give exactly `model`."""
    try:
        loaded = nn.Model.load(path, net(), backend="numpy")
    except IrtoyError as e:
        assert str(path) in str(e), str(e)
        return "refused"
    assert same_model(loaded, model), f"{path} loaded a different model"
    return "loaded"


def test_a_file_cut_short_anywhere_is_refused(saved, tmp_path):
    model, data = saved
    path = tmp_path / "cut.npz"
    for size in sorted(set(range(0, len(data), max(1, len(data) // 150))) | {len(data) - 1, 30, 100}):
        path.write_bytes(data[:size])
        assert load_or_refuse(path, model) == "refused", size


def test_a_file_with_flipped_bytes_is_refused_or_loads_the_same_model(saved, tmp_path):
    model, data = saved
    path = tmp_path / "flipped.npz"
    rng = np.random.default_rng(1)
    outcomes = set()
    for position in rng.choice(len(data), size=300, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        outcomes.add(load_or_refuse(path, model))
    assert "refused" in outcomes


def rewrite(path, data, members):
    """The saved file `data` with `members` ({name: bytes or None to remove}) replaced."""
    with zipfile.ZipFile(path, "w") as out, zipfile.ZipFile(io.BytesIO(data)) as original:
        for info in original.infolist():
            content = members.get(info.filename, original.read(info.filename))
            if content is not None:
                out.writestr(info.filename, content)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def metadata(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(str(np.load(io.BytesIO(z.read("__metadata__.npy")))))


def with_metadata(text):
    return {"__metadata__.npy": npy(np.array(text))}


def changed_metadata(data, **fields):
    return with_metadata(json.dumps({**metadata(data), **fields}))


def forged_header(shape):
    """A .npy member whose header claims `shape` of float32 but holds 16 bytes of data."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode() + b" "
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 16


DAMAGE = {
    "json_garbage": lambda data: with_metadata("{not json"),
    "json_deeply_nested": lambda data: with_metadata("[" * 100000 + "]" * 100000),
    "json_a_list": lambda data: with_metadata("[1, 2, 3]"),
    "metadata_not_a_string": lambda data: {"__metadata__.npy": npy(np.zeros(3))},
    "metadata_missing": lambda data: {"__metadata__.npy": None},
    "input_shape_a_string": lambda data: changed_metadata(data, input_shape="2"),
    "input_shape_negative": lambda data: changed_metadata(data, input_shape=[-2]),
    "input_shape_other_rank": lambda data: changed_metadata(data, input_shape=[2, 2]),
    "steps_a_list": lambda data: changed_metadata(data, steps=[1]),
    "seed_a_string": lambda data: changed_metadata(data, seed="0"),
    "net_a_number": lambda data: changed_metadata(data, net=3),
    "loss_unknown": lambda data: changed_metadata(data, loss={"type": "Nothing", "config": {}}),
    "loss_config_a_list": lambda data: changed_metadata(data, loss={"type": "MSE", "config": [1]}),
    "optimizer_bad_keyword": lambda data: changed_metadata(data, optimizer={"type": "Adam", "config": {"x": 1}}),
    "schedule_not_a_schedule": lambda data: changed_metadata(
        data, optimizer={"type": "SGD", "config": {"lr": {"schedule": "np"}}}),
    "rng_state_garbage": lambda data: changed_metadata(data, rng={"bit_generator": "PCG64", "state": 3}),
    "huge_array_header": lambda data: {"params/dense1/w.npy": forged_header((1 << 20, 1 << 20, 1 << 20))},
    "header_bigger_than_data": lambda data: {"params/dense1/w.npy": forged_header((2, 4))},
    "negative_shape": lambda data: {"params/dense1/w.npy": forged_header((-2, -2))},
    "object_array": lambda data: {"params/dense1/b.npy": b"\x93NUMPY\x01\x00v\x00" + repr(
        {"descr": "|O", "fortran_order": False, "shape": (4,)}).encode().ljust(117) + b"\n" + b"\0" * 32},
    "member_removed": lambda data: {"params/dense2/b.npy": None},
    "member_not_npy": lambda data: {"params/dense2/b.npy": b"hello"},
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_contents_are_refused_naming_the_file(saved, tmp_path, damage):
    model, data = saved
    path = tmp_path / "damaged.npz"
    rewrite(path, data, DAMAGE[damage](data))
    assert load_or_refuse(path, model) == "refused"


def test_the_undamaged_rewrite_loads_the_same_model(saved, tmp_path):
    model, data = saved
    path = tmp_path / "same.npz"
    rewrite(path, data, {})
    assert load_or_refuse(path, model) == "loaded"


def test_a_folder_or_a_missing_file_is_refused_naming_the_path(saved, tmp_path):
    with pytest.raises(IrtoyError, match=f"{tmp_path} is a folder"):
        nn.Model.load(tmp_path, net(), backend="numpy")
    with pytest.raises(IrtoyError, match="no such model file: .*missing.npz"):
        nn.Model.load(tmp_path / "missing.npz", net(), backend="numpy")


def test_saving_onto_a_folder_or_under_a_file_is_refused_naming_the_path(saved, tmp_path):
    model, _ = saved
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IrtoyError, match="cannot save the model to .*folder.npz: it is a folder"):
        model.save(tmp_path / "folder.npz")
    (tmp_path / "file.txt").write_text("a file")
    with pytest.raises(IrtoyError, match=r"cannot save the model to .*file.txt/model.npz"):
        model.save(tmp_path / "file.txt" / "model.npz")


def test_a_forged_input_shape_a_layer_sizes_its_weights_by_is_refused(tmp_path):
    """BatchNorm takes its size from the input: a forged input_shape must not escape as MemoryError."""
    first = lambda: nn.Sequential([nn.BatchNorm(), nn.Dense(2, 3)])
    model = nn.Model(first(), loss=nn.SoftmaxCrossEntropy(), optimizer=nn.SGD(0.1), backend="numpy")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=False)
    path = tmp_path / "model.npz"
    model.save(path)
    rewrite(path, path.read_bytes(), changed_metadata(path.read_bytes(), input_shape=[10 ** 12]))
    with pytest.raises(IrtoyError, match=r"model\.npz: the saved input_shape \[1000000000000\] asks for weights"):
        nn.Model.load(path, first(), backend="numpy")
