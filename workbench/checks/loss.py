"""Checks of the loss itself: its value at initialisation (regularisation: see ``regularization``).

The fix it points at when the last layer's bias is to blame, ``workbench.models.init_last_layer_bias``,
changes the model, so it lives with the init schemes, not among the checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..train.state import preserved
from ._common import check_batch, default_loss, output_layer
from .result import CheckResult

__all__ = ["initial_loss"]


def initial_loss(
    model: nn.Module, batch, loss_fn: Callable | None = None, *, tolerance: float = 0.1
) -> CheckResult:
    """Observed loss at initialisation vs. its analytic value.

    Softmax cross-entropy over C classes should start near ``log C`` (a model that is not yet sure of
    anything); mean squared error near the target variance (with the output bias at the target mean).
    The allowed gap is ``tolerance * expected`` plus three standard errors of the batch mean, so a small
    batch is not held to a tighter standard than it can meet. On failure, the message names the output
    layer and says whether its weights (the scale of the logits) or its bias cause the gap.
    """
    x, y = check_batch(batch, "initial_loss")
    loss_fn = loss_fn or default_loss(y)
    with preserved(model):
        model.eval()  # no dropout noise in a check of the starting point
        with torch.no_grad():
            out = model(x)
            per_sample = _per_sample(loss_fn, out, y)
        last = output_layer(model, x)
    observed = float(per_sample.mean())
    se = float(per_sample.std()) / math.sqrt(len(per_sample)) if len(per_sample) > 1 else 0.0
    classification = not y.dtype.is_floating_point
    if classification:
        c = out.shape[1]
        expected, what = (
            math.log(c),
            f"log({c}) = {math.log(c):.3f}, the loss of a uniform guess over {c} classes",
        )
    else:
        expected = float(y.float().var(unbiased=False))
        what = f"the target variance {expected:.4g} (a model that predicts the mean)"
    allowed = tolerance * max(expected, 1e-8) + 3 * se
    gap = observed - expected
    details: dict[str, Any] = {
        "observed": observed,
        "expected": expected,
        "allowed_gap": allowed,
        "standard_error": se,
        "batch_size": len(y),
    }
    if last is not None:
        name, layer, _inp, lout = last
        details["output_layer"] = name
        if classification and lout.ndim == 2:
            spread = lout.std(dim=1).mean().item()
            details["logit_std"] = spread
            bias = getattr(layer, "bias", None)
            if isinstance(bias, torch.Tensor):
                details["bias_spread"] = float(bias.detach().float().std())
    passed = abs(gap) <= allowed
    if passed:
        message = f"initial loss {observed:.3f} matches {what} (gap {gap:+.3f}, allowed ±{allowed:.3f})"
    else:
        message = f"initial loss {observed:.3f}, expected {what}: off by {gap:+.3f}. " + _blame(
            details, classification, gap
        )
    return CheckResult("initial_loss", passed, message, details)


def _per_sample(loss_fn: Callable, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if loss_fn in (nn.functional.cross_entropy, nn.functional.mse_loss):
        return loss_fn(out, y, reduction="none").reshape(len(y), -1).mean(1)
    return torch.stack([loss_fn(out[i : i + 1], y[i : i + 1]) for i in range(len(y))])


def _blame(d: dict, classification: bool, gap: float) -> str:
    layer = d.get("output_layer", "the last layer")
    if not classification:
        return (
            f"Set the bias of {layer!r} to the target mean (workbench.models.init_last_layer_bias) and keep "
            "its weights small at init."
        )
    if gap < 0:
        return (
            "A loss below log C at init means the model is right before training: check that the "
            "labels are not leaking into the inputs, and that the loss is softmax cross-entropy."
        )
    bias = d.get("bias_spread", 0.0)
    logits = d.get("logit_std", 0.0)
    if bias > 0.5 * logits:
        return (
            f"The bias of {layer!r} spreads the logits (bias std {bias:.2f}, logit std {logits:.2f}): start "
            "it at zero, or at the log class priors with workbench.models.init_last_layer_bias."
        )
    return (
        f"The logits are too large at init (std {logits:.2f} across classes) and they come from the weights "
        f"of {layer!r} or the activations feeding it: scale that layer's weights down (e.g. x0.1) or use a "
        "smaller init."
    )
