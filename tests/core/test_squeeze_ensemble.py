"""Ensembles, snapshot ensembles, compare on the whole split, and members stored and reloaded."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from scipy.stats import binomtest
from torch import nn

from workbench.models import build_model
from workbench.squeeze import (
    Ensemble,
    ModelSpec,
    SnapshotEnsemble,
    compare,
    load_member,
    train_members,
    wilson_interval,
)
from workbench.train import Callback, RunStore, TrainConfig, evaluate, fit

FAST = TrainConfig(epochs=2, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def two_members(digits):
    spec = ModelSpec.for_data("mlp", digits.train, width=32)
    return train_members(spec, digits.train, seeds=(0, 1), config=FAST)


def test_ensemble_probabilities_are_the_mean_of_the_members(digits, two_members):
    models = [m.model for m in two_members]
    ensemble = Ensemble(models)
    x, y = digits.test.tensors()
    with torch.no_grad():
        expected = torch.stack([m(x).softmax(-1) for m in models]).mean(0)
        assert torch.allclose(ensemble.predict_proba(x), expected, atol=1e-6)
        assert torch.allclose(ensemble(x).exp().sum(-1), torch.ones(len(x)), atol=1e-5)
    # so evaluate() scores the ensemble right as it is: NLL and accuracy of the mean probability
    ev = evaluate(ensemble, digits.test)
    assert ev.loss == pytest.approx(-expected[torch.arange(len(y)), y].log().mean().item(), rel=1e-5)
    assert round(ev.accuracy * len(y)) == int((expected.argmax(-1) == y).sum())
    with pytest.raises(ValueError, match=r"non-empty sequence of nn\.Module"):
        Ensemble([])


def test_compare_scores_every_sample_with_wilson_intervals_and_paired_gains(digits, two_members):
    models = {f"seed {m.seed}": m.model for m in two_members}
    models["ensemble"] = Ensemble(list(models.values()))
    result = compare(models, digits.test, device="cpu")
    n = len(digits.test)
    for name, model in models.items():
        row, ev = result[name], evaluate(model, digits.test)
        assert row.n == n and row.accuracy == ev.accuracy and row.loss == pytest.approx(ev.loss, rel=1e-6)
        ci = binomtest(round(row.accuracy * n), n).proportion_ci(0.95, method="wilson")
        assert (row.low, row.high) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert row.seconds > 0
    assert result["ensemble"].parameters == 2 * result["seed 0"].parameters
    assert result["ensemble"].kind == "ensemble" and result.best_single in ("seed 0", "seed 1")
    gain = result.gain("ensemble", "seed 0")
    assert gain.diff == pytest.approx(result["ensemble"].accuracy - result["seed 0"].accuracy)
    assert gain.low < gain.diff < gain.high
    assert result.gain("seed 0", "seed 0").diff == 0
    frame = result.to_frame()
    assert list(frame.index) == ["seed 0", "seed 1", "ensemble"]
    with pytest.raises(KeyError, match="no model named 'nope'"):
        result["nope"]
    with pytest.raises(ValueError, match=r"non-empty mapping of name -> nn\.Module"):
        compare({}, digits.test)
    with pytest.raises(TypeError, match=r"the models \['x'\] are not"):
        compare({"x": 3}, digits.test)  # type: ignore[dict-item]


def test_wilson_interval_at_the_edges():
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] > 0.6
    assert wilson_interval(0, 10)[0] == 0.0


def test_compare_stops_when_asked(digits, two_members):
    stop = threading.Event()
    result = compare(
        {"a": two_members[0].model, "b": two_members[1].model},
        digits.test,
        device="cpu",
        stop_event=stop,
        progress=lambda done, total: stop.set(),
    )
    assert [r.name for r in result.rows] == ["a"]


def test_snapshot_ensemble_keeps_the_weights_at_each_cycle_end(digits, tmp_path):
    lrs, ends = [], []

    class Record(Callback):
        def on_step_end(self, state) -> None:
            lrs.append(state.optimizer.param_groups[0]["lr"])

        def on_epoch_end(self, state) -> None:
            ends.append({k: v.clone() for k, v in state.model.state_dict().items()})

    snaps = SnapshotEnsemble(cycle_epochs=2, min_lr=1e-5, folder=tmp_path)
    model = build_model("mlp", digits.train, seed=0, width=16)
    config = TrainConfig(epochs=4, lr=1e-2, batch_size=128, device="cpu")
    fit(model, digits.train, config=config, callbacks=[snaps, Record()])
    per_cycle = 2 * -(-len(digits.train) // 128)
    assert len(snaps.snapshots_) == 2 and len(snaps.paths_) == 2
    # the LR (read after each step's scheduler step) falls to min_lr at each cycle's end, then restarts
    assert lrs[per_cycle - 1] == pytest.approx(1e-2) and lrs[per_cycle - 2] < 1e-3
    assert lrs[0] < 1e-2 and lrs[per_cycle] < 1e-2
    for snap, end, path in zip(snaps.snapshots_, (ends[1], ends[3]), snaps.paths_):
        assert all(torch.equal(snap[k], end[k]) for k in end)
        stored = torch.load(path, weights_only=True)
        assert all(torch.equal(stored[k], end[k]) for k in end)
    ensemble = snaps.ensemble()
    assert len(ensemble) == 2 and not any(p.requires_grad for p in ensemble.parameters())
    assert len(snaps.ensemble(last=1)) == 1
    with pytest.raises(RuntimeError, match="no snapshots yet"):
        SnapshotEnsemble(cycle_epochs=2).members()


def test_stored_members_reload_and_reproduce_their_test_accuracy_exactly(digits, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    spec = ModelSpec.for_data("mlp", digits.train, width=16)
    members = train_members(
        spec, digits.train, digits.val, seeds=(3, 4), config=FAST, store=store, folder=tmp_path, name="m"
    )
    frame = store.list()
    assert sorted(frame["seed"]) == [3, 4] and set(frame["model"]) == {"mlp"}
    x, _ = digits.test.tensors()
    for m in members:
        again = load_member(store, m.run_id)
        assert again.seed == m.seed and again.path == m.path and again.spec == spec
        assert evaluate(again.model, digits.test).accuracy == evaluate(m.model, digits.test).accuracy
        with torch.no_grad():
            assert torch.equal(again.model(x), m.model.eval()(x))
        assert again.history is not None and len(again.history.to_frame()) == FAST.epochs


def test_members_refuse_half_a_store_and_runs_without_weights(digits, tmp_path):
    spec = ModelSpec.for_data("linear", digits.train)
    with pytest.raises(ValueError, match="pass both 'store' and 'folder'"):
        train_members(spec, digits.train, store=tmp_path / "r.sqlite")
    store = RunStore(tmp_path / "r.sqlite")
    run_id = store.save("plain", {"lr": 0.1}, [1], [0.5], [0.1], [], status="finished")
    with pytest.raises(ValueError, match="has no stored weights"):
        load_member(store, run_id)


def test_a_stop_ends_the_members_loop(digits):
    stop = threading.Event()
    stop.set()
    spec = ModelSpec.for_data("linear", digits.train)
    assert train_members(spec, digits.train, seeds=(0, 1), config=FAST, stop_event=stop) == []


def test_model_spec_rebuilds_the_same_network(digits):
    spec = ModelSpec.for_data("mlp", digits.train, width=8, depth=1)
    a, b = spec.build(seed=5), spec.build(seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert isinstance(a, nn.Module) and spec.to_dict()["input_shape"] == [1, 8, 8]
    assert np.array_equal(spec.to_dict()["knobs"]["width"], 8)
