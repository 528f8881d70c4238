"""suggest_lrs must not recommend an LR when its own sweep shows the loss never fell (issue 17)."""

import math

import numpy as np
import pytest
from torch import nn

from workbench.models import build_model
from workbench.tune import lr_range_test, suggest_lrs


class _Detached(nn.Module):
    """A model whose output does not depend on its parameters: no LR can make its loss fall."""

    def __init__(self, n_in: int, n_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1)) * 0.0  # uniform logits whatever the weights: loss = ln(C) forever


def test_a_flat_curve_gets_no_recommendation_and_says_what_to_check():
    lrs = np.logspace(-7, 1, 100)
    smoothed = 2.30 + 0.01 * np.sin(np.arange(100))  # noise around ln(10), never really falling
    suggestions, recommended, reason = suggest_lrs(lrs, smoothed)
    assert recommended is None and suggestions == {}
    assert reason.startswith("no good LR found")
    for what in ("initialisation", "data", "workbench.checks.run_all"):
        assert what in reason


def test_a_falling_curve_still_recommends_min_over_10():
    lrs = np.logspace(-5, 0, 60)
    x = np.log10(lrs)
    smoothed = (
        2.3 - 1.5 / (1 + np.exp(-3 * (x + 3))) + np.where(x > -1.5, 10 ** (x + 1.5) - 1, 0)
    )  # falls, then rises
    suggestions, recommended, reason = suggest_lrs(lrs, smoothed)
    assert recommended == "min/10"
    assert suggestions["min/10"] == pytest.approx(lrs[int(np.argmin(smoothed))] / 10)
    assert "min/10" in reason


def test_a_real_sweep_of_a_model_that_cannot_learn_finds_no_lr(digits):
    model = _Detached(64, digits.train.num_classes)
    r = lr_range_test(model, digits.train, num_iter=40)
    assert np.allclose(r.smoothed, math.log(10), atol=1e-4)
    assert not r.found and r.lr is None and r.recommended is None and r.suggestions == {}
    assert "no good LR found" in r.reason and "no good LR found" in r.summary()


def test_a_real_sweep_of_a_model_that_learns_recommends_one(digits):
    r = lr_range_test(build_model("mlp", digits.train, seed=0), digits.train)
    assert r.found and r.recommended == "min/10" and r.lr == r.suggestions["min/10"] > 0
