"""The diagnosis list: findings in words; clicking one marks its evidence on the loss curve."""

import numpy as np
import pytest

from workbench.diagnose import Diagnosis, Finding, Probes, diagnose
from workbench.models import build_model
from workbench.train import TrainConfig, fit
from workbench.ui import DiagnosisView, LiveCurves


@pytest.fixture(scope="module")
def too_high(digits):
    """Adam at LR 0.3 on 64 digits: a fast drop, then flat (``lr_too_high``)."""
    probes = Probes()
    config = TrainConfig(epochs=30, lr=0.3, batch_size=16)
    model = build_model("mlp", digits.train, seed=0)
    history = fit(model, digits.train.subset(range(64)), digits.val, config=config, callbacks=[probes])
    return history, diagnose(history, probes)


def _row(view, kind):
    return next(r for r in view.rows if r.finding is not None and r.finding.kind == kind)


def test_findings_in_words_and_a_click_marks_the_evidence(too_high):
    history, d = too_high
    assert "lr_too_high" in d.kinds, d.summary()
    curves = LiveCurves()
    curves.update(history)
    view = DiagnosisView(d, curves=curves)
    shown = [r for r in view.rows if r.box.layout.display != "none"]
    assert [r.button.description for r in shown] == [f.kind for f in d.findings]
    row = _row(view, "lr_too_high")
    finding = row.finding
    assert finding.message in row.text.value.replace("&#x27;", "'") and "Try:" in row.text.value
    assert len(curves.marked) == 0
    row.button.value = True  # the click
    assert view.selected == "lr_too_high"
    assert np.array_equal(curves.marked, sorted(finding.evidence["steps"]))
    lo, hi = curves.evidence.lines.y[0]
    assert lo == pytest.approx(min(curves.step_loss.y)) and hi == pytest.approx(max(curves.step_loss.y))
    assert list(curves.evidence.span.x) == sorted(finding.evidence["steps"])  # the span between is shaded
    # the marks follow the x-axis switch
    curves.x_axis = "epoch"
    spe = history.snapshot().steps_per_epoch
    assert np.allclose(curves.marked, np.array(sorted(finding.evidence["steps"])) / spe)
    curves.x_axis = "step"
    # another finding: one mark at a time
    other = next(r for r in view.rows if r.finding is not None and r.finding.kind != "lr_too_high")
    other.button.value = True
    assert view.selected == other.finding.kind and not row.button.value
    other.button.value = False  # clicked again: cleared
    assert view.selected is None and len(curves.marked) == 0


def test_epoch_evidence_and_live_refreshes(too_high):
    history, _ = too_high
    snap = history.snapshot()
    curves = LiveCurves()
    curves.update(history)
    over = Finding("overfitting", "warning", "val loss turned up", {"epochs": [2, 4]}, "regularise")
    healthy = Finding("healthy", "info", "Nothing wrong found.")
    view = DiagnosisView(Diagnosis((over, healthy)), curves=curves)
    assert _row(view, "healthy").button.disabled  # nothing to mark
    view.select("overfitting")
    # an epoch is marked at its end, where its metrics are drawn
    assert np.array_equal(curves.marked, snap.epoch_step[[1, 3]].astype(float))
    rows = list(view.rows)
    # a refresh with the same kind (evidence moved on) keeps it marked, and rewrites the rows in place
    view.show(Diagnosis((Finding("overfitting", "warning", "later", {"epochs": [3]}, "regularise"),)))
    assert view.rows == rows and view.selected == "overfitting"
    assert np.array_equal(curves.marked, [float(snap.epoch_step[2])])
    assert rows[1].box.layout.display == "none"
    # the kind is gone: the mark goes
    view.show(Diagnosis((healthy,)))
    assert view.selected is None and len(curves.marked) == 0
    curves.mark(steps=[5])
    curves.reset()  # a new run clears the marks of the old one
    assert len(curves.marked) == 0


def test_bad_input():
    view = DiagnosisView()
    with pytest.raises(TypeError, match=r"'diagnosis' parameter of DiagnosisView.show must be a Diagnosis"):
        view.show(["lr_too_high"])
    view.show(Diagnosis((Finding("plateau", "warning", "flat", {"steps": [1, 2]}),)))
    with pytest.raises(
        ValueError, match=r"'kind' parameter of DiagnosisView.select must be the kind of a finding"
    ):
        view.select("noisy")
    view.select("plateau")  # without curves: only the selection
    assert view.selected == "plateau"
