"""The search split into its parts (searching / trial / executors), on Optuna's public API only."""

import ast
from pathlib import Path

import optuna
import pytest

import workbench.tune
from workbench.train import RunStore
from workbench.tune import ModelSpec, SearchSpace, TrialTask, run_trial, search

TUNE = Path(workbench.tune.__file__).parent


def _optuna_private_attributes() -> set[str]:
    """The private attributes Optuna's study and trial objects carry (``_storage``, ``_trial_id``, ...)."""
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    study.tell(trial, 1.0)
    names = set()
    for obj in (
        study,
        trial,
        study.trials[0],
        optuna.pruners.MedianPruner(),
        optuna.samplers.RandomSampler(),
    ):
        names |= {n for n in list(vars(obj)) + list(getattr(type(obj), "__slots__", ())) if n.startswith("_")}
    return {n for n in names if not n.endswith("__")}


@pytest.fixture(scope="module")
def small_digits(digits):
    return digits.train.subset(range(300)), digits.val


@pytest.mark.parametrize("module", sorted(p.name for p in TUNE.glob("*.py")))
def test_the_tune_modules_use_optunas_public_api_only(module):
    private = _optuna_private_attributes()
    assert {"_storage", "_trial_id"} <= private  # what the search used to reach for
    tree = ast.parse((TUNE / module).read_text())
    used = sorted({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in private})
    built = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and ast.unparse(n.func).endswith("trial.Trial")
    ]
    assert not used and not built, (used, built)
    assert len((TUNE / module).read_text().splitlines()) < 320  # one idea per module


def test_public_names_stay_where_they_were():
    from workbench.tune import searching

    for name in (
        "search",
        "refine",
        "SearchResult",
        "SearchSpace",
        "ModelSpec",
        "TrialOutcome",
        "TrialTask",
        "run_trial",
        "ranked",
    ):
        assert hasattr(searching, name), name
    for name in (
        "search",
        "refine",
        "SearchResult",
        "SearchSpace",
        "ModelSpec",
        "TrialOutcome",
        "TrialTask",
        "run_trial",
    ):
        assert name in workbench.tune.__all__ and getattr(workbench.tune, name) is getattr(searching, name)


def test_a_worker_prunes_exactly_when_optunas_own_trial_would(small_digits, tmp_path):
    """The worker judges a trial it does not own: its verdict must be Optuna's verdict on the real trial."""
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    study = optuna.create_study(
        study_name="p",
        storage=url,
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    dist = SearchSpace().distributions()
    for acc in (0.9, 0.95):  # two good trials set the median at every epoch
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": 1e-2, "weight_decay": 0.0},
                distributions=dist,
                value=acc,
                intermediate_values=dict.fromkeys(range(1, 5), acc),
            )
        )
    hopeless = TrialTask(
        2,
        {"lr": 1e-6, "weight_decay": 0.0},
        4,
        64,
        0,
        ModelSpec("linear"),
        storage_url=url,
        study_name="p",
        pruning=True,
    )
    out = run_trial(hopeless, *small_digits)
    assert out.status == "pruned" and "pruned after epoch 1" in out.reason, out.reason
    lucky = TrialTask(
        3,
        {"lr": 3e-2, "weight_decay": 0.0},
        2,
        64,
        0,
        ModelSpec("linear"),
        storage_url=url,
        study_name="p",
        pruning=True,
    )
    good = run_trial(lucky, *small_digits)
    for o in (out, good):  # the same accuracies, reported to a real trial of the study
        real = study.ask(dist)
        verdicts = []
        for e in o.epochs:
            real.report(e["val_acc"], e["epoch"])
            verdicts.append(real.should_prune())
        assert verdicts == [False] * (len(o.epochs) - 1) + [o.status == "pruned"], (o.status, o.epochs)
        study.tell(real, state=optuna.trial.TrialState.FAIL)


def test_a_pruning_search_keeps_each_trials_epochs_in_the_study(small_digits, tmp_path):
    """The parent reports a trial's per-epoch accuracies when it ends: later trials are judged against
    them."""
    store = RunStore(tmp_path / "s.sqlite")
    r = search(
        small_digits,
        n_trials=3,
        epochs=3,
        model=ModelSpec("linear"),
        workers=0,
        store=store,
        pruning=True,
        study_name="k",
        space=SearchSpace(lr=(1e-2, 5e-2)),
    )
    study = optuna.load_study(study_name="k", storage=r.storage_url)
    assert len(study.trials) == 3
    for t, o in zip(study.trials, sorted(r.outcomes, key=lambda o: o.number)):
        snap = store.load(o.run_id).history.snapshot()
        assert t.state == optuna.trial.TrialState.COMPLETE and len(snap.epoch) == 3
        assert t.intermediate_values == {
            int(e): pytest.approx(float(v)) for e, v in zip(snap.epoch, snap.metrics["val_acc"])
        }


def test_a_free_worker_gets_its_next_trial_before_the_finished_one_is_recorded(
    small_digits, tmp_path, monkeypatch
):
    """Recording a trial (its curves, then Optuna's tell: SQLite writes) takes a while; a worker must not
    idle through it. Checked by order, not by time: when a trial is recorded, the next one is out already."""
    from workbench.tune import executors, searching

    submitted, seen = [], []
    real_submit, real_record = executors._LocalProcesses.submit, searching._record

    def submit(self, task):
        submitted.append(task.number)
        return real_submit(self, task)

    def record(study, trial, outcome, *args):
        seen.append((outcome.number, list(submitted)))
        real_record(study, trial, outcome, *args)

    monkeypatch.setattr(executors._LocalProcesses, "submit", submit)
    monkeypatch.setattr(searching, "_record", record)
    r = search(
        small_digits, n_trials=3, epochs=1, model=ModelSpec("linear"), workers=1, store=tmp_path / "o.sqlite"
    )
    assert [o.status for o in r.outcomes] == ["complete"] * 3
    assert seen == [(0, [0, 1]), (1, [0, 1, 2]), (2, [0, 1, 2])]
