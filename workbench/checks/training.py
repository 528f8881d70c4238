"""Checks that train, through the one loop: input-independent baseline, overfit one batch and a few, capacity.

Each trains copies (or restores the original afterwards), so the model, optimizer and RNGs are left
exactly as they were.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.dataset import ImageDataset, TensorImageDataset
from ..train.config import TrainConfig
from ..train.loop import evaluate, fit
from ..train.state import preserved
from ._common import check_batch, default_loss
from .result import CheckResult

__all__ = ["capacity_check", "input_independent_baseline", "overfit_batch", "overfit_batches"]


class _Zeroed(Dataset):
    """Same samples and labels, every input replaced by zeros."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]  # map-style datasets have __len__; torch's Dataset stub does not

    def __getitem__(self, i):
        x, y = self.base[i]
        return torch.zeros_like(x), y


def _zeroed(data: Dataset) -> Dataset:
    if isinstance(data, TensorImageDataset):
        x, y = data.tensors()
        return TensorImageDataset(torch.zeros_like(x), y.numpy(), data.classes, name=f"{data.name} (zeroed)")
    return _Zeroed(data)


def _fresh(model_fn: Callable[[], nn.Module] | nn.Module) -> Callable[[], nn.Module]:
    if isinstance(model_fn, nn.Module):
        template = copy.deepcopy(model_fn)
        return lambda: copy.deepcopy(template)
    if not callable(model_fn):
        raise TypeError(
            f"model_fn must be an nn.Module or a function returning one. Got {type(model_fn).__name__} "
            "instead."
        )
    return model_fn


def _rng_kept(fn):
    """Run ``fn`` with a throwaway module snapshot of the global RNGs (fit seeds them)."""
    with preserved(nn.Module()):
        return fn()


def input_independent_baseline(
    model_fn: Callable[[], nn.Module] | nn.Module,
    data: Dataset,
    val: Dataset | None = None,
    *,
    config: TrainConfig | None = None,
    margin: float = 0.2,
) -> CheckResult:
    """Train once on zeroed inputs and once on the real ones (same init, seed and steps).

    With zeros, the best a model can do is learn the label distribution; the real run must reach a
    loss at least ``margin`` (20 %) lower, measured on ``val`` when given (else on the training split),
    or the model is not using its input.
    """
    make = _fresh(model_fn)
    config = config or TrainConfig(epochs=3, max_steps=300, lr=3e-3)
    judge = val if val is not None else data

    def run(train_data, judge_data):
        model = make()
        fit(model, train_data, config=config)
        return evaluate(model, judge_data)

    zero = _rng_kept(lambda: run(_zeroed(data), _zeroed(judge)))
    real = _rng_kept(lambda: run(data, judge))
    passed = real.loss < zero.loss * (1 - margin)
    details = {
        "zeroed_loss": zero.loss,
        "real_loss": real.loss,
        "zeroed_accuracy": zero.accuracy,
        "real_accuracy": real.accuracy,
        "steps": config.max_steps,
        "judged_on": "val" if val is not None else "train",
    }
    if passed:
        msg = (
            f"real inputs beat zeroed inputs: loss {real.loss:.3f} vs {zero.loss:.3f}, accuracy "
            f"{real.accuracy:.1%} vs {zero.accuracy:.1%}: the model uses its input"
        )
    else:
        msg = (
            f"real inputs do not clearly beat zeroed inputs (loss {real.loss:.3f} vs {zero.loss:.3f}): the "
            "model is not using its input. Check that the inputs reach the model (a detach, a zeroing "
            "transform, a normalisation that wipes them out) and that labels match their images."
        )
    return CheckResult("input_independent_baseline", passed, msg, details)


def overfit_batch(
    model: nn.Module,
    batch,
    *,
    steps: int = 300,
    lr: float = 3e-3,
    optimizer: str = "adam",
    target_accuracy: float = 0.99,
    target_loss: float = 0.05,
) -> CheckResult:
    """Drive one batch to ~100 % accuracy / ~0 loss with regularisation off (no weight decay, no dropout).

    A model that cannot memorise a handful of samples has a bug (or far too little capacity). Trains
    through the one loop on a copy of the batch; the model is restored afterwards. Memorising proves
    capacity, not correctness: see ``overfit_batches`` for the notes' 5-10 mini-batches.
    """
    x, y = check_batch(batch, "overfit_batch")
    return _memorise(
        model,
        x,
        y,
        len(y),
        steps,
        lr,
        optimizer,
        target_accuracy,
        target_loss,
        "overfit_batch",
        f"one batch of {len(y)}",
    )


def overfit_batches(
    model: nn.Module,
    batches: Sequence,
    *,
    steps: int = 400,
    lr: float = 3e-3,
    optimizer: str = "adam",
    target_accuracy: float = 0.99,
    target_loss: float = 0.05,
) -> CheckResult:
    """Memorise a few mini-batches (the notes: 5-10), trained as mini-batches with regularisation off.

    Harder than one batch (the optimizer sees a moving target) and still quick. Passing proves the model
    and the optimisation have the capacity to fit; it does not prove the implementation is correct (a
    model whose features ignore the input can memorise too: ``input_independent_baseline`` and the
    validation curve tell).
    """
    if not isinstance(batches, (list, tuple)) or not batches:
        raise TypeError(
            f"The 'batches' parameter of overfit_batches must be a non-empty list of (inputs, targets) "
            f"pairs. Got {type(batches).__name__} instead."
        )
    pairs = [check_batch(b, f"overfit_batches (batch {i})") for i, b in enumerate(batches)]
    x = torch.cat([p[0] for p in pairs])
    y = torch.cat([p[1] for p in pairs])
    size = len(pairs[0][1])
    return _memorise(
        model,
        x,
        y,
        size,
        steps,
        lr,
        optimizer,
        target_accuracy,
        target_loss,
        "overfit_batches",
        f"{len(pairs)} batches of {size} ({len(y)} samples)",
    )


def _memorise(
    model, x, y, batch_size, steps, lr, optimizer, target_accuracy, target_loss, name, what
) -> CheckResult:
    classification = not y.dtype.is_floating_point
    if classification:
        with preserved(model), torch.no_grad():
            model.eval()  # one sample through BatchNorm in train mode is an error
            width = model(x[:1]).shape[-1]  # a batch need not hold every class: count them from the output
        classes = [str(i) for i in range(max(width, int(y.max()) + 1))]
        data: Dataset = TensorImageDataset(x.detach().cpu(), y.detach().cpu().numpy(), classes, name=what)
    else:
        data = torch.utils.data.TensorDataset(x.detach().cpu(), y.detach().cpu())
    per_epoch = -(-len(y) // batch_size)
    cfg = TrainConfig(
        epochs=-(-steps // per_epoch),
        max_steps=steps,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=0.0,
    )
    with preserved(model):
        dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        saved_p = [m.p for m in dropouts]
        for m in dropouts:
            m.p = 0.0
        try:
            history = fit(model, data, config=cfg, loss_fn=default_loss(y) if not classification else None)
            final = evaluate(model, data, loss_fn=default_loss(y))
        finally:
            for m, p in zip(dropouts, saved_p):
                m.p = p
    first = float(history.snapshot().loss[0]) if history.steps else float("nan")
    ok_acc = (final.accuracy >= target_accuracy) if classification else True
    passed = ok_acc and final.loss <= target_loss and history.status == "finished"
    details = {
        "steps": history.steps,
        "first_loss": first,
        "final_loss": final.loss,
        "final_accuracy": final.accuracy,
        "batch_size": batch_size,
        "samples": len(y),
        "status": history.status,
        "dropout_layers_disabled": len(dropouts),
    }
    acc = f", accuracy {final.accuracy:.0%}" if classification else ""
    if passed:
        msg = (
            f"overfit {what}: loss {first:.3f} -> {final.loss:.4f}{acc} in {history.steps} steps (memorising "
            "proves capacity, not correctness)"
        )
    else:
        msg = (
            f"could not overfit {what} in {history.steps} steps: loss {first:.3f} -> {final.loss:.4f}{acc}"
            + (f" ({history.message})" if history.status != "finished" else "")
            + ". A model that cannot memorise a few samples has a bug: check the loss, the labels, that the "
            "optimizer updates the parameters; then try a higher LR or more steps."
        )
    return CheckResult(name, passed, msg, details)


def capacity_check(
    model_fn: Callable[[int], nn.Module],
    data: ImageDataset,
    capacities: Sequence[int] = (4, 16, 64),
    *,
    config: TrainConfig | None = None,
    subset: int = 512,
    slack: float = 0.05,
) -> CheckResult:
    """More capacity must lower the training loss: train ``model_fn(c)`` for each capacity ``c``.

    Each model trains the same steps on the same ``subset`` of the training data; the final loss over
    that whole subset must fall from the smallest to the largest capacity, and never rise by more than
    ``slack`` (relative) from one capacity to the next.
    """
    if len(capacities) < 2:
        raise ValueError(
            f"The 'capacities' parameter of capacity_check needs at least two sizes. Got {capacities!r} "
            "instead."
        )
    config = config or TrainConfig(epochs=20, lr=3e-3)
    n = min(subset, len(data))
    rng = np.random.default_rng(0)
    part = (
        data.subset(np.sort(rng.choice(len(data), n, replace=False)), name=f"{data.name}[capacity subset]")
        if isinstance(data, ImageDataset)
        else data
    )

    def run(c):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # every capacity starts from the same seed: reproducible
            model = model_fn(c)
        fit(model, part, config=config)
        return evaluate(model, part).loss

    losses = [_rng_kept(lambda c=c: run(c)) for c in capacities]
    monotone = all(b <= a * (1 + slack) for a, b in itertools.pairwise(losses))
    passed = monotone and losses[-1] < losses[0]
    details = {"capacities": list(capacities), "train_losses": losses, "samples": n}
    pairs = ", ".join(f"{c}: {loss:.4f}" for c, loss in zip(capacities, losses))
    if passed:
        msg = f"more capacity, lower training loss ({pairs})"
    else:
        msg = (
            f"training loss does not fall with capacity ({pairs}): the extra capacity is not used. Check "
            "that the capacity knob really changes the model, and the optimisation (LR, init) of the larger "
            "ones."
        )
    return CheckResult("capacity_check", passed, msg, details)
