"""Optimizers by name, so a config (or a dropdown) can pick one."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable

import torch

from .._validation import check_choice

__all__ = ["OPTIMIZERS", "LiveLR", "make_optimizer", "set_lr"]

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
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=weight_decay
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, momentum=0.0)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Make ``lr`` the LR of the first parameter group and scale the others by the same factor, so their
    ratios stay (a head at 10x the body stays at 10x); takes effect at the next step.

    Call it from the thread that steps the optimizer (the loop applies a ``LiveLR`` itself).
    """
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"The 'lr' parameter of set_lr must be a float > 0. Got {lr!r} instead.")
    groups = optimizer.param_groups
    first = float(groups[0]["lr"]) if groups else 0.0
    for group in groups:
        group["lr"] = lr * float(group["lr"]) / first if first > 0 else lr


class LiveLR:
    """The LR a running loop reads at each step: set it from any thread, the loop applies it in its own.

    ``fit(..., live_lr=LiveLR(3e-3))``; ``live_lr.set(1e-2)`` from a slider: the next step trains at
    1e-2 (``set_lr``: the groups keep their ratios). Reading it costs the loop one integer comparison
    per step; nothing touches ``param_groups`` outside the training thread.
    """

    def __init__(self, lr: float) -> None:
        self._lock = threading.Lock()
        self.value = self._check(lr)
        self.version = 0

    @staticmethod
    def _check(lr: float) -> float:
        lr = float(lr)
        if not (math.isfinite(lr) and 0 < lr <= 10):
            raise ValueError(f"The 'lr' parameter of LiveLR must be a float in (0, 10]. Got {lr!r} instead.")
        return lr

    def set(self, lr: float) -> None:
        """Ask for ``lr`` from the next step on."""
        lr = self._check(lr)
        with self._lock:
            self.value = lr
            self.version += 1

    def apply(
        self, optimizer: torch.optim.Optimizer, seen: int, setter: Callable[[float], None] | None = None
    ) -> int:
        """In the training thread: put a newer request into ``optimizer`` (through ``setter(lr)`` when
        given, e.g. to scale a schedule); returns the version applied."""
        if self.version == seen:
            return seen
        with self._lock:
            (setter or (lambda lr: set_lr(optimizer, lr)))(self.value)
            return self.version
