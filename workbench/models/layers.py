"""Finding things inside a model: the device it lives on, the layer that produces its output."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["model_device", "output_layer"]


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def output_layer(
    model: nn.Module, x: torch.Tensor
) -> tuple[str, nn.Module, torch.Tensor, torch.Tensor] | None:
    """The last leaf module that ran and has a weight, with its input and output on ``x``."""
    seen: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []
    hooks = []
    for name, m in model.named_modules():
        if not list(m.children()) and getattr(m, "weight", None) is not None:
            hooks.append(
                m.register_forward_hook(
                    lambda mod, inp, out, name=name: seen.append((name, mod, inp[0].detach(), out.detach()))
                )
            )
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen[-1] if seen else None
