import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import write_digit_folder
from workbench.data import from_folder
from workbench.models import build_model
from workbench.train import (
    OPTIMIZERS,
    Callback,
    History,
    StopTraining,
    TrainConfig,
    TrainingError,
    evaluate,
    fit,
    make_optimizer,
    resolve_device,
    set_lr,
)
from workbench.ui.plotting import downsample

FAST = TrainConfig(epochs=3, batch_size=64, lr=3e-3, seed=0)


def test_fit_learns_digits_and_records_every_epoch(digits):
    model = build_model("cnn", digits.train, seed=0, channels=8)
    h = fit(model, digits.train, digits.val, config=FAST.replace(epochs=6))
    snap = h.snapshot()
    assert h.status == "finished" and h.message.startswith("finished 6 epochs")
    assert snap.epoch.tolist() == [1, 2, 3, 4, 5, 6]
    steps_per_epoch = math.ceil(len(digits.train) / 64)
    assert snap.step.tolist() == list(range(1, 6 * steps_per_epoch + 1))  # every step's loss, in order
    assert snap.epoch_step[-1] == 6 * steps_per_epoch
    assert abs(snap.loss[0] - math.log(10)) < 0.3  # starts near log C
    assert snap.metrics["val_acc"][-1] > 0.85
    assert snap.metrics["train_loss"][-1] < snap.metrics["train_loss"][0]


def test_same_seed_gives_the_same_curve_and_another_seed_does_not(digits):
    def curve(seed):
        model = build_model("mlp", digits.train, seed=seed, width=32)
        return fit(model, digits.train, digits.val, config=FAST.replace(seed=seed)).snapshot()

    a, b, c = curve(0), curve(0), curve(1)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.metrics["val_loss"], b.metrics["val_loss"])
    assert not np.array_equal(a.loss, c.loss)


def test_same_seed_same_curve_through_dataloader_workers(tmp_path):
    ds = from_folder(write_digit_folder(tmp_path / "f", per_class=12))
    cfg = TrainConfig(epochs=2, batch_size=8, seed=3, num_workers=2)

    def curve():
        return fit(build_model("linear", ds, seed=0), ds, config=cfg).snapshot().loss

    first, second = curve(), curve()
    assert len(first) == 2 * math.ceil(36 / 8) and np.array_equal(first, second)


def test_evaluate_covers_the_whole_split_and_restores_the_mode(digits):
    model = build_model("mlp", digits.train, seed=0)
    model.train()
    ev = evaluate(model, digits.val, batch_size=7)  # batches that do not divide the split
    assert ev.n == len(digits.val)
    x, y = zip(*[digits.val[i] for i in range(len(digits.val))])
    with torch.no_grad():
        out = model(torch.stack(x))
    y = torch.tensor(y)
    assert ev.accuracy == pytest.approx((out.argmax(1) == y).float().mean().item())
    assert ev.loss == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-5)
    assert model.training


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_fit_start(self, s):
        self.calls.append("fit_start")

    def on_step_end(self, s):
        self.calls.append(f"step{s.step}")

    def on_epoch_end(self, s):
        self.calls.append(f"epoch{s.epoch}")

    def on_fit_end(self, s):
        self.calls.append("fit_end")


def test_callbacks_are_called_in_order(digits):
    rec = Recorder()
    small = digits.train.subset(range(100))
    fit(
        build_model("linear", small, seed=0),
        small,
        config=TrainConfig(epochs=2, batch_size=50),
        callbacks=[rec],
    )
    assert rec.calls == ["fit_start", "step1", "step2", "epoch1", "step3", "step4", "epoch2", "fit_end"]


def test_stop_training_from_a_callback(digits):
    class StopAt3(Callback):
        def on_step_end(self, s):
            if s.step == 3:
                raise StopTraining("enough")

    rec = Recorder()
    h = fit(
        build_model("linear", digits.train, seed=0), digits.train, config=FAST, callbacks=[StopAt3(), rec]
    )
    assert h.status == "stopped" and h.message == "stopped at step 3 (epoch 1): enough"
    assert h.steps == 3 and rec.calls[-1] == "fit_end"


def test_stop_event_from_another_thread_stops_promptly_with_consistent_weights(digits):
    model = build_model("cnn", digits.train, seed=0)
    stop, trained = threading.Event(), threading.Event()
    after_stop = []  # the steps that ended once the stop was asked for

    class Watch(Callback):
        def on_step_end(self, s):
            trained.set()
            if stop.is_set():
                after_stop.append(s.step)

    out = {}
    config = FAST.replace(epochs=10_000)
    t = threading.Thread(
        target=lambda: out.setdefault(
            "h", fit(model, digits.train, config=config, stop_event=stop, callbacks=[Watch()])
        )
    )
    t.start()
    assert trained.wait(120)  # a step has ended (the first one takes seconds on a loaded machine)
    t0 = time.perf_counter()
    stop.set()
    t.join(120)
    # the loop stops at the end of the step in flight; the seconds allow for that step and the run's end on
    # a loaded machine (0.03 s idle, up to 0.45 s measured at load 5)
    assert len(after_stop) <= 1 and time.perf_counter() - t0 < 3.0, after_stop
    h = out["h"]
    assert h.status == "stopped" and h.steps > 0
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert h.snapshot().step[-1] == h.steps  # every step's loss reached the history


def test_max_steps(digits):
    h = fit(build_model("linear", digits.train, seed=0), digits.train, config=FAST.replace(max_steps=5))
    assert h.steps == 5 and h.status == "finished" and "max_steps=5" in h.message


class NaNAfter(nn.Module):
    """Cross-entropy that turns NaN from call ``k`` on: a planted divergence."""

    def __init__(self, k):
        super().__init__()
        self.k, self.calls = k, 0

    def forward(self, out, y):
        self.calls += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if self.calls >= self.k else loss


def test_divergence_stops_and_restores_the_last_good_weights(digits):
    model = build_model("mlp", digits.train, seed=0)
    kept = {}

    class Keep(Callback):
        def on_step_end(self, s):
            if s.step == 5:
                kept.update({k: v.clone() for k, v in s.model.state_dict().items()})

    # flush every step: the last good state is the one after step 5
    h = fit(
        model, digits.train, config=FAST.replace(flush_every_s=1e-9), loss_fn=NaNAfter(6), callbacks=[Keep()]
    )
    assert h.status == "diverged"
    assert (
        "loss became nan at step 6" in h.message
        and "restored to step 5" in h.message
        and "Lower the learning rate" in h.message
    )
    assert np.isfinite(h.snapshot().loss).all() and h.steps == 5
    assert all(torch.equal(v, kept[k]) for k, v in model.state_dict().items())


def test_divergence_between_flushes_goes_back_to_the_initial_weights(digits):
    model = build_model("mlp", digits.train, seed=0)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    h = fit(model, digits.train, config=FAST.replace(flush_every_s=60.0), loss_fn=NaNAfter(4))
    assert h.status == "diverged" and "restored to step 0" in h.message
    assert all(torch.equal(v, init[k]) for k, v in model.state_dict().items())


def test_a_real_divergence_unscaled_pixels_and_a_big_lr():
    # a real bug: pixels left at 0..16 instead of [0, 1], a deep MLP, plain SGD at lr 3
    from sklearn.datasets import load_digits as sk

    from workbench.data import from_arrays

    bunch = sk()
    raw = from_arrays(bunch.images.astype(np.float32), bunch.target)
    model = build_model("mlp", raw, seed=0, width=256, depth=4)
    h = fit(model, raw, config=TrainConfig(epochs=3, optimizer="sgd", lr=3.0, flush_every_s=1e-9))
    assert h.status == "diverged" and "Lower the learning rate" in h.message
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert np.isfinite(h.snapshot().loss).all()


def test_model_that_does_not_fit_the_data_gets_a_clear_error(digits):
    wrong_input = build_model("mlp", ((1, 28, 28), 10), seed=0)
    h = History()
    with pytest.raises(
        TrainingError, match=r"failed at step 1 on inputs of shape \(64, 1, 8, 8\).*build_model"
    ):
        fit(wrong_input, digits.train, config=FAST, history=h)
    assert h.status == "failed"
    wrong_classes = build_model("mlp", ((1, 8, 8), 3), seed=0)
    with pytest.raises(TrainingError, match="outputs shape \\(64, 3\\) but the data has 10 classes"):
        fit(wrong_classes, digits.train, config=FAST)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"lr": -1}, "The 'lr' parameter of TrainConfig must be a float in \\(0, 10\\]. Got -1.0 instead."),
        ({"epochs": 0}, "'epochs' parameter of TrainConfig must be an int in \\[1, 1000000\\]"),
        ({"optimizer": "lbfgs"}, "'optimizer' parameter of TrainConfig must be one of 'sgd'"),
        ({"device": "tpu"}, "'device' parameter of TrainConfig must be 'auto', 'cpu' or 'cuda\\[:N\\]'"),
        ({"batch_size": 2.5}, "'batch_size' parameter of TrainConfig must be an int. Got 2.5"),
        (
            {"weight_decay": float("nan")},
            "'weight_decay' parameter of TrainConfig must be a float in \\[0, 1\\]",
        ),
    ],
)
def test_config_errors(changes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig(**changes)


def test_fit_argument_errors(digits):
    model = build_model("linear", digits.train)
    with pytest.raises(TypeError, match=r"'model' parameter of fit must be a torch.nn.Module"):
        fit("model", digits.train)
    with pytest.raises(TypeError, match="'config' parameter of fit must be a TrainConfig"):
        fit(model, digits.train, config={"epochs": 1})
    with pytest.raises(ValueError, match="'train' split is empty"):
        fit(model, digits.train.subset([]))
    with pytest.raises(TypeError, match="'train' parameter of fit must be a map-style Dataset"):
        fit(model, 42)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_a_clear_error():
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match=r"no CUDA device. Use 'auto' or 'cpu'"):
        resolve_device("cuda")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_and_its_lr_can_change(digits, name):
    model = build_model("linear", digits.train, seed=0)
    opt = make_optimizer(name, model.parameters(), lr=0.05)
    set_lr(opt, 0.01)
    assert all(g["lr"] == 0.01 for g in opt.param_groups)
    h = fit(model, digits.train, config=FAST.replace(epochs=1), optimizer=opt)
    assert h.status == "finished" and np.allclose(h.snapshot().lr, 0.01)


def test_downsample_averages_bins_and_keeps_short_series():
    x = np.arange(10)
    y = np.arange(10) * 2.0
    assert np.array_equal(downsample(x, y, 20)[1], y)
    xs, ys = downsample(x, y, 5)
    assert xs.tolist() == [0.5, 2.5, 4.5, 6.5, 8.5] and ys.tolist() == [1, 5, 9, 13, 17]


def test_history_is_safe_to_read_while_written():
    h = History()
    done = threading.Event()

    def writer():
        for i in range(2000):
            h.append_steps([i + 1], [1.0 / (i + 1)], [0.1])
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    while not done.is_set():
        s = h.snapshot()
        assert len(s.step) == len(s.loss) == len(s.lr)
    t.join()
    assert h.steps == 2000
    h.append_epoch(1, 2000, {"train_loss": 0.5, "extra": 3.0})
    frame = h.to_frame()
    assert (
        frame.loc[1, "train_loss"] == 0.5
        and frame.loc[1, "extra"] == 3.0
        and math.isnan(frame.loc[1, "val_acc"])
    )
    with pytest.raises(ValueError, match="History status must be one of"):
        h.set_status("exploded")


def test_core_never_imports_widgets():
    # every module of the package but the views (and the CLI, which may open them), imported at once
    code = (
        # from the files, not pkgutil.walk_packages: that imports every package it walks, ui included
        "import importlib, pathlib, sys, workbench\nroot = pathlib.Path(workbench.__file__).parent\nnames = "
        "['.'.join(('workbench',) + p.relative_to(root).with_suffix('').parts).removesuffix('.__init__')\n   "
        "      for p in sorted(root.rglob('*.py'))]\nnames = [n for n in names if not "
        "n.startswith(('workbench.ui', 'workbench.__main__'))]\nfor name in names: "
        "importlib.import_module(name)\nassert {'workbench.checks', 'workbench.tune', "
        "'workbench.data.inspection'} <= set(names), names\nbad = [m for m in sys.modules if m.split('.')[0] "
        "in ('ipywidgets', 'bqplot', 'traitlets', 'IPython')]\nassert not bad, bad\nprint(len(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert int(out.stdout) >= 20  # the walk found the package's modules, not an empty list
