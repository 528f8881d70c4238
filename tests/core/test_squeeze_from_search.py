"""Search trials keep their weights; the k best reload into an ensemble; a stored run's recipe trains again
with EMA, SWA, snapshots or as a distilled student."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from workbench.squeeze import (
    Ensemble,
    Member,
    ModelSpec,
    check_same_task,
    ema_decay_for,
    ensemble_from_search,
    load_member,
    load_members,
    load_snapshots,
    search_members,
    stored_config,
    train_averaged,
    train_distilled,
    train_members,
    train_snapshots,
)
from workbench.train import RunStore, TrainConfig, evaluate
from workbench.tune import ModelSpec as TrialModel
from workbench.tune import search

FAST = TrainConfig(epochs=2, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def searched(digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("search") / "runs.sqlite"
    data = (digits.train.subset(range(600)), digits.val)
    result = search(
        data, model=TrialModel("mlp", width=16, depth=1), n_trials=3, epochs=2, workers=2, store=path, seed=1
    )
    return result, path


def test_search_trials_keep_weights_that_reproduce_their_val_accuracy_exactly(digits, searched):
    result, path = searched
    done = result.top(3)
    assert len(done) == 3
    members = search_members(result, k=2)
    assert [m.run_id for m in members] == [o.run_id for o in done[:2]]
    for member, outcome in zip(members, done):
        assert Path(member.path).is_file() and member.path.endswith(f"trial-{outcome.number}.pt")
        assert member.spec.kind == "mlp" and member.spec.knobs == {"width": 16, "depth": 1}
        assert evaluate(member.model, digits.val).accuracy == outcome.value  # exactly: same weights
    # from the store file, ranked by the stored final val accuracy: the same trials
    again = search_members(path, k=2, study="coarse")
    assert [m.run_id for m in again] == [m.run_id for m in members]
    # a stored trial records what retrains it
    config = stored_config(RunStore(path).load(members[0].run_id))
    assert (config.epochs, config.batch_size, config.optimizer) == (2, 64, "adam")
    assert config.lr == done[0].params["lr"] and config.weight_decay == done[0].params["weight_decay"]


def test_ensemble_from_search_averages_the_best_trials_probabilities(digits, searched):
    result, _ = searched
    ensemble = ensemble_from_search(result, k=3)
    members = search_members(result, k=3)
    assert isinstance(ensemble, Ensemble) and len(ensemble) == 3
    x, _ = digits.test.tensors()
    with torch.no_grad():
        mean = torch.stack([m.model(x).softmax(-1) for m in members]).mean(0)
        assert torch.allclose(ensemble.predict_proba(x), mean, atol=1e-6)
    assert len(ensemble_from_search(result, k=10)) == 3  # fewer trials than k: all of them


def test_trials_without_weights_are_refused_clearly(digits, tmp_path):
    small = (digits.train.subset(range(200)), digits.val)
    no_store = search(small, model=TrialModel("linear"), n_trials=1, epochs=1, workers=0, store=None)
    with pytest.raises(ValueError, match="ran without a run store"):
        ensemble_from_search(no_store)
    kept_none = search(
        small,
        model=TrialModel("linear"),
        n_trials=1,
        epochs=1,
        workers=0,
        store=tmp_path / "r.sqlite",
        keep_weights=False,
    )
    with pytest.raises(ValueError, match="no completed trial with saved weights"):
        search_members(kept_none)
    with pytest.raises(ValueError, match="The 'k' parameter of search_members"):
        search_members(tmp_path / "r.sqlite", k=0)
    with pytest.raises(TypeError, match="must be a SearchResult, a RunStore or the path"):
        search_members(3)  # type: ignore[arg-type]


def test_runs_of_different_tasks_cannot_be_ensembled(digits, tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    ten = ModelSpec.for_data("linear", digits.train)
    three = ModelSpec("linear", (1, 8, 8), 3)
    a = train_members(ten, digits.train, seeds=(0,), config=FAST, store=store, folder=tmp_path)
    b = [Member(three.build(seed=0), three, 0, run_id=99)]  # a 3-class network (its weights do not matter)
    with pytest.raises(ValueError, match="different data or classes"):
        check_same_task(a + b)
    with pytest.raises(ValueError, match=r"different data or classes.*the data: input"):
        check_same_task(a, _fake_data())
    with pytest.raises(ValueError, match="must name at least one stored run"):
        load_members(store, [])
    assert [m.run_id for m in load_members(store, [a[0].run_id])] == [a[0].run_id]


def _fake_data():
    class Data:
        input_shape, num_classes = (1, 28, 28), 10

    return Data()


def test_recipe_again_with_ema_swa_snapshots_and_distillation(digits, tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    spec = ModelSpec.for_data("mlp", digits.train, width=16)
    config = FAST.replace(epochs=3, lr=3e-3)
    live, ema = train_averaged(spec, digits.train, digits.val, config=config, store=store, folder=tmp_path)
    assert isinstance(ema, torch.nn.Module) and not torch.equal(
        next(ema.parameters()), next(live.model.parameters())
    )
    assert stored_config(store.load(live.run_id)) == config
    _, swa = train_averaged(spec, digits.train, digits.val, kind="swa", config=config)
    assert isinstance(swa, torch.nn.Module)
    run, snaps = train_snapshots(spec, digits.train, config=config, cycles=3, store=store, folder=tmp_path)
    assert len(snaps) == 3
    again = load_snapshots(store, run.run_id)
    x, _ = digits.test.tensors()
    with torch.no_grad():
        assert torch.equal(again(x), snaps(x))
    with pytest.raises(ValueError, match="recorded no snapshots"):
        load_snapshots(store, live.run_id)
    teacher = Ensemble([live.model, ema])
    student = train_distilled(
        teacher, spec, digits.train, digits.val, config=config, store=store, folder=tmp_path
    )
    reloaded = load_member(store, student.run_id)
    assert evaluate(reloaded.model, digits.test).accuracy == evaluate(student.model, digits.test).accuracy
    stop = threading.Event()
    stop.set()
    assert train_distilled(teacher, spec, digits.train, config=config, stop_event=stop) is None
    assert train_averaged(spec, digits.train, config=config, stop_event=stop) is None
    with pytest.raises(ValueError, match="The 'kind' parameter of train_averaged"):
        train_averaged(spec, digits.train, kind="polyak")


def test_ema_decay_for_a_run_averages_its_last_tenth():
    assert ema_decay_for(2000) == pytest.approx(0.995)
    assert ema_decay_for(20) == 0.9 and ema_decay_for(10**6) == 0.999  # clipped to [0.9, 0.999]
    with pytest.raises(ValueError, match="The 'steps' parameter of ema_decay_for"):
        ema_decay_for(0)
