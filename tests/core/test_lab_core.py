import math
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

from workbench.diagnose import fixed_batch, verdict
from workbench.diagnose.dynamics import PredictionTracker
from workbench.lab import LabSettings, human_accuracy, prepare_run
from workbench.models import INIT_SCHEMES, build_model, init_weights
from workbench.train import History, RunStore, TrainConfig, fit
from workbench.ui.plotting import config_diff


def test_human_accuracy_with_a_wilson_interval_and_the_hard_samples():
    truth = {i: i % 3 for i in range(20)}
    answers = {i: truth[i] for i in range(18)} | {
        18: 1,
        19: None,
    }  # 18 right, sample 18 wrong, sample 19 skipped
    r = human_accuracy(answers, truth)
    assert r.answered == 19 and r.skipped == 1 and r.hard == [18]
    assert r.accuracy == pytest.approx(18 / 19)
    # Wilson 95 % for 18/19, by hand
    p, n, z = 18 / 19, 19, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (r.low, r.high) == pytest.approx((centre - half, min(1.0, centre + half)))
    perfect = human_accuracy({0: 0, 1: 1}, {0: 0, 1: 1})
    assert perfect.accuracy == 1.0 and perfect.high == 1.0 and perfect.low < 0.5  # honest for tiny n
    with pytest.raises(ValueError, match="answers for samples \\[7\\] that have no true label"):
        human_accuracy({7: 1}, {0: 0})


def test_verdicts():
    def hist(losses, accs, status="finished"):
        h = History()
        for e, (loss, a) in enumerate(zip(losses, accs), 1):
            h.append_epoch(e, e * 10, {"train_loss": loss, "train_acc": a, "val_acc": a - 0.1})
        h.set_status(status, "msg")
        return h

    assert verdict(hist([2.3, 0.5, 0.01], [0.2, 0.8, 1.0])).kind == "overfit"
    assert verdict(hist([2.3, 2.29, 2.28], [0.1, 0.1, 0.1])).kind == "not_learning"
    plateau = verdict(hist([2.3, 1.0, 0.9, 0.9, 0.9, 0.9], [0.1, 0.6, 0.7, 0.7, 0.7, 0.7]))
    assert plateau.kind == "plateau" and "plateaued at 0.900" in plateau.message
    assert verdict(hist([2.3, 1.5, 1.0], [0.1, 0.5, 0.7])).kind == "improving"
    assert verdict(hist([2.3], [0.1], status="diverged")).kind == "diverged"
    human = verdict(hist([2.3, 0.5, 0.01], [0.2, 0.8, 1.0]), human_accuracy=0.95)
    assert "below the human baseline 95.0%" in human.message


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_schemes(scheme, digits):
    model = build_model("mlp", digits.train, seed=0, width=64)
    before = model.body[1].weight.clone()
    init_weights(model, scheme, seed=0)
    w = model.body[1].weight.detach()
    if scheme == "default":
        assert torch.equal(w, before)
    elif scheme == "zeros":
        assert not w.any() and not model.head.weight.any()
    elif scheme == "small_normal":
        assert 0.008 < float(w.std()) < 0.012
    elif scheme == "orthogonal":
        sq = model.body[3].weight.detach()  # 64 x 64
        assert torch.allclose(sq @ sq.t(), torch.eye(64), atol=1e-4)
    again = init_weights(build_model("mlp", digits.train, seed=0, width=64), scheme, seed=0)
    assert torch.equal(again.body[1].weight, w)  # seeded


def test_zeros_init_cannot_learn_and_the_verdict_says_so(digits):
    model, part, cfg = prepare_run(LabSettings(init="zeros", subset=128, epochs=15, lr=1e-2), digits.train)
    h = fit(model, part, config=cfg)
    assert verdict(h).kind in ("not_learning", "plateau") and h.last("train_acc") < 0.5


def test_lab_settings_become_a_run(digits):
    s = LabSettings(
        model="cnn", width=8, depth=1, subset=100, batch_size=16, dropout=0.25, weight_decay=1e-4, epochs=3
    )
    model, part, cfg = prepare_run(s, digits.train)
    assert len(part) == 100 and cfg.batch_size == 16 and cfg.weight_decay == 1e-4 and cfg.epochs == 3
    assert model.body[0].out_channels == 8 and any(
        isinstance(m, nn.Dropout) and m.p == 0.25 for m in model.modules()
    )
    same, _, _ = prepare_run(s, digits.train)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters()))
    with pytest.raises(ValueError, match="'init' parameter of LabSettings must be one of"):
        LabSettings(init="he-ish")
    assert (
        config_diff(s.to_dict(), s.replace(lr=1e-2, init="xavier").to_dict())
        == "init default → xavier, lr 1e-3 → 1e-2"
    )


def test_prediction_tracker_and_wiggle(digits):
    x, y, idx = fixed_batch(digits.val, 12, seed=0)
    assert np.array_equal(idx, fixed_batch(digits.val, 12, seed=0)[2]) and len(x) == 12
    tracker = PredictionTracker(x, y, hz=1000)
    fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        config=TrainConfig(epochs=2, lr=1e-2),
        callbacks=[tracker],
    )
    version, probs, steps, wiggle = tracker.latest()
    assert probs.shape == (12, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert wiggle[0] == 0 and (wiggle[1:] >= 0).all() and (wiggle <= 1).all() and wiggle[1:].max() > 0
    assert steps[-1] == 40 and version == len(steps)
    with pytest.raises(ValueError, match="fixed_batch: n must be in \\[1, 269\\]"):
        fixed_batch(digits.val, 0)


def test_run_store_records_while_training_and_survives_a_new_process(tmp_path, digits):
    path = tmp_path / "runs.sqlite"
    code = f"""
import workbench as wb
from workbench.train import RunStore, fit, TrainConfig
s = wb.load_digits()
store = RunStore({str(path)!r})
rec = store.recorder("from another process", {{"lr": 3e-3, "model": "mlp"}}, seed=0, human_baseline=0.97)
model = wb.build_model("mlp", s.train, seed=0)
fit(model, s.train, s.val, config=TrainConfig(epochs=2, lr=3e-3), callbacks=[rec])
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    store = RunStore(path)
    frame = store.list()
    assert list(frame.name) == ["from another process"] and frame.status[0] == "finished"
    run = store.load(int(frame.id[0]))
    snap = run.history.snapshot()
    assert (
        run.human_baseline == 0.97
        and run.config["lr"] == 3e-3
        and len(snap.step) == 40
        and len(snap.epoch) == 2
    )
    assert run.final["val_acc"] == pytest.approx(snap.metrics["val_acc"][-1])
    store.delete(run.id)
    assert store.list().empty
    with pytest.raises(KeyError, match="no run with id"):
        store.load(run.id)


def test_two_runs_write_at_once(tmp_path, digits):
    store = RunStore(tmp_path / "runs.sqlite")
    recs = [
        store.recorder(f"run {k}", {"k": k}, flush_every_s=0.0) for k in range(2)
    ]  # flush every step: contention

    def train(rec):
        fit(
            build_model("mlp", digits.train, seed=0),
            digits.train,
            config=TrainConfig(epochs=3),
            callbacks=[rec],
        )

    threads = [threading.Thread(target=train, args=(r,)) for r in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    for rec in recs:
        run = store.load(rec.run_id)
        assert run.status == "finished" and len(run.history.snapshot().step) == 60


def test_run_store_writes_in_batches_not_per_step(tmp_path, digits, monkeypatch):
    store = RunStore(tmp_path / "runs.sqlite")
    rec = store.recorder("batched", {}, flush_every_s=3600)
    calls = []
    original = rec.flush
    monkeypatch.setattr(rec, "flush", lambda *a, **k: calls.append(1) or original(*a, **k))
    fit(
        build_model("linear", digits.train, seed=0),
        digits.train,
        config=TrainConfig(epochs=3),
        callbacks=[rec],
    )
    assert len(calls) == 1  # only the final flush: 60 steps, one transaction
    assert len(store.load(rec.run_id).history.snapshot().step) == 60


def test_run_store_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder .* does not exist"):
        RunStore(tmp_path / "missing" / "runs.sqlite")
    store = RunStore(tmp_path / "r.sqlite")
    with pytest.raises(KeyError, match="no run with id 5"):
        store.delete(5)
    assert store.url.startswith("sqlite:///") and store.url.endswith("r.sqlite")
