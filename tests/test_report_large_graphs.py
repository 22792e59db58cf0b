"""The report of a 200-node training step (the demo's), read in Chromium at 1400 x 900.

The training step is built and reported once for the module; every test opens the page.
"""
import re

import pytest

from browser import chromium, open_page
from irtoy import nn, render
from irtoy.report import report

WIDTH, HEIGHT = 1400, 900


@pytest.fixture(scope="module")
def demo(tmp_path_factory, numba_kernel_cache):
    """(the compiled step, the report's path): the demo's spiral classifier and training step,
    compiled by numba; not trained, since the report does not depend on the weights."""
    x, y = nn.datasets.spiral(n_per_class=200, seed=0)
    net = nn.Sequential([nn.Dense(2, 64), nn.ReLU(), nn.Dense(64, 64), nn.ReLU(), nn.Dense(64, 3)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2), backend="numba")
    step = model.compiled_step(x[:32], y[:32])
    args = model._train_args(x[:32], model.targets(y[:32]))
    path = report(step, tmp_path_factory.mktemp("demo-report"), args=list(args), comparison="(not measured)")
    return step, path


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(demo, browser):
    """The demo's report, opened in a 1400 x 900 window."""
    with open_page(demo[1], WIDTH, HEIGHT, browser) as page:
        yield page


def shown_drawing(page, stage):
    return page.locator(f"#stage-{stage} div.graph:not([hidden])")


def scale_of(drawing):
    """The zoom of a drawing: the scale of svg-pan-zoom's viewport transform."""
    matrix = drawing.locator("g.svg-pan-zoom_viewport").get_attribute("transform")
    return float(re.match(r"matrix\(([-\d.e]+)", matrix.replace(" ", "")).group(1))


def test_the_fused_stage_opens_fitted_to_the_page(demo, page):
    step, _ = demo
    assert len(step.stages["fused"]) > 150
    assert page.requests == []                          # one self-contained file, svg-pan-zoom inlined
    page.locator("#stage-fused").scroll_into_view_if_needed()
    drawing = shown_drawing(page, "fused")
    assert drawing.count() == 1 and drawing.is_visible()
    box = drawing.bounding_box()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH     # nothing to scroll sideways
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    assert box["height"] <= 0.75 * HEIGHT + 1                                # fits in the window
    # the drawing spans its box's width and starts at its top: not a blank corner of it
    content = drawing.locator("g.svg-pan-zoom_viewport").bounding_box()
    slack = 4                                                   # graphviz's margin around the drawing
    assert content["x"] == pytest.approx(box["x"], abs=slack)
    assert content["width"] == pytest.approx(box["width"], abs=2 * slack)
    assert content["y"] == pytest.approx(box["y"], abs=slack)
    assert drawing.locator("g.node").count() >= 10
    # every drawn stage is at most a window tall, so the page is not kilometres long
    for other in page.locator("div.graph:not([hidden])").all():
        assert other.bounding_box()["height"] <= 0.75 * HEIGHT + 1
    for long_text in ("#source pre", "#profile pre"):                      # they scroll in their own box
        assert page.locator(long_text).bounding_box()["height"] <= 0.75 * HEIGHT + 1
    assert not page.errors, page.errors


def test_zooming_changes_the_view(page):
    page.locator("#stage-fused").scroll_into_view_if_needed()
    drawing = shown_drawing(page, "fused")
    fitted = scale_of(drawing)
    drawing.locator("#svg-pan-zoom-zoom-in").click()
    zoomed = scale_of(drawing)
    assert zoomed > fitted * 1.1

    # Ctrl + wheel zooms at the pointer; a plain wheel scrolls the page and leaves the drawing be
    box = drawing.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_timeout(100)
    assert scale_of(drawing) > zoomed * 1.1
    zoomed, scrolled = scale_of(drawing), page.evaluate("window.scrollY")
    page.mouse.wheel(0, 300)
    page.wait_for_timeout(100)
    assert scale_of(drawing) == zoomed and page.evaluate("window.scrollY") > scrolled

    drawing.locator("#svg-pan-zoom-reset-pan-zoom").click()
    assert scale_of(drawing) == pytest.approx(fitted, rel=1e-3)
    assert not page.errors, page.errors


def test_a_large_stage_opens_by_layer_and_a_layer_opens_on_click(demo, page):
    step, _ = demo
    graph = step.stages["fused"]
    groups = render.layer_groups(graph)
    assert {"dense1", "dense2", "loss", "optimizer", "params"} <= set(groups)
    overview = shown_drawing(page, "fused")
    assert overview.get_attribute("id") == "grouped-fused"
    assert overview.locator("g.node[id*='-node']").count() < 20         # boxes, not 171 nodes

    overview.locator("g.node").filter(has_text="dense2").click()
    opened = shown_drawing(page, "fused")
    k = list(groups).index("dense2")
    assert opened.get_attribute("id") == f"grouped-fused-{k}"
    shown = {int(i.rsplit("node", 1)[1]) for i in opened.locator("g.node[id*='-node']").evaluate_all(
        "els => els.map(e => e.id)")}
    assert set(groups["dense2"]) <= shown
    for n in groups["dense2"]:
        assert opened.locator(f"#fused-g{k}-node{n}").is_visible()
        assert graph[n]["op"] in opened.locator(f"#fused-g{k}-node{n}").text_content()

    # in the fused stage, the layer's nodes sit in boxes of the kernels they were fused into
    kernels = [c.locator("text").first.text_content()
               for c in opened.locator(f"#fused-g{k}-group{k} ~ g.cluster").all()]
    assert kernels and all(label.startswith("kernel ") for label in kernels)

    # clicking the opened layer's frame closes it again
    opened.locator(f"#fused-g{k}-group{k} > text").first.click()
    assert shown_drawing(page, "fused").get_attribute("id") == "grouped-fused"

    # "all nodes" shows every node, each kernel in its box
    page.click("#stage-fused .views button[data-show='graph-fused']")
    full = shown_drawing(page, "fused")
    assert full.locator("g.node[id*='-node']").count() == len(graph)
    assert full.locator("g.cluster").count() >= 3
    assert not page.errors, page.errors


def test_the_details_panel_closes_by_button_and_escape(page):
    page.click("#stage-fused .views button[data-show='graph-fused']")
    node = shown_drawing(page, "fused").locator("g.node").filter(has_text="matmul").first
    details = page.locator("#details")
    node.click()
    assert details.is_visible() and "matmul" in details.inner_text()
    page.keyboard.press("Escape")
    assert not details.is_visible()

    node.click()
    assert details.is_visible()
    page.click("#close-details")
    assert not details.is_visible()
    assert page.locator("g.node.selected").count() == 0
    assert not page.errors, page.errors


def test_an_unchanged_stage_says_which_it_is_the_same_as(demo, page):
    step, _ = demo
    # the training step is traced with its shapes known, and dce finds nothing left to remove
    same_as = {"shaped": "traced", "optimized": "deduplicated"}
    for name, before in same_as.items():
        assert str(step.stages[name]) == str(step.stages[before])
    for name in step.stages:
        section = page.locator(f"#stage-{name}")
        if name in same_as:
            assert f"same as {same_as[name]}" in section.inner_text()
            assert section.locator("svg").count() == 0
            section.locator(".changes a").click()
            assert page.locator(f"#stage-{same_as[name]} svg").first.is_visible()
        else:
            assert "same as" not in section.inner_text()
            assert shown_drawing(page, name).locator("svg").count() == 1
    # fusion keeps every node but groups them into kernels: drawn again, and it says so
    assert "kernels" in page.locator("#stage-fused .changes").inner_text()
    assert not page.errors, page.errors


def test_inputs_and_outputs_are_a_table(demo, page):
    step, _ = demo
    table = page.locator("#signature")
    assert table.is_visible()
    assert page.locator(".signature").bounding_box()["height"] <= HEIGHT / 2 + 1     # it scrolls in its box
    header = table.locator("tr").first.locator("th").all_inner_texts()
    assert header == ["name", "shape", "dtype", "role"]
    rows = [r.locator("td").all_inner_texts() for r in table.locator("tr").all()]
    rows = [r for r in rows if r]
    graph = step.stages["fused"]
    assert len(rows) == len(graph.inputs) + len(graph.outputs) == 24 + 20
    assert ["x", "(32, 2)", "float32", "input"] in rows
    assert ["params['dense2']['w']", "(64, 64)", "float32", "input"] in rows
    assert ["result[0]['dense2']['w']", "(64, 64)", "float32", "update"] in rows


def test_the_search_marks_the_layers_holding_matches(demo, page):
    step, _ = demo
    page.fill("#search", "matmul")
    overview = page.locator("#grouped-fused")
    marked = {box.locator("text").first.text_content() for box in overview.locator("g.node.match").all()}
    assert marked == {"dense1", "dense2", "dense3"}
    expected = sum(g.count_ops().get("matmul", 0) for name, g in step.stages.items()
                   if name not in ("shaped", "optimized"))      # the stages drawn, not "same as"
    assert page.inner_text("#matches") == f"{expected} nodes"

    overview.locator("g.node").filter(has_text="dense2").click()      # opened later, marked too
    graph = step.stages["fused"]
    k = list(render.layer_groups(graph)).index("dense2")
    matmuls = {f"fused-g{k}-node{n}" for n in render.layer_groups(graph)["dense2"] if graph[n]["op"] == "matmul"}
    opened = shown_drawing(page, "fused")
    assert matmuls and set(opened.locator("g.node.match").evaluate_all("els => els.map(e => e.id)")) == matmuls


def test_a_kernel_in_the_source_opens_the_fused_drawing_at_its_box(page):
    assert shown_drawing(page, "fused").get_attribute("id") == "grouped-fused"
    link = page.locator("a.to-cluster").nth(2)
    box_id = link.get_attribute("href")
    link.click()
    assert shown_drawing(page, "fused").get_attribute("id") == "graph-fused"
    box = page.locator(f"#graph-fused {box_id}")
    assert box.is_visible() and "flash" in box.get_attribute("class")
    assert box.bounding_box()["y"] >= 0 and box.bounding_box()["y"] < HEIGHT      # in the window
    assert not page.errors, page.errors
