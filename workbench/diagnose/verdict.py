"""Read a run's curves and say what they mean: the verdict line under the lab's curves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..train.history import History, HistorySnapshot

__all__ = ["Verdict", "verdict"]


@dataclass(frozen=True)
class Verdict:
    """``kind`` is one of: running, overfit, plateau, not_learning, improving, diverged, stopped."""

    kind: str
    message: str
    details: dict = field(default_factory=dict)


def verdict(
    history: History | HistorySnapshot, human_accuracy: float | None = None, *, window: int = 3
) -> Verdict:
    """What the curves say, for a run that has ended or is still going.

    - reached ~100 % train accuracy: the model can overfit this data (the first goal of the recipe);
    - diverged (NaN/Inf loss);
    - plateau: the train loss changed less than 1 % over the last ``window`` epochs while still high;
    - not learning: the loss is still >= 95 % of where it started;
    - improving: going down, not there yet.
    With a human baseline, the validation accuracy is compared with it.
    """
    snap = history.snapshot() if isinstance(history, History) else history
    acc = snap.metrics.get("train_acc", np.zeros(0))
    loss = snap.metrics.get("train_loss", np.zeros(0))
    val = snap.metrics.get("val_acc", np.zeros(0))
    details: dict[str, float] = {
        "epochs": len(snap.epoch),
        "steps": int(snap.step[-1]) if len(snap.step) else 0,
    }
    human = ""
    if human_accuracy is not None and len(val) and math.isfinite(val[-1]):
        gap = val[-1] - human_accuracy
        human = (
            f" Validation accuracy {val[-1]:.1%} is {'above' if gap >= 0 else 'below'} the human baseline "
            f"{human_accuracy:.1%}."
        )
        details["vs_human"] = float(gap)
    if snap.status == "diverged":
        return Verdict("diverged", f"Diverged: {snap.message}", details)
    if len(acc) and math.isfinite(acc[-1]) and acc[-1] >= 0.99:
        return Verdict(
            "overfit",
            f"Reached {acc[-1]:.1%} train accuracy (loss {loss[-1]:.4f}): the model can fit this "
            "data. Next: more data, then regularise (weight decay, dropout, augmentation)." + human,
            details,
        )
    if len(loss) >= 2:
        first, last = loss[0], loss[-1]
        details.update(first_loss=float(first), last_loss=float(last))
        if last >= 0.95 * first:
            return Verdict(
                "not_learning",
                f"The loss is not going down ({first:.3f} -> {last:.3f}): try another LR "
                "(the range test finds one), check the init, or run the sanity checks." + human,
                details,
            )
        if len(loss) > window:
            recent = loss[-window - 1 :]
            change = (recent[0] - recent[-1]) / max(abs(recent[0]), 1e-12)
            details["recent_change"] = float(change)
            if change < 0.01:
                return Verdict(
                    "plateau",
                    f"The loss has plateaued at {last:.3f} (train accuracy {acc[-1]:.1%}, "
                    f"{change:.1%} better over {window} epochs): raise the LR or the capacity, or "
                    "decay the LR if it was already high." + human,
                    details,
                )
    if snap.status == "stopped":
        return Verdict("stopped", f"Stopped ({snap.message})." + human, details)
    if snap.status == "running":
        return Verdict("running", "Training…" + human, details)
    last_acc = f", train accuracy {acc[-1]:.1%}" if len(acc) else ""
    return Verdict("improving", f"Still improving{last_acc}: train longer or raise the LR." + human, details)
