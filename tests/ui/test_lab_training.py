"""The lab's "training" tab (probes of every run) and the diagnosis list under its curves."""

import numpy as np
import pytest

from workbench.diagnose import Probes, ProbeSample
from workbench.lab import LabSettings
from workbench.ui import OverfitLab, lab_callbacks
from workbench.ui import lab as lab_module
from workbench.ui.lab import PROBES_EVERY

TOO_HIGH = LabSettings(epochs=30, subset=64, batch_size=16, lr=0.3)


def _tab(lab, title):
    return next(i for i in range(len(lab.tabs.children)) if lab.tabs.get_title(i) == title)


@pytest.fixture
def lab(digits, monkeypatch):
    # sample by step count only: the lab's wall-clock cap (2 Hz) and time budget would make the number of
    # samples of these sub-second runs depend on how fast the machine is (the budget has its own test)
    monkeypatch.setattr(lab_module, "PROBES_HZ", 1e6)
    monkeypatch.setattr(lab_module, "PROBES_BUDGET", 1.0)
    return OverfitLab(digits, TOO_HIGH, store=None, background=False)


def test_the_training_tab_fills_during_a_run(lab):
    lab.tabs.selected_index = _tab(lab, "training")
    assert lab.tabs.children[_tab(lab, "training")] is lab.probes_view
    lab.run_button.click()
    probes = lab.probes
    assert isinstance(probes, Probes) and probes.every == PROBES_EVERY and len(probes.samples) >= 2
    view = lab.probes_view
    assert view.probes is probes and view.drawn_version == probes.version
    assert len(view.activation_strips) == 5 and all(len(h.x) >= 2 for h in view.activation_strips.values())
    assert all(len(line.y) for line in view.ratio_lines.values())
    first = lab.probes
    lab.run_button.click()  # every run gets its own probes, and the view follows it
    assert lab.probes is not first and view.probes is lab.probes


def test_the_training_tab_is_drawn_only_while_it_shows(lab):
    lab.run_button.click()  # the curves tab shows: the probes record, the view does not draw
    assert len(lab.probes.samples) >= 2 and lab.probes_view.drawn_version == -1
    lab.tabs.selected_index = _tab(lab, "training")  # shown: drawn at once
    assert lab.probes_view.drawn_version == lab.probes.version and lab.probes_view.activation_strips


def test_the_diagnosis_list_and_a_click_on_a_finding(lab):
    lab.run_button.click()
    d = lab.diagnosis
    assert "lr_too_high" in d.kinds, d.summary()  # (what the probes add depends on when they sampled)
    view = lab.diagnosis_view
    assert [f.kind for f in view.findings] == [f.kind for f in d.findings]
    # the verdict line is a view of the diagnosis: its worst finding
    assert d.findings[0].kind in lab.verdict_html.value and "more below" in lab.verdict_html.value
    row = next(r for r in view.rows if r.finding is not None and r.finding.kind == "lr_too_high")
    row.button.value = True
    assert np.array_equal(lab.curves.marked, sorted(row.finding.evidence["steps"]))
    lab.lr.value = 1e-3
    lab.run_button.click()  # a new run: the old finding and its marks go
    assert view.selected is None and len(lab.curves.marked) == 0
    assert "lr_too_high" not in view.diagnosis.kinds and not any(r.button.value for r in view.rows)
    lab.reset_button.click()
    assert view.findings == () and len(lab.curves.marked) == 0 and lab.verdict_html.value == ""


def test_the_probes_are_kept_to_their_budget(monkeypatch):
    # a simulated clock: plain steps take 100 ms; a sample adds 50 ms to the step that arms it, 100 to its own
    now = [0.0]
    monkeypatch.setattr(lab_callbacks, "time", type("T", (), {"monotonic": staticmethod(lambda: now[0])}))
    probes = Probes(every=1, max_hz=1e6)
    budget = lab_callbacks.ProbeBudget(probes, budget=0.01, hz=2.0)
    budget.on_fit_start(None)
    for step in range(1, 30):
        now[0] += 0.1 + (0.05 if step == 19 else 0.0) + (0.1 if step == 20 else 0.0)
        if step == 20:
            probes.samples.append(ProbeSample(step, 1, {}, {}))
        budget.on_step_end(None)
    # 150 ms a sample at 1 % of the thread: one every 15 s
    assert probes.max_hz == pytest.approx(0.01 / 0.15)
    cheap = lab_callbacks.ProbeBudget(probes, budget=0.01, hz=2.0)  # a cheap sample: the rate cap holds
    cheap.on_fit_start(None)
    for step in range(1, 30):
        now[0] += 0.1
        if step == 20:
            probes.samples.append(ProbeSample(step, 1, {}, {}))
        cheap.on_step_end(None)
    assert probes.max_hz == 2.0
