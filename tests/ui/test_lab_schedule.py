"""Schedules and early stopping in the lab: the preview before Run, the LR used, the best epoch marked."""

import numpy as np
import pytest

from workbench.lab import LabSettings, run_config
from workbench.train import schedule_preview
from workbench.ui import OverfitLab
from workbench.ui.lab import PREVIEW_MAX_STEPS

COSINE = LabSettings(epochs=10, subset=128, batch_size=32, schedule="cosine", warmup_steps=8)


@pytest.fixture
def lab(digits):
    return OverfitLab(digits, COSINE, store=None, background=False)


def test_the_schedule_is_drawn_before_run(lab):
    preview = lab.curves.lr_panel.preview
    expected = schedule_preview(run_config(COSINE, 128), 4)  # 128 samples / 32 = 4 steps an epoch
    assert np.array_equal(preview.x, np.arange(1, 41)) and np.allclose(preview.y, expected)
    assert preview.y[0] < preview.y[7] and preview.y.max() == pytest.approx(1e-3)  # warmup, then the peak
    assert len(lab.curves.lr_panel.used.x) == 0  # nothing has run
    lab.lr.value = 1e-2  # the slider scales the whole schedule
    assert preview.y.max() == pytest.approx(1e-2) and np.allclose(preview.y, 10 * expected)
    lab.schedule.value = "step"  # x 0.1 at 50 % and 75 % of the run
    assert np.allclose(np.unique(preview.y[8:]), [1e-4, 1e-3, 1e-2])
    lab.curves.x_axis = "epoch"
    assert preview.x[-1] == 10 and preview.x[3] == 1
    lab.epochs.value = PREVIEW_MAX_STEPS  # too long to preview at each control change
    assert len(preview.x) == 0


def test_the_lr_used_is_drawn_under_the_loss(lab):
    lab.run_button.click()
    assert lab.history.status == "finished"
    used, preview = lab.curves.lr_panel.used, lab.curves.lr_panel.preview
    assert np.array_equal(used.x, lab.history.snapshot().step)
    # the LR the optimizer used, step by step, is the preview
    assert np.allclose(used.y, preview.y[: len(used.y)])
    assert lab.curves.lr_panel.figure in lab.curves.children[2].children  # the row under the loss


def test_early_stopping_is_marked_on_the_curves(digits):
    # 64 samples trained at a high LR: the val loss turns up within a few epochs and patience 2 ends the run
    settings = LabSettings(epochs=60, subset=64, batch_size=16, lr=1e-2, patience=2)
    lab = OverfitLab(digits, settings, store=None, background=False)
    assert lab.patience.value == 2
    lab.run_button.click()
    snap = lab.history.snapshot()
    assert snap.stopped_epoch is not None and snap.stopped_epoch < 60, lab.status
    best = int(np.flatnonzero(snap.epoch == snap.best_epoch)[0])
    assert np.array_equal(lab.curves.best.on_loss.x, [snap.epoch_step[best]])
    assert lab.curves.best.on_loss.y[0] == pytest.approx(snap.metrics["val_loss"][best])
    assert lab.curves.best.on_acc.y[0] == pytest.approx(snap.metrics["val_acc"][best])
    lab.curves.x_axis = "epoch"
    assert np.array_equal(lab.curves.best.on_loss.x, [snap.best_epoch])
    lab.patience.value = 0  # "off": the next run has no best epoch to mark
    lab.run_button.click()
    assert lab.history.snapshot().best_epoch is None and len(lab.curves.best.on_loss.x) == 0
