"""Numerical vs. analytic gradients, on a float64 copy of the whole model.

For a few entries of **every** parameter tensor: the centred difference ``(f(x+h) - f(x-h)) / 2h`` vs.
autograd, compared by relative error ``|a - n| / max(eps, |a| + |n|)``. The things that make a naive
check cry wolf are handled:

- dropout and other randomness: every evaluation of the loss re-seeds the RNG (same mask each time);
- kinks (ReLU, max-pool): if ``f(x+h)`` and ``f(x-h)`` fall on different sides of a kink, the centred
  difference is meaningless. Hooks on ReLU-like and max-pool modules record which side each unit is
  on; a crossing marks the entry as a kink, not a failure. For kinks the hooks cannot see (functional
  calls), a mismatch whose numerical value changes when the step is halved is a suspected kink;
- tiny gradients: entries whose size is below the rounding noise of the difference are not judged,
  and the loss is scaled (by a power of two) when all gradients are tiny;
- depth: error accumulates through layers, so the threshold grows with the number of layers;
- regularisation: the check runs without and with an L2 term, as the recipe asks.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..train.state import preserved
from ._common import check_batch, default_loss
from .result import CheckResult

__all__ = ["gradient_check"]

_RELU_LIKE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.SELU, nn.CELU)
_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


class _KinkWatch:
    """Records, per forward, which side of its kink every ReLU-like/max-pool unit is on."""

    def __init__(self, model: nn.Module) -> None:
        self.record: list[torch.Tensor] = []
        self.handles = []
        for m in model.modules():
            if isinstance(m, _RELU_LIKE):
                self.handles.append(m.register_forward_hook(lambda mod, inp, out: self.record.append(inp[0].detach() > 0)))
            elif isinstance(m, _MAXPOOL):
                self.handles.append(m.register_forward_hook(self._pool))

    def _pool(self, mod, inp, out) -> None:
        x = inp[0].detach()
        if isinstance(mod, nn.MaxPool2d):
            _, idx = nn.functional.max_pool2d(x, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                                              ceil_mode=mod.ceil_mode, return_indices=True)
            self.record.append(idx)
        elif isinstance(mod, nn.MaxPool1d):
            _, idx = nn.functional.max_pool1d(x, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                                              ceil_mode=mod.ceil_mode, return_indices=True)
            self.record.append(idx)
        else:  # other pools: compare outputs' argmax pattern coarsely
            self.record.append(out.detach())

    def take(self) -> list[torch.Tensor]:
        out, self.record = self.record, []
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _crossed(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) != len(b) or any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(a, b))


def _depth(model: nn.Module) -> int:
    return sum(1 for m in model.modules() if not list(m.children()) and any(True for _ in m.parameters(recurse=False)))


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
) -> CheckResult:
    """Check autograd against centred differences for ``dims_per_param`` entries of every parameter.

    Parameters
    ----------
    model : nn.Module
        Left untouched: the check runs on a float64 deep copy.
    batch : (inputs, targets)
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``; cross-entropy for integer targets, MSE for float targets.
    dims_per_param : int
        Entries checked per parameter tensor: the one with the largest gradient plus random ones.
    h : float
        Step of the centred difference (float64; ~cube root of machine epsilon balances truncation and
        rounding). Each entry is allowed the threshold plus ten times its expected rounding error
        ``1e-16 |f| / h / (|a| + |n|)``; entries where that alone exceeds 1e-2 are too small to judge.
    weight_decay : float
        Strength of the L2 term of the second pass (0 skips it).
    train_steps : int
        Train the copy this many Adam steps on the batch first (gradients at init can be atypical).
    threshold : float, optional
        Largest acceptable relative error; default ``min(1e-3, 1e-5 * 1.5 ** depth)`` with depth the
        number of layers with parameters.
    """
    x, y = check_batch(batch, "gradient_check")
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
        limit = threshold if threshold is not None else min(1e-3, 1e-5 * 1.5**depth)
        if train_steps:
            opt = torch.optim.Adam([p for _, p in named], lr=1e-3)
            for _ in range(train_steps):
                torch.manual_seed(seed)
                opt.zero_grad()
                loss_fn(m64(x64), y64).backward()
                opt.step()
        watch = _KinkWatch(m64)
        rng = np.random.default_rng(seed)
        passes = [0.0] + ([weight_decay] if weight_decay > 0 else [])
        report: dict[str, dict] = {}
        failures: list[tuple] = []
        scale_used = 1.0
        try:
            for reg in passes:
                scale = 1.0

                def objective() -> torch.Tensor:
                    torch.manual_seed(seed)  # the same dropout mask on every evaluation
                    loss = loss_fn(m64(x64), y64)
                    if reg:
                        loss = loss + 0.5 * reg * sum((p**2).sum() for _, p in named)
                    return loss * scale

                m64.zero_grad(set_to_none=True)
                objective().backward()
                grads = {n: p.grad.detach().clone() for n, p in named}
                watch.take()
                biggest = max(float(g.abs().max()) for g in grads.values())
                if 0 < biggest < 1e-8:  # tiny everywhere: scale the loss (by a power of two: exact)
                    scale = 2.0 ** round(-math.log2(biggest))
                    scale_used = scale
                    grads = {n: g * scale for n, g in grads.items()}
                for name, p in named:
                    flat_g = grads[name].reshape(-1)
                    k = min(dims_per_param, flat_g.numel())
                    top = int(flat_g.abs().argmax())
                    others = rng.choice(flat_g.numel(), size=min(flat_g.numel(), k + 1), replace=False).tolist()
                    idxs = list(dict.fromkeys([top, *others]))[:k]
                    entry = report.setdefault(name, {"checked": 0, "max_rel_error": 0.0, "kinks": 0, "below_noise": 0})
                    flat_p = p.data.reshape(-1)
                    for i in idxs:
                        a = float(flat_g[i])
                        n_h, f_hi, crossed = _numeric(objective, flat_p, i, h, watch)
                        rel = abs(a - n_h) / max(eps, abs(a) + abs(n_h))
                        rounding = 10 * 1e-16 * abs(f_hi) / h / max(eps, abs(a) + abs(n_h))
                        entry["checked"] += 1
                        if crossed:
                            entry["kinks"] += 1
                            continue
                        if rounding > 1e-2:
                            entry["below_noise"] += 1
                            continue
                        if rel > limit + rounding:
                            n_half, _, crossed_half = _numeric(objective, flat_p, i, h / 2, watch)
                            if crossed_half or abs(n_h - n_half) > 10 * limit * max(eps, abs(n_h) + abs(n_half)):
                                entry["kinks"] += 1  # the difference itself is unstable: a kink we could not see
                                continue
                            failures.append((name, i, a, n_h, rel, reg))
                        entry["max_rel_error"] = max(entry["max_rel_error"], rel)
        finally:
            watch.remove()
    worst = max((e["max_rel_error"] for e in report.values()), default=0.0)
    checked = sum(e["checked"] for e in report.values())
    kinks = sum(e["kinks"] for e in report.values())
    details = {"per_parameter": report, "threshold": limit, "depth": depth, "h": h, "weight_decay": weight_decay,
               "loss_scale": scale_used, "max_rel_error": worst, "checked": checked, "kinks": kinks,
               "failures": [{"param": f[0], "index": f[1], "analytic": f[2], "numerical": f[3], "rel_error": f[4],
                             "weight_decay": f[5]} for f in failures]}
    if not failures:
        extra = f"; {kinks} entries straddled a kink and were skipped" if kinks else ""
        reg_txt = f" without and with L2 ({weight_decay:g})" if weight_decay > 0 else ""
        return CheckResult(
            "gradient_check", True,
            f"analytic and numerical gradients agree{reg_txt}: max relative error {worst:.1e} over {checked} entries of "
            f"{len(report)} parameters (threshold {limit:.1e} for depth {depth}){extra}",
            details,
        )
    bad = sorted({f[0] for f in failures})
    name, i, a, n, rel, reg = max(failures, key=lambda f: f[4])
    return CheckResult(
        "gradient_check", False,
        f"gradients disagree in {', '.join(repr(b) for b in bad)}: worst {name!r}[{i}] analytic {a:.6g} vs numerical "
        f"{n:.6g} (relative error {rel:.1e} > {limit:.1e}{', with L2' if reg else ''}). Check custom autograd "
        "Functions' backward, in-place operations on tensors autograd needs, and .detach()/.data in the forward.",
        details,
    )


def _numeric(objective: Callable[[], torch.Tensor], flat_p: torch.Tensor, i: int, h: float, watch: _KinkWatch):
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
