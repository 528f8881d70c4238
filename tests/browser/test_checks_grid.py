"""The checks panel's rows line up in a real browser: same column x in every row, long messages wrap in
place."""

import itertools
import time

import nbformat
import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = "this message is long on purpose and must wrap inside its own column " * 6

SETUP = f"""
from workbench.data import load_digits
from workbench.models import build_model
from workbench.ui import ChecksPanel

digits = load_digits(seed=0)
panel = ChecksPanel(build_model("mlp", digits.train, seed=0), digits.train, digits.val, background=False)
panel.start(("gradient_check",))            # a real result in the row that used to sit out of line
panel._set("initial_loss", "FAILED", {LONG!r})  # a message several lines long
panel
"""


def _boxes(page, selector: str) -> list[dict]:
    return page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })"
    )


def test_rows_are_a_grid_and_long_messages_wrap(page, lab):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "checks_grid.ipynb")
    open_notebook(page, lab, "checks_grid.ipynb")
    run_all(page)
    panel = page.locator(".wb-checks-panel").first
    panel.wait_for(timeout=600_000)
    deadline = time.time() + 120
    while "agree" not in panel.locator(".wb-check-gradient_check").inner_text() and time.time() < deadline:
        time.sleep(0.2)
    assert "passed" in panel.locator(".wb-check-gradient_check .wb-badge").inner_text()

    rows = ".wb-checks-panel > [class*='wb-check-']"  # one per check (the old HBox rows match too)
    n = page.locator(rows).count()
    assert n == 8
    buttons = _boxes(page, f"{rows} > button")
    names = _boxes(page, f"{rows} > :nth-child(2)")
    badges = _boxes(page, f"{rows} .wb-badge")
    messages = _boxes(page, f"{rows} > :nth-child(4)")
    for column in (buttons, names, badges, messages):
        assert len(column) == n and max(b["x"] for b in column) - min(b["x"] for b in column) < 0.5, column
    assert all(abs(b["w"] - buttons[0]["w"]) < 0.5 for b in buttons), buttons  # no button squeezed

    row_boxes = _boxes(page, rows)
    for above, below in itertools.pairwise(row_boxes):
        assert below["y"] >= above["y"] + above["h"] - 0.5  # rows stack; a tall row pushes the next one down
    long_row = page.locator(".wb-checks-panel > .wb-check-initial_loss")
    message = ".wb-checks-panel > .wb-check-initial_loss > :nth-child(4) .widget-html-content > *"
    text = _boxes(page, message)[0]
    line = float(page.locator(message).evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert text["h"] >= 3 * line - 1, (text, line)  # wrapped onto several lines ...
    panel_box = panel.bounding_box()
    assert text["x"] + text["w"] <= panel_box["x"] + panel_box["width"] + 0.5  # ... inside the panel
    assert row_boxes[0]["h"] >= text["h"]  # the row grew with it (initial_loss is the first row)
    long_row.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "checks_grid.png"), full_page=False)
