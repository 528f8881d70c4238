"""The lab's regularize row: its knobs in one box, the augmentation picker and its seeded preview grid, the
EMA line beside the live curves, and the run line carrying all of it."""

import numpy as np
import pytest
import torch
import traitlets

from workbench.lab import LabSettings
from workbench.ui import OverfitLab
from workbench.ui.lab_regularize import REGULARIZE_KEYS, AugmentPicker

FAST = LabSettings(epochs=4, subset=64, batch_size=32)


@pytest.fixture
def lab(digits):
    torch.set_num_threads(1)
    return OverfitLab(digits, FAST, store=None, background=False)


def _descendants(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)


def test_the_regularize_knobs_sit_in_one_row(lab):
    inside = set(map(id, _descendants(lab.regularize)))
    for key in REGULARIZE_KEYS:
        assert id(lab._controls[key]) in inside, key
    grid = lab.children[0]
    assert not {id(w) for w in grid.children} & {id(lab._controls[k]) for k in REGULARIZE_KEYS}
    assert id(lab.regularize.preview.image) in inside


def test_the_picker_writes_the_augment_setting_and_follows_a_line(lab):
    picker = lab.augment
    assert picker.value == "" and "color" not in picker.boxes  # digits are grayscale: no colour jitter
    picker.boxes["shift"].value = True
    picker.sliders["shift"].value = 3
    picker.boxes["rotate"].value = True
    assert lab.settings.augment == "shift:3,rotate:10"
    assert LabSettings.from_line(lab.run_line.value).augment == "shift:3,rotate:10"
    lab.use_line(FAST.replace(augment="affine:20/scale=0.2,erase:0.3", input_size=6, ema=0.97).to_line())
    assert [n for n, b in picker.boxes.items() if b.value] == ["affine", "erase"]
    assert picker.sliders["affine"].value == 20 and picker.sliders["erase"].value == pytest.approx(0.3)
    assert lab.settings == FAST.replace(augment="affine:20/scale=0.2,erase:0.3", input_size=6, ema=0.97)
    picker.boxes["shift"].value = True  # the line's extra parameter (scale) is kept
    assert picker.value == "shift:3,affine:20/scale=0.2,erase:0.3"
    with pytest.raises(traitlets.TraitError, match="unknown step 'blur'"):
        picker.value = "blur"
    assert AugmentPicker(rgb=True).boxes.keys() >= {"color"}


def test_the_preview_changes_with_the_picker_and_is_the_same_for_the_same_seed(lab):
    preview = lab.regularize.preview
    plain = preview.image.value
    assert preview.images_.shape == (4, 7, 1, 8, 8)
    assert all(torch.equal(preview.images_[:, j], preview.images_[:, 0]) for j in range(7))  # no augmentation
    lab.augment.boxes["rotate"].value = True
    rotated = preview.image.value
    assert rotated != plain and "rotate:10" in preview.caption.value
    lab.augment.sliders["rotate"].value = 30
    assert preview.image.value not in (plain, rotated)
    lab.augment.sliders["rotate"].value = 10
    assert preview.image.value == rotated  # the same picker and seed: the same grid
    preview.next_button.click()
    assert preview.seed == 1 and preview.image.value != rotated
    preview.seed = 0
    assert preview.image.value == rotated
    lab.input_size.value = 6
    assert preview.images_.shape[-2:] == (6, 6)


def test_the_ema_line_draws_beside_the_live_curves(lab):
    lab.augment.boxes["shift"].value = True
    lab.ema.value = 0.9
    lab.input_size.value = 6
    lab.run_button.click()
    assert lab.history.status == "finished", lab.status
    ema = lab.core.ema.history_.snapshot()
    lines = lab.ema_lines
    assert lines.loss.labels == ["EMA"] and lines.acc.labels == ["EMA"]
    assert lines.loss in lab.curves.loss_figure.marks and lines.acc in lab.curves.acc_figure.marks
    np.testing.assert_array_equal(lines.acc.x, ema.epoch_step)
    np.testing.assert_allclose(lines.acc.y, ema.metrics["ema_val_acc"])
    np.testing.assert_allclose(lines.loss.y, ema.metrics["ema_val_loss"])
    assert len(lines.loss.y) == 4
    lab.curves.x_axis = "epoch"
    np.testing.assert_allclose(lines.loss.x, [1, 2, 3, 4])
    lab.curves.add_ghost(lab.history, "earlier")  # the EMA lines stay when runs are compared
    assert lines.loss in lab.curves.loss_figure.marks
    # the prediction bars got the batch at the run's input size
    assert lab.predictions.tracker.latest()[1] is not None
    lab.ema.value = 0.0  # off: the next run has no EMA line
    lab.run_button.click()
    assert lab.history.status == "finished" and lab.core.ema is None
    assert len(lines.loss.x) == 0 and len(lines.acc.y) == 0
