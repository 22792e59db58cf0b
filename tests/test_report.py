"""The compile report, opened in headless Chromium as a person would look at it."""
import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

import irtoy
from browser import open_page
from irtoy import pytree, render
from irtoy.report import report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    """examples/NAME.py as a module: the examples are scripts, not an importable package."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlp = load_example("mlp")


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    params, x, y = mlp.example_args
    traced = irtoy.trace(mlp.loss, params, x, y).value_and_grad(wrt=0)
    return report(traced, tmp_path_factory.mktemp("report"), args=[params, x, y])


def test_report_is_one_self_contained_page(page_path):
    html = open(page_path).read()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import""", html)
    assert "svgPanZoom" in html                     # the pan-and-zoom library is inlined, not fetched
    for stage in ("traced", "shaped", "grad", "optimized", "fused"):
        assert f'id="stage-{stage}"' in html
    assert "@njit" in html


def test_report_in_a_browser(page_path, tmp_path):
    with open_page(page_path) as page:
        assert page.requests == []                                  # the page asks the network for nothing
        # a small graph opens whole, at the size graphviz drew it, with nothing to scroll sideways
        assert page.locator("#graph-grad").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        grad_svg = page.locator("#graph-grad svg")
        html = open(page_path).read()
        drawn = float(re.search(r"id='graph-grad'>.*?viewBox=\"[\d.]+ [\d.]+ ([\d.]+)", html, re.S).group(1))
        on_screen = page.locator("#graph-grad g.svg-pan-zoom_viewport").bounding_box()["width"]
        assert grad_svg.is_visible() and on_screen == pytest.approx(drawn * 4 / 3, rel=0.05)

        stages = page.eval_on_selector_all(".stage", "els => els.map(e => e.id)")
        assert {"stage-traced", "stage-shaped", "stage-grad", "stage-optimized"} <= set(stages)
        for stage in stages:
            drawn = page.locator(f"#{stage} .graph.full svg g.node").count() > 3
            assert drawn or "same as" in page.inner_text(f"#{stage} .changes")
        assert "same as traced" in page.inner_text("#stage-shaped")       # traced with its shapes known

        # clicking a node shows its details
        node = page.locator("#graph-grad g.node").filter(has_text="matmul").first
        node.click()
        details = page.inner_text("#details")
        assert "matmul" in details and "mlp.py:15" in details and "inputs" in details

        # the search box finds nodes and says how many
        page.fill("#search", "tanh")
        assert page.locator("g.node.match").count() >= 4        # one per stage at least
        assert "nodes" in page.inner_text("#matches")

        # each kernel in the generated source links to its box in the fused drawing
        links = page.locator("a.to-cluster")
        assert links.count() >= 3
        for i in range(links.count()):
            target = links.nth(i).get_attribute("href")
            assert page.locator(f"#graph-fused {target}").count() == 1
        links.first.click()
        assert page.locator("#graph-fused g.cluster.flash").count() == 1

        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot))
        assert not page.errors, page.errors
    import matplotlib.image
    pixels = matplotlib.image.imread(shot)
    ink = (pixels[..., :3] < 0.9).any(axis=-1).mean()
    assert ink > 0.02, "the screenshot is blank"


def test_scoped_graphs_can_be_viewed_grouped(tmp_path):
    def fn(x):
        with irtoy.scope("layer1"):
            x = np.tanh(x * 2.0)
        with irtoy.scope("layer2"):
            x = np.tanh(x * 3.0)
        return x.sum()

    path = report(irtoy.trace(fn, np.ones(3)), tmp_path, backends=("numpy",))
    with open_page(path) as page:
        assert page.locator("#graph-traced").is_visible()               # small: every node shown first
        page.click("#stage-traced .views button[data-show='grouped-traced']")
        grouped = page.locator("#grouped-traced svg")
        assert grouped.is_visible() and "layer1" in grouped.text_content()
        assert not page.locator("#graph-traced").is_visible()
        page.locator("#grouped-traced g.node").filter(has_text="layer2").click()
        opened = page.locator("#grouped-traced-1")
        assert opened.is_visible() and opened.locator("g.node[id*='-node']").filter(has_text="tanh").count() == 1
        assert opened.locator("g.node").filter(has_text="layer1").count() == 1     # the other layer stays a box
        assert not page.errors


def test_layers_are_scopes_and_inputs_are_grouped_by_argument():
    def fn(params, x):
        with irtoy.scope("dense"):
            h = np.tanh(x @ params["w"] + params["b"])
        return (h * 2.0).sum()

    graph = irtoy.trace(fn, {"w": np.ones((3, 2)), "b": np.ones(2)}, np.ones((4, 3))).graph
    groups = render.layer_groups(graph)
    assert list(groups) == ["params", "dense"]           # x, a single leaf, and the unscoped tail stay nodes
    assert sorted(graph[n]["name"] for n in groups["params"]) == ["params['b']", "params['w']"]
    assert {graph[n]["op"] for n in groups["dense"]} == {"matmul", "add", "tanh"}
    # opened, the layer's nodes are drawn inside its box, the rest stays collapsed
    dot = render.to_dot_collapsed(graph, id_prefix="s-", expand="dense").source
    assert "s-group1" in dot and all(f"s-node{n}" in dot for n in groups["dense"])
    assert "s-group0" in dot and not any(f"s-node{n}" in dot for n in groups["params"])


def test_report_is_part_of_the_public_api(tmp_path):
    compiled = irtoy.trace(lambda x: np.exp(x).sum(), np.ones(3)).compile("numpy")
    path = irtoy.report(compiled, tmp_path, backends=("numpy",))
    assert os.path.basename(path) == "index.html" and "exp" in open(path).read()


def test_report_links_each_stage_as_an_onnx_model(page_path):
    """Every stage's section links onnx/STAGE.onnx beside the page: a model that onnxruntime
    runs to the function's values (the grad stage: the loss and its gradients)."""
    import onnx
    import onnxruntime
    page = open(page_path).read()
    folder = os.path.dirname(page_path)
    params, x, y = mlp.example_args
    expected = irtoy.trace(mlp.loss, params, x, y).value_and_grad(wrt=0).compile("numpy")(params, x, y)
    for stage in ("traced", "grad", "optimized", "fused"):
        assert f"href='onnx/{stage}.onnx'" in page
        model = onnx.load(os.path.join(folder, "onnx", f"{stage}.onnx"))
        onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(os.path.join(folder, "onnx", "grad.onnx"))
    got = session.run(None, dict(zip([v.name for v in session.get_inputs()], pytree.flatten((params, x, y))[0])))
    want = pytree.flatten(expected)[0]
    assert len(got) == len(want) == 4
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_a_stage_onnx_cannot_express_says_why(tmp_path):
    path = report(irtoy.trace(lambda a: np.linalg.eigh(a)[0], np.eye(3)), tmp_path, backends=("numpy",))
    assert "Not exported to ONNX: " in open(path).read() and "eigh" in open(path).read()
    assert not (tmp_path / "onnx" / "traced.onnx").exists()
