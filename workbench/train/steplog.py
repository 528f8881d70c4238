"""The loop's record of step losses: device tensors copied to the history in chunks, with the last
known-good weights kept so that a run whose loss turns NaN/Inf goes back to them (and says why)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from .history import History

__all__ = ["Diverged", "StepLog"]


class Diverged(Exception):
    pass


class StepLog:
    """Device-side step losses, copied to the history in chunks; keeps the last known-good weights."""

    def __init__(
        self,
        model: nn.Module,
        history: History,
        interval_s: float,
        explain: Callable[[int], str] | None = None,
    ) -> None:
        self.model = model
        self.explain = explain  # failing step -> why, after the weights are back
        self.history = history
        self.interval_s = interval_s
        self.losses: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.lrs: list[float] = []
        self.sizes: list[int] = []
        self.last_flush = time.perf_counter()
        self.epoch_loss_sum = 0.0
        self.epoch_n = 0
        self.good_state = self._clone_state()
        self.good_step = 0

    def _clone_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def add(self, loss: torch.Tensor, step: int, lr: float, size: int) -> None:
        self.losses.append(loss)
        self.steps.append(step)
        self.lrs.append(lr)
        self.sizes.append(size)

    def due(self) -> bool:
        return time.perf_counter() - self.last_flush >= self.interval_s

    def flush(self) -> None:
        self.last_flush = time.perf_counter()
        if not self.losses:
            return
        values = torch.stack(self.losses).tolist()  # the host sync: once per flush, not per step
        steps, lrs, sizes = self.steps, self.lrs, self.sizes
        self.losses, self.steps, self.lrs, self.sizes = [], [], [], []
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        keep = len(values) if bad is None else bad
        self.history.append_steps(steps[:keep], values[:keep], lrs[:keep])
        self.epoch_loss_sum += sum(v * s for v, s in zip(values[:keep], sizes[:keep]))
        self.epoch_n += sum(sizes[:keep])
        if bad is not None:
            self.model.load_state_dict(self.good_state)
            raise Diverged(
                f"diverged: the loss became {values[bad]} at step {steps[bad]} (lr {lrs[bad]:.3g}). "
                f"The weights were restored to step {self.good_step}, the last check with a finite loss "
                f"and finite weights. {self._why(steps[bad])}"
            )
        params = [p.detach() for p in self.model.parameters()]
        if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            self.model.load_state_dict(self.good_state)
            raise Diverged(
                f"diverged: some weights became NaN/Inf by step {steps[-1]}. The weights were restored to "
                f"step {self.good_step}. {self._why(steps[-1])}"
            )
        self.good_state = self._clone_state()
        self.good_step = steps[-1]

    def _why(self, step: int) -> str:
        """Only ever called after a divergence was seen: never on the training hot path."""
        if self.explain is None:
            return "Lower the learning rate (try 3-10x lower), or clip gradients (grad_clip)."
        return self.explain(step)

    def end_epoch(self) -> float:
        mean = self.epoch_loss_sum / self.epoch_n if self.epoch_n else float("nan")
        self.epoch_loss_sum, self.epoch_n = 0.0, 0
        return mean
