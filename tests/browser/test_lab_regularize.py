"""The lab's regularize row in a real browser: the augmentation picker and its preview grid draw, a tick in
the picker redraws the grid, and a run with the EMA on draws the "EMA" line beside the live ones."""

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle, wait_until, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELL = """\
import torch
torch.set_num_threads(1)
from workbench.data import load_digits
from workbench.lab import LabSettings
from workbench.ui import OverfitLab
settings = LabSettings(epochs=30, subset=64, batch_size=16, lr=3e-3, augment="shift:1", ema=0.9)
lab = OverfitLab(load_digits(seed=0), settings, store=None)
lab"""


def test_the_regularize_row_and_preview_draw_and_the_ema_line_follows_a_run(page, lab):
    write_notebook(lab.root / "regularize_row.ipynb", CELL)
    open_notebook(page, lab, "regularize_row.ipynb")
    run_all(page)
    box = page.locator(".wb-overfit-lab").first
    box.wait_for(timeout=600_000)
    wait_idle(page, 600)
    row = box.locator(".wb-regularize")
    row.scroll_into_view_if_needed()
    for label in ("early stop", "input size", "EMA decay", "dropout", "weight decay"):
        assert row.locator(".widget-inline-hbox", has_text=label).count() >= 1, label
    assert row.locator(".wb-aug-shift input").is_checked()
    grid = row.locator("img.wb-augment-grid")
    drawn = lambda: grid.evaluate("img => img.complete && img.naturalWidth") > 100  # noqa: E731
    wait_until(drawn, 120, "the preview grid")
    before = grid.get_attribute("src")
    page.screenshot(path=str(ARTIFACTS / "lab_regularize_row.png"), full_page=False)
    row.locator(".wb-aug-rotate input").check()
    wait_until(lambda: grid.get_attribute("src") != before, 120, "the grid redrawn for the new augmentation")
    wait_until(drawn, 120, "the new grid")
    assert "rotate:10" in row.locator(".wb-augment-preview").inner_text()
    assert "augment=shift:1,rotate:10" in box.locator(".wb-run-line input").input_value()
    status = box.locator(".wb-status-text")
    box.locator("button", has_text="Run").first.click()
    wait_until(lambda: "finished" in status.inner_text(), 600, "the run to finish")
    loss = box.locator(".wb-live-curves .bqplot").first
    loss.scroll_into_view_if_needed()
    ema = loss.locator("path.line[style*='rgb(106, 61, 154)']")  # the EMA line (#6a3d9a)
    wait_until(lambda: any(len(p.get_attribute("d") or "") > 20 for p in ema.all()), 120, "the EMA loss line")
    assert "EMA" in loss.inner_text()  # its legend entry
    acc = box.locator(".wb-live-curves .bqplot").nth(1)
    assert any(
        len(p.get_attribute("d") or "") > 20
        for p in acc.locator("path.line[style*='rgb(106, 61, 154)']").all()
    )
    page.screenshot(path=str(ARTIFACTS / "lab_regularize_ema.png"), full_page=False)
