"""The lab core without a widget: settings, the live run, and the LR the loop reads at each step."""

import time

import numpy as np
import pytest
import torch

from workbench.lab import Lab, LabSettings
from workbench.models import build_model
from workbench.train import LiveLR, TrainConfig, fit, set_lr

FAST = LabSettings(epochs=5, subset=64, batch_size=32, lr=3e-3)


def test_a_run_from_plain_code_uses_the_settings_lr(digits, tmp_path):
    lab = Lab(digits.train, digits.val, FAST, store=tmp_path / "r.sqlite")
    lab.start(background=False)
    assert lab.history.status == "finished" and lab.history.steps == 5 * 2
    assert np.allclose(lab.history.snapshot().lr, 3e-3)  # TrainConfig.lr is the loop's, not overridden
    assert lab.optimizer.param_groups[0]["lr"] == 3e-3 and len(lab.store.list()) == 1
    assert lab.update(seed=1) == "idle"  # nothing running


def test_update_says_what_a_change_means_and_the_loop_applies_the_lr(digits):
    lab = Lab(digits.train, digits.val, FAST.replace(epochs=100_000), store=None)
    lab.start()
    deadline = time.monotonic() + 120  # a hang guard: 30 steps take a fraction of a second
    while lab.history.steps < 10:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert lab.set_lr(0.02) == "live" and lab.running
    at = lab.history.steps
    while lab.history.steps < at + 20:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert lab.update(epochs=7) == "length" and lab.update(seed=5) == "restart"
    lab.stop(wait=True)
    lr = lab.history.snapshot().lr
    assert (
        lr[0] == pytest.approx(3e-3)
        and lr[-1] == pytest.approx(0.02)
        and set(np.round(lr, 6)) == {0.003, 0.02}
    )
    with pytest.raises(ValueError, match="lr"):
        lab.update(lr=-1.0)
    assert lab.settings.lr == 0.02  # a refused change leaves the settings as they were


def test_set_lr_keeps_the_groups_ratios():
    w, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [w], "lr": 1e-3}, {"params": [b], "lr": 1e-2}], lr=1e-3)
    set_lr(opt, 1e-2)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(
        [1e-2, 1e-1]
    )  # the head stays at 10x the body
    with pytest.raises(ValueError, match="'lr' parameter of set_lr"):
        set_lr(opt, 0.0)


def test_live_lr_is_applied_by_the_loop_from_its_first_step(digits):
    live = LiveLR(5e-3)
    model = build_model("linear", digits.train, seed=0)
    h = fit(model, digits.train, config=TrainConfig(epochs=1, lr=1e-3, max_steps=5), live_lr=live)
    assert np.allclose(h.snapshot().lr, 5e-3)
    with pytest.raises(ValueError, match="'lr' parameter of LiveLR"):
        LiveLR(float("nan"))
    with pytest.raises(TypeError, match="'train' parameter of Lab"):
        Lab([1, 2], None)


def test_a_schedule_and_early_stopping_from_the_lab_settings(digits):
    settings = FAST.replace(epochs=40, schedule="cosine", warmup_steps=3, patience=2, lr=1e-2, width=128)
    lab = Lab(digits.train, digits.val, settings, store=None)
    preview = lab.lr_preview()
    assert len(preview) == 40 * 2 and preview[0] == pytest.approx(1e-2 / 3) and preview.max() == 1e-2
    lab.start(background=False)
    h = lab.history
    used = h.snapshot().lr
    np.testing.assert_allclose(used, preview[: len(used)], rtol=1e-12)  # the run followed its preview
    assert h.stopped_epoch is not None and h.stopped_epoch < 40 and h.best_epoch == h.stopped_epoch - 2
    assert "cosine warmup 3" in settings.name() and "patience 2" in settings.name()
    with pytest.raises(ValueError, match="'schedule' parameter of LabSettings"):
        settings.replace(schedule="onecycle")


def test_early_stopping_without_a_val_split_watches_the_training_loss(digits):
    lab = Lab(digits.train, None, FAST.replace(epochs=6, patience=2), store=None)
    lab.start(background=False)
    assert lab.history.status == "finished" and lab.history.best_epoch is not None
