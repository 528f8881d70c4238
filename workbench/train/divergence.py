"""Why a run diverged: the words ``fit`` puts in the message after a NaN/Inf loss.

The recipe names three causes of a sudden divergence: a learning rate too high (exploding updates),
a model whose gradients vanish or explode, and corrupted samples (a NaN in one batch). Nothing here
runs while training: ``fit`` only calls ``explain_divergence`` after it has noticed a non-finite loss
and put the last good weights back, so the hot path pays nothing for it. It then costs one look at
the failing batch's samples and one forward/backward on them (a few host syncs, once per run).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

__all__ = ["explain_divergence"]

NAMED = 8  # samples named in a message, at most
ROSE = 2.0  # "the loss rose" when its last finite value is this many times its lowest of the window
WINDOW = 50  # finite losses looked at before the failure

CHECKS = (
    "If a lower LR still diverges, look at the model: run workbench.checks.run_all(model, train) "
    "(its gradient check, workbench.checks.gradient_check, compares backprop with finite differences) "
    "for vanishing or exploding gradients."
)


def explain_divergence(
    model: nn.Module,
    data: Dataset,
    indices: Sequence[int] | None,
    loss_fn: Callable,
    device: torch.device,
    losses: np.ndarray,
    good_state: dict[str, torch.Tensor],
) -> str:
    """Sentences saying why the batch at ``indices`` made the loss non-finite, and what to do.

    Parameters
    ----------
    model : nn.Module
        Already back at the last good weights (``good_state``); it is left exactly there.
    data : Dataset
        The training split; ``indices`` are positions in it (the failing batch), ``None`` if unknown.
    loss_fn : callable
    device : torch.device
    losses : ndarray
        The run's finite step losses up to the failure, in order.
    good_state : dict
        The state dict the model was restored to.

    Returns
    -------
    str
        Names the samples with NaN/Inf inputs when the batch has any (a data problem, not the LR);
        otherwise whether the loss was exploding, the gradient norm at the restored weights on that
        batch, the LR/clip advice and the checks to run.
    """
    batch = _load(data, indices)
    if batch is not None:
        xs, ys, bad = batch
        if bad:
            return _corrupted(data, bad, len(xs))
    trend = _trend(losses)
    norm = _grad_norm(model, xs, ys, loss_fn, device, good_state) if batch is not None else None
    parts = (
        [f"The {len(xs)} inputs of that batch are finite, so the data is not to blame."]
        if batch is not None
        else []
    )
    grads = ""
    if norm is not None:
        grads = (
            (
                f"the gradient norm at the restored weights on that batch is {norm:.3g} "
                f"(grad_clip={_round(norm)} would cap the steps near it)"
            )
            if math.isfinite(norm)
            else "the gradients at the restored weights on that batch are already NaN/Inf (an overflow)"
        )
    if trend:
        parts.append(f"Gradients exploded: {trend}" + (f"; {grads}." if grads else "."))
    elif norm is not None and not math.isfinite(norm):
        parts.append(
            f"The loss was not climbing before, yet {grads}: the model or the loss computes something "
            "non-finite (a log of 0, a division by 0); the LR alone does not explain it."
        )
    elif grads:
        parts.append(
            f"No sign of gradients exploding step by step: the loss was not climbing before (a sudden "
            f"jump); {grads}."
        )
    parts += ["Lower the learning rate (try 3-10x lower), or clip gradients (grad_clip).", CHECKS]
    return " ".join(parts)


def _load(data: Dataset, indices: Sequence[int] | None):
    """The failing batch's inputs and targets, and which of its samples have NaN/Inf inputs."""
    if not indices:
        return None
    try:
        items = [data[int(i)] for i in indices]
        xs = torch.stack([torch.as_tensor(x) for x, _ in items])
        ys = torch.as_tensor(np.asarray([y for _, y in items]))
    except (
        OSError,
        RuntimeError,
        TypeError,
        ValueError,
        IndexError,
    ):  # an unusual dataset: the generic advice
        return None
    finite = torch.isfinite(xs.reshape(len(xs), -1)).all(dim=1).tolist()
    return xs, ys, [int(i) for i, ok in zip(indices, finite) if not ok]


def _corrupted(data: Dataset, bad: list[int], size: int) -> str:
    paths = list(getattr(data, "paths", None) or [])
    named = []
    for i in bad[:NAMED]:
        path = paths[i] if i < len(paths) else None
        named.append(f"{i} ({path})" if path else str(i))
    more = f" and {len(bad) - NAMED} more" if len(bad) > NAMED else ""
    which = "sample" if len(bad) == 1 else "samples"
    return (
        f"The failing batch ({size} samples) has NaN/Inf inputs: {which} {', '.join(named)}{more} of the "
        "training data (dataset indices). A corrupted sample, not the learning rate: look at it "
        "(workbench.data.inspect, DataBrowser), fix or drop it (train.subset(...)), and train again."
    )


def _trend(losses: np.ndarray) -> str:
    window = np.asarray(losses, dtype=np.float64)[-WINDOW:]
    window = window[np.isfinite(window)]
    if len(window) < 2:
        return ""
    low, last = float(window.min()), float(window[-1])
    if last < ROSE * low:
        return ""
    return (
        f"the loss rose from {low:.3g} to {last:.3g} in the last {len(window)} steps before it became "
        "non-finite"
    )


def _grad_norm(model: nn.Module, xs, ys, loss_fn, device, good_state) -> float | None:
    """Total gradient norm of one forward/backward at the current weights; weights put back after."""
    was_training = model.training
    try:
        model.train()
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(xs.to(device)), ys.to(device))
        loss.backward()
        grads = [p.grad.detach().double().norm() for p in model.parameters() if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else None
    except (RuntimeError, TypeError, ValueError, IndexError):  # a courtesy probe: never hides the divergence
        return None
    finally:
        for p in model.parameters():
            p.grad = None
        model.load_state_dict(good_state)  # batch-norm statistics moved in the forward
        model.train(was_training)


def _round(norm: float) -> str:
    """A round clip value near ``norm``: 12.3 -> 10, 0.047 -> 0.05."""
    if norm <= 0:
        return "1"
    return f"{float(f'{norm:.0e}'):g}"
