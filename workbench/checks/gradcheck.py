"""Numerical vs. analytic gradients, on a float64 copy of the whole model.

For a few entries of **every** parameter tensor: the centred difference ``(f(x+h) - f(x-h)) / 2h`` vs.
autograd, compared by relative error ``|a - n| / max(eps, |a| + |n|)``, with the recipe notes' settings:

- dropout and other randomness: every evaluation of the loss re-seeds the RNG (same mask each time);
- kinks (ReLU, max-pool): if ``f(x+h)`` and ``f(x-h)`` fall on different sides of a kink, the centred
  difference is meaningless. Hooks on ReLU-like and max-pool modules (every ``MaxPool*d`` and
  ``AdaptiveMaxPool*d``, compared by their argmax indices) record which side each unit is on; a crossing
  skips the entry and another entry of the same tensor is tried instead. For kinks the hooks cannot see
  (functional calls), a mismatch whose numerical value changes when the step is *doubled* is a
  suspected kink (the step is never made smaller to make a mismatch go away: the notes warn against it);
- tiny gradients: relative error means nothing for entries with ``|gradient| <= 1e-10`` (or below the
  rounding noise of the difference); they are counted, not judged, and the loss is scaled (by a power
  of two) when all gradients are tiny, as the notes suggest;
- nothing is passed unchecked: a parameter with no judged entry is reported "not checked" with the
  reason, and then the check does not pass;
- depth: error accumulates through layers; the threshold follows the notes (1e-4 acceptable with
  kinks, lower for a smooth objective, up to 1e-2 beyond ~10 layers);
- regularisation: the check runs without and with an L2 term, as the recipe asks.

Written by hand rather than with ``torch.autograd.gradcheck``: that one checks the full Jacobian of
every input (thousands of times slower on a real model, see benchmarks/gradcheck_speed.py) and knows
nothing of kinks, dropout or depth.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..train.state import preserved
from ._common import check_batch, default_loss
from .gradcheck_report import TINY_GRADIENT, _result
from .kinks import _crossed, _KinkWatch
from .result import CheckResult

__all__ = ["TINY_GRADIENT", "gradient_check", "gradient_threshold"]


def gradient_threshold(depth: int, kinks: bool) -> float:
    """The largest acceptable relative error for a model ``depth`` layers deep (the recipe notes).

    ~1e-7 is good; up to 1e-4 is acceptable when the objective has kinks (ReLU, max) but too high for a
    smooth one (tanh, softmax: 1e-6 here); error accumulates with depth, so the limit grows geometrically
    to 1e-2 at 11 layers and stays there ("for nets deeper than ~10 layers 1e-2 may be fine").
    """
    base = 1e-4 if kinks else 1e-6
    return base * (1e-2 / base) ** ((min(max(depth, 1), 11) - 1) / 10)


def _depth(model: nn.Module) -> int:
    return sum(
        1
        for m in model.modules()
        if not list(m.children()) and any(True for _ in m.parameters(recurse=False))
    )


def gradient_check(
    model: nn.Module,
    batch,
    loss_fn: Callable | None = None,
    *,
    dims_per_param: int = 4,
    h: float = 1e-5,
    weight_decay: float = 1e-3,
    train_steps: int = 0,
    seed: int = 0,
    eps: float = 1e-12,
    threshold: float | None = None,
    max_tries: int | None = None,
) -> CheckResult:
    """Check autograd against centred differences for ``dims_per_param`` entries of every parameter.

    Parameters
    ----------
    model : nn.Module
        Left untouched: the check runs on a float64 deep copy.
    batch : (inputs, targets)
        Few datapoints are best (the notes: 2-3): fewer units sit near a kink. ``run_all`` passes 3.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``; cross-entropy for integer targets, MSE for float targets.
    dims_per_param : int
        Entries judged per parameter tensor and pass: the one with the largest gradient plus random ones.
        Entries that straddle a kink or whose gradient is too small to judge are replaced by others.
    h : float
        Step of the centred difference, in [1e-7, 1e-2] (float64: ~cube root of machine epsilon balances
        truncation and rounding). Each entry is allowed the threshold plus ten times its expected rounding
        error ``1e-16 |f| / h / (|a| + |n|)``; entries where that alone exceeds 1e-2 are not judged.
    weight_decay : float
        Strength of the L2 term of the second pass (0 skips it).
    train_steps : int
        Train the copy this many Adam steps on the batch first (gradients at init can be atypical).
    threshold : float, optional
        Largest acceptable relative error; default ``gradient_threshold(depth, kinks)`` with depth the
        number of layers with parameters and kinks whether the model has ReLU-like or max-pool layers.
    max_tries : int, optional
        Entries tried per parameter and pass before giving up (default ``4 * dims_per_param``).

    Returns
    -------
    CheckResult
        ``details["per_parameter"][name]`` has ``tried``, ``checked`` (judged), ``kinks``, ``tiny``
        (``|gradient| <= 1e-10`` or below rounding noise), ``max_rel_error``, ``grad_min`` / ``grad_max``
        (the judged entries' analytic gradients, unscaled) and ``status`` ("checked" or "not checked: why").
        The check passes only when every parameter was checked and none disagreed.
    """
    x, y = check_batch(batch, "gradient_check")
    if not (isinstance(h, (int, float)) and 1e-7 <= h <= 1e-2):
        raise ValueError(
            f"The 'h' parameter of gradient_check must be in [1e-7, 1e-2]. Got {h!r} instead. A smaller "
            "step is swamped by rounding and hides errors rather than finding them (the recipe notes)."
        )
    if not (isinstance(dims_per_param, int) and dims_per_param >= 1):
        raise ValueError(
            "The 'dims_per_param' parameter of gradient_check must be a positive int. Got "
            f"{dims_per_param!r} instead."
        )
    max_tries = max_tries or 4 * dims_per_param
    loss_fn = loss_fn or default_loss(y)
    with preserved(model):  # the copy shares nothing, but RNG use must not leak out either
        m64 = copy.deepcopy(model).double()
        dev = next(m64.parameters()).device
        x64 = (x.double() if x.dtype.is_floating_point else x).to(dev)
        y64 = (y.double() if y.dtype.is_floating_point else y).to(dev)
        named = [(n, p) for n, p in m64.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("gradient_check: the model has no trainable parameters.")
        depth = _depth(m64)
        if train_steps:
            opt = torch.optim.Adam([p for _, p in named], lr=1e-3)
            for _ in range(train_steps):
                torch.manual_seed(seed)
                opt.zero_grad()
                loss_fn(m64(x64), y64).backward()
                opt.step()
        watch = _KinkWatch(m64)
        limit = threshold if threshold is not None else gradient_threshold(depth, watch.kinky)
        rng = np.random.default_rng(seed)
        passes = [0.0] + ([weight_decay] if weight_decay > 0 else [])
        report = {
            n: {
                "tried": 0,
                "checked": 0,
                "kinks": 0,
                "tiny": 0,
                "max_rel_error": 0.0,
                "grad_min": math.inf,
                "grad_max": 0.0,
            }
            for n, _ in named
        }
        failures: list[tuple] = []
        scale_used = 1.0

        def scaled_objective(reg: float, scale: float) -> torch.Tensor:
            torch.manual_seed(seed)  # the same dropout mask on every evaluation
            loss = loss_fn(m64(x64), y64)
            if reg:
                loss = loss + 0.5 * reg * sum((p**2).sum() for _, p in named)
            return loss * scale

        try:
            for reg in passes:
                scale = 1.0
                m64.zero_grad(set_to_none=True)
                scaled_objective(reg, scale).backward()
                grads = {
                    n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
                    for n, p in named
                }
                watch.take()
                biggest = max(float(g.abs().max()) for g in grads.values())
                if 0 < biggest < 1e-8:  # tiny everywhere: scale the loss (by a power of two: exact)
                    scale = 2.0 ** round(-math.log2(biggest))
                    scale_used = scale
                    grads = {n: g * scale for n, g in grads.items()}
                objective = functools.partial(scaled_objective, reg, scale)
                for name, p in named:
                    _check_tensor(
                        name,
                        p,
                        grads[name],
                        objective,
                        watch,
                        rng,
                        report[name],
                        failures,
                        dims_per_param,
                        max_tries,
                        h,
                        eps,
                        limit,
                        reg,
                        scale,
                    )
        finally:
            watch.remove()
    return _result(report, failures, limit, depth, h, weight_decay, scale_used, watch.kinky, len(x))


def _check_tensor(
    name, p, grad, objective, watch, rng, entry, failures, k, max_tries, h, eps, limit, reg, scale
):
    """Judge up to ``k`` entries of one tensor, trying others in place of kinks and tiny gradients."""
    flat_g = grad.reshape(-1)
    flat_p = p.data.reshape(-1)
    n = flat_g.numel()
    top = int(flat_g.abs().argmax())
    candidates = [top, *(int(i) for i in rng.permutation(n)[: max_tries + 1] if i != top)][:max_tries]
    judged = 0
    for i in candidates:
        if judged >= k:
            break
        entry["tried"] += 1
        a = float(flat_g[i])
        n_h, f_hi, crossed = _numeric(objective, flat_p, i, h, watch)
        if crossed:
            entry["kinks"] += 1
            continue
        size = max(abs(a), abs(n_h))
        rounding = 10 * 1e-16 * abs(f_hi) / h / max(eps, abs(a) + abs(n_h))
        if size <= TINY_GRADIENT or rounding > 1e-2:
            entry["tiny"] += 1  # relative error means nothing here
            continue
        rel = abs(a - n_h) / max(eps, abs(a) + abs(n_h))
        if rel > limit + rounding:
            n_2h, _, crossed_2h = _numeric(objective, flat_p, i, 2 * h, watch)
            if crossed_2h or abs(n_h - n_2h) > 10 * limit * max(eps, abs(n_h) + abs(n_2h)):
                entry["kinks"] += 1  # the difference itself is unstable: a kink the hooks could not see
                continue
            failures.append((name, i, a / scale, n_h / scale, rel, reg))
        judged += 1
        entry["checked"] += 1
        entry["max_rel_error"] = max(entry["max_rel_error"], rel)
        entry["grad_min"] = min(entry["grad_min"], abs(a) / scale)
        entry["grad_max"] = max(entry["grad_max"], abs(a) / scale)


def _numeric(
    objective: Callable[[], torch.Tensor], flat_p: torch.Tensor, i: int, h: float, watch: _KinkWatch
):
    """Centred difference for entry ``i``; also whether a watched kink was crossed."""
    with torch.no_grad():
        orig = flat_p[i].item()
        flat_p[i] = orig + h
        f_plus = float(objective())
        side_plus = watch.take()
        flat_p[i] = orig - h
        f_minus = float(objective())
        side_minus = watch.take()
        flat_p[i] = orig
    return (f_plus - f_minus) / (2 * h), f_plus, _crossed(side_plus, side_minus)
