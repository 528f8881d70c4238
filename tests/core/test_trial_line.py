"""Every search trial has one run line the overfit lab accepts; the line in the lab
gives the trial's curve."""

import numpy as np
import pytest

from workbench.lab import Lab, LabSettings
from workbench.train import RunStore
from workbench.tune import ModelSpec, SearchSpace, TrialTask, search, trial_line, trial_settings


@pytest.fixture(scope="module")
def small(digits):
    return digits.train.subset(range(300)), digits.val


def _val_losses_per_epoch(history) -> np.ndarray:
    return np.asarray(history.snapshot().metrics["val_loss"], dtype=float)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_a_trials_line_in_the_lab_reproduces_its_curve(small, tmp_path, kind):
    train, val = small
    model = ModelSpec(kind, width=16, depth=2, seed=3)
    store = RunStore(tmp_path / "runs.sqlite")
    seen = []
    r = search(
        small,
        on_trial=seen.append,
        n_trials=2,
        epochs=3,
        batch_size=32,
        optimizer="nesterov",
        seed=3,
        model=model,
        space=SearchSpace(lr=(1e-3, 1e-1), weight_decay=(1e-4,)),
        workers=0,
        store=store,
    )
    assert len(r.outcomes) == 2
    for outcome in r.outcomes:
        assert outcome.status == "complete", outcome.reason
        line = trial_line(outcome)
        settings = LabSettings.from_line(line)
        assert (settings.model, settings.width, settings.seed, settings.subset, settings.epochs) == (
            kind,
            16,
            3,
            len(train),
            3,
        )
        assert (settings.optimizer, settings.batch_size) == ("nesterov", 32)
        assert settings.lr == outcome.params["lr"] and settings.weight_decay == outcome.params["weight_decay"]
        lab = Lab(train, val, settings, store=None)
        lab.start(background=False)
        got = _val_losses_per_epoch(lab.history)
        # the trial's curve as it ran, and as the run store keeps it
        (live,) = [o for o in seen if o.number == outcome.number]
        want = np.array([e["val_loss"] for e in live.epochs])
        stored = _val_losses_per_epoch(store.load(outcome.run_id).history)
        assert len(want) == 3 and np.isfinite(want).all()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(stored, want, rtol=0, atol=1e-6)


def test_the_line_is_kept_in_the_study_and_read_back(small, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    first = search(small, n_trials=1, epochs=1, model=ModelSpec("linear"), workers=0, store=store)
    again = search(small, n_trials=1, epochs=1, model=ModelSpec("linear"), workers=0, store=store)  # resumes
    assert first.outcomes[0].line.startswith("wb1:model=linear;")
    assert again.outcomes[0].line == first.outcomes[0].line  # read from the study, not recomputed


def test_a_trial_the_lab_cannot_express_says_why_instead_of_dropping_it(small, tmp_path):
    r = search(
        small,
        n_trials=1,
        epochs=1,
        model=ModelSpec("linear", seed=5),
        seed=0,
        workers=0,
        store=RunStore(tmp_path / "runs.sqlite"),
    )
    (outcome,) = r.outcomes
    assert outcome.status == "complete" and outcome.line == ""
    assert "ModelSpec seed 5" in outcome.line_note and "trained with seed 0" in outcome.line_note
    with pytest.raises(ValueError, match=r"ModelSpec seed 5 .* one seed"):
        trial_line(outcome)
    # the note survives the study too
    again = search(
        small,
        n_trials=1,
        epochs=1,
        model=ModelSpec("linear", seed=5),
        workers=0,
        store=RunStore(tmp_path / "runs.sqlite"),
    )
    assert again.outcomes[0].line_note == outcome.line_note


def test_what_the_lab_cannot_take_is_named():
    task = TrialTask(4, {"lr": 1e-2, "weight_decay": 0.0, "momentum": 0.8}, 2, 32, 0, ModelSpec())
    with pytest.raises(ValueError, match=r"Trial #4 searched 'momentum', which the lab has no setting for"):
        trial_settings(task, 100)
    task = TrialTask(5, {"lr": 1e-2, "weight_decay": 3.0}, 2, 32, 0, ModelSpec())
    with pytest.raises(ValueError, match=r"Trial #5 has a setting the lab cannot take: .*'weight_decay'"):
        trial_line(task, 100)
    with pytest.raises(
        ValueError, match=r"'n_train' parameter of trial_line must be the training split's size"
    ):
        trial_line(TrialTask(6, {"lr": 1e-2, "weight_decay": 0.0}, 2, 32, 0, ModelSpec()))
    with pytest.raises(
        TypeError, match=r"'trial' parameter of trial_line must be a TrialTask or a TrialOutcome"
    ):
        trial_line("wb1:model=mlp")


def test_a_task_line_maps_every_setting():
    task = TrialTask(
        0, {"lr": 0.0123, "weight_decay": 1e-5}, 7, 48, 2, ModelSpec("cnn", 12, 3, seed=2), "sgd"
    )
    assert trial_settings(task, 250) == LabSettings(
        model="cnn",
        width=12,
        depth=3,
        optimizer="sgd",
        lr=0.0123,
        weight_decay=1e-5,
        batch_size=48,
        seed=2,
        subset=250,
        epochs=7,
    )
