"""``run_all``: the recipe's pipeline checks, in order, on one model and one dataset."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
from torch import nn

from ..data.dataset import ImageDataset
from ..models import MLP, TinyCNN
from ..train.batches import epoch_batches
from ..train.config import TrainConfig
from ..train.loop import resolve_device
from ..train.state import preserved
from .dependency import batch_dependency, causality
from .gradcheck import gradient_check
from .loss import initial_loss
from .regularization import regularization_raises_loss
from .result import Checklist, CheckResult
from .training import capacity_check, input_independent_baseline, overfit_batch, overfit_batches

__all__ = ["CHECKS", "GRADCHECK_SAMPLES", "OVERFIT_BATCHES", "first_batch", "first_batches", "run_all"]

#: Datapoints of the gradient check in run_all: the notes' 2-3 (fewer units near a kink).
GRADCHECK_SAMPLES = 3
#: Mini-batches memorised after the single one (the notes: 5-10).
OVERFIT_BATCHES = 5

#: The checks of run_all, in recipe order.
CHECKS = (
    "initial_loss",
    "input_independent_baseline",
    "overfit_batch",
    "capacity_check",
    "batch_dependency",
    "causality",
    "gradient_check",
    "regularization_raises_loss",
)


def first_batch(data: ImageDataset, batch_size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first shuffled batch exactly as the training loop would draw it (same seed, same order)."""
    return first_batches(data, batch_size, 1, seed)[0]


def first_batches(
    data: ImageDataset, batch_size: int = 32, n: int = 5, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n`` shuffled batches exactly as the training loop would draw them (fewer if the data
    ends)."""
    with preserved(nn.Module()):
        gen = torch.Generator().manual_seed(seed)
        out = []
        for b in epoch_batches(data, batch_size, torch.device("cpu"), gen)():
            out.append(b)
            if len(out) == n:
                break
        return out


def _overfit(model: nn.Module, batches: list) -> CheckResult:
    """One batch, then (if that worked) the notes' few mini-batches: one result, both in its details."""
    one = overfit_batch(model, batches[0])
    if not one.passed or len(batches) < 2:
        return one
    few = overfit_batches(model, batches)
    one.details["few_batches"] = few.details
    one.passed = few.passed
    one.message = (
        f"{one.message}; {few.message}" if few.passed else f"{few.message} (one batch: {one.message})"
    )
    return one


def _capacity_family(model: nn.Module, data: ImageDataset) -> Callable[[int], nn.Module] | None:
    """Build bigger/smaller versions of a workbench baseline; None for other models."""
    if isinstance(model, MLP):
        depth = sum(isinstance(m, nn.Linear) for m in model.body)
        return lambda w: MLP(data.input_shape, data.num_classes, width=w, depth=max(depth, 1))
    if isinstance(model, TinyCNN):
        depth = sum(isinstance(m, nn.Conv2d) for m in model.body)
        return lambda c: TinyCNN(data.input_shape, data.num_classes, channels=c, depth=depth)
    return None


def run_all(
    model: nn.Module,
    data: ImageDataset,
    val: ImageDataset | None = None,
    *,
    batch_size: int = 32,
    time_dim: int | None = None,
    only: tuple[str, ...] | None = None,
    config: TrainConfig | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    optimizer_fn: Callable | None = None,
) -> Checklist:
    """Every pipeline check, in recipe order; each leaves ``model`` exactly as it was.

    ``causality`` runs only for sequence models (pass ``time_dim``); ``capacity_check`` only for the
    workbench's own baselines (it needs bigger and smaller versions of the model). ``only`` picks a
    subset by name; ``on_result`` is called as each result arrives (a view uses it to fill in live).

    ``overfit_batch`` memorises one batch, then the first ``OVERFIT_BATCHES`` (5) mini-batches;
    ``gradient_check`` uses ``GRADCHECK_SAMPLES`` (3) datapoints, as the recipe notes advise;
    ``regularization_raises_loss`` checks the weight decay of ``config`` through ``optimizer_fn(params,
    weight_decay)`` (how your code builds its optimizer; default: as ``fit`` does) and the model's dropout.
    """
    unknown = set(only or ()) - set(CHECKS)
    if unknown:
        raise ValueError(
            f"The 'only' parameter of run_all must name checks from {CHECKS}. Got {sorted(unknown)} instead."
        )
    device = resolve_device((config or TrainConfig()).device)
    batches = [(bx.to(device), by.to(device)) for bx, by in first_batches(data, batch_size, OVERFIT_BATCHES)]
    x, y = batches[0]
    model.to(device)
    template = copy.deepcopy(model)
    family = _capacity_family(model, data)
    plan: list[tuple[str, Callable[[], CheckResult] | None]] = [
        ("initial_loss", lambda: initial_loss(model, (x, y))),
        (
            "input_independent_baseline",
            lambda: input_independent_baseline(template, data, val, config=config),
        ),
        ("overfit_batch", lambda: _overfit(model, batches)),
        ("capacity_check", (lambda: capacity_check(family, data, (4, 16, 64))) if family else None),
        ("batch_dependency", lambda: batch_dependency(model, x)),
        ("causality", (lambda: causality(model, x, time_dim)) if time_dim is not None else None),
        ("gradient_check", lambda: gradient_check(model, (x[:GRADCHECK_SAMPLES], y[:GRADCHECK_SAMPLES]))),
        (
            "regularization_raises_loss",
            lambda: regularization_raises_loss(model, (x, y), config=config, optimizer_fn=optimizer_fn),
        ),
    ]
    skip_reason = {
        "capacity_check": "needs a family of models: use capacity_check(model_fn, data) for your own model",
        "causality": "not a sequence model: pass time_dim to check causality",
    }
    checklist = Checklist()
    for name, run in plan:
        if only is not None and name not in only:
            continue
        t0 = time.perf_counter()
        if run is None:
            result = CheckResult(name, True, f"skipped: {skip_reason[name]}", skipped=True)
        else:
            result = run()
        result.seconds = time.perf_counter() - t0
        checklist.results.append(result)
        if on_result is not None:
            on_result(result)
    return checklist
