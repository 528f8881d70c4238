"""04_tune_the_learning_rate in a real browser: the range-test curve and the search scatter are drawn."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_range_curve_and_search_scatter_draw(page, lab):
    open_notebook(page, lab, "04_tune_the_learning_rate.ipynb")
    run_all(page)
    # the notebook is done when its last table (the Dask search) has rendered
    page.locator(".jp-OutputArea-output table.dataframe").nth(2).wait_for(timeout=900_000)
    rng = page.locator(".wb-lr-range").first
    rng.scroll_into_view_if_needed()
    curve = rng.locator(".wb-lr-range-figure path.line").nth(1)  # the smoothed loss
    assert len(curve.get_attribute("d") or "") > 200
    # text_content: JupyterLab renders off-screen cells with content-visibility:auto (no layout text)
    assert "recommended" in rng.locator(".wb-status").text_content()
    search = page.locator(".wb-search-view").first
    search.scroll_into_view_if_needed()
    deadline = time.time() + 120
    while search.locator(".wb-search-scatter .dot").count() < 8 and time.time() < deadline:
        time.sleep(0.2)
    assert (
        search.locator(".wb-search-scatter .dot").count() >= 8
    )  # completed trials, coloured by val accuracy
    assert "best val acc" in search.locator(".wb-status").text_content()
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "04_search.png"), full_page=False)
