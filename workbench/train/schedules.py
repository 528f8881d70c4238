"""LR schedules by name, with optional linear warmup, built on ``torch.optim.lr_scheduler``.

The schedules step once per optimizer step (not per epoch), so a short run and a long one decay the
same way over their length. torch has every piece: ``MultiStepLR`` (step), ``CosineAnnealingLR``,
``LinearLR`` (linear decay, and the warmup), ``LambdaLR`` (inverse square root, which torch has no
class for) and ``SequentialLR`` to put a warmup in front. Only the scaling below is ours: a live LR
slider moves the *peak* of the schedule, so every scheduler's ``base_lrs`` and the groups' current
LRs are multiplied by the same factor and the schedule keeps its shape.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.optim import lr_scheduler as sched

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = ["SCHEDULES", "make_scheduler", "scale_schedule", "schedule_preview", "total_steps"]

#: constant; step (x ``lr_decay`` at each milestone; 50 % and 75 % of the run by default); cosine (to 0 at
#: the end); linear (to 0 at the end); inv_sqrt (``lr * sqrt(t0 / (t0 + s))``, t0 = the warmup or one epoch).
SCHEDULES = ("constant", "step", "cosine", "linear", "inv_sqrt")


def total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Optimizer steps the run will take: every epoch, or ``max_steps`` when that comes first."""
    n = config.epochs * int(steps_per_epoch)
    return min(n, config.max_steps) if config.max_steps is not None else n


def _milestones(config: TrainConfig, steps_per_epoch: int, total: int) -> list[int]:
    if config.milestones is not None:
        return sorted(int(m) * steps_per_epoch for m in config.milestones)
    return sorted({max(1, round(total * 0.5)), max(1, round(total * 0.75))})


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> sched.LRScheduler | None:
    """The scheduler of ``config.schedule`` for a run of ``steps_per_epoch`` steps an epoch; ``None`` for a
    constant LR without warmup (nothing to step). Step it after every ``optimizer.step()``."""
    name, total = config.schedule, total_steps(config, steps_per_epoch)
    warm = min(config.warmup_steps, total)
    if name == "constant" and warm == 0:
        return None
    rest = max(total - warm, 1)  # steps after the warmup
    main: sched.LRScheduler
    if name == "constant":
        main = sched.LambdaLR(optimizer, lambda s: 1.0)
    elif name == "step":
        marks = [m - warm for m in _milestones(config, steps_per_epoch, total) if m > warm]
        main = sched.MultiStepLR(optimizer, marks or [total + 1], gamma=config.lr_decay)
    elif name == "cosine":
        main = sched.CosineAnnealingLR(optimizer, T_max=rest, eta_min=0.0)
    elif name == "linear":
        main = sched.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=rest)
    else:  # inv_sqrt
        t0 = float(max(warm, steps_per_epoch, 1))
        main = sched.LambdaLR(optimizer, lambda s: math.sqrt(t0 / (t0 + s)))
    if warm == 0:
        return main
    # from lr/warm up to lr in `warm` steps; torch's LinearLR needs a start factor > 0
    ramp = sched.LinearLR(optimizer, start_factor=1.0 / warm, end_factor=1.0, total_iters=warm)
    return sched.SequentialLR(optimizer, [ramp, main], milestones=[warm])


def scale_schedule(optimizer: torch.optim.Optimizer, scheduler: sched.LRScheduler | None, lr: float) -> None:
    """Make ``lr`` the peak LR of the first group from the next step on, keeping the schedule's shape and
    the groups' ratios. Without a scheduler this is ``set_lr``. Call it in the training thread."""
    from .optimizers import set_lr

    if scheduler is None:
        set_lr(optimizer, lr)
        return
    factor = float(lr) / float(optimizer.param_groups[0]["initial_lr"])  # the peak: schedulers set it
    for group in optimizer.param_groups:
        group["lr"] = float(group["lr"]) * factor
        if "initial_lr" in group:
            group["initial_lr"] = float(group["initial_lr"]) * factor
    stack = [scheduler]
    while stack:  # SequentialLR keeps its parts in _schedulers (a torch name, read for nesting only)
        s = stack.pop()
        if hasattr(s, "base_lrs"):  # SequentialLR has none of its own
            s.base_lrs = [float(b) * factor for b in s.base_lrs]
        stack.extend(getattr(s, "_schedulers", []))


def schedule_preview(config: TrainConfig, steps_per_epoch: int) -> np.ndarray:
    """The LR of every step of a run with ``config`` (``(total_steps,)``; entry ``i`` is the LR used by
    step ``i + 1``), computed by the same schedulers on a throwaway optimizer: draw it before training."""
    from .config import TrainConfig

    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"The 'config' parameter of schedule_preview must be a TrainConfig. Got {type(config).__name__} "
            "instead."
        )
    if not isinstance(steps_per_epoch, int | np.integer) or steps_per_epoch < 1:
        raise ValueError(
            f"The 'steps_per_epoch' parameter of schedule_preview must be an int >= 1. "
            f"Got {steps_per_epoch!r} instead: it is ceil(len(train) / batch_size)."
        )
    total = total_steps(config, int(steps_per_epoch))
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    scheduler = make_scheduler(opt, config, int(steps_per_epoch))
    out = np.empty(total, dtype=np.float64)
    for i in range(total):
        out[i] = opt.param_groups[0]["lr"]
        if scheduler is not None:
            opt.step()  # no gradients: a no-op that keeps torch's "step the optimizer first" check quiet
            scheduler.step()
    return out
