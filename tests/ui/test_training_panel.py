import threading
import time

import numpy as np
import pytest
import torch

from workbench.models import build_model
from workbench.train import History, TrainConfig, fit
from workbench.ui import BackgroundRun, LiveCurves, Throttle, TrainingPanel

CFG = TrainConfig(epochs=3, lr=3e-3, seed=0)


def make_panel(digits, background, **kw):
    return TrainingPanel(
        lambda: build_model("cnn", digits.train, seed=0, channels=8),
        digits.train,
        digits.val,
        CFG,
        background=background,
        **kw,
    )


def test_run_button_trains_inline_and_draws_every_curve(digits):
    panel = make_panel(digits, background=False)
    panel.epochs.value = 2
    panel.lr.value = 1e-3
    panel.run_button.click()
    snap = panel.history.snapshot()
    assert panel.status.startswith("finished 2 epochs") and not panel.running
    assert not panel.run_button.disabled and panel.stop_button.disabled
    assert np.allclose(snap.lr, 1e-3)  # the panel's controls feed the config
    c = panel.curves
    assert len(c.step_loss.x) == len(snap.step) == snap.step[-1]
    assert c.val_acc.y.tolist() == snap.metrics["val_acc"].tolist() and len(c.train_loss.y) == 2
    assert c.drawn_version == snap.version


def test_same_seed_same_curve_from_the_panel(digits):
    panel = make_panel(digits, background=False)
    panel.run_button.click()
    first = panel.history.snapshot().loss
    panel.run_button.click()
    assert np.array_equal(first, panel.history.snapshot().loss)


def test_background_run_keeps_the_caller_free_and_stops_promptly(digits):
    panel = make_panel(digits, background=True)
    panel.epochs.value = 10_000
    panel.start()
    assert panel.running and panel.run_button.disabled and not panel.stop_button.disabled
    deadline = time.time() + 120  # a hang guard: three redraws take about a second
    drawn = []
    while time.time() < deadline and len(drawn) < 3:  # the caller thread is free: watch the curve grow
        n = len(panel.curves.step_loss.x)
        if n and (not drawn or n > drawn[-1]):
            drawn.append(n)
        time.sleep(0.05)
    assert len(drawn) >= 3 and drawn == sorted(drawn)
    t0 = time.perf_counter()
    panel.stop_button.click()
    panel.wait(timeout=120)
    # the step in flight and the views' last draw: 0.03 s idle, up to 0.36 s measured at load 5
    assert time.perf_counter() - t0 < 3.0
    assert panel.status.startswith("stopped at step") and not panel.running
    assert panel.history.status == "stopped"


def test_start_while_training_is_refused_politely(digits):
    panel = make_panel(digits, background=True)
    panel.epochs.value = 10_000
    run = panel.start()
    assert panel.start() is None and panel.status == "already training: press Stop first"
    panel.stop()
    run.join(120)
    assert not panel.running


def test_an_exception_in_the_worker_is_shown_in_the_widget(digits):
    panel = TrainingPanel(lambda: build_model("mlp", ((1, 28, 28), 10)), digits.train, digits.val, CFG)
    panel.start()
    panel.wait(timeout=120)
    assert panel.status.startswith("failed: TrainingError")
    assert "TrainingError" in panel.error_html.value and "build_model" in panel.error_html.value
    assert not panel.running and not panel.run_button.disabled


def test_panel_rejects_a_non_model():
    with pytest.raises(TypeError, match=r"'model' parameter of TrainingPanel must be an nn.Module"):
        TrainingPanel(42, None)


def test_live_curves_downsample_and_skip_unchanged_history():
    curves = LiveCurves(max_points=100)
    h = History()
    h.append_steps(
        list(range(1, 1001)), [1.0] * 999 + [0.0], [0.1] * 1000
    )  # a zero loss cannot go on a log axis
    h.append_epoch(1, 1000, {"train_loss": 0.9, "val_loss": 1.1, "train_acc": 0.5, "val_acc": 0.4})
    assert curves.update(h)
    assert len(curves.step_loss.x) == 100 and curves.step_loss.x[0] == pytest.approx(5.5)
    assert curves.val_loss.y.tolist() == [1.1] and curves.val_acc.y.tolist() == [0.4]
    assert not curves.update(h)  # nothing new: no message sent
    curves.reset()
    assert len(curves.step_loss.x) == 0


def test_live_curves_epoch_lines_keep_a_dot_per_epoch_while_epochs_are_few():
    curves = LiveCurves()
    h = History()
    for e in range(1, 4):
        h.append_steps([e], [1.0 / e], [0.1])
        h.append_epoch(
            e, e, {"train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_acc": e / 4, "val_acc": e / 5}
        )
    curves.update(h)
    assert curves.val_acc.marker == "circle" and len(curves.val_acc.y) == 3


def test_live_curves_send_epoch_lines_only_for_new_epochs_and_downsample_them():
    curves = LiveCurves(max_points=50)
    sent = []
    for mark in (curves.step_loss, curves.val_loss, curves.val_acc):
        mark.observe(lambda change, name=mark.labels[0]: sent.append(name), "y")
    h = History()
    for e in range(1, 201):  # a tiny subset: 200 epochs of 2 steps
        h.append_steps([2 * e - 1, 2 * e], [1.0 / e, 1.0 / e], [0.1, 0.1])
        h.append_epoch(
            e, 2 * e, {"train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_acc": e / 200, "val_acc": e / 250}
        )
    assert curves.update(h)
    assert len(curves.val_acc.y) == 50 and curves.val_acc.y[-1] == pytest.approx(
        np.mean(np.arange(197, 201)) / 250
    )
    assert curves.val_acc.marker is None  # no dot per epoch when there are hundreds
    sent.clear()
    h.append_steps([401], [0.001], [0.1])  # a step, no new epoch: the per-epoch lines are not sent again
    assert curves.update(h)
    assert sent == [curves.step_loss.labels[0]]
    h.append_epoch(201, 401, {"train_loss": 0.001, "val_loss": 0.002, "train_acc": 1.0, "val_acc": 0.9})
    assert curves.update(h) and curves.val_acc.labels[0] in sent


def test_redraws_are_throttled_by_wall_clock(digits):
    curves = LiveCurves(refresh_hz=2.0)
    calls = []
    original = curves.update
    curves.update = lambda h, force=False: calls.append(time.monotonic()) or original(h, force)
    t0 = time.monotonic()
    fit(
        build_model("cnn", digits.train, seed=0),
        digits.train,
        digits.val,
        config=CFG.replace(epochs=5),
        callbacks=[curves.callback()],
    )
    seconds = time.monotonic() - t0
    assert len(calls) <= seconds * 2 + 2  # at most 2 Hz, plus the final draw
    assert np.all(np.diff(calls[:-1]) >= 0.49)


def test_throttle_and_background_run_basics():
    th = Throttle(hz=10)
    assert th.ready() and not th.ready()
    with pytest.raises(ValueError, match="'hz' parameter of Throttle must be a float > 0"):
        Throttle(0)
    done = threading.Event()
    run = BackgroundRun(lambda ev: 1 / 0, on_done=lambda r: done.set()).start()
    assert run.join(120) and done.is_set()
    assert isinstance(run.error, ZeroDivisionError) and "ZeroDivisionError" in run.traceback
    with pytest.raises(RuntimeError, match="already started"):
        run.start()
    inline = BackgroundRun(lambda ev: 42, background=False).start()
    assert inline.result == 42 and not inline.running


@pytest.mark.slow
def test_two_processes_from_the_panel_draw_rank_zeros_curves_and_keep_the_weights(digits):
    model = build_model("mlp", digits.train, seed=0, width=32, depth=1)
    before = [p.detach().clone() for p in model.parameters()]
    panel = TrainingPanel(
        model, digits.train, digits.val, CFG.replace(epochs=2, batch_size=32), background=True
    )
    panel.processes.value = 2
    panel.run_button.click()
    panel.wait(600)
    snap = panel.history.snapshot()
    assert panel.history.status == "finished", panel.history.message
    assert panel.status.startswith("finished 2 epochs")
    assert len(snap.step) == 2 * snap.steps_per_epoch and len(panel.curves.step_loss.x) == len(snap.step)
    assert panel.curves.val_acc.y.tolist() == snap.metrics["val_acc"].tolist()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # trained in place
