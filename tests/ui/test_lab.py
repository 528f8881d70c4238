import time

import numpy as np
import pytest
import torch
from torch import nn

from workbench.lab import LabSettings
from workbench.ui import HumanBaseline, OverfitLab

FAST = LabSettings(epochs=5, subset=64, batch_size=32)


def _wait_until(condition, timeout=120.0):
    """Poll ``condition`` until it holds (a slow machine gets more time, a fast one no sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.02)


def _tab_of(lab, widget):
    """The index of the lab's tab that is ``widget`` or holds it, found by the widget, not by position."""
    return next(i for i, tab in enumerate(lab.tabs.children) if widget is tab or widget in tab.children)


@pytest.fixture
def lab(digits, tmp_path):
    return OverfitLab(digits, FAST, store=tmp_path / "runs.sqlite", background=False)


@pytest.mark.parametrize(
    ("control", "value", "check"),
    [
        ("optimizer", "nesterov", lambda lab: lab.core.optimizer.param_groups[0]["nesterov"] is True),
        ("optimizer", "rmsprop", lambda lab: type(lab.core.optimizer).__name__ == "RMSprop"),
        ("optimizer", "adamw", lambda lab: type(lab.core.optimizer).__name__ == "AdamW"),
        ("init", "zeros", lambda lab: lab.history.last("train_acc") < 0.5),
        ("model_kind", "cnn", lambda lab: type(lab.model).__name__ == "TinyCNN"),
        ("width", 7, lambda lab: lab.model.body[1].out_features == 7),
        ("depth", 3, lambda lab: sum(isinstance(m, nn.Linear) for m in lab.model.body) == 3),
        ("subset", 256, lambda lab: lab.history.steps == 5 * 8),
        ("batch_size", 16, lambda lab: lab.history.steps == 5 * 4),
        ("weight_decay", 1e-3, lambda lab: lab.core.optimizer.param_groups[0]["weight_decay"] == 1e-3),
        (
            "dropout",
            0.3,
            lambda lab: any(isinstance(m, nn.Dropout) and m.p == 0.3 for m in lab.model.modules()),
        ),
        ("epochs", 2, lambda lab: len(lab.history.snapshot().epoch) == 2),
        ("lr", 1e-2, lambda lab: np.allclose(lab.history.snapshot().lr, 1e-2)),
    ],
)
def test_every_control_reaches_the_run(lab, control, value, check):
    getattr(lab, control).value = value
    lab.run_button.click()
    assert lab.history.status == "finished", lab.status
    assert check(lab)


def test_seed_fixes_the_curve(lab):
    lab.run_button.click()
    first = lab.history.snapshot().loss
    lab.run_button.click()
    assert np.array_equal(first, lab.history.snapshot().loss)
    lab.seed.value = 1
    lab.run_button.click()
    assert not np.array_equal(first, lab.history.snapshot().loss)


def test_runs_are_kept_as_faded_lines_labelled_with_what_changed(lab):
    lab.run_button.click()
    lab.lr.value = 1e-2
    lab.init.value = "xavier"
    lab.run_button.click()
    assert [g.labels[0] for g in lab.curves.ghost_loss] == ["lr 1e-3 → 1e-2, init default → xavier"]
    lab.reset_button.click()
    assert lab.curves.ghost_loss == [] and len(lab.curves.step_loss.x) == 0


def test_lr_slider_changes_the_running_optimizer_from_the_next_step(digits, tmp_path):
    lab = OverfitLab(digits, FAST.replace(epochs=100_000), store=tmp_path / "r.sqlite")
    lab.start()
    _wait_until(lambda: lab.history.steps >= 20)
    lab.lr.value = 0.02
    assert lab.core.live_lr.value == 0.02 and lab.running  # no restart: handed to the loop, which applies it
    changed_at = lab.history.steps
    _wait_until(lambda: lab.history.steps >= changed_at + 50)
    assert lab.core.optimizer.param_groups[0]["lr"] == 0.02  # applied by the training thread itself
    lab.stop(wait=True)
    lr = lab.history.snapshot().lr
    assert lr[0] == pytest.approx(1e-3) and lr[-1] == pytest.approx(0.02)
    assert set(np.round(lr, 6)) == {0.001, 0.02}  # two values, switched once


def test_other_controls_restart_a_running_lab(digits, tmp_path):
    lab = OverfitLab(digits, FAST.replace(epochs=100_000), store=tmp_path / "r.sqlite")
    lab.start()
    _wait_until(lambda: lab.history.steps >= 5)  # a few points trained: the restarted run leaves a faded line
    first = lab.history
    lab.seed.value = 3  # restarts: new history, the old run is a faded line
    assert lab.running and lab.history is not first and first.status == "stopped"
    assert lab.curves.ghost_loss[0].labels == ["seed 0 → 3"]
    lab.stop(wait=True)
    assert list(lab.store.list().status) == ["stopped", "stopped"]


def test_stop_leaves_a_consistent_model_and_a_saved_run(digits, tmp_path):
    lab = OverfitLab(digits, FAST.replace(epochs=100_000), store=tmp_path / "r.sqlite")
    lab.start()
    _wait_until(lambda: lab.history.steps >= 5)
    t0 = time.perf_counter()
    lab.stop_button.click()
    lab.wait(120)
    # the step in flight, then the run is saved and its verdict drawn: 0.03 s idle; 3 s allow a loaded machine
    assert time.perf_counter() - t0 < 3.0 and not lab.running and lab.status.startswith("stopped at step")
    assert all(torch.isfinite(p).all() for p in lab.model.parameters())
    out = lab.model(torch.stack([digits.val[i][0] for i in range(4)]))
    assert out.shape == (4, 10)
    stored = lab.store.load(int(lab.store.list().id[0]))
    assert stored.status == "stopped" and len(stored.history.snapshot().step) == lab.history.steps
    assert lab.verdict_html.value  # a verdict for the stopped run


def test_runs_view_reloads_and_deletes(lab):
    lab.run_button.click()
    lab.lr.value = 3e-3
    lab.run_button.click()
    view = lab.runs_view
    assert len(view.picker.options) == 2 and "<table" in view.table.value
    lab.reset()
    view.picker.value = view.picker.options[-1][1]
    view.reload_button.click()
    assert len(lab.curves.ghost_loss) == 1 and lab.curves.ghost_loss[0].labels[0].startswith("run #1:")
    view.delete_button.click()
    assert len(view.picker.options) == 1


def test_human_baseline_scripted_answers_keyboard_and_the_curve_line(digits, tmp_path):
    hb = HumanBaseline(digits.val, n=10, seed=0)
    truth = [int(digits.val.targets[i]) for i in hb.indices]
    for t in truth[:7]:
        hb.answer(t)
    hb.answer((truth[7] + 1) % 10)  # one wrong
    hb.key_box.value = str(truth[8])  # typed on the keyboard
    hb.skip_button.click()
    assert (
        hb.done and hb.result.answered == 9 and hb.result.skipped == 1 and hb.result.hard == [hb.indices[7]]
    )
    assert hb.accuracy == pytest.approx(8 / 9) and "95 % interval" in hb.result_html.value
    assert len(hb.hard_box.children) == 1
    lab = OverfitLab(digits, FAST, store=None, human_accuracy=hb, background=False)
    assert lab.curves.human_accuracy == pytest.approx(8 / 9)
    lab.run_button.click()
    assert (
        list(lab.curves.human_line.y) == pytest.approx([8 / 9, 8 / 9])
        and lab.curves.human_line.x[-1] == lab.history.steps
    )
    hb.set_known(0.97)
    assert lab.curves.human_accuracy == 0.97  # followed live
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        hb.set_known(1.5)
    with pytest.raises(ValueError, match="'n' parameter of HumanBaseline must be in \\[1, 269\\]"):
        HumanBaseline(digits.val, n=0)


def test_prediction_view_updates_with_the_run(lab):
    sent = []
    for b in lab.predictions.bars:
        b.observe(sent.append, "y")
    lab.run_button.click()
    assert len(lab.predictions.wiggle_line.x) >= 1
    assert not sent  # the bars' tab is hidden: they are not redrawn (half the lab's messages otherwise)
    lab.tabs.selected_index = _tab_of(lab, lab.predictions)  # showing the tab draws them at once
    bars = [np.asarray(b.y) for b in lab.predictions.bars]
    assert len(bars) == 8 and all(np.isclose(b.sum(), 1, atol=1e-5) for b in bars)
    lab.seed.value = 1
    lab.run_button.click()  # and while it shows, they follow the run
    assert any(not np.allclose(np.asarray(b.y), old) for b, old in zip(lab.predictions.bars, bars))
    lab.tabs.selected_index = _tab_of(lab, lab.curves)
    drawn = len(sent)
    lab.run_button.click()
    assert len(sent) == drawn
    curves_tab = lab.tabs.children[_tab_of(lab, lab.curves)]
    assert any(
        lab.predictions.wiggle_figure in getattr(box, "children", ()) for box in curves_tab.children
    )  # the wiggle sits with the loss curves


def test_lab_errors(digits):
    with pytest.raises(TypeError, match="'data' parameter of OverfitLab must be DataSplits"):
        OverfitLab([1, 2])
