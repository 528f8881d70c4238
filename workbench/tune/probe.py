"""The recipe's quick probe: a few LRs (1e-1 ... 1e-4), ~100 steps each, small weight decay: which make the
loss drop significantly?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from ..train.config import TrainConfig
from ..train.loop import fit
from ..train.state import preserved

__all__ = ["ProbeResult", "quick_probe"]


@dataclass
class ProbeResult:
    lrs: list[float]
    first: list[float]  # mean loss over the first 10 steps
    last: list[float]  # mean loss over the last 10 steps
    dropped: list[bool]  # fell by at least `drop` (relative) without diverging
    diverged: list[bool]
    unstable: list[bool] = field(default_factory=list)  # the loss first rose well above where it started
    curves: dict[float, np.ndarray] = field(default_factory=dict)
    recommended: float | None = None

    def summary(self) -> str:
        rows = [
            f"  lr {lr:.0e}: {f:.3f} -> {last:.3f}  "
            + ("diverged" if d else ("drops" if ok else "no real drop"))
            + (" (unstable: the loss first rose)" if u else "")
            for lr, f, last, ok, d, u in zip(
                self.lrs, self.first, self.last, self.dropped, self.diverged, self.unstable
            )
        ]
        best = (
            f"recommended: {self.recommended:.0e} (the lowest loss after "
            f"{len(next(iter(self.curves.values())))} steps)"
            if self.recommended
            else "no LR made the loss drop: check the pipeline"
        )
        return "\n".join([*rows, best])


def quick_probe(
    model: nn.Module,
    data: Dataset,
    lrs: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4),
    *,
    steps: int = 100,
    weight_decay: float = 1e-4,
    optimizer: str = "adam",
    batch_size: int = 64,
    drop: float = 0.1,
    seed: int = 0,
) -> ProbeResult:
    """Train ``steps`` steps at each LR from the same starting weights; the model is restored after each.

    A LR "drops" the loss when the mean of the last 10 step losses is at least ``drop`` (10 %) below the
    mean of the first 10. The recommendation is the LR whose loss ends lowest among those (the largest LR
    that drops is often one that blew up first and is still recovering: such runs are flagged unstable).
    """
    out = ProbeResult(list(lrs), [], [], [], [])
    n = len(data)  # type: ignore[arg-type]  # map-style datasets have __len__; torch's Dataset stub does not
    epochs = max(1, math.ceil(steps / max(1, math.ceil(n / batch_size))))
    for lr in lrs:
        cfg = TrainConfig(
            epochs=epochs,
            max_steps=steps,
            lr=lr,
            weight_decay=weight_decay,
            optimizer=optimizer,
            batch_size=batch_size,
            seed=seed,
        )
        with preserved(model):
            h = fit(model, data, config=cfg)
        loss = h.snapshot().loss
        k = min(10, max(1, len(loss) // 3))
        first = float(loss[:k].mean()) if len(loss) else float("nan")
        last = float(loss[-k:].mean()) if len(loss) else float("nan")
        diverged = h.status == "diverged" or not math.isfinite(last)
        out.first.append(first)
        out.last.append(last)
        out.diverged.append(diverged)
        out.dropped.append(not diverged and last <= (1 - drop) * first)
        out.unstable.append(bool(len(loss)) and float(loss[: max(k, 1)].max()) > 1.2 * float(loss[0]))
        out.curves[lr] = loss
    ok = [(last, -lr, lr) for lr, last, d in zip(lrs, out.last, out.dropped) if d]
    out.recommended = min(ok)[2] if ok else None
    return out
