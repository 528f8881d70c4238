import time

import numpy as np
import pytest

from workbench.models import build_model
from workbench.train import RunStore
from workbench.tune import ModelSpec
from workbench.ui import LRRangeView, OverfitLab, SearchView


def test_range_view_draws_suggests_and_hands_the_lr_to_the_lab(digits):
    lab = OverfitLab(digits, store=None, background=False)
    v = LRRangeView(build_model("mlp", digits.train, seed=0), digits.train, lab=lab, background=False)
    v.run_button.click()
    assert len(v.smooth_line.x) == len(v.result.lrs) and v.marks_line.x.shape == (3, 2)
    assert "recommended" in v.choice.label and v.choice.value == v.result.lr
    v.choice.value = v.result.suggestions["valley"]
    v.use_button.click()
    assert lab.lr.value == pytest.approx(
        v.result.suggestions["valley"], rel=0.13
    )  # the log slider snaps to its step
    assert v.chosen_lr == v.result.suggestions["valley"]


def test_range_view_can_be_cancelled_while_it_runs(digits):
    got = []
    v = LRRangeView(
        build_model("cnn", digits.train, seed=0),
        digits.train,
        on_choose=got.append,
        num_iter=100_000,
        start_lr=1e-2,
        end_lr=2e-2,
    )
    v.start()
    deadline = time.time() + 120  # a hang guard: 30 points take about a second
    while len(v._points) < 30 and time.time() < deadline:
        time.sleep(0.02)
    v.stop_button.click()
    v.wait(120)
    assert not v.running and v.result.stopped == "cancelled" and 30 <= len(v.result.lrs) < 100_000
    v.use(v.result.lr)
    assert got == [v.result.lr]


def test_range_view_hands_its_lr_to_a_search(digits, tmp_path):
    sv = SearchView(digits, store=tmp_path / "s.sqlite", workers=0, background=False)
    v = LRRangeView(
        build_model("linear", digits.train, seed=0), digits.train, on_choose=sv.center_on, background=False
    )
    v.start()
    v.use(v.result.lr)
    lo, hi = sv.options["space"].lr
    assert lo == pytest.approx(v.result.lr / 10**1.5) and hi == pytest.approx(
        min(10.0, v.result.lr * 10**1.5)
    )
    with pytest.raises(ValueError, match="center_on: lr must be > 0"):
        sv.center_on(0.0)


def test_search_view_scatter_curves_table_progress_and_refine(digits, tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    sv = SearchView(
        (digits.train.subset(range(300)), digits.val),
        model=ModelSpec("linear"),
        n_trials=5,
        epochs=2,
        store=store,
        workers=0,
        background=False,
    )
    sv.run_button.click()
    ok = [o for o in sv.result.outcomes if o.status == "complete"]
    assert sv.progress.value == 5 and len(sv.scatter.x) == len(ok)
    assert np.allclose(sorted(sv.scatter.color), sorted(o.value for o in ok))
    assert len(sv.curves_figure.marks) == 3 and all(len(m.x) == 2 for m in sv.curves_figure.marks)
    assert sv.table.value.count("<tr>") == 6 and "best val acc" in sv.status
    assert not sv.refine_button.disabled
    sv.refine_button.click()
    assert sv.result.study_name == "coarse-refine" and len(sv.result.outcomes) == 6


def test_search_view_in_the_background_draws_failed_trials_with_their_reason(tmp_path):
    from sklearn.datasets import load_digits as sk

    from workbench.data import from_arrays, split
    from workbench.tune import SearchSpace

    b = sk()
    raw = split(
        from_arrays(b.images.astype(np.float32), b.target), seed=0
    )  # unscaled pixels: big SGD LRs diverge
    sv = SearchView(
        raw,
        model=ModelSpec(width=256, depth=4),
        optimizer="sgd",
        space=SearchSpace(lr=(1e-3, 5.0)),
        n_trials=4,
        epochs=2,
        store=tmp_path / "f.sqlite",
        workers=0,
    )
    sv.start()
    assert sv.running and sv.start() is None  # one search at a time
    sv.wait(600)
    failed = [o for o in sv.result.outcomes if o.status == "fail"]
    assert sv.done == 4 and not sv.running and failed
    assert len(sv.failed.x) == len(failed) and "diverged: the loss became nan" in sv.table.value


def test_views_show_a_finished_result_without_running_anything(digits, tmp_path):
    from workbench.tune import lr_range_test, search

    r = lr_range_test(build_model("mlp", digits.train, seed=0), digits.train, num_iter=40)
    v = LRRangeView(result=r)
    assert v.result is r and len(v.smooth_line.x) == np.isfinite(r.smoothed).sum() and v.run is None
    assert v.run_button.disabled and (("recommended" in v.status) == r.found)
    res = search(digits, n_trials=2, epochs=1, workers=0, store=tmp_path / "s.sqlite")
    sv = SearchView(result=res)
    assert sv.run is None and sv.table.value.count("<tr>") == 3 and len(sv.scatter.x) + len(sv.failed.x) == 2
    assert sv.refine_button.disabled  # nothing to refine on: no data was given
    with pytest.raises(TypeError, match="needs a model and data to sweep, or a finished result"):
        LRRangeView()
    with pytest.raises(TypeError, match="'result' parameter of SearchView must be a SearchResult"):
        SearchView(digits, result=r)
