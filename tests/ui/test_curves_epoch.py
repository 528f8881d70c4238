"""LiveCurves: an epoch x-axis (switchable; earlier runs and the human line follow), and the smoothing and
spread band checked against numpy oracles."""

import math

import numpy as np
import pytest

from workbench import TrainConfig, build_model, fit
from workbench.train import History
from workbench.train.history import in_epochs
from workbench.ui import LiveCurves


@pytest.fixture(scope="module")
def run(digits):
    return fit(
        build_model("linear", digits.train, seed=0),
        digits.train,
        digits.val,
        config=TrainConfig(epochs=3, batch_size=64, lr=3e-3, seed=0),
    )


def test_epoch_axis_puts_steps_in_epochs_and_epoch_metrics_at_their_end(run, digits):
    spe = math.ceil(len(digits.train) / 64)
    snap = run.snapshot()
    assert snap.steps_per_epoch == spe
    curves = LiveCurves()
    curves.update(run)
    assert np.array_equal(curves.step_loss.x, snap.step) and list(curves.val_acc.x) == [spe, 2 * spe, 3 * spe]
    curves.x_toggle.value = "epoch"  # the toggle drives the trait
    assert curves.x_axis == "epoch"
    assert np.allclose(curves.step_loss.x, snap.step / spe) and np.array_equal(curves.step_loss.y, snap.loss)
    assert np.allclose(curves.val_acc.x, [1, 2, 3]) and np.allclose(curves.train_loss.x, [1, 2, 3])
    assert [f.axes[0].label for f in (curves.loss_figure, curves.acc_figure)] == ["epoch", "epoch"]
    curves.x_axis = "step"
    assert np.array_equal(curves.step_loss.x, snap.step) and curves.loss_figure.axes[0].label == "step"
    assert curves.x_toggle.value == "step"


def test_human_line_and_earlier_runs_follow_the_axis(run, digits):
    spe = math.ceil(len(digits.train) / 64)
    curves = LiveCurves()
    curves.add_ghost(run, "earlier")
    curves.update(run)
    curves.human_accuracy = 0.9
    assert list(curves.human_line.x) == [0.0, 3 * spe]
    assert curves.ghost_acc[0].x.tolist() == [spe, 2 * spe, 3 * spe]
    curves.x_axis = "epoch"
    assert list(curves.human_line.x) == pytest.approx([0.0, 3.0])
    assert curves.ghost_acc[0].x.tolist() == pytest.approx([1, 2, 3])
    assert curves.ghost_loss[0].x.max() == pytest.approx(3.0, abs=0.02)  # the smoothed loss, in epochs too
    curves.add_ghost(run, "added while in epochs")
    assert curves.ghost_acc[1].x.tolist() == pytest.approx([1, 2, 3])


def test_epochs_of_a_history_without_steps_per_epoch_are_interpolated():
    h = History()
    h.append_steps(list(range(1, 26)), [1.0] * 25, [0.1] * 25)
    assert np.isnan(in_epochs(h.snapshot(), np.array([5]))).all()  # no epoch ended: unknown
    h.append_epoch(1, 10, {})
    h.append_epoch(2, 20, {})
    x = in_epochs(h.snapshot(), np.array([5, 10, 15, 20, 25]))
    assert x.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]  # the last epoch's length carries on
    curves = LiveCurves(x_axis="epoch")
    curves.update(h)
    assert curves.step_loss.x.tolist() == pytest.approx(np.arange(1, 26) / 10)


def _oracle_ema(y, beta=0.9):
    # closed form of the debiased EMA: (1 - b) * sum_i b^(t-i) y_i / (1 - b^(t+1))
    t = np.arange(len(y))
    weights = np.tril(beta ** (t[:, None] - t[None, :]).astype(float))
    return (1 - beta) * weights @ y / (1 - beta ** (t + 1))


def _history(losses):
    h = History()
    n = len(losses)
    h.append_steps(list(range(1, n + 1)), list(losses), [0.1] * n)
    return h


def test_smoothed_line_is_the_debiased_ema():
    rng = np.random.default_rng(0)
    losses = np.exp(-np.linspace(0, 3, 400)) + 0.2 * rng.random(400)
    curves = LiveCurves(max_points=2000, smooth=True)
    curves.update(_history(losses))
    assert np.allclose(curves.smooth_loss.y, _oracle_ema(losses))
    assert curves.smooth_loss.y[0] == pytest.approx(losses[0])  # debiased: not pulled towards 0
    coarse = LiveCurves(max_points=50, smooth=True)
    coarse.update(_history(losses))
    assert np.allclose(coarse.smooth_loss.y, _oracle_ema(losses).reshape(50, 8).mean(axis=1))
    assert np.allclose(coarse.smooth_loss.x, np.arange(1, 401).reshape(50, 8).mean(axis=1))


def test_band_is_mean_plus_minus_std_per_window():
    rng = np.random.default_rng(1)
    losses = 1.0 + rng.random(400)
    curves = LiveCurves(band=True)
    curves.update(_history(losses))
    windows = losses.reshape(40, 10)  # 400 steps -> 40 windows of 10
    mean, std = windows.mean(axis=1), windows.std(axis=1)
    assert np.allclose(curves.band_mark.x, np.arange(1, 401).reshape(40, 10).mean(axis=1))
    assert np.allclose(curves.band_mark.y[0], mean - std) and np.allclose(curves.band_mark.y[1], mean + std)
    curves.x_axis = "epoch"  # no epoch ended and no steps_per_epoch: nothing to place yet
    assert len(curves.band_mark.x) == 0 and len(curves.step_loss.x) == 0
