"""What each step bought, and what it costs: every model scored on the **whole** test split.

``compare({"seed 0": m0, ..., "ensemble": Ensemble([...]), "EMA": ema_model}, test)`` runs each model
once over every test sample and keeps, per model, which samples it got right. A row has the accuracy
with its Wilson interval, the mean loss, the parameter count and the time of that pass. Because all the
models saw the same samples, a *gain* (``comparison.gain("ensemble", "seed 0")``) is a paired difference:
its interval comes from the per-sample differences, much tighter than two separate intervals.
``mcnemar(comparison, "ensemble", "seed 0")`` is the exact test of the same pairs: only the samples where
the two models disagree carry information, and under "no difference" each such sample is a coin flip.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..train.batches import epoch_batches
from ..train.loop import resolve_device
from .ensemble import Ensemble

__all__ = ["Comparison", "Gain", "ModelScore", "compare", "mcnemar", "wilson_interval"]


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``correct / n`` (good near 0 and 1, unlike the normal one)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact at the edges (no rounding residue)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True)
class ModelScore:
    """One model on the whole split."""

    name: str
    kind: str  # "single" or "ensemble"
    accuracy: float
    low: float  # Wilson interval of the accuracy
    high: float
    loss: float  # mean cross-entropy (of the mean probability, for an ensemble)
    n: int
    parameters: int  # every scalar, trainable or frozen; an ensemble counts every member's
    seconds: float  # the pass over the whole split (inference, batches included)

    @property
    def us_per_image(self) -> float:
        return self.seconds / self.n * 1e6


@dataclass(frozen=True)
class Gain:
    """Accuracy of ``model`` minus that of ``over`` on the same samples, with a paired interval."""

    model: str
    over: str
    diff: float  # in [-1, 1]; x100 for percentage points
    low: float
    high: float
    n: int

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return (
            f"{self.model} vs {self.over}: {self.diff * 100:+.2f} pp "
            f"[{self.low * 100:+.2f}, {self.high * 100:+.2f}] on {self.n} samples"
        )


@dataclass(frozen=True)
class Comparison:
    """Rows in the order given; ``correct[name]`` is that model's per-sample hit vector ``(N,)``."""

    rows: tuple[ModelScore, ...]
    correct: dict[str, np.ndarray] = field(repr=False)
    confidence: float = 0.95

    def __getitem__(self, name: str) -> ModelScore:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"Comparison has no model named {name!r}; it has {[r.name for r in self.rows]}.")

    @property
    def best_single(self) -> str:
        """Name of the most accurate non-ensemble model."""
        return self.best()

    def best(self, names: Sequence[str] | None = None) -> str:
        """Name of the most accurate of ``names`` (default: every non-ensemble model)."""
        rows = [self[n] for n in names] if names is not None else [r for r in self.rows if r.kind == "single"]
        if not rows:
            raise ValueError("Comparison.best: no model to choose from (this comparison has only ensembles).")
        return max(rows, key=lambda r: r.accuracy).name

    def gain(self, model: str, over: str) -> Gain:
        """Paired accuracy difference ``model - over``, normal interval on the per-sample differences."""
        a, b = (self.correct[self[m].name].astype(np.float64) for m in (model, over))
        d = a - b
        n = len(d)
        z = statistics.NormalDist().inv_cdf(0.5 + self.confidence / 2)
        half = z * float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        mean = float(d.mean())
        return Gain(model, over, mean, mean - half, mean + half, n)

    def kept(self, student: str, teacher: str, alone: str) -> float:
        """Fraction of the teacher's gain over ``alone`` (the same network trained alone) that the student
        keeps: ``(acc_student - acc_alone) / (acc_teacher - acc_alone)``; NaN when the teacher gains
        nothing."""
        s, t, a = (self[m].accuracy for m in (student, teacher, alone))
        return (s - a) / (t - a) if t > a else math.nan

    def to_frame(self):
        """One row per model as a pandas DataFrame (accuracy and interval in %)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "model": r.name,
                    "kind": r.kind,
                    "accuracy_%": 100 * r.accuracy,
                    "low_%": 100 * r.low,
                    "high_%": 100 * r.high,
                    "loss": r.loss,
                    "parameters": r.parameters,
                    "us_per_image": r.us_per_image,
                }
                for r in self.rows
            ]
        ).set_index("model")


@torch.inference_mode()
def _score(model: nn.Module, data: Dataset, batch_size: int, device: torch.device, stop: threading.Event):
    hits, losses = [], []
    was_training = model.training
    model.eval()
    try:
        for x, y in epoch_batches(data, batch_size, device, None)():
            if stop.is_set():
                return None
            out = model(x)  # (B, classes)
            hits.append(out.argmax(dim=1) == y)
            losses.append(nn.functional.cross_entropy(out, y, reduction="none"))
    finally:
        model.train(was_training)
    return torch.cat(hits).cpu().numpy(), torch.cat(losses).double().cpu().numpy()


def compare(
    models: Mapping[str, nn.Module],
    test: Dataset,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
    confidence: float = 0.95,
    stop_event: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Score every model on the whole ``test`` split (same samples, same order).

    Parameters
    ----------
    models : mapping of name -> nn.Module
        Single networks and ``Ensemble`` objects; each returns logits (an ensemble: log-probabilities).
    test : Dataset
        Every sample is scored; never a few batches.
    stop_event : threading.Event, optional
        Set it to stop; the models scored so far are returned.
    progress : callable, optional
        ``progress(done, total)`` after each model.
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError(
            "The 'models' parameter of compare must be a non-empty mapping of name -> nn.Module, e.g. "
            f"{{'seed 0': model, 'ensemble': Ensemble(models)}}. Got {type(models).__name__} instead."
        )
    bad = [k for k, m in models.items() if not isinstance(m, nn.Module)]
    if bad:
        raise TypeError(f"compare: the models {bad} are not torch.nn.Module objects.")
    dev = resolve_device(device)
    stop = stop_event if stop_event is not None else threading.Event()
    rows, correct = [], {}
    for i, (name, model) in enumerate(models.items()):
        model.to(dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        scored = _score(model, test, batch_size, dev, stop)
        if scored is None:
            break
        seconds = time.perf_counter() - t0  # the .cpu() above waited for the device
        hits, losses = scored
        k, n = int(hits.sum()), len(hits)
        low, high = wilson_interval(k, n, confidence)
        kind = "ensemble" if isinstance(model, Ensemble) else "single"
        params = sum(p.numel() for p in model.parameters())  # frozen members count too
        rows.append(ModelScore(name, kind, k / n, low, high, float(losses.mean()), n, params, seconds))
        correct[name] = hits
        if progress is not None:
            progress(i + 1, len(models))
    return Comparison(tuple(rows), correct, confidence)


def mcnemar(comparison: Comparison, model: str, over: str) -> float:
    """Exact two-sided McNemar p-value of "``model`` and ``over`` are equally accurate" on the same samples.

    Of the samples exactly one of the two gets right, ``b`` go to ``model`` and ``c`` to ``over``; under
    the null hypothesis each is a fair coin flip, so ``p = binomtest(b, b + c, 0.5)`` (scipy). 1.0 when
    the two never disagree. A small p and ``gain(model, over).low > 0`` say the same thing two ways; the
    exact test stays right when there are only a handful of disagreements.
    """
    from scipy.stats import binomtest

    a, o = (comparison.correct[comparison[m].name] for m in (model, over))
    b, c = int(np.sum(a & ~o)), int(np.sum(~a & o))
    return 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
