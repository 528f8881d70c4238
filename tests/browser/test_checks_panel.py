"""02_pipeline_sanity_checks in a real browser: the batch grid is drawn, and the checks panel runs checks
live."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_batch_grid_draws_and_checks_run_from_the_panel(page, lab):
    open_notebook(page, lab, "02_pipeline_sanity_checks.ipynb")
    run_all(page)
    grid = page.locator(".wb-batch-viewer .wb-batch-grid").first
    grid.wait_for(timeout=600_000)
    deadline = time.time() + 120
    while grid.evaluate("img => img.naturalWidth") == 0 and time.time() < deadline:
        time.sleep(0.2)
    assert grid.evaluate("img => img.naturalWidth") > 100  # a decoded grid of 24 digits
    viewer = page.locator(".wb-batch-viewer").first
    viewer.scroll_into_view_if_needed()  # JupyterLab hides cells scrolled far out of view (inner text "")
    assert "shape (24, 1, 8, 8)" in viewer.text_content()

    panel = page.locator(".wb-checks-panel").first
    panel.wait_for(state="attached", timeout=900_000)  # after the notebook's run_all cell (a minute or two)
    panel.scroll_into_view_if_needed()
    row = panel.locator(".wb-check-gradient_check")
    row.locator("button", has_text="run").click()
    deadline = time.time() + 300
    while "passed" not in row.locator(".wb-badge").inner_text() and time.time() < deadline:
        time.sleep(0.2)
    assert "passed" in row.locator(".wb-badge").inner_text()
    assert "analytic and numerical gradients agree" in row.inner_text()
    panel.locator("button", has_text="Run all checks").click()
    deadline = time.time() + 60
    while "running 8 check(s)" not in panel.inner_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "running 8 check(s)" in panel.inner_text()  # the old summary is gone at once
    deadline = time.time() + 900
    while "8 checks done" not in panel.inner_text() and time.time() < deadline:
        time.sleep(0.3)
    badges = panel.locator(".wb-badge").all_inner_texts()
    assert "8 checks done, none failed" in panel.inner_text(), panel.inner_text()
    assert badges.count("passed") == 7 and badges.count("skipped") == 1, badges
    page.screenshot(path=str(ARTIFACTS / "02_checks_panel.png"), full_page=False)
