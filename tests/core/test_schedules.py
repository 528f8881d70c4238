"""LR schedules: the preview is the LR the optimizer actually used, step by step; a live LR scales them."""

import math

import numpy as np
import pytest
import torch

from workbench.models import build_model
from workbench.train import (
    SCHEDULES,
    Callback,
    LiveLR,
    TrainConfig,
    fit,
    make_optimizer,
    make_scheduler,
    schedule_preview,
    total_steps,
)


@pytest.fixture(scope="module")
def small(digits):
    return digits.train.subset(np.arange(300), name="digits[300]")


@pytest.mark.parametrize("warmup", [0, 7])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_preview_equals_the_lr_used_at_every_step(small, schedule, warmup):
    config = TrainConfig(epochs=3, batch_size=64, lr=2e-3, schedule=schedule, warmup_steps=warmup, seed=0)
    spe = math.ceil(len(small) / 64)
    preview = schedule_preview(config, spe)
    h = fit(build_model("linear", small, seed=0), small, config=config)
    used = h.snapshot().lr
    assert len(used) == len(preview) == 3 * spe
    np.testing.assert_allclose(used, preview, rtol=1e-12)
    assert preview.max() == pytest.approx(2e-3)  # lr is the peak
    if schedule != "constant":
        assert preview[-1] < preview.max()  # it decays
    if warmup:
        assert preview[0] == pytest.approx(2e-3 / warmup) and np.all(np.diff(preview[:warmup]) > 0)


def test_preview_follows_max_steps_and_milestones():
    config = TrainConfig(epochs=10, max_steps=25, lr=0.1, schedule="step", milestones=(1, 2), lr_decay=0.5)
    p = schedule_preview(config, 10)
    assert len(p) == total_steps(config, 10) == 25
    assert p[9] == pytest.approx(0.1) and p[10] == pytest.approx(0.05) and p[20] == pytest.approx(0.025)
    cos = schedule_preview(TrainConfig(epochs=2, lr=0.1, schedule="cosine"), 50)
    assert cos[0] == pytest.approx(0.1) and cos[50] == pytest.approx(0.05, rel=0.05) and cos[-1] < 1e-3


class _SetLRAt(Callback):
    def __init__(self, live: LiveLR, step: int, lr: float) -> None:
        self.live, self.step, self.lr = live, step, lr

    def on_step_end(self, state):
        if state.step == self.step:
            self.live.set(self.lr)


@pytest.mark.parametrize("schedule", ["cosine", "step", "inv_sqrt", "linear"])
def test_a_live_lr_scales_the_schedule_and_keeps_its_shape(small, schedule):
    config = TrainConfig(epochs=3, batch_size=64, lr=1e-3, schedule=schedule, warmup_steps=4, seed=0)
    preview = schedule_preview(config, math.ceil(len(small) / 64))
    live = LiveLR(1e-3)
    h = fit(
        build_model("linear", small, seed=0),
        small,
        config=config,
        live_lr=live,
        callbacks=[_SetLRAt(live, 6, 3e-3)],
    )
    used = h.snapshot().lr
    np.testing.assert_allclose(used[:6], preview[:6], rtol=1e-12)
    np.testing.assert_allclose(used[6:], 3 * preview[6:], rtol=1e-9)  # step 7 on: the whole schedule x3


def test_scaling_keeps_the_ratio_of_parameter_groups(small):
    model = build_model("mlp", small, seed=0, width=16, depth=1)
    head, body = list(model.parameters())[-2:], list(model.parameters())[:-2]
    opt = torch.optim.Adam([{"params": body, "lr": 1e-3}, {"params": head, "lr": 1e-2}])
    config = TrainConfig(epochs=2, batch_size=64, lr=1e-3, schedule="cosine", seed=0)
    live = LiveLR(2e-3)
    seen = []

    class Record(Callback):
        def on_step_end(self, state):
            seen.append([g["lr"] for g in state.optimizer.param_groups])

    fit(model, small, config=config, optimizer=opt, live_lr=live, callbacks=[Record()])
    ratios = np.array([b / a for a, b in seen[:-1]])
    np.testing.assert_allclose(ratios, 10.0, rtol=1e-9)


def test_make_scheduler_is_none_for_a_constant_lr_without_warmup():
    opt = make_optimizer("sgd", [torch.zeros(1, requires_grad=True)], 0.1)
    assert make_scheduler(opt, TrainConfig(), 10) is None
    assert make_scheduler(opt, TrainConfig(warmup_steps=3), 10) is not None


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"schedule": "exponential"}, "'schedule' parameter of TrainConfig must be one of"),
        ({"warmup_steps": -1}, "'warmup_steps'"),
        ({"milestones": (0, 3)}, "'milestones' parameter of TrainConfig must be a tuple of epochs"),
        ({"lr_decay": 0.0}, "'lr_decay'"),
        ({"patience": 0}, "'patience'"),
        ({"monitor": "val_f1"}, "'monitor' parameter of TrainConfig must be one of"),
    ],
)
def test_bad_schedule_settings_are_named(changes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig(**changes)


def test_preview_needs_a_config_and_steps():
    with pytest.raises(TypeError, match="'config' parameter of schedule_preview must be a TrainConfig"):
        schedule_preview({"lr": 1e-3}, 10)
    with pytest.raises(ValueError, match="'steps_per_epoch' parameter of schedule_preview"):
        schedule_preview(TrainConfig(), 0)


def test_milestones_from_json_become_a_tuple():
    assert TrainConfig(milestones=[2, 4]).milestones == (2, 4)
