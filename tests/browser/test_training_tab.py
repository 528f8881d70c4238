"""The lab's "training" tab in a real browser: heat strips and the ratio plot draw while a run trains, and
clicking a finding of the diagnosis marks its evidence on the loss curve."""

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle, wait_until, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# a lab whose LR is far too high (the diagnosis says so), training long enough to be watched
CELL = """\
import torch
torch.set_num_threads(1)
from workbench.data import load_digits
from workbench.lab import LabSettings
from workbench.ui import OverfitLab
settings = LabSettings(epochs=100_000, subset=64, batch_size=16, lr=0.3)
lab = OverfitLab(load_digits(seed=0), settings, store=None)
lab.tabs.selected_index = [lab.tabs.get_title(i) for i in range(len(lab.tabs.children))].index("training")
lab"""


def test_the_training_tab_draws_while_a_run_trains_and_a_finding_marks_the_curve(page, lab):
    write_notebook(lab.root / "training_tab.ipynb", CELL)
    open_notebook(page, lab, "training_tab.ipynb")
    run_all(page)
    box = page.locator(".wb-overfit-lab").first
    box.wait_for(timeout=600_000)
    wait_idle(page, 600)
    status = box.locator(".wb-status-text")
    box.locator("button", has_text="Run").first.click()
    wait_until(lambda: "training" in status.inner_text(), 120, "the run to start")
    view = box.locator(".wb-probes-view")
    # bqplot's HeatMap paints a canvas and shows it as an <image> in the figure's svg
    heat = view.locator("svg image[href^='data:image/png']")
    wait_until(
        lambda: heat.count() >= 8, 300, "the heat strips"
    )  # 5 layers' activations, 3 weights' gradients
    samples = view.locator(".wb-probes-status")
    # the lab keeps sampling to 0.6 % of the training thread by wall clock: about a sample a second or two
    # here, far fewer a minute on a loaded machine (a sample costs more there)
    wait_until(lambda: int(samples.inner_text().split()[0] or 0) >= 3, 600, "three samples drawn")
    # each painted canvas spans its strip (one drawn against a stale, shorter axis was ~1000x too wide: blank)
    widths = [float(w) for w in heat.evaluate_all("els => els.map(e => e.getAttribute('width'))")]
    assert all(50 < w < 2000 for w in widths), widths
    ratio_lines = view.locator(".bqplot").nth(-2).locator("path.line")
    wait_until(
        lambda: any(len(p.get_attribute("d") or "") > 20 for p in ratio_lines.all()),
        300,
        "the update-ratio lines",
    )
    assert "training" in status.inner_text()  # all of it drawn while the run trains
    page.screenshot(path=str(ARTIFACTS / "training_tab_live.png"), full_page=False)
    box.locator("button", has_text="Stop").first.click()
    wait_until(lambda: "stopped" in status.inner_text(), 120, "the run to stop")
    box.locator(".lm-TabBar-tab", has_text="curves").first.click()
    # which findings a run at LR 0.3 shows depends on where it was stopped (lr_too_high early, then
    # not_learning): click the first one that has evidence to mark
    finding = box.locator(".wb-finding button:not([disabled])").first
    finding.wait_for(timeout=120_000)
    loss = box.locator(".wb-live-curves .bqplot").first
    red = loss.locator("path.line[style*='rgb(214, 39, 40)']")  # the evidence lines (#d62728)
    assert all(len(p.get_attribute("d") or "") < 5 for p in red.all())  # nothing marked yet
    finding.click()
    wait_until(lambda: any(len(p.get_attribute("d") or "") > 5 for p in red.all()), 120, "the evidence marks")
    loss.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "training_tab_finding_marked.png"), full_page=False)
