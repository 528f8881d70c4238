"""Each finding kind comes from a real run made to have it; a healthy run yields ``healthy`` alone."""

import numpy as np
import pytest
import torch
from torch import nn

from workbench.data import from_arrays
from workbench.diagnose import KINDS, Diagnosis, Probes, diagnose
from workbench.models import build_model
from workbench.train import Callback, History, TrainConfig, fit

BASE = TrainConfig(epochs=10, lr=1e-3)


def _run(digits, model=None, kind="cnn", data=None, callbacks=(), **cfg):
    model = model or build_model(kind, digits.train, seed=0)
    probes = Probes()
    history = fit(
        model, data or digits.train, digits.val, config=BASE.replace(**cfg), callbacks=[probes, *callbacks]
    )
    return history, probes


class _DropLR(Callback):
    """Divide the LR by 100 at one step: a decay that comes far too early."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, state):
        if state.step == self.at:
            for group in state.optimizer.param_groups:
                group["lr"] *= 0.01


def _mlp(act, hidden=32, depth=1, std=None, bias=None):
    layers, fan_in = [nn.Flatten()], 64
    for _ in range(depth):
        lin = nn.Linear(fan_in, hidden)
        if std is not None:
            nn.init.normal_(lin.weight, 0.0, std)
        if bias is not None:
            nn.init.constant_(lin.bias, bias)
        layers += [lin, act()]
        fan_in = hidden
    layers.append(nn.Linear(fan_in, 10))
    torch.manual_seed(0)
    return nn.Sequential(*layers)


def _noisy_labels(train, share=0.6):
    """60 % of the labels replaced by random classes: a linear model flattens out far above zero."""
    x, y = train.tensors()
    rng = np.random.default_rng(0)
    y = y.numpy().copy()
    flip = rng.random(len(y)) < share
    y[flip] = rng.integers(0, 10, flip.sum())
    return from_arrays(x, y)


def test_a_healthy_run_is_healthy_and_nothing_else(digits):
    history, probes = _run(digits)  # Adam 1e-3, the tiny CNN on digits
    d = diagnose(history, probes, human_accuracy=0.95)
    assert d.kinds == {"healthy"} and d.healthy, d.summary()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("lr_far_too_low", {"not_learning", "update_ratio_low"}),
        ("linear_too_short", {"lr_too_low"}),
        ("lr_far_too_high", {"lr_too_high"}),
        ("sgd_unstable", {"lr_too_high", "update_ratio_high"}),
        ("decay_at_step_40", {"decayed_too_early"}),
        ("tiny_subset_long", {"overfitting"}),
        ("batch_of_4", {"noisy"}),
        ("linear_on_noisy_labels", {"plateau"}),
        ("dead_relu_init", {"dead_units"}),
        ("huge_tanh_init", {"saturated_units"}),
        ("deep_sigmoid", {"vanishing_gradients"}),
        ("linear_stack_lr_10", {"diverged"}),
    ],
)
def test_each_pathology_from_a_real_run(digits, case, expected):
    runs = {
        "lr_far_too_low": lambda: _run(digits, optimizer="sgd", momentum=0.0, lr=1e-5),
        "linear_too_short": lambda: _run(digits, kind="linear", epochs=4, lr=3e-3),
        "lr_far_too_high": lambda: _run(digits, lr=0.1),
        "sgd_unstable": lambda: _run(digits, optimizer="sgd", lr=1.0),
        "decay_at_step_40": lambda: _run(digits, callbacks=[_DropLR(40)]),
        "tiny_subset_long": lambda: _run(
            digits, data=digits.train.subset(range(50)), epochs=150, batch_size=25
        ),
        "batch_of_4": lambda: _run(digits, epochs=1, batch_size=4, lr=3e-3),
        "linear_on_noisy_labels": lambda: _run(
            digits, kind="linear", data=_noisy_labels(digits.train), lr=1e-2, epochs=15
        ),
        "dead_relu_init": lambda: _run(digits, model=_mlp(nn.ReLU, bias=-3.0), epochs=3),
        "huge_tanh_init": lambda: _run(digits, model=_mlp(nn.Tanh, std=3.0), epochs=3),
        "deep_sigmoid": lambda: _run(
            digits, model=_mlp(nn.Sigmoid, hidden=32, depth=12), epochs=2, optimizer="sgd", lr=0.01
        ),
        # no nonlinearity to die: the weights grow step after step until the loss overflows
        "linear_stack_lr_10": lambda: _run(
            digits, model=_mlp(nn.Identity, depth=3), optimizer="sgd", lr=10.0, epochs=2
        ),
    }
    history, probes = runs[case]()
    d = diagnose(history, probes)
    assert expected <= d.kinds, d.summary()
    assert "healthy" not in d.kinds
    for f in d:
        assert (
            f.kind in KINDS
            and f.message
            and f.evidence
            and f.advice
            and f.severity in ("error", "warning", "info")
        )


def test_underfitting_needs_the_human_baseline(digits):
    # four hidden units: train and val agree (~77 %), far below what people reach on digits
    history, _ = _run(digits, model=_mlp(nn.ReLU, hidden=4), lr=1e-2)
    assert "underfitting" not in diagnose(history).kinds
    assert "underfitting" in diagnose(history, human_accuracy=0.99).kinds


def test_exploding_gradients_and_a_high_update_ratio_from_a_real_run(digits):
    # a deep ReLU net with a too-large init: gradients grow layer after layer
    history, probes = _run(
        digits,
        model=_mlp(nn.ReLU, hidden=64, depth=6, std=0.6),
        optimizer="sgd",
        lr=1e-6,
        epochs=1,
        max_steps=30,
    )
    d = diagnose(history, probes)
    assert "exploding_gradients" in d.kinds, d.summary()


def test_short_runs_and_bad_input():
    h = History()
    h.append_steps([1, 2, 3], [2.3, 2.2, 2.1], [1e-3] * 3)
    h.set_status("finished", "done")
    d = diagnose(h)
    assert isinstance(d, Diagnosis) and d.kinds == {"healthy"} and "short" in d.findings[0].message
    h.append_steps([4], [float("nan")], [1e-3])
    assert diagnose(h).kinds == {"diverged"}
    with pytest.raises(TypeError, match="'history' parameter of diagnose"):
        diagnose(np.zeros(3))
    with pytest.raises(ValueError, match="'human_accuracy' parameter of diagnose"):
        diagnose(h, human_accuracy=97)
