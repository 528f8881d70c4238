"""Issue 17: every check of run_all fails on a planted bug, and the gradient check never passes what it
did not check. Each test here fails on the code before the issue (noted per test)."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from tests.core.test_checks import ReLUOff2  # the planted 2 % backward bug, defined once
from workbench.checks import (
    GRADCHECK_SAMPLES,
    TINY_GRADIENT,
    first_batch,
    first_batches,
    gradient_check,
    gradient_threshold,
    overfit_batches,
    regularization_raises_loss,
    run_all,
)
from workbench.models import build_model
from workbench.train import TrainConfig


@pytest.fixture(scope="module")
def batch(digits):
    return first_batch(digits.train, 32)


# -- regularisation: the user's knob must reach the training ------------------------------------------------
def forgetful_optimizer(params, weight_decay):
    """The planted bug: builds the optimizer but never passes it the weight decay."""
    return torch.optim.SGD(params, lr=0.1)


def careful_optimizer(params, weight_decay):
    return torch.optim.SGD(params, lr=0.1, weight_decay=weight_decay)


def test_regularization_fails_when_weight_decay_never_reaches_the_optimizer(batch, digits):
    # old code: added its own 0.5*sum(p^2) and passed for any model, whatever the optimizer did
    model = build_model("mlp", digits.train, seed=0)
    cfg = TrainConfig(weight_decay=1e-3, optimizer="sgd", lr=0.1)
    ok = regularization_raises_loss(model, batch, config=cfg, optimizer_fn=careful_optimizer)
    assert ok.passed, ok.message
    assert ok.details["pull"][1:] == sorted(ok.details["pull"][1:]) and ok.details["pull"][1] > 0
    assert 1e-3 in ok.details["strengths"]  # the config's own weight decay is one of the strengths
    bad = regularization_raises_loss(model, batch, config=cfg, optimizer_fn=forgetful_optimizer)
    assert not bad.passed and "has no effect" in bad.message and "never reaches the optimizer" in bad.message
    assert all(p == 0 for p in bad.details["pull"])


def test_regularization_checks_the_optimizer_fit_builds_for_every_choice(batch, digits):
    model = build_model("mlp", digits.train, seed=0)
    for name in ("sgd", "adam", "adamw", "rmsprop"):
        r = regularization_raises_loss(model, batch, config=TrainConfig(optimizer=name, lr=1e-3))
        assert r.passed and "acts in the optimizer step" in r.message, (name, r.message)


def test_regularization_penalty_in_the_loss_must_depend_on_the_weights(batch, digits):
    model = build_model("mlp", digits.train, seed=0)
    good = regularization_raises_loss(
        model, batch, reg_fn=lambda m: 0.5 * sum((p**2).sum() for p in m.parameters())
    )
    assert good.passed and good.details["reported_loss"][-1] > good.details["reported_loss"][0]
    # a penalty computed on detached weights: the reported loss rises, the training never feels it
    detached = regularization_raises_loss(
        model, batch, reg_fn=lambda m: sum((p.detach() ** 2).sum() for p in m.parameters())
    )
    assert not detached.passed and "does not depend on the weights" in detached.message


class UnusedDropout(nn.Module):
    """The planted bug: a dropout layer built (the knob is set) but never called in forward."""

    def __init__(self, use: bool):
        super().__init__()
        self.use = use
        self.fc = nn.Linear(64, 32)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.fc(x.flatten(1)))
        return self.head(self.drop(h) if self.use else h)


def test_regularization_fails_on_a_dropout_layer_that_never_runs(batch):
    # old code: never looked at dropout
    assert regularization_raises_loss(UnusedDropout(True), batch).passed
    bad = regularization_raises_loss(UnusedDropout(False), batch)
    assert not bad.passed and "dropout 'drop' (p=0.5) never runs in the forward pass" in bad.message


def test_regularization_check_leaves_model_optimizer_and_rng_exactly_as_found(batch):
    torch.manual_seed(1)
    model = UnusedDropout(True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    model.train()
    nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
    opt.step()
    model.eval()
    torch.manual_seed(42)
    np.random.seed(7)
    random.seed(3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = [v.clone() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    rng = (torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate())
    regularization_raises_loss(
        model, batch, config=TrainConfig(weight_decay=1e-3), optimizer_fn=careful_optimizer
    )
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    after = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    assert len(after) == len(opt_state) == 4 and all(torch.equal(a, b) for a, b in zip(opt_state, after))
    assert not model.training and not model.drop.training
    assert torch.equal(rng[0], torch.get_rng_state()) and np.array_equal(rng[1], np.random.get_state()[1])
    assert rng[2] == random.getstate()


def test_regularization_rejects_bad_strengths(batch, digits):
    model = build_model("mlp", digits.train, seed=0)
    with pytest.raises(ValueError, match="'strengths' parameter of regularization_raises_loss"):
        regularization_raises_loss(model, batch, strengths=(0.0,))


# -- gradient check: max-pool layers, and nothing passed unchecked -------------------------------------------
class PoolNet(nn.Module):
    """conv -> (buggy) ReLU -> a max-pool the old kink watch compared by raw outputs -> linear."""

    def __init__(self, pool: str, bug: bool):
        super().__init__()
        self.pool_kind, self.bug = pool, bug
        self.conv = nn.Conv2d(1, 4, 3)
        self.pool = nn.MaxPool3d(2) if pool == "3d" else nn.AdaptiveMaxPool2d(2)
        self.head = nn.Linear(2 * 3 * 3 if pool == "3d" else 4 * 2 * 2, 10)

    def forward(self, x):
        h = self.conv(x)  # (B, 4, 6, 6)
        h = ReLUOff2.apply(h) if self.bug else torch.relu(h)
        if self.pool_kind == "3d":
            h = self.pool(h.unsqueeze(1))  # (B, 1, 2, 3, 3): pools over channels and space
        else:
            h = self.pool(h)  # (B, 4, 2, 2)
        return self.head(h.flatten(1))


@pytest.mark.parametrize("pool", ["3d", "adaptive2d"])
def test_gradient_check_fails_on_a_backward_bug_behind_a_max_pool(pool, batch):
    # old code: every conv entry looked like a kink (pooled outputs compared with torch.equal), so this passed
    x, y = batch[0][:GRADCHECK_SAMPLES], batch[1][:GRADCHECK_SAMPLES]
    torch.manual_seed(0)
    good = gradient_check(PoolNet(pool, bug=False), (x, y))
    assert good.passed, good.message
    assert good.details["per_parameter"]["conv.weight"]["checked"] >= 4
    torch.manual_seed(0)
    bad = gradient_check(PoolNet(pool, bug=True), (x, y))
    assert not bad.passed and "'conv.weight'" in bad.message and "gradients disagree" in bad.message


def test_gradient_check_never_passes_a_parameter_it_could_not_check():
    # every entry of the first layer sits at a ReLU kink: nothing of it can be judged
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.zero_()
    x, y = torch.randn(3, 2), torch.tensor([0, 1, 0])
    r = gradient_check(model, (x, y), weight_decay=0)
    assert not r.passed and r.message.startswith("not checked")
    e = r.details["per_parameter"]["0.bias"]
    assert e["checked"] == 0 and e["kinks"] == e["tried"] == 3
    assert e["status"].startswith("not checked") and "straddled a kink" in e["status"]
    # the second layer's weights see only zeros (ReLU(0)): gradient 0, too small to judge
    assert set(r.details["not_checked"]) == {"0.weight", "0.bias", "2.weight"}
    assert r.details["per_parameter"]["2.bias"]["status"] == "checked"


def test_gradient_check_counts_tiny_gradients_and_says_why():
    # the second layer's weights see zero activations: their gradients are exactly 0, relative error is
    # meaningless
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(-1.0)  # every ReLU off: layer 2 gets zero input, layer 1 zero gradient
    x, y = torch.randn(3, 2), torch.tensor([0, 1, 0])
    r = gradient_check(model, (x, y), weight_decay=0)
    assert not r.passed
    e = r.details["per_parameter"]["2.weight"]
    assert e["checked"] == 0 and e["tiny"] == e["tried"] and f"|gradient| <= {TINY_GRADIENT:g}" in e["status"]
    assert r.details["per_parameter"]["2.bias"]["status"] == "checked"


def test_gradient_check_reports_counts_and_gradient_sizes_per_parameter(batch, digits):
    model = build_model("mlp", digits.train, seed=0)
    r = gradient_check(model, (batch[0][:3], batch[1][:3]))
    assert r.passed, r.message
    for name, e in r.details["per_parameter"].items():
        assert {"tried", "checked", "kinks", "tiny", "grad_min", "grad_max", "status"} <= set(e), name
        assert e["checked"] == 8 and e["tried"] == e["checked"] + e["kinks"] + e["tiny"]
        assert 0 < e["grad_min"] <= e["grad_max"]
    lo, hi = r.details["grad_range"]
    assert f"|gradient| {lo:.1e} to {hi:.1e}" in r.message and "on 3 datapoints" in r.message


def test_gradient_threshold_follows_the_recipe_notes():
    assert gradient_threshold(1, kinks=True) == pytest.approx(1e-4)
    assert gradient_threshold(1, kinks=False) < 1e-4  # "1e-4 is too high" without kinks
    assert gradient_threshold(11, kinks=True) == pytest.approx(1e-2) == gradient_threshold(30, kinks=False)
    depths = [gradient_threshold(d, kinks=True) for d in range(1, 12)]
    assert depths == sorted(depths)


def test_gradient_check_step_is_not_made_needlessly_small(batch, digits):
    model = build_model("mlp", digits.train, seed=0)
    with pytest.raises(ValueError, match="'h' parameter of gradient_check must be in \\[1e-7, 1e-2\\]"):
        gradient_check(model, batch, h=1e-9)


def test_run_all_checks_gradients_on_few_datapoints_and_memorises_a_few_batches(digits):
    model = build_model("mlp", digits.train, seed=0)
    cl = run_all(model, digits.train, only=("overfit_batch", "gradient_check"))
    assert cl["gradient_check"].details["samples"] == GRADCHECK_SAMPLES == 3
    few = cl["overfit_batch"].details["few_batches"]
    assert cl["overfit_batch"].passed and few["samples"] == 5 * 32 and few["final_accuracy"] == 1.0
    assert "memorising proves capacity, not correctness" in cl["overfit_batch"].message


def test_overfit_batches_fails_for_a_model_that_cannot_learn(digits):
    class BiasOnly(nn.Module):  # the planted bug: the input is multiplied away
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            return self.head(x.flatten(1)) * 0 + self.head.bias

    batches = first_batches(digits.train, 32, 5)
    bad = overfit_batches(BiasOnly(), batches, steps=60)
    assert not bad.passed and "could not overfit 5 batches of 32 (160 samples)" in bad.message
    with pytest.raises(TypeError, match="'batches' parameter of overfit_batches"):
        overfit_batches(BiasOnly(), [])


def test_run_all_fails_on_the_planted_regularisation_bug(digits):
    model = build_model("mlp", digits.train, seed=0)
    cfg = TrainConfig(weight_decay=1e-3, optimizer="sgd", lr=0.1, device="cpu")
    cl = run_all(
        model,
        digits.train,
        only=("regularization_raises_loss",),
        config=cfg,
        optimizer_fn=forgetful_optimizer,
    )
    assert not cl.passed and "never reaches the optimizer" in cl["regularization_raises_loss"].message
    ok = run_all(
        model, digits.train, only=("regularization_raises_loss",), config=cfg, optimizer_fn=careful_optimizer
    )
    assert ok.passed
