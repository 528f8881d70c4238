"""Small helpers the checks share: default losses, batches (the output layer lives in models.layers)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..models.layers import model_device, output_layer

__all__ = ["Batch", "check_batch", "default_loss", "model_device", "output_layer"]

Batch = tuple[torch.Tensor, torch.Tensor]


def default_loss(targets: torch.Tensor) -> Callable:
    """Cross-entropy for integer class targets, mean squared error for float targets."""
    if targets.dtype.is_floating_point:
        return nn.functional.mse_loss
    return nn.functional.cross_entropy


def check_batch(batch, where: str) -> Batch:
    if not (
        isinstance(batch, (tuple, list))
        and len(batch) == 2
        and all(isinstance(t, torch.Tensor) for t in batch)
    ):
        raise TypeError(
            f"The 'batch' parameter of {where} must be an (inputs, targets) pair of tensors. Got "
            f"{type(batch).__name__} instead."
        )
    x, y = batch
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"{where}: inputs and targets must have the same, non-zero length; got {len(x)} and {len(y)}."
        )
    return x, y
