"""Lab 2 (pipeline bugs) in a real browser: the student notebook runs in JupyterLab and its feedback
shows, six checks, each "not yet" with its hint."""

import time

import pytest

from .conftest import ARTIFACTS, run_all, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_lab(page, lab, name: str) -> None:
    """``open_notebook`` for a notebook in a subfolder (its tab shows the file name only)."""
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    deadline = time.time() + 90
    while time.time() < deadline:
        if accept.count():  # "Select Kernel" on a fresh server
            accept.first.click()
        if "Idle" in page.locator("#jp-main-statusbar").inner_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"kernel of {name} never went idle:\n{lab.log.read_text()[-2000:]}")


def test_lab_2_runs_and_its_feedback_shows(page, lab):
    open_lab(page, lab, "labs/02_pipeline_bugs.ipynb")
    run_all(page)
    feedback = page.locator(".jp-OutputArea-output .wb-feedback")
    feedback.first.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=180)
    texts = feedback.all_inner_texts()
    assert len(texts) == 6, texts
    assert all("not yet" in t and "hint:" in t for t in texts), texts
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    feedback.last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "lab_02_feedback.png"), full_page=True)
