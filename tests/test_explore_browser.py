"""The explorer's page in a real browser: headless Chromium driven by playwright-python.

Skips, saying why, without playwright (pip install -e ".[test]") or without a Chromium
(Debian: apt-get install chromium; elsewhere set TINYGRAD_DROP_CHROMIUM to the browser's path);
.ci/run installs both, so there they run. Screenshots go to $TINYGRAD_DROP_SCREENSHOTS when set
(README's picture: TINYGRAD_DROP_SCREENSHOTS=docs/images pytest tests/test_explore_browser.py),
else to a temporary folder, and are checked not to be blank.
"""
from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from test_explore import cells, mlp_and_loss, sampled, small_gpt

pytestmark = pytest.mark.debug
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    chosen = os.environ.get("TINYGRAD_DROP_CHROMIUM")
    if chosen:
        return chosen
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python is not installed: "
                                   "pip install -e '.[test]' (the browser tests drive Chromium with it)")
    executable = find_browser()
    if executable is None:
        pytest.skip("no Chromium found: install it (Debian: apt-get install chromium) or set "
                    "TINYGRAD_DROP_CHROMIUM to a Chromium or Chrome executable")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """A page opened from disk, collecting console errors and uncaught exceptions."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.resolve().as_uri())

    def label(self) -> str:
        return self.page.text_content("#step-label")

    def current_nodes(self) -> list[int]:
        return [int(i) for i in self.page.eval_on_selector_all(".node.current", "els => els.map(e => e.dataset.id)")]

    def values(self, selector: str) -> list[str]:
        return self.page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.v)")


def open_page(browser, tmp_path, make_loss, names) -> tuple[Page, td.viz.Explorer]:
    explorer = td.viz.explore(make_loss, tmp_path / "page.html", names=names)
    return Page(browser, tmp_path / "page.html"), explorer


def test_stepping_n_times_lights_the_nth_step_and_shows_the_engines_gradient(browser, tmp_path):
    model, make_loss = mlp_and_loss()
    page, explorer = open_page(browser, tmp_path, make_loss, model)
    twin, twin_loss = mlp_and_loss()
    engine = list(td.autograd.backward_steps(twin_loss()))
    assert page.label().startswith(f"step 0 of {len(engine)}") and page.current_nodes() == []
    steps = explorer.data["steps"]
    for n in range(1, len(engine) + 1):
        page.page.click("#next")
        assert page.label() == f"step {n} of {len(engine)}: {engine[n - 1].name}"
        assert page.current_nodes() == [steps[n - 1]["node"]]
        shown = np.array([float(v) for v in page.values("#step-grad .cell")])
        expected = sampled(engine[n - 1].grad, steps[n - 1]["grad"]).ravel()
        np.testing.assert_allclose(shown, expected, rtol=1e-3, atol=0)  # 4 significant digits
    assert page.errors == []


def test_a_dropout_nodes_dropped_cells_are_drawn_dropped_and_get_exact_zeros(browser, tmp_path):
    model, make_loss = mlp_and_loss()
    page, explorer = open_page(browser, tmp_path, make_loss, model)
    (dropout,) = [n for n in explorer.data["nodes"] if "dropout" in n]
    n = 1 + next(k for k, s in enumerate(explorer.data["steps"]) if s["node"] == dropout["id"])
    page.page.fill("#slider", str(n))
    assert page.label().startswith(f"step {n} of") and "Dropout" in page.label()
    drawn = page.page.eval_on_selector_all("#dropout .mask .cell", "els => els.map(e => e.className)")
    kept = np.array(["kept" in c for c in drawn]).reshape(8, 12)
    assert np.array_equal(kept, model.net[2].mask) and not kept.all()
    passed = np.array(page.values(".step-out .cell")).reshape(8, 12)
    assert (passed[~kept] == "0").all() and (passed[kept] != "0").all()
    dropped_cells = page.page.eval_on_selector_all(".step-out .cell.dropped", "els => els.length")
    assert dropped_cells == int((~kept).sum())
    page.page.click("#eval-toggle")  # eval: the same node as the identity
    assert "identity" in page.page.text_content("#dropout")
    assert page.page.eval_on_selector_all("#dropout .mask", "els => els.length") == 0
    assert page.errors == []


def test_the_keyboard_steps_and_jumps(browser, tmp_path):
    model, make_loss = small_gpt()
    page, explorer = open_page(browser, tmp_path, make_loss, model)
    total = len(explorer.data["steps"])
    page.page.click("#graph-area")
    for _ in range(3):
        page.page.keyboard.press("ArrowRight")
    assert page.label().startswith(f"step 3 of {total}")
    page.page.keyboard.press("ArrowLeft")
    assert page.label().startswith(f"step 2 of {total}")
    page.page.keyboard.press("End")
    assert page.label().startswith(f"step {total} of {total}")
    assert page.current_nodes() == [explorer.data["steps"][-1]["node"]]
    page.page.keyboard.press("Home")
    assert page.label().startswith(f"step 0 of {total}")
    assert page.errors == []


def test_search_and_module_groups(browser, tmp_path):
    model, make_loss = small_gpt()
    page, explorer = open_page(browser, tmp_path, make_loss, model)
    page.page.fill("#search", "c_attn.weight")
    assert len(page.page.query_selector_all(".node.match")) == 1
    page.page.click("#collapse-all")
    assert page.page.query_selector_all(".group")  # transformer.h.0 folded into one box
    hidden = page.page.eval_on_selector_all(".node.hidden", "els => els.length")
    assert hidden == sum(1 for n in explorer.data["nodes"] if (n["module"] or "").startswith("transformer.h.0"))
    page.page.click("#expand-all")
    assert page.page.query_selector_all(".group") == []
    (softmax,) = [n for n in explorer.data["nodes"] if n["op"] == "SoftmaxBackward"]
    page.page.click(f"#node-{softmax['id']}")
    assert "gradcheck passed" in page.page.text_content("#gradcheck")
    assert "backward" in page.page.text_content("#node-panel")
    assert page.errors == []


def png_is_blank(png: bytes) -> bool:
    """True when the picture is (nearly) one colour: fewer than 1% of its pixel bytes differ from
    the most common byte. Reads the PNG's pixel rows (zlib) without an imaging library."""
    chunks, position = [], 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        if kind == b"IDAT":
            chunks.append(png[position + 8:position + 8 + length])
        position += 12 + length
    pixels = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    most_common = np.bincount(pixels).argmax()
    return np.mean(pixels != most_common) < 0.01


@pytest.mark.parametrize("model_name", ["mlp", "gpt"])
def test_screenshots_of_the_mlp_and_gpt_pages_are_not_blank(browser, tmp_path, model_name):
    model, make_loss = mlp_and_loss() if model_name == "mlp" else small_gpt()
    page, explorer = open_page(browser, tmp_path, make_loss, model)
    for _ in range(len(explorer.data["steps"]) // 3):
        page.page.keyboard.press("ArrowRight")
    folder = Path(os.environ.get("TINYGRAD_DROP_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    png = page.page.screenshot(path=str(folder / f"explorer_{model_name}.png"))
    assert not png_is_blank(png)
    assert png_is_blank(Page(browser, write_blank(tmp_path)).page.screenshot())  # the check can fail
    assert page.errors == []


def write_blank(tmp_path: Path) -> Path:
    path = tmp_path / "blank.html"
    path.write_text("<html><body></body></html>")
    return path
