"""One shareable line per lab run: every setting round-trips, a bad field is named, and the same line on
the same data gives the same curve."""

import dataclasses

import numpy as np
import pytest

from workbench.lab import Lab, LabSettings

CHANGED = {  # a non-default value for every field
    "model": "cnn",
    "width": 12,
    "depth": 3,
    "init": "kaiming",
    "optimizer": "nesterov",
    "lr": 0.0031622776601683794,
    "batch_size": 17,
    "weight_decay": 1.5e-4,
    "dropout": 0.25,
    "seed": 7,
    "subset": 100,
    "epochs": 9,
    "schedule": "inv_sqrt",
    "warmup_steps": 5,
    "patience": 4,
    "augment": "shift:3,affine:15/scale=0.2",
    "input_size": 6,
    "ema": 0.95,
    "weights": "pretrained/digits 0-4.pt",
    "freeze_upto": "body.0",
    "body_lr": 0.1,
}


def test_every_field_has_a_non_default_value_here():
    assert set(CHANGED) == {f.name for f in dataclasses.fields(LabSettings)}
    assert all(getattr(LabSettings(), k) != v for k, v in CHANGED.items())


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_each_setting_round_trips_through_the_line(field):
    settings = LabSettings(**{field: CHANGED[field]})
    line = settings.to_line()
    assert line.startswith("wb1:") and f"{field}=" in line
    assert LabSettings.from_line(line) == settings
    assert LabSettings.from_line(f"  {line}\n") == settings  # pasted with whitespace


def test_all_settings_at_once_and_floats_bit_for_bit():
    settings = LabSettings(**CHANGED)
    back = LabSettings.from_line(settings.to_line())
    assert back == settings and back.lr == CHANGED["lr"]
    assert LabSettings.from_line("wb1:lr=0.01") == LabSettings(lr=0.01)  # missing fields: the defaults
    assert LabSettings.from_line("wb1:patience=none") == LabSettings(patience=None)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("model=cnn", "starts with 'wb1:'"),
        ("wb1:lr=fast", "field 'lr' must be a float. Got 'fast'"),
        ("wb1:width=1.5", "field 'width' must be an int. Got '1.5'"),
        ("wb1:patience=soon", "field 'patience' must be an int or none"),
        ("wb1:colour=red", "unknown field 'colour=red'; its fields are model, width"),
        ("wb1:model", "unknown field 'model'"),
        ("wb1:lr=1e-3;lr=2e-3", "gives the field 'lr' twice"),
        ("wb1:model=rnn", "bad value: The 'model' parameter of LabSettings must be one of"),
        ("wb1:lr=-1", "bad value: The 'lr' parameter of LabSettings"),
        ("wb1:schedule=onecycle", "bad value: The 'schedule' parameter of LabSettings"),
    ],
)
def test_a_bad_line_names_the_bad_field(line, match):
    with pytest.raises(ValueError, match=match):
        LabSettings.from_line(line)


def test_the_same_line_gives_the_same_curve(digits):
    settings = LabSettings(model="mlp", width=32, epochs=4, subset=64, lr=3e-3, seed=3, schedule="cosine")
    first = Lab(digits.train, digits.val, settings, store=None)
    first.start(background=False)
    again = Lab(digits.train, digits.val, LabSettings.from_line(settings.to_line()), store=None)
    again.start(background=False)
    a, b = first.history.snapshot(), again.history.snapshot()
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.metrics["val_loss"], b.metrics["val_loss"])
