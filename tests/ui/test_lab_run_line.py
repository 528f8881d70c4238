"""The lab's run line: it follows the controls, a pasted line sets every control, a bad one is refused
with its field named and nothing changed, and the same line gives the same curve."""

import numpy as np
import pytest

from workbench.lab import LabSettings
from workbench.ui import OverfitLab

FAST = LabSettings(epochs=4, subset=64, batch_size=32)


@pytest.fixture
def lab(digits):
    return OverfitLab(digits, FAST, store=None, background=False)


def test_the_line_follows_the_controls(lab):
    assert lab.run_line.value == FAST.to_line()
    lab.width.value = 48
    lab.schedule.value = "cosine"
    assert LabSettings.from_line(lab.run_line.value) == FAST.replace(width=48, schedule="cosine")


def test_a_pasted_line_sets_every_control_and_reproduces_the_curve(lab, digits):
    target = FAST.replace(
        subset=100,
        model="cnn",
        width=8,
        depth=1,
        lr=3e-3,
        seed=5,
        schedule="linear",
        warmup_steps=2,
        patience=7,
        init="kaiming",
        optimizer="adamw",
    )
    lab.run_line.value = target.to_line()
    lab.use_line_button.click()
    assert lab.settings == target and lab.core.settings == target
    assert lab.patience.value == 7 and "settings from the run line" in lab.status
    lab.run_button.click()
    first = lab.history.snapshot()
    other = OverfitLab(digits, LabSettings(), store=None, background=False)
    other.use_line(target.to_line())
    other.run_button.click()
    np.testing.assert_array_equal(first.loss, other.history.snapshot().loss)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("wb1:lr=fast", "field 'lr' must be a float"),
        ("wb1:model=rnn", "'model' parameter of LabSettings"),
        ("wb1:colour=red", "unknown field 'colour=red'"),
        ("wb1:lr=5.0", "lr=5.0 is outside what this lab's control allows"),
    ],
)
def test_a_bad_line_is_refused_naming_its_field_and_changes_nothing(lab, line, match):
    before = lab.settings
    with pytest.raises(ValueError, match=match):
        lab.use_line(line)
    assert lab.settings == before == lab.core.settings
    lab.run_line.value = line
    lab.use_line_button.click()
    assert lab.status.startswith("cannot use this run line") and lab.settings == before
