"""Small helpers the checks share: default losses, batches, the output layer."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


def default_loss(targets: torch.Tensor) -> Callable:
    """Cross-entropy for integer class targets, mean squared error for float targets."""
    if targets.dtype.is_floating_point:
        return nn.functional.mse_loss
    return nn.functional.cross_entropy


def check_batch(batch, where: str) -> Batch:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(isinstance(t, torch.Tensor) for t in batch)):
        raise TypeError(f"The 'batch' parameter of {where} must be an (inputs, targets) pair of tensors. Got {type(batch).__name__} instead.")
    x, y = batch
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"{where}: inputs and targets must have the same, non-zero length; got {len(x)} and {len(y)}.")
    return x, y


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def output_layer(model: nn.Module, x: torch.Tensor) -> tuple[str, nn.Module, torch.Tensor, torch.Tensor] | None:
    """The last leaf module that ran and has a weight, with its input and output on ``x``."""
    seen: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []
    hooks = []
    for name, m in model.named_modules():
        if not list(m.children()) and getattr(m, "weight", None) is not None:
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: seen.append((name, mod, inp[0].detach(), out.detach()))
            ))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen[-1] if seen else None
