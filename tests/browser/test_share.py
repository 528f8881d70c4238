"""Sharing in a real browser: the copy buttons of the lab and of a search's trial line put the line on the
clipboard in JupyterLab; Save HTML writes a file next to the notebook that Chromium draws with the network
blocked (bqplot curves and the tables), and ``export_html`` of a finished search draws offline too."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, SLOW_MS, open_notebook, wait_idle, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """from workbench import load_digits
from workbench.lab import LabSettings
from workbench.tune import ModelSpec
from workbench.ui import OverfitLab, SearchView

digits = load_digits(seed=0)
lab = OverfitLab(digits, LabSettings(subset=64, epochs=3, seed=4), store=None, background=False)
lab.start()
lab""",
    """view = SearchView((digits.train.subset(range(200)), digits.val), model=ModelSpec("linear"), n_trials=2,
                  epochs=1, workers=0, store="share_search.sqlite", background=False)
view.start()
view""",
]


def _copied(page, button) -> str:
    page.evaluate("navigator.clipboard.writeText('-- nothing copied yet --')")
    button.click()
    deadline = time.time() + 60
    while time.time() < deadline:
        text = page.evaluate("navigator.clipboard.readText()")
        if text != "-- nothing copied yet --":
            return text
        time.sleep(0.2)
    return text


def _opens_offline(browser, path: Path, shot: str, drawn_when: str) -> dict:
    """Open ``path`` with every non-file request aborted; what was drawn once ``drawn_when`` (JavaScript on
    ``ls``, the lengths of the lines' paths) holds, or after 120 s."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1500, "height": 1400})
    context.set_default_timeout(SLOW_MS)
    asked: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            asked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []  # anything the page could not load (a font beside the file, a script...)
    page.on("requestfailed", lambda r: failed.append(r.url[:120]))
    page.goto(path.as_uri())
    page.wait_for_function(  # a drawn line (some figures sit in tabs that are not shown)
        "() => [...document.querySelectorAll('.bqplot svg path.line')]"
        ".some(e => (e.getAttribute('d') || '').length > 20)",
        timeout=300_000,
    )
    with contextlib.suppress(PlaywrightTimeout):  # the other marks finish drawing: seconds under load
        page.wait_for_function(
            "() => { const ls = [...document.querySelectorAll('.bqplot svg path.line')]"
            f".map(e => (e.getAttribute('d') || '').length); return {drawn_when}; }}",
            timeout=120_000,
        )
    page.wait_for_timeout(1000)
    drawn = {
        "paths": page.eval_on_selector_all(
            ".bqplot svg path.line", "els => els.map(e => (e.getAttribute('d') || '').length)"
        ),
        "text": page.inner_text("body"),
        "rows": page.locator("table tr").count(),
        "asked": asked,
        "errors": errors,
        "failed": failed,
    }
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    context.close()
    return drawn


def test_copy_buttons_and_save_html_in_jupyterlab(page, lab):
    write_notebook(lab.root / "share_check.ipynb", *CELLS)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    open_notebook(page, lab, "share_check.ipynb")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_selector(".wb-trial-lines .wb-copy-button", timeout=900_000)
    wait_idle(page)

    # the lab's run line: the button copies exactly what the box shows
    run_line = page.locator(".wb-overfit-lab .wb-run-line input").input_value()
    assert run_line.startswith("wb1:model=mlp;") and ";seed=4;" in run_line
    assert _copied(page, page.locator(".wb-overfit-lab .wb-copy-button")) == run_line
    # a search trial's line
    trial = page.locator(".wb-trial-lines .wb-trial-line input").input_value()
    assert trial.startswith("wb1:model=linear;") and ";subset=200;" in trial
    assert _copied(page, page.locator(".wb-trial-lines .wb-copy-button")) == trial
    page.screenshot(path=str(ARTIFACTS / "share-jupyterlab.png"), full_page=True)

    # Save HTML: a file next to the notebook, its path in the lab's status line
    before = set(lab.root.glob("overfitlab-*.html"))
    page.locator(".wb-overfit-lab .wb-save-html").click()
    deadline = time.time() + 300
    while not set(lab.root.glob("overfitlab-*.html")) - before and time.time() < deadline:
        time.sleep(0.5)
    (saved,) = set(lab.root.glob("overfitlab-*.html")) - before
    page.locator(".wb-overfit-lab .wb-status", has_text=saved.name).wait_for(timeout=120_000)
    drawn = _opens_offline(
        page.context.browser, saved, "share-saved-lab-offline.png", "Math.max(...ls) > 100"
    )
    assert not drawn["errors"] and not drawn["failed"] and not drawn["asked"], drawn
    assert drawn["paths"] and max(drawn["paths"]) > 100, drawn["paths"]  # the curves, drawn
    assert "Save HTML" in drawn["text"] and "finished" in drawn["text"]  # controls and status as they were


def test_an_exported_search_draws_offline(tmp_path, digits):
    from playwright.sync_api import sync_playwright

    from workbench.tune import ModelSpec
    from workbench.ui import SearchView

    view = SearchView(
        (digits.train.subset(range(200)), digits.val),
        model=ModelSpec("linear"),
        n_trials=3,
        epochs=2,
        workers=0,
        store=tmp_path / "s.sqlite",
        background=False,
    )
    view.start()
    path = view.save_html(tmp_path / "search.html")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            drawn = _opens_offline(browser, path, "share-search-offline.png", "Math.min(...ls) > 10")
        finally:
            browser.close()
    assert not drawn["errors"] and not drawn["failed"] and not drawn["asked"], drawn
    assert drawn["paths"] and min(drawn["paths"]) > 10, drawn["paths"]  # the best trials' curves
    assert drawn["rows"] >= 4  # the trial table: a header and three trials
    best = view.result.best
    assert f"{best.value:.1%}" in drawn["text"] and "Refine top 3" in drawn["text"]
