"""``regularization_raises_loss``: is *your* regularisation wired in?

The recipe (cs231n notes): turn the regularisation on and raise its strength, and the loss should rise.
Adding a penalty of our own to the data loss proves nothing (it rises for any non-zero weights); what
matters is that the knob *you* turn reaches the training. So the check measures what the training
setup does with it:

- weight decay lives in the optimizer: from the same weights and the same batch (same dropout mask),
  one step of the optimizer built with each strength (``optimizer_fn(params, strength)``; by default the
  way ``fit`` builds it from the config) is compared with the step at strength 0. The weights must be
  pulled toward zero, more at each larger strength. A ``weight_decay`` that never reaches the optimizer
  moves nothing and fails;
- a penalty in the loss (``reg_fn(model)``, added as ``strength * reg_fn(model)``): the reported loss
  must rise with the strength, and the step must pull the weights toward zero (wrong sign, or a
  penalty that does not depend on the weights, fails);
- dropout: every dropout layer with ``p > 0`` must run in the forward pass, and change the outputs in
  training mode (a layer that is built but never called fails).

Everything runs on float64 copies: the model, optimizer and RNG state are left exactly as they were.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

import torch
from torch import nn

from ..train.config import TrainConfig
from ..train.optimizers import make_optimizer
from ..train.state import preserved
from ._common import check_batch, default_loss
from .result import CheckResult

__all__ = ["regularization_raises_loss"]

_DROPOUT = nn.modules.dropout._DropoutNd
#: A relative pull below this (per step, as a fraction of the squared weight norm) is rounding, not decay.
_NOISE = 1e-13


def _dropout_problems(model: nn.Module, x: torch.Tensor, seed: int) -> tuple[list[str], dict]:
    """Dropout layers with p > 0 that never run, or that leave the outputs unchanged in training mode."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, _DROPOUT) and m.p > 0}
    if not layers:
        return [], {"dropout_layers": 0}
    calls = dict.fromkeys(layers, 0)
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: calls.__setitem__(n, calls[n] + 1))
        for n, m in layers.items()
    ]
    try:
        with preserved(model), torch.no_grad():
            model.train()
            torch.manual_seed(seed)
            a = model(x)
            torch.manual_seed(seed + 1)
            b = model(x)
    finally:
        for hk in hooks:
            hk.remove()
    problems = [
        f"dropout {n!r} (p={layers[n].p:g}) never runs in the forward pass"
        for n, c in calls.items()
        if c == 0
    ]
    if not problems and torch.equal(a, b):
        problems.append(
            f"dropout ({', '.join(map(repr, layers))}) leaves the outputs unchanged in training mode"
        )
    return problems, {"dropout_layers": len(layers), "dropout_calls": calls}


def regularization_raises_loss(
    model: nn.Module,
    batch,
    loss_fn: Callable | None = None,
    *,
    config: TrainConfig | None = None,
    optimizer_fn: Callable[[Iterable[nn.Parameter], float], torch.optim.Optimizer] | None = None,
    reg_fn: Callable[[nn.Module], torch.Tensor] | None = None,
    strengths: Sequence[float] | None = None,
    seed: int = 0,
) -> CheckResult:
    """Turn up the regularisation of your training setup and check it acts: the weights are pulled toward
    zero more at each strength, a loss penalty raises the reported loss, and dropout layers run.

    Parameters
    ----------
    model : nn.Module
        Left exactly as it was (the steps run on float64 copies).
    batch : (inputs, targets)
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``; cross-entropy for integer targets, MSE for float targets.
    config : TrainConfig, optional
        The run's settings: optimizer, LR, momentum, and its ``weight_decay`` (added to the strengths).
    optimizer_fn : callable, optional
        ``optimizer_fn(params, weight_decay) -> Optimizer``: how your code builds its optimizer from the
        weight-decay knob. Default: as ``fit`` does, ``make_optimizer(config.optimizer, params, config.lr,
        weight_decay, config.momentum)``.
    reg_fn : callable, optional
        ``reg_fn(model) -> Tensor``: a penalty your loss adds, ``strength * reg_fn(model)``. When given,
        the strength goes to it (the optimizer keeps ``config.weight_decay``).
    strengths : sequence of float, optional
        Values of the knob, from 0 up; default ``(0, 1e-4, 1e-3, 1e-2)`` plus ``config.weight_decay``.
    """
    x, y = check_batch(batch, "regularization_raises_loss")
    cfg = config or TrainConfig()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(
            "The 'config' parameter of regularization_raises_loss must be a TrainConfig. Got "
            f"{type(cfg).__name__} instead."
        )
    if strengths is None:
        strengths = (0.0, 1e-4, 1e-3, 1e-2) + ((cfg.weight_decay,) if cfg.weight_decay > 0 else ())
    if any(not isinstance(s, (int, float)) or s < 0 for s in strengths) or not any(s > 0 for s in strengths):
        raise ValueError(
            "The 'strengths' parameter of regularization_raises_loss must be non-negative numbers with at "
            f"least one above 0. Got {tuple(strengths)!r} instead."
        )
    strengths = sorted({0.0, *map(float, strengths)})
    loss_fn = loss_fn or default_loss(y)
    if optimizer_fn is None:

        def optimizer_fn(params, wd):
            return make_optimizer(
                cfg.optimizer, params, cfg.lr, cfg.weight_decay if reg_fn else wd, cfg.momentum
            )

    with preserved(model):
        start = copy.deepcopy(model).double()
        start.train()  # as in training: dropout on (same mask for every strength)
        dev = next(start.parameters()).device
        x64 = (x.double() if x.dtype.is_floating_point else x).to(dev)
        y64 = (y.double() if y.dtype.is_floating_point else y).to(dev)
        w0 = [p.detach().clone() for p in start.parameters()]
        norm2 = float(sum((w**2).sum() for w in w0))
        after, reported, wd_seen = [], [], []
        for s in strengths:
            m = copy.deepcopy(start)
            torch.manual_seed(seed)
            loss = loss_fn(m(x64), y64)
            if reg_fn is not None:
                loss = loss + s * reg_fn(m)
            reported.append(float(loss.detach()))
            m.zero_grad(set_to_none=True)
            loss.backward()
            opt = optimizer_fn(m.parameters(), s)
            wd_seen.append(sorted({float(g.get("weight_decay", 0.0)) for g in opt.param_groups}))
            opt.step()
            after.append([p.detach().clone() for p in m.parameters()])
        dropout_problems, dropout_details = _dropout_problems(model, x, seed)
    # pull toward zero of each strength vs. strength 0, relative to |w|^2: -<w_s - w_0, w> / |w|^2
    pull = [
        -float(sum(((a - b) * w).sum() for a, b, w in zip(ws, after[0], w0))) / max(norm2, 1e-300)
        for ws in after
    ]
    rises = all(b > a for a, b in pairwise(reported))
    positive = [s for s, p in zip(strengths, pull) if s > 0 and p <= _NOISE]
    growing = all(b > a for a, b in pairwise(pull))
    details = {
        "strengths": strengths,
        "pull": pull,
        "reported_loss": reported,
        "optimizer_weight_decay": wd_seen,
        "penalty_in_loss": reg_fn is not None,
        "config_weight_decay": cfg.weight_decay,
        **dropout_details,
        "dropout_problems": dropout_problems,
    }
    problems = []
    if all(abs(p) <= _NOISE for p in pull[1:]):
        where = (
            "the penalty does not depend on the weights"
            if reg_fn is not None
            else (
                "the weight decay never reaches the optimizer (its param groups have weight_decay "
                f"{wd_seen[0]} at strength 0 and {wd_seen[-1]} at {strengths[-1]:g}): pass it to the "
                "optimizer's constructor"
            )
        )
        problems.append(
            f"the regularisation knob has no effect: one optimizer step at strengths {strengths[1]:g}.."
            f"{strengths[-1]:g} moves the weights exactly as at 0; {where}"
        )
    elif positive or (reg_fn is not None and not rises):
        problems.append(
            "the regularisation does not pull the weights toward zero at strengths "
            f"{positive or strengths[1:]} (pull {', '.join(f'{p:.2e}' for p in pull[1:])}): check its sign "
            "and that it depends on the weights"
        )
    elif not growing:
        problems.append(
            "the pull toward zero does not grow with the strength (pull "
            f"{', '.join(f'{p:.2e}' for p in pull)}): the knob is not what reaches the training"
        )
    problems += dropout_problems
    if problems:
        return CheckResult("regularization_raises_loss", False, "; ".join(problems) + ".", details)
    how = (
        f"the loss rises {reported[0]:.4f} -> {reported[-1]:.4f} and "
        if reg_fn is not None
        else "weight decay acts in the optimizer step (not in the reported loss): "
    )
    drop = (
        f"; {dropout_details['dropout_layers']} dropout layer(s) run and change the outputs"
        if dropout_details["dropout_layers"]
        else ""
    )
    return CheckResult(
        "regularization_raises_loss",
        True,
        f"regularisation is wired in: {how}one step pulls the weights toward zero by {pull[1]:.1e} .. "
        f"{pull[-1]:.1e} of |w|^2 at strengths {strengths[1]:g} .. {strengths[-1]:g}, more at each{drop}",
        details,
    )
