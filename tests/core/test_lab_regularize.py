"""The lab's regularize settings: augmentation as text in the run line, resize on every split, augmentation
on the training subset only, the EMA callback in the run."""

import numpy as np
import pytest
import torch
from torch import nn

from workbench.data import AugmentedDataset, resize
from workbench.lab import (
    Lab,
    LabSettings,
    augment_preview,
    augmentation_from_text,
    augmentation_text,
    prepare_run,
)
from workbench.squeeze import EMA

REG = LabSettings(augment="shift:1,rotate:10", input_size=6, ema=0.9, subset=64, epochs=3)


def test_regularize_settings_round_trip_in_the_run_line():
    line = REG.to_line()
    assert ";augment=shift:1,rotate:10;input_size=6;ema=0.9" in line
    assert LabSettings.from_line(line) == REG
    odd = LabSettings(augment=" rotate , affine:15/scale=0.2/degrees=15,erase:0.25")
    assert odd.augment == "rotate:10,affine:15/scale=0.2,erase:0.25"  # canonical: one spelling per setting
    assert LabSettings.from_line(odd.to_line()) == odd
    assert augmentation_text(augmentation_from_text(odd.augment)) == odd.augment


def test_regularize_is_off_by_default_and_old_lines_read(digits):
    old = "wb1:model=mlp;width=64;depth=2;lr=0.001;patience=none"  # a line from before these fields
    s = LabSettings.from_line(old)
    assert (s.augment, s.input_size, s.ema) == ("", None, None)
    assert LabSettings.from_line(s.to_line()) == s
    assert LabSettings(augment="none").augment == ""
    run = prepare_run(s, digits.train)
    assert not isinstance(run.train, AugmentedDataset) and run.callbacks == () and run.ema is None


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"augment": "shift:2,blur"},
            r"'augment' parameter of LabSettings has an unknown step 'blur'.*shift, flip",
        ),
        ({"augment": "rotate:lots"}, r"step 'rotate:lots' whose value 'lots' is not a number"),
        ({"augment": "rotate:500"}, r"bad step 'rotate:500'.*'degrees'.*\[0, 180\]"),
        ({"augment": "shift:2.5"}, r"bad step 'shift:2.5'.*'pad'.*must be an int"),
        ({"augment": "affine:zoom=2"}, r"bad step 'affine:zoom=2'.*takes \['degrees'"),
        ({"augment": "affine:10/2"}, r"second bare value '2'"),
        ({"input_size": 1}, r"'input_size' parameter of LabSettings"),
        ({"ema": 1.0}, r"'ema' parameter of LabSettings must be a float in \(0, 0.9999\]"),
    ],
)
def test_bad_regularize_settings_name_the_field_and_the_step(changes, match):
    with pytest.raises(ValueError, match=match):
        LabSettings(**changes)


def test_a_bad_augment_in_a_run_line_names_the_step():
    with pytest.raises(ValueError, match=r"run line has a bad value.*unknown step 'blur'"):
        LabSettings.from_line("wb1:model=mlp;augment=blur")


def test_prepare_run_resizes_every_split_and_augments_the_training_subset_only(digits):
    run = prepare_run(REG, digits.train, digits.val)
    model, part, config = run  # unpacks as before
    assert isinstance(part, AugmentedDataset) and part.input_shape == (1, 6, 6)
    assert not isinstance(run.val, AugmentedDataset) and run.val.input_shape == (1, 6, 6)
    # val is the plain resize of val: the same images at every read, equal to resize() of the split
    expected = resize(digits.val, 6)
    got = torch.stack([run.val[i][0] for i in range(len(run.val))])
    assert torch.equal(got, torch.stack([expected[i][0] for i in range(len(expected))]))
    # the training batches are augmented (differ from the stored resized images), the samples are not
    idx = list(range(16))
    stored = torch.stack([part[i][0] for i in idx])
    torch.manual_seed(0)
    augmented, labels = part.batch(idx)
    assert augmented.shape == stored.shape and not torch.equal(augmented, stored)
    assert torch.equal(labels, torch.tensor([part[i][1] for i in idx]))
    # the model is sized from the resized input; the EMA scores the resized val
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 36 and model(stored).shape == (16, 10)
    assert isinstance(run.ema, EMA) and run.ema.decay == 0.9 and run.ema.val is run.val
    assert config.epochs == 3


def test_lab_with_augmentation_and_ema_trains_and_scores_the_ema_weights(digits):
    torch.set_num_threads(1)
    lab = Lab(digits.train, digits.val, REG.replace(model="cnn", width=8, lr=3e-3, epochs=4), store=None)
    lab.start(background=False)
    assert lab.history.status == "finished", lab.history.message
    frame = lab.ema.history_.to_frame()
    assert list(frame.index) == [1, 2, 3, 4]
    assert np.isfinite(frame["ema_val_loss"]).all() and frame["ema_val_acc"].between(0, 1).all()
    # the averaged weights are not the live ones: their val loss differs
    live = lab.history.to_frame()["val_loss"].to_numpy()
    assert not np.allclose(frame["ema_val_loss"].to_numpy(), live)
    plain = Lab(digits.train, digits.val, lab.settings.replace(augment=""), store=None)
    plain.start(background=False)
    assert plain.history.to_frame()["train_loss"].iloc[-1] != lab.history.to_frame()["train_loss"].iloc[-1]


def test_augment_preview_is_seeded_and_shows_the_original_first(digits):
    a = augment_preview(digits.train, "shift:2,rotate:20", n=5, samples=3, seed=4)
    b = augment_preview(digits.train, "shift:2,rotate:20", n=5, samples=3, seed=4)
    assert a.shape == (3, 6, 1, 8, 8) and torch.equal(a, b)
    assert not torch.equal(a, augment_preview(digits.train, "shift:2,rotate:20", n=5, samples=3, seed=5))
    assert not torch.equal(a[:, 1], a[:, 2])  # each copy its own draw
    none = augment_preview(digits.train, "", n=5, samples=3, seed=4)
    assert torch.equal(none[:, 0], a[:, 0]) and all(torch.equal(none[:, j], none[:, 0]) for j in range(6))
    small = augment_preview(digits.train, "", n=2, samples=3, seed=4, input_size=4)
    assert small.shape == (3, 3, 1, 4, 4)
    with pytest.raises(ValueError, match="'color' step changes saturation and hue"):
        augment_preview(digits.train, "color", n=2)


def test_the_same_line_gives_the_same_augmented_curve_and_ema(digits):
    settings = REG.replace(width=16, lr=3e-3, seed=2)
    runs = []
    for s in (settings, LabSettings.from_line(settings.to_line())):
        lab = Lab(digits.train, digits.val, s, store=None)
        lab.start(background=False)
        runs.append((lab.history.snapshot(), lab.ema.history_.snapshot()))
    (a, ema_a), (b, ema_b) = runs
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(ema_a.metrics["ema_val_loss"], ema_b.metrics["ema_val_loss"])
