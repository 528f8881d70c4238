"""The fixes notebook 05 shows, as tests: each pathology made on purpose by a real run on digits, then
fixed, and its finding goes away (test_diagnosis.py has every kind appear from a real run)."""

import pytest
import torch
from torch import nn

from workbench.diagnose import Probes, diagnose
from workbench.models import build_model, init_weights
from workbench.train import TrainConfig, fit

BASE = TrainConfig(epochs=10, lr=1e-3)


@pytest.fixture(autouse=True)
def _one_thread():
    # nets this small run fastest on one thread; on a loaded machine two threads are many times slower
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(digits, model, human=None, **cfg):
    probes = Probes(every=10, max_hz=1e6)  # by step count only: the same samples on any machine
    history = fit(model, digits.train, digits.val, config=BASE.replace(**cfg), callbacks=[probes])
    return diagnose(history, probes, human_accuracy=human)


def _mlp(act, std=None, bias=None):
    torch.manual_seed(0)
    hidden = nn.Linear(64, 32)
    if std is not None:
        nn.init.normal_(hidden.weight, 0.0, std)
    if bias is not None:
        nn.init.constant_(hidden.bias, bias)
    return nn.Sequential(nn.Flatten(), hidden, act(), nn.Linear(32, 10))


def _cnn(digits):
    return build_model("cnn", digits.train, seed=0)


CASES = {
    # kind: (the run that has it, the fixed run); each a (model factory, settings) pair
    "dead_units": (
        (lambda d: _mlp(nn.ReLU, bias=-3.0), {"epochs": 5, "lr": 1e-2}),
        (lambda d: init_weights(_mlp(nn.ReLU, bias=-3.0), "kaiming", seed=0), {"epochs": 5, "lr": 1e-2}),
    ),
    "saturated_units": (
        (lambda d: _mlp(nn.Tanh, std=3.0), {"epochs": 5, "lr": 1e-2}),
        (lambda d: init_weights(_mlp(nn.Tanh, std=3.0), "xavier", seed=0), {"epochs": 5, "lr": 1e-2}),
    ),
    "underfitting": (
        (lambda d: build_model("mlp", d.train, seed=0, width=4, depth=1), {"lr": 1e-2}),
        (lambda d: build_model("mlp", d.train, seed=0, width=64, depth=1), {"lr": 1e-2}),
    ),
    "update_ratio_low": (
        (_cnn, {"optimizer": "momentum", "lr": 1e-5}),
        (_cnn, {"optimizer": "momentum", "lr": 1e-2}),
    ),
    # warmup and decay rescue the peak LR that was far too high held constant
    "lr_too_high": (
        (_cnn, {"lr": 0.1}),
        (_cnn, {"lr": 0.1, "schedule": "cosine", "warmup_steps": 50}),
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_the_fix_removes_the_finding(digits, kind):
    (bad_model, bad_cfg), (good_model, good_cfg) = CASES[kind]
    human = 0.97 if kind == "underfitting" else None  # what people reach on these digits, about
    bad = _run(digits, bad_model(digits), human=human, **bad_cfg)
    assert kind in bad.kinds, bad.summary()
    good = _run(digits, good_model(digits), human=human, **good_cfg)
    # a cosine schedule ends at an LR near 0 on purpose: diagnose does not call its tiny last ratios low
    assert good.healthy, good.summary()
