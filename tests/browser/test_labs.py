"""Lab 2 (pipeline bugs) in a real browser: the student notebook runs in JupyterLab and its feedback
shows, six checks, each "not yet" with its hint."""


import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_lab_2_runs_and_its_feedback_shows(page, lab):
    open_notebook(page, lab, "labs/02_pipeline_bugs.ipynb")
    run_all(page)
    feedback = page.locator(".jp-OutputArea-output .wb-feedback")
    feedback.first.wait_for(timeout=600_000)
    wait_idle(page, timeout_s=600)
    texts = feedback.all_inner_texts()
    assert len(texts) == 6, texts
    assert all("not yet" in t and "hint:" in t for t in texts), texts
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    feedback.last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "lab_02_feedback.png"), full_page=True)
