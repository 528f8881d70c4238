"""Weight initialisation schemes by name, so a dropdown can pick one (and show why "zeros" fails)."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_choice

__all__ = ["INIT_SCHEMES", "init_weights"]

#: "default" keeps PyTorch's own init; "zeros" is there to show why not (every unit stays the same).
INIT_SCHEMES = ("default", "xavier", "kaiming", "orthogonal", "small_normal", "zeros")


def init_weights(model: nn.Module, scheme: str, seed: int | None = None) -> nn.Module:
    """Re-initialise every Linear/Conv layer of ``model`` with ``scheme`` (biases to zero); in place.

    ``seed`` fixes the draw without touching the global RNG.
    """
    check_choice(scheme, "scheme", "init_weights", INIT_SCHEMES)
    if scheme == "default":
        return model
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        for m in layers:
            w = m.weight
            if scheme == "xavier":
                nn.init.xavier_uniform_(w)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(w, nonlinearity="relu")
            elif scheme == "orthogonal":
                nn.init.orthogonal_(w)
            elif scheme == "small_normal":
                nn.init.normal_(w, std=0.01)
            else:
                nn.init.zeros_(w)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
