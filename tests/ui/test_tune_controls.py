"""LRRangeView when no LR helps; SearchView's axes (integer epochs, padded log scales) and refine controls."""

import math

import numpy as np
import pytest
from torch import nn

from workbench.train import RunStore
from workbench.tune import ModelSpec
from workbench.tune.searching import TrialOutcome
from workbench.ui import LRRangeView, OverfitLab, SearchView


class _Detached(nn.Module):
    """Output independent of the parameters: the loss stays at ln(C) whatever the LR."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) * 0.0


def test_range_view_says_no_good_lr_and_disables_the_hand_over(digits):
    lab = OverfitLab(digits, store=None, background=False)
    before = lab.lr.value
    v = LRRangeView(_Detached(), digits.train, lab=lab, background=False, num_iter=30)
    v.run_button.click()
    assert not v.result.found and v.result.lr is None
    assert (
        v.use_button.disabled and v.choice.options == (("no good LR found", None),) and v.choice.value is None
    )
    assert "No good LR found" in v.status and "workbench.checks.run_all" in v.status
    assert "recommended" not in v.status and v.marks_line.x.shape == (0, 2)
    v.use_button.click()  # disabled in the browser; a programmatic click must not hand anything on either
    assert v.chosen_lr is None and lab.lr.value == before


def _outcome(number, lr, wd, value=0.5, status="complete"):
    return TrialOutcome(
        number=number,
        params={"lr": lr, "weight_decay": wd},
        status=status,
        value=value,
        val_loss=None,
        reason="" if status == "complete" else "diverged",
    )


def test_scatter_scales_are_padded_in_log_space_so_edge_points_are_not_cut(digits, tmp_path):
    sv = SearchView(digits, store=tmp_path / "s.sqlite", workers=0, background=False)
    sv._draw([_outcome(0, 1e-4, 1e-4), _outcome(1, 1e-1, 0.0), _outcome(2, 1e-2, 1e-5, None, "fail")])
    xs, ys = sv.scatter.scales["x"], sv.scatter.scales["y"]
    assert xs is sv.failed.scales["x"] and ys is sv.failed.scales["y"]
    lo, hi = math.log10(xs.min), math.log10(xs.max)
    assert lo < -4 and hi > -1 and (-4 - lo) == pytest.approx(hi + 1) and (-4 - lo) == pytest.approx(0.1 * 3)
    lo, hi = math.log10(ys.min), math.log10(ys.max)  # wd 0 is drawn at the 1e-6 floor
    assert (-6 - lo) == pytest.approx(0.1 * 2) and (hi + 4) == pytest.approx(0.1 * 2)
    sv._draw([_outcome(0, 3e-3, 1e-4)])  # one point: half a decade either side
    assert math.log10(sv.scatter.scales["x"].min) == pytest.approx(math.log10(3e-3) - 0.5)
    assert math.log10(sv.scatter.scales["x"].max) == pytest.approx(math.log10(3e-3) + 0.5)


def test_epoch_axis_has_integer_ticks_only(digits, tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    sv = SearchView(
        (digits.train.subset(range(200)), digits.val),
        model=ModelSpec("linear"),
        n_trials=3,
        epochs=3,
        store=store,
        workers=0,
        background=False,
    )
    sv.run_button.click()
    axis = sv.curves_figure.axes[0]
    assert list(axis.tick_values) == [1, 2, 3] and axis.tick_format == "d"
    ex = sv.curve_scales[0]
    assert ex.min == pytest.approx(0.75) and ex.max == pytest.approx(
        3.25
    )  # padded: the first and last markers show


def test_many_epochs_get_whole_number_ticks_at_a_readable_spacing():
    from workbench.ui.plotting import epoch_ticks

    assert list(epoch_ticks(1)) == [1]
    assert list(epoch_ticks(7)) == [1, 2, 3, 4, 5, 6, 7]
    ticks = epoch_ticks(45)
    assert len(ticks) <= 10 and all(float(t).is_integer() for t in ticks) and ticks[0] == 1


def test_refine_uses_the_trials_epochs_and_mode_controls(digits, tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    sv = SearchView(
        (digits.train.subset(range(200)), digits.val),
        model=ModelSpec("linear"),
        n_trials=3,
        epochs=1,
        store=store,
        workers=0,
        background=False,
    )
    assert sv.refine_trials.value == 6 and sv.refine_epochs.value == 10 and sv.mode.value == "random"
    sv.run_button.click()
    sv.refine_trials.value, sv.refine_epochs.value = 2, 2
    sv.refine_button.click()
    r = sv.result
    assert (
        r.study_name == "coarse-refine"
        and r.mode == "random"
        and len(r.outcomes) == 2
        and sv.progress.max == 2
    )
    ran = [o for o in r.outcomes if o.status == "complete"]
    assert ran and all(len(store.load(o.run_id).history.snapshot().epoch) == 2 for o in ran)


def test_mode_control_drives_the_search_and_bad_settings_are_named(digits, tmp_path):
    sv = SearchView(
        (digits.train.subset(range(200)), digits.val),
        model=ModelSpec("linear"),
        n_trials=2,
        epochs=1,
        store=RunStore(tmp_path / "s.sqlite"),
        workers=0,
        background=False,
    )
    sv.mode.value = "grid"
    sv.run_button.click()
    # grid of 2 LRs x the 3 default weight decays: every point runs, and the progress bar knew it from the
    # start
    assert (
        sv.result.mode == "grid"
        and len(sv.result.outcomes) == 6
        and sv.progress.max == sv.progress.value == 6
    )
    assert sorted({o.params["weight_decay"] for o in sv.result.outcomes}) == [0.0, 1e-5, 1e-4]
    with pytest.raises(
        ValueError, match="'refine_trials' parameter of SearchView must be an int in \\[1, inf\\]"
    ):
        SearchView(None, store=tmp_path / "t.sqlite", refine_trials=0)
    with pytest.raises(ValueError, match="'refine_epochs' parameter of SearchView"):
        SearchView(None, store=tmp_path / "t.sqlite", refine_epochs=0)
    with pytest.raises(ValueError, match="'mode' parameter of SearchView must be one of 'random', 'grid'"):
        SearchView(None, store=tmp_path / "t.sqlite", mode="bayes")
    assert np.isfinite(sv.scatter.scales["x"].min)
