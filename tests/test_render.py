"""Drawing graphs: real SVG from graphviz's `dot`, and a useful error without it."""
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import irtoy


def layer(x, w):
    return np.maximum(x @ w + 1.0, 0.0).sum()


def traced():
    return irtoy.trace(layer, np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))


def test_graphviz_dot_is_installed():
    assert shutil.which("dot"), "graphviz's `dot` is missing: apt-get install graphviz"


def test_render_writes_an_svg_that_names_the_ops(tmp_path):
    path = traced().render(tmp_path / "layer.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter())
    for word in ("matmul", "add", "maximum", "sum", "f32[2,4]", "x", "w"):
        assert word in text
    titles = " ".join(a.get("{http://www.w3.org/1999/xlink}title", "") for a in root.iter())
    assert "test_render.py:12" in titles          # the user's line is in the tooltip


@pytest.mark.parametrize("ext, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")])
def test_render_format_follows_the_extension(tmp_path, ext, magic):
    path = traced().render(tmp_path / f"layer{ext}")
    assert open(path, "rb").read().startswith(magic)


def test_compiled_stages_can_each_be_drawn(tmp_path):
    f = traced().compile()
    for stage in f.stages:
        ET.parse(f.render(tmp_path / f"{stage}.svg", stage=stage))
    with pytest.raises(irtoy.IrtoyError, match="no stage 'nope' to draw; its stages are traced, shaped, folded"):
        f.render(tmp_path / "x.svg", stage="nope")


@pytest.mark.parametrize("kind", ["traced", "compiled"])
def test_traced_and_compiled_render_take_the_path_then_the_stage(tmp_path, kind):
    drawable = traced() if kind == "traced" else traced().compile()
    latest = ET.parse(drawable.render(tmp_path / "latest.svg")).getroot()
    assert f"layer: {list(drawable.stages)[-1]}" in " ".join(t.text or "" for t in latest.iter())
    first = ET.parse(drawable.render(tmp_path / "first.svg", stage="traced")).getroot()
    assert "layer: traced" in " ".join(t.text or "" for t in first.iter())
    with pytest.raises(irtoy.IrtoyError, match="no stage 'nope' to draw; its stages are traced, shaped"):
        drawable.render(tmp_path / "x.svg", "nope")
    with pytest.raises(irtoy.IrtoyError, match=r"the path comes first: render\('x.svg', stage='traced'\)"):
        drawable.render("traced", "x.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.svg", "latest.svg"]


def test_without_dot_the_source_is_written_and_the_error_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # no `dot` on this PATH
    with pytest.raises(irtoy.RenderError, match="apt-get install graphviz"):
        traced().render(tmp_path / "layer.svg")
    assert (tmp_path / "layer.dot").read_text().startswith("digraph")
    assert not (tmp_path / "layer.svg").exists()


@pytest.mark.parametrize("name, message", [
    ("layer.xyz", r"cannot draw .*layer.xyz: graphviz knows no format 'xyz'; use .svg, .png, .pdf or .dot"),
    ("layer.x11", r"cannot draw .*layer.x11: graphviz's `dot` failed to write 'x11'"),
    ("afile/layer.svg", r"cannot write .*afile/layer.svg: .*afile is a file, not a folder"),
    ("afile/deeper/layer.dot", r"cannot write .*afile/deeper/layer.dot: .*afile is a file, not a folder"),
    ("folder", r"cannot write .*folder: it is a folder"),
], ids=["unknown_format", "format_dot_cannot_write", "under_a_file", "deeper_under_a_file", "onto_a_folder"])
def test_a_drawing_that_cannot_be_made_is_a_render_error_naming_the_path(tmp_path, capfd, name, message):
    (tmp_path / "afile").write_text("a regular file")
    (tmp_path / "folder").mkdir()
    with pytest.raises(irtoy.RenderError, match=message):
        traced().render(tmp_path / name)
    assert capfd.readouterr().err == ""             # graphviz's own complaints stay in the message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder"]
