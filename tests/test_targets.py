"""FILE.py:FUNCTION targets and --spec strings, as the irtoy command reads them."""
import numpy as np
import pytest

from irtoy import Spec
from irtoy.targets import UsageError, load_target, parse_spec


def test_parse_spec():
    assert parse_spec("f32[4,6]") == Spec((4, 6), np.float32)
    assert parse_spec("f64[]") == Spec((), np.float64)
    assert parse_spec(" i64[ 3 ] ") == Spec((3,), np.int64)
    with pytest.raises(UsageError, match="write it like 'f32\\[4,6\\]'"):
        parse_spec("float[3]")


def test_example_args_come_from_the_file(tmp_path):
    (tmp_path / "m.py").write_text("import numpy as np\n"
                                   "def f(x): return x * 2\n"
                                   "def g(x, y): return x + y\n"
                                   "example_args = (np.ones(3),)\n"
                                   "example_args_g = (np.ones(2), np.ones(2))\n")
    fn, args = load_target(f"{tmp_path}/m.py:f")
    assert fn(*args).tolist() == [2.0, 2.0, 2.0]
    fn, args = load_target(f"{tmp_path}/m.py:g")
    assert len(args) == 2
    fn, args = load_target(f"{tmp_path}/m.py:g", ["f32[5]", "f32[5]"])
    assert args == (Spec((5,)), Spec((5,)))


@pytest.mark.parametrize("target, message", [
    ("nofile.py:f", "no such file: nofile.py"),
    ("{d}/m.py:missing", "has no function 'missing'"),
    ("{d}/m.py", "name a function as FILE.py:FUNCTION"),
    ("{d}/m.py:f", "f needs example arguments: pass --spec"),
    ("{d}/broken.py:f", "broken.py failed to import: ZeroDivisionError"),
])
def test_bad_targets_give_one_line_errors(tmp_path, target, message):
    (tmp_path / "m.py").write_text("def f(x): return x\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    with pytest.raises(UsageError, match=message) as err:
        load_target(target.format(d=tmp_path))
    assert "\n" not in str(err.value)
