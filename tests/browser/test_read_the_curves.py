"""05_read_the_curves in a real browser: the update-ratio figure draws four runs over the shaded band,
the schedule figure draws the preview with the LRs the run used on it, and the ProbesView shows."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _lengths(figure) -> list[int]:
    return [len(p.get_attribute("d") or "") for p in figure.locator("path.line").all()]


def test_the_ratio_and_schedule_figures_draw(page, lab):
    open_notebook(page, lab, "05_read_the_curves.ipynb")
    run_all(page)
    figures = page.locator(".jp-OutputArea-output .bqplot")
    ratio = figures.filter(has_text="update/weight ratio at four LRs")
    schedule = figures.filter(has_text="cosine with 50 warmup steps")
    deadline = time.time() + 900
    while not schedule.count() and time.time() < deadline:
        time.sleep(0.5)
    wait_idle(page)
    assert ratio.count() == 1 and schedule.count() == 1
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e for e in errors.all_inner_texts() if "Error" in e]

    ratio.scroll_into_view_if_needed()
    ratio.screenshot(path=str(ARTIFACTS / "05_update_ratio.png"))
    # the band (an area between two lines) and one line per run, each with points
    assert ratio.locator("path.area").count() >= 1
    lengths = _lengths(ratio)
    assert len([n for n in lengths if n > 50]) >= 4, lengths

    schedule.scroll_into_view_if_needed()
    schedule.screenshot(path=str(ARTIFACTS / "05_schedule.png"))
    assert max(_lengths(schedule)) > 200  # the preview: 200 steps
    assert schedule.locator(".dot").count() >= 30  # every 5th step the run recorded

    # the ProbesView of section 8 (its own browser test checks it in depth)
    probes_view = page.locator(".jp-OutputArea-output .wb-probes-view")
    probes_view.first.scroll_into_view_if_needed()
    probes_view.first.screenshot(path=str(ARTIFACTS / "05_probes_view.png"))
