"""SqueezeView in a real browser: the bar chart of test accuracy draws one bar per model and a whisker
(the interval) through the middle of each; a button click trains in the background and adds bars."""

import re
import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """
import tempfile
from workbench.data import load_digits
from workbench.squeeze import ModelSpec, train_members
from workbench.train import RunStore, TrainConfig
from workbench.ui import SqueezeView

digits = load_digits(seed=0)
folder = tempfile.mkdtemp()
store = RunStore(folder + "/runs.sqlite")
spec = ModelSpec.for_data("mlp", digits.train, width=16)
config = TrainConfig(epochs=2, lr=1e-2, device="cpu")
members = train_members(
    spec, digits.train, digits.val, seeds=(0, 1), config=config, store=store, folder=folder
)
view = SqueezeView(digits, store=store, epochs=1)
view.pick_top(2)
view.start("ensemble")
view.wait(600)
view
"""


def _segments(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+)[, ](-?[\d.]+)", d)]


def _bars_and_whiskers(chart):
    bars = chart.locator("rect.bar").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.height]; })"
    )
    whiskers = chart.locator("path.line").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.width, r.height, e.getAttribute('d') || '']; })"
    )
    return bars, whiskers


def test_bars_with_interval_whiskers_draw_and_grow_after_a_click(page, lab):
    write_notebook(lab.root / "squeeze_view.ipynb", SETUP)
    open_notebook(page, lab, "squeeze_view.ipynb")
    run_all(page)
    chart = page.locator(".wb-squeeze-view .wb-comparison-chart").first
    chart.wait_for(timeout=900_000)
    deadline = time.time() + 300
    while chart.locator("rect.bar").count() < 3 and time.time() < deadline:
        time.sleep(0.2)
    bars, whiskers = _bars_and_whiskers(chart)
    assert len(bars) == 3 and all(h > 5 for _, h in bars)  # single best, the other run, the ensemble
    drawn = [w for w in whiskers if len(_segments(w[3])) == 2]
    assert len(drawn) == 3
    for (bar_x, _), (x, width, height, _) in zip(bars, drawn):
        assert width < 4 and height > 2 and abs(x - bar_x) < 2  # vertical, through the bar's middle
    assert "gain over single best" in page.locator(".wb-comparison").first.text_content()
    # EMA trains in a worker thread: the kernel stays free and the chart grows to five bars
    page.locator(".wb-squeeze-view .widget-button", has_text="EMA").first.click()
    deadline = time.time() + 600
    while chart.locator("rect.bar").count() < 5 and time.time() < deadline:
        time.sleep(0.5)
    assert chart.locator("rect.bar").count() == 5
    assert "EMA run (live)" in chart.text_content()
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "squeeze_view.png"), full_page=False)
