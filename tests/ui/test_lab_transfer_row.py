"""The overfit lab's transfer row, by its traitlets: shown only with pretrained weights, "freeze up to"
offers the model's layer groups, the controls reach the run (frozen weights, per-group LRs), the run line
carries them and a line with weights brings the row up in a plain lab."""

from __future__ import annotations

import pytest
import torch

from tests.core.pretrained_digits import CNN8
from workbench.ui import LRRangeView, OverfitLab


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _lab(fives, settings=CNN8, **kw) -> OverfitLab:
    return OverfitLab(fives, settings, store=None, background=False, **kw)


def test_the_row_shows_only_with_pretrained_weights(fives, weights):
    plain = _lab(fives)
    assert not plain.transfer_row.shown and plain.transfer_row in plain.children
    lab = _lab(fives, pretrained=weights[0])
    row = lab.transfer_row
    assert row.shown and row.weights.value == str(weights[0])
    assert [v for _, v in row.freeze_upto.options] == ["", "body.0", "body.3", "body"]
    assert row.freeze_upto.value == "" and row.body_lr.value == 1.0


def test_the_controls_reach_the_run(fives, weights):
    path, source = weights
    lab = _lab(fives, pretrained=path)
    row = lab.transfer_row
    row.freeze_upto.value = "body.0"
    row.body_lr.value = 0.1
    assert lab.core.settings.freeze_upto == "body.0" and lab.core.settings.body_lr == 0.1
    assert "frozen: body.0 · body.3 at 3.0e-04 (x0.1) · head at 3.0e-03" in row.summary.value
    assert "weights=" + str(path) + ";freeze_upto=body.0;body_lr=0.1" in lab.run_line.value
    lab.start()
    lab.wait()
    assert lab.history.status == "finished"
    assert [(g["name"], g["lr"]) for g in lab.core.optimizer.param_groups] == [
        ("head", 3e-3),
        ("body.3", pytest.approx(3e-4)),
    ]
    assert torch.equal(lab.model.network.body[0].weight, source.body[0].weight)
    lab.lr.value = 1e-2  # the LR slider moves the head; the summary follows
    assert "body.3 at 1.0e-03 (x0.1) · head at 1.0e-02" in row.summary.value
    row.freeze_upto.value = ""
    assert lab.core.settings.freeze_upto is None


def test_a_refused_weights_file_is_said_and_changes_nothing(fives, weights):
    lab = _lab(fives, pretrained=weights[0])
    lab.transfer_row.weights.value = "missing.pt"
    assert "cannot use weights='missing.pt'" in lab.status and "No weights file" in lab.status
    assert lab.core.settings.weights == str(weights[0])


def test_a_line_with_weights_brings_the_row_up_in_a_plain_lab(fives, weights):
    source = _lab(fives, CNN8.replace(freeze_upto="body.0", body_lr=0.03), pretrained=weights[0])
    plain = _lab(fives)
    plain.use_line(source.run_line.value)
    row = plain.transfer_row
    assert row.shown and row.freeze_upto.value == "body.0" and row.body_lr.value == 0.03
    assert plain.settings == source.settings
    plain.start()
    plain.wait()
    assert [g["name"] for g in plain.core.optimizer.param_groups] == ["head", "body.3"]


def test_a_line_with_a_missing_file_is_refused_and_the_controls_stay(fives):
    plain = _lab(fives)
    line = plain.run_line.value.replace("weights=none", "weights=nowhere.pt")
    with pytest.raises(ValueError, match="No weights file"):
        plain.use_line(line)
    assert plain.transfer_row.weights.value == "" and not plain.transfer_row.shown


def test_freeze_options_follow_the_depth(fives):
    lab = _lab(fives, CNN8.replace(depth=3, freeze_upto="body.6", body_lr=0.1))  # from scratch, by a line
    row = lab.transfer_row
    assert row.shown and [v for _, v in row.freeze_upto.options][1:] == ["body.0", "body.3", "body.6", "body"]
    lab.depth.value = 2
    assert [v for _, v in row.freeze_upto.options][1:] == ["body.0", "body.3", "body"]
    assert row.freeze_upto.value == "" and lab.core.settings.freeze_upto is None
    row.freeze_upto.value = "body.3"
    row.body_lr.value = 1.0
    assert lab.core.settings.freeze_upto == "body.3" and row.shown
    lab.depth.value = 1  # body.3 is gone: nothing frozen, no transfer left: the row hides, in step
    assert lab.core.settings.freeze_upto is None and row.freeze_upto.value == "" and not row.shown
    assert lab.settings == lab.core.settings


def test_the_lab_range_test_view_sweeps_the_head_alone(fives, weights):
    lab = _lab(fives, CNN8.replace(freeze_upto="body"), pretrained=weights[0])
    view = lab.lr_range_view(num_iter=10, background=False)
    assert isinstance(view, LRRangeView) and view.test_kwargs["train_only"] == ("head",)
    view.start()
    view.wait()
    assert view.result is not None and len(view.result.lrs) >= 5
    view.on_choose(2e-3)
    assert lab.lr.value == pytest.approx(2e-3)
