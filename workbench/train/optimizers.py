"""Optimizers by name, so a config (or a dropdown) can pick one."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .._validation import check_choice

__all__ = ["OPTIMIZERS", "make_optimizer", "set_lr"]

#: "momentum" is SGD with momentum; "nesterov" is SGD with Nesterov momentum.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """The optimizer called ``name`` over ``params``."""
    check_choice(name, "optimizer", "make_optimizer", OPTIMIZERS)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, momentum=0.0)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group; takes effect at the next step."""
    for group in optimizer.param_groups:
        group["lr"] = lr
