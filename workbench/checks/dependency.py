"""Backprop as a probe of what depends on what.

``batch_dependency``: with the loss set to the outputs of sample i alone, only sample i's input may
receive gradient; anything else means the model mixes samples (a wrong reshape/transpose, a
view across the batch axis...). ``causality``: for a sequence model, the output at step t must get no
gradient from inputs after t.
"""

from __future__ import annotations

import torch
from torch import nn

from ..train.state import preserved
from .result import CheckResult

__all__ = ["batch_dependency", "causality"]

_BATCHNORM = (nn.modules.batchnorm._BatchNorm,)


def _input_grad(model: nn.Module, x: torch.Tensor, select) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    model.zero_grad(set_to_none=True)
    select(out).sum().backward()
    # no gradient reached x: the selected output does not depend on the input at all
    return x.grad if x.grad is not None else torch.zeros_like(x)


def batch_dependency(
    model: nn.Module, inputs: torch.Tensor, *, samples: int = 8, train_mode: bool = False
) -> CheckResult:
    """For each of the first ``samples`` samples i: set the loss to outputs[i] and require zero gradient
    on every other sample's input. Names the samples that leak.

    BatchNorm in train mode normalises with the statistics of the whole batch, so it couples samples
    by design; the check therefore runs the model in eval mode (running statistics), where any
    coupling left is a bug. ``train_mode=True`` runs it as in training, to see that coupling.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 1 or len(inputs) < 2:
        raise ValueError(
            "The 'inputs' parameter of batch_dependency must be a tensor batch of at least 2 samples."
        )
    n = min(samples, len(inputs))
    leaks: dict[int, list[int]] = {}
    has_bn = any(isinstance(m, _BATCHNORM) for m in model.modules())
    with preserved(model):
        model.train(train_mode)
        for i in range(n):
            g = _input_grad(model, inputs, lambda out, i=i: out[i])
            per_sample = g.detach().reshape(len(g), -1).abs().amax(dim=1)
            others = [j for j in range(len(g)) if j != i and per_sample[j] > 0]
            if others:
                leaks[i] = others
    details = {
        "checked_samples": n,
        "batch_size": len(inputs),
        "leaks": leaks,
        "train_mode": train_mode,
        "has_batchnorm": has_bn,
    }
    if not leaks:
        note = " (eval mode: BatchNorm uses running statistics)" if has_bn and not train_mode else ""
        return CheckResult(
            "batch_dependency",
            True,
            f"each of {n} samples' outputs depends on its own input only{note}",
            details,
        )
    worst = next(iter(leaks.items()))
    note = ""
    if train_mode and has_bn:
        note = (
            " BatchNorm in train mode couples samples by design: run with train_mode=False to look for real "
            "bugs."
        )
    return CheckResult(
        "batch_dependency",
        False,
        f"samples mix: the output of sample {worst[0]} gets gradient from samples {worst[1][:8]} "
        f"({len(leaks)} of {n} checked samples leak). Look for a reshape/view/transpose that crosses the "
        f"batch axis (e.g. x.view(-1, ...) after a permute), or an operation along dim 0.{note}",
        details,
    )


def causality(
    model: nn.Module, inputs: torch.Tensor, time_dim: int = 1, *, steps: int | None = None
) -> CheckResult:
    """The output at time t must not depend on inputs after t (autoregressive models).

    ``time_dim`` is the time axis of both the inputs and the outputs (e.g. 1 for ``(B, T, C)``, 2 for
    ``(B, C, T)``). Checks every t, or ``steps`` evenly spaced ones.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim <= time_dim:
        raise ValueError(f"The 'inputs' parameter of causality must be a tensor with a time axis {time_dim}.")
    T = inputs.shape[time_dim]
    ts = (
        list(range(T))
        if steps is None or steps >= T
        else sorted({round(k * (T - 1) / (steps - 1)) for k in range(steps)})
    )
    violations: dict[int, list[int]] = {}
    with preserved(model):
        model.eval()
        for t in ts:
            g = _input_grad(model, inputs, lambda out, t=t: out.select(time_dim, t))
            per_t = g.detach().abs().transpose(0, time_dim).reshape(T, -1).amax(dim=1)
            future = [u for u in range(t + 1, T) if per_t[u] > 0]
            if future:
                violations[t] = future
    details = {"time_steps": T, "checked": ts, "violations": violations, "time_dim": time_dim}
    if not violations:
        return CheckResult(
            "causality",
            True,
            f"outputs at each of {len(ts)} checked steps depend only on inputs up to that step",
            details,
        )
    t, future = next(iter(violations.items()))
    return CheckResult(
        "causality",
        False,
        f"not causal: the output at t={t} depends on inputs at t={future[:6]} (in the future); "
        f"{len(violations)} of {len(ts)} checked steps see ahead. Pad convolutions on the left only (causal "
        "padding), and mask attention to positions <= t.",
        details,
    )
