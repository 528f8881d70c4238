"""01_become_one_with_the_data in a real browser: the gallery renders, and filtering by an issue changes
it."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _captions(browser) -> list[str]:
    return browser.locator(".wb-gallery .wb-tile button").all_inner_texts()


def test_gallery_renders_and_issue_filter_changes_it(page, lab):
    open_notebook(page, lab, "01_become_one_with_the_data.ipynb")
    run_all(page)
    browser = page.locator(".wb-data-browser").first  # the digits browser
    browser.wait_for(timeout=600_000)
    browser.scroll_into_view_if_needed()
    browser.locator(".wb-gallery img").first.wait_for(timeout=300_000)
    deadline = time.time() + 120
    while len(_captions(browser)) < 24 and time.time() < deadline:
        time.sleep(0.2)
    before = _captions(browser)
    wait_idle(page)  # the notebook's later cells (MNIST, the CNN ranking) run first; then the filter answers
    assert len(before) == 24 and browser.locator(".wb-gallery img").count() == 24
    # thumbnails are real PNGs the browser decoded
    assert browser.locator(".wb-gallery img").first.evaluate("img => img.naturalWidth") > 0

    browser.locator(".wb-issue-filter select").select_option(
        label=browser.locator(".wb-issue-filter option", has_text="near_duplicate").first.inner_text()
    )
    deadline = time.time() + 120
    while _captions(browser) == before and time.time() < deadline:
        time.sleep(0.2)
    after = _captions(browser)
    assert after != before and 0 < len(after) < 24, after
    browser.locator(".wb-gallery .wb-tile button").first.click()
    details = browser.locator(".wb-details")
    deadline = time.time() + 120
    while "near_duplicate" not in details.inner_text() and time.time() < deadline:
        time.sleep(0.2)
    assert "near_duplicate" in details.inner_text()
    page.screenshot(path=str(ARTIFACTS / "01_data_browser_near_duplicates.png"), full_page=False)
    # the MNIST part ran too: its browser opened on the leakage filter
    mnist = page.locator(".wb-data-browser").nth(1)
    mnist.wait_for(timeout=600_000)
    assert "leakage" in mnist.locator(".wb-issue-filter select").input_value()
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
