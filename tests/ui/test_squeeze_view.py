"""SqueezeView at the traitlets level: pick stored runs, squeeze them, read the table and the bars."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk

from workbench.data import from_arrays
from workbench.squeeze import Ensemble, ModelSpec, compare, train_members
from workbench.train import RunStore, TrainConfig
from workbench.ui import ComparisonView, SqueezeView

FAST = TrainConfig(epochs=2, batch_size=64, lr=1e-2, device="cpu")


@pytest.fixture
def stored(digits, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    spec = ModelSpec.for_data("mlp", digits.train, width=16)
    members = train_members(
        spec, digits.train, digits.val, seeds=(0, 1), config=FAST, store=store, folder=tmp_path
    )
    store.save("no weights", {"lr": 0.1}, [1], [2.3], [0.1], [], status="finished")
    return store, members


def test_pick_two_runs_then_ensemble_gives_rows_and_bars_with_intervals(digits, stored):
    store, members = stored
    view = SqueezeView(digits, store=store, epochs=1, background=False)
    assert len(view.runs.options) == 2 and "1 without weights not listed" in view.status
    view.pick_top(2)
    assert set(view.runs.value) == {m.run_id for m in members}
    view.run_button.click()  # "ensemble"
    rows = view.comparison.rows
    assert [r.name for r in rows][-1] == "ensemble (2)" and len(rows) == 3
    assert rows[0].name.startswith("single best (#") and all(r.n == len(digits.test) for r in rows)
    # the ensemble's row is compare's own score of the same members on the whole test split
    oracle = compare({"e": Ensemble([m.model for m in members])}, digits.test, device="cpu")["e"]
    assert view.comparison["ensemble (2)"].accuracy == oracle.accuracy
    bars, whiskers = view.chart.bars, view.chart.whiskers
    assert list(bars.x) == [r.name for r in rows] and np.allclose(bars.y, [r.accuracy for r in rows])
    assert (
        whiskers.y.shape == (3, 2)
        and np.all(whiskers.y[:, 0] <= bars.y)
        and np.all(bars.y <= whiskers.y[:, 1])
    )
    assert np.all(whiskers.y[:, 1] > whiskers.y[:, 0]) and list(whiskers.x[:, 0]) == list(bars.x)
    assert view.chart.table.value.count("<tr>") == 4 and "gain over single best" in view.chart.table.value
    assert not view.running and not view.buttons["EMA"].disabled
    # EMA: the best run's recipe again with EMA beside it; the rows already scored stay as they were
    before = view.comparison["ensemble (2)"]
    view.buttons["EMA"].click()
    names = [r.name for r in view.comparison.rows]
    assert {"EMA", "EMA run (live)"} <= set(names) and len(names) == 5
    assert view.comparison["ensemble (2)"] is before and len(view.chart.bars.x) == 5
    assert len(view.runs.options) == 3  # the EMA run is stored, with its weights


def test_snapshots_swa_and_distillation(digits, stored):
    store, members = stored
    view = SqueezeView(digits, store=store, epochs=1, background=False)
    view.pick([m.run_id for m in members])
    view.start("snapshot ensemble")
    assert "snapshot ensemble (3)" in view.comparison.correct
    view.start("SWA")
    view.start("distill into one")
    names = set(view.comparison.correct)
    assert {"SWA", "distilled student", "ensemble (2)"} <= names
    assert "ensemble's gain" in view.status or "nothing to keep" in view.status
    # a stored snapshot run rebuilds its ensemble from its files, without training again
    snap_run = next(i for label, i in view.runs.options if "snapshots of" in label)
    n_runs = len(store.list())
    view.pick([snap_run])
    view.start("snapshot ensemble")
    assert f"snapshot ensemble (3, #{snap_run})" in view.comparison.correct and len(store.list()) == n_runs


def test_errors_are_messages_in_the_view(digits, stored, tmp_path):
    store, members = stored
    view = SqueezeView(digits, store=store, background=False)
    view.run_button.click()
    assert "no runs picked" in view.status and view.run is None
    b = sk()
    few = b.target < 3
    three = from_arrays(b.images[few].astype(np.float32) / 16, b.target[few])
    other = train_members(
        ModelSpec.for_data("linear", three), three, seeds=(0,), config=FAST, store=store, folder=tmp_path
    )
    view.refresh()
    view.pick([members[0].run_id, other[0].run_id])
    view.run_button.click()
    assert "different data or classes" in view.status and view.comparison is None
    with pytest.raises(ValueError, match="must be DataSplits with a test split"):
        SqueezeView((digits.train, digits.val), store=store)
    with pytest.raises(TypeError, match="must be a Comparison"):
        ComparisonView().show({"a": 1})


def test_cancel_stops_a_long_ema_run(digits, stored):
    store, members = stored
    view = SqueezeView(digits, store=store, epochs=10_000)
    view.pick([members[0].run_id])
    view.buttons["EMA"].click()
    assert view.running and view.buttons["SWA"].disabled
    deadline = time.time() + 120
    while view.progress.value == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert view.progress.value > 0  # at least one epoch done
    view.stop_button.click()
    view.wait(120)
    assert not view.running and view.status.startswith("cancelled") and view.comparison is None
    assert not view.buttons["SWA"].disabled and view.progress.value < 0.01
