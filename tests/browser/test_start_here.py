"""00_start_here in a real browser: the live curve draws and grows, and Stop answers at once."""

import itertools
import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _status(panel) -> str:
    return panel.locator(".wb-status-text").inner_text()


def _step_curve_length(panel) -> int:
    # first figure = loss; its first mark = the per-step training loss
    d = panel.locator(".wb-live-curves .bqplot").first.locator("path.line").first.get_attribute("d") or ""
    return len(d)


def test_live_curves_render_grow_and_stop_promptly(page, lab):
    open_notebook(page, lab, "00_start_here.ipynb")
    run_all(page)
    panel = page.locator(".wb-training-panel").first
    panel.wait_for(timeout=600_000)
    panel.scroll_into_view_if_needed()
    page.locator(".wb-live-curves .bqplot svg").first.wait_for(timeout=300_000)
    # the notebook's own run ends with a "finished" status and a drawn curve
    deadline = time.time() + 600  # a hang guard: the notebook's run takes seconds, minutes under load
    while "finished" not in _status(panel) and time.time() < deadline:
        time.sleep(0.25)
    assert "finished" in _status(panel), _status(panel)
    assert _step_curve_length(panel) > 100

    # a long run from the panel itself: the line gains points while it trains
    epochs = panel.locator(".wb-epochs input")
    epochs.fill("5000")
    epochs.press("Tab")
    panel.locator("button", has_text="Run").click()
    deadline = time.time() + 120
    while "training" not in _status(panel) and time.time() < deadline:
        time.sleep(0.05)
    assert "training" in _status(panel), _status(panel)
    lengths = []
    deadline = time.time() + 120
    while time.time() < deadline and len(set(lengths)) < 4:
        lengths.append(_step_curve_length(panel))
        time.sleep(0.3)
    grew = [b > a for a, b in itertools.pairwise(lengths) if b != a]
    assert len(set(lengths)) >= 4 and all(grew), lengths  # several redraws, each longer
    page.screenshot(path=str(ARTIFACTS / "00_start_here_training.png"), full_page=True)

    # Stop: the status must say so at once. A browser that fell behind the run showed it after 5 s; here it
    # takes a fraction of a second, and 3 s allow for the click's and the status's trips on a loaded machine
    t0 = time.perf_counter()
    panel.locator("button", has_text="Stop").click()
    while "stopped" not in _status(panel) and time.perf_counter() - t0 < 30:
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    page.screenshot(path=str(ARTIFACTS / "00_start_here_stopped.png"), full_page=True)
    assert "stopped at step" in _status(panel), _status(panel)
    assert elapsed < 3.0, f"Stop took {elapsed:.2f} s"
