"""01_become_one_with_the_data in a real browser: the per-channel statistics chart draws its bars."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_channel_stats_chart_draws_one_bar_per_split_and_statistic(page, lab):
    open_notebook(page, lab, "01_become_one_with_the_data.ipynb")
    run_all(page)
    # the standalone view of the planted darker test split (the browsers' own "split stats" tabs are hidden)
    view = page.locator(".wb-data-stats").filter(has_text="test differs from train in brightness").first
    view.wait_for(timeout=600_000)
    view.scroll_into_view_if_needed()
    bars = view.locator(".bqplot svg .bargroup rect.bar")
    bars.first.wait_for(state="attached", timeout=300_000)  # a bar has no size until its data is drawn
    assert bars.count() == 4  # (gray mean, gray std) x (train, test)
    deadline = time.time() + 300
    heights = [0.0]
    while not all(h > 0 for h in heights) and time.time() < deadline:
        heights = [float(bars.nth(k).get_attribute("height") or 0) for k in range(4)]
        time.sleep(0.2)
    view.screenshot(path=str(ARTIFACTS / "01_data_stats.png"))
    assert all(h > 0 for h in heights), heights
    assert view.locator("table.wb-channel-table tr").count() == 3
    assert "test differs from train in brightness" in view.inner_text()
    view.screenshot(path=str(ARTIFACTS / "01_data_stats.png"))
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
