"""Weight initialisation schemes by name, so a dropdown can pick one (and show why "zeros" fails)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._validation import check_choice
from .layers import model_device, output_layer

__all__ = ["INIT_SCHEMES", "init_last_layer_bias", "init_weights"]

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


def init_last_layer_bias(model: nn.Module, data) -> str:
    """Set the output layer's bias from the data; returns the layer's name.

    Classification: the log class priors (a model that knows only the base rates starts at the entropy
    of the labels, not above it). Regression: the target mean.
    """
    targets = np.asarray(
        getattr(data, "targets", None) if not isinstance(data, (np.ndarray, torch.Tensor)) else data
    )
    if targets is None or targets.ndim == 0:
        raise TypeError(
            "init_last_layer_bias needs a dataset with .targets (an ImageDataset) or an array of targets."
        )
    x = (
        data[0][0][None]
        if hasattr(data, "__getitem__") and not isinstance(data, (np.ndarray, torch.Tensor))
        else None
    )
    if x is None:
        raise TypeError("init_last_layer_bias needs a dataset (it runs one sample to find the output layer).")
    last = output_layer(model, x.to(model_device(model)))
    bias = getattr(last[1], "bias", None) if last is not None else None
    if last is None or not isinstance(bias, torch.Tensor):
        raise ValueError("init_last_layer_bias: the model's last layer has no bias to set.")
    name = last[0]
    with torch.no_grad():
        if np.issubdtype(targets.dtype, np.floating):
            bias.fill_(float(targets.mean()))
        else:
            counts = np.bincount(targets.astype(np.int64), minlength=bias.numel()).astype(np.float64)
            priors = (counts + 1e-3) / (counts + 1e-3).sum()
            bias.copy_(torch.from_numpy(np.log(priors)).to(bias))
    return name
