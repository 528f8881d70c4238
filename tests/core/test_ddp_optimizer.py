"""``fit_ddp(..., optimizer=)``: per-group LRs and frozen layers, data-parallel (gloo, 2 ranks): the same
weights as one process with the global batch, frozen parameters bit for bit as in the file, the groups'
LRs in the optimizer of the ranks."""

from __future__ import annotations

import pytest
import torch

from workbench.distributed import DistributedError, fit_ddp
from workbench.models import TinyCNN, freeze, from_pretrained, param_groups, transfer_optimizer
from workbench.train import TrainConfig

from .pretrained_digits import classes, pretrain

pytestmark = pytest.mark.slow  # every test starts processes that import torch


@pytest.fixture(scope="module")
def setup(digits, tmp_path_factory):
    torch.set_num_threads(1)
    path, source = pretrain(digits, tmp_path_factory.mktemp("weights"))
    return str(path), source, classes(digits.train, 5).subset(range(192), "5-9 [192]"), classes(digits.val, 5)


def test_per_group_lrs_and_frozen_layers_train_the_same_on_two_ranks_as_on_one(setup):
    path, source, train, val = setup
    config = TrainConfig(epochs=2, batch_size=16, lr=3e-3, optimizer="adam", seed=0)

    def make_model():
        return from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), path, num_classes=5)

    def freeze_and_optimize(model):  # freezing here works: it runs before the DDP wrap
        freeze(model, upto="body.0")
        return transfer_optimizer(model, config, body_lr_factor=0.1)

    def make_frozen():
        model = make_model()
        freeze(model, upto="body.0")
        return model

    two = fit_ddp(
        make_model, train, val, config=config, world_size=2, optimizer=freeze_and_optimize, threads=1
    )
    one = fit_ddp(  # the other form: parameter groups for config.optimizer
        make_frozen,
        train,
        val,
        config=config.replace(batch_size=32),
        world_size=1,
        optimizer=lambda model: param_groups(model, config.lr, body_lr_factor=0.1),
        threads=1,
    )
    assert two.history.status == one.history.status == "finished"
    assert two.group_lrs == one.group_lrs == (3e-3, pytest.approx(3e-4))  # head, body.3 (body.0 frozen)
    a, b = two.model.state_dict(), one.model.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    for state in (a, b):  # frozen: bit for bit the pretrained weights
        assert torch.equal(state["network.body.0.weight"], source.body[0].weight)
        assert torch.equal(state["network.body.0.bias"], source.body[0].bias)
    assert not torch.equal(a["network.body.3.weight"], source.body[3].weight)


def test_scale_lr_multiplies_every_group_and_says_so(setup):
    path, _, train, _ = setup
    config = TrainConfig(epochs=1, batch_size=32, lr=1e-3, seed=0)
    result = fit_ddp(
        lambda: from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), path, num_classes=5),
        train,
        config=config,
        world_size=2,
        optimizer=lambda model: transfer_optimizer(model, config, body_lr_factor=0.5),
        scale_lr=True,
        threads=1,
    )
    assert result.group_lrs == (
        pytest.approx(2e-3),
        pytest.approx(1e-3),
        pytest.approx(1e-3),
    )  # head, body.3, body.0
    assert "every parameter group's LR x 2 ranks" in result.history.message


def _other_model(model):
    return torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("optimizer", "error", "match"),
    [
        (
            torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1),
            TypeError,
            "must be a function model ->",
        ),
        ("adam", TypeError, "'optimizer' parameter of fit_ddp must be a function"),
        (lambda model: 0.1, DistributedError, "must return a torch.optim.Optimizer over the model"),
        (_other_model, DistributedError, "holds parameters of another model"),
    ],
)
def test_a_bad_optimizer_argument_is_named(setup, optimizer, error, match):
    _, _, train, _ = setup
    make = lambda: TinyCNN((1, 8, 8), 5, channels=8)  # noqa: E731
    with pytest.raises(error, match=match):
        fit_ddp(make, train, config=TrainConfig(epochs=1), world_size=1, optimizer=optimizer, threads=1)
