"""``History``: what a run has measured so far, safe to read while another thread trains.

The training thread appends plain floats under a lock; readers take a ``snapshot()`` (numpy copies)
and never hold the lock while they draw. ``version`` grows with every change, so a view can skip a
redraw when nothing is new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

__all__ = ["EPOCH_METRICS", "History", "HistorySnapshot", "config_diff", "downsample", "ema", "log_ticks", "spread_band"]

#: Per-epoch metrics the loop records (val_* only when a validation split is given).
EPOCH_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")

#: Run states: created -> running -> finished | stopped | diverged | failed.
STATUSES = ("created", "running", "finished", "stopped", "diverged", "failed")


@dataclass(frozen=True)
class HistorySnapshot:
    """A consistent copy of a ``History`` at one moment."""

    step: np.ndarray  # (S,) optimizer step of each recorded loss, 1-based
    loss: np.ndarray  # (S,) training loss of that step's batch
    lr: np.ndarray  # (S,)
    epoch: np.ndarray  # (E,) 1-based epoch number
    epoch_step: np.ndarray  # (E,) step at which that epoch ended
    metrics: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (E,), NaN where not measured
    status: str = "created"
    message: str = ""
    version: int = 0


class History:
    """Per-step and per-epoch metrics of one run, plus its status and a human message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step: list[int] = []
        self._loss: list[float] = []
        self._lr: list[float] = []
        self._epoch: list[int] = []
        self._epoch_step: list[int] = []
        self._metrics: dict[str, list[float]] = {m: [] for m in EPOCH_METRICS}
        self.status = "created"
        self.message = ""
        self.version = 0

    # -- writers (the training thread) -------------------------------------------------------------
    def append_steps(self, steps: list[int], losses: list[float], lrs: list[float]) -> None:
        with self._lock:
            self._step.extend(steps)
            self._loss.extend(losses)
            self._lr.extend(lrs)
            self.version += 1

    def append_epoch(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        unknown = set(metrics) - set(self._metrics)
        with self._lock:
            for name in unknown:  # a callback may add its own metric; earlier epochs read NaN
                self._metrics[name] = [float("nan")] * len(self._epoch)
            self._epoch.append(epoch)
            self._epoch_step.append(step)
            for name, values in self._metrics.items():
                values.append(float(metrics.get(name, float("nan"))))
            self.version += 1

    def set_status(self, status: str, message: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"History status must be one of {STATUSES}. Got {status!r} instead.")
        with self._lock:
            self.status = status
            self.message = message
            self.version += 1

    # -- readers ------------------------------------------------------------------------------------
    def snapshot(self) -> HistorySnapshot:
        with self._lock:
            return HistorySnapshot(
                step=np.array(self._step, dtype=np.int64),
                loss=np.array(self._loss, dtype=np.float64),
                lr=np.array(self._lr, dtype=np.float64),
                epoch=np.array(self._epoch, dtype=np.int64),
                epoch_step=np.array(self._epoch_step, dtype=np.int64),
                metrics={k: np.array(v, dtype=np.float64) for k, v in self._metrics.items()},
                status=self.status,
                message=self.message,
                version=self.version,
            )

    @property
    def steps(self) -> int:
        """Optimizer steps recorded so far."""
        with self._lock:
            return self._step[-1] if self._step else 0

    def last(self, metric: str) -> float:
        """Latest value of a per-epoch metric (NaN when there is none yet)."""
        with self._lock:
            values = self._metrics.get(metric, [])
            return values[-1] if values else float("nan")

    def to_frame(self):
        """Per-epoch metrics as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        snap = self.snapshot()
        frame = pd.DataFrame({"step": snap.epoch_step, **snap.metrics}, index=pd.Index(snap.epoch, name="epoch"))
        return frame

    def __repr__(self) -> str:
        return f"History(status={self.status!r}, steps={self.steps}, epochs={len(self._epoch)})"


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: consecutive bins averaged (x and y), so a view sends little data.

    Averaging (not striding) keeps the curve honest: a spike still moves its bin's mean.
    """
    n = len(x)
    if n <= max_points:
        return x.astype(np.float64), y.astype(np.float64)
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    counts = np.diff(edges)
    xs = np.add.reduceat(x.astype(np.float64), edges[:-1]) / counts
    ys = np.add.reduceat(y.astype(np.float64), edges[:-1]) / counts
    return xs, ys


def log_ticks(low: float, high: float, max_ticks: int = 8) -> np.ndarray:
    """Readable ticks for a log axis over ``[low, high]``: 1-2-5 per decade, fewer when the range is wide."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 or high <= 0:
        return np.zeros(0)
    low, high = min(low, high), max(low, high)
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        decades = np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
        ticks = np.array([m * 10.0**d for d in decades for m in mantissas])
        ticks = ticks[(ticks >= low * 0.999) & (ticks <= high * 1.001)]
        if len(ticks) <= max_ticks:
            break
    if len(ticks) > max_ticks:  # many decades: every k-th power of ten
        ticks = ticks[:: int(np.ceil(len(ticks) / max_ticks))]
    if len(ticks) < 2:  # a narrow range inside one decade: its ends
        ticks = np.array([low, high])
    return ticks


def ema(y: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (the first points are not pulled towards 0).

    Vectorised: a Python loop over every step, at each redraw, grew to most of a redraw on long runs.
    The recursion ``avg = beta * avg + (1 - beta) * v`` is summed in closed form over chunks short enough
    that ``beta ** -k`` stays below 1e100 (scipy's ``lfilter`` does it too, but importing scipy.signal
    took seconds in the training thread at a view's first redraw).
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n == 0 or beta == 0:
        return y.copy()
    out = np.empty(n, dtype=np.float64)
    chunk = max(1, min(n, int(100 * np.log(10) / -np.log(beta))))
    carry = 0.0
    for start in range(0, n, chunk):
        seg = y[start : start + chunk]
        k = np.arange(len(seg), dtype=np.float64)
        # avg[start + k] = beta**(k+1) * carry + (1 - beta) * sum_{j<=k} beta**(k-j) * seg[j]
        avg = beta**k * (beta * carry + (1 - beta) * np.cumsum(seg * beta**-k))
        out[start : start + len(seg)] = avg
        carry = avg[-1]
    return out / (1.0 - beta ** np.arange(1, n + 1, dtype=np.float64))


def spread_band(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin of consecutive points: centre x, mean - std and mean + std (the recipe's mean +- spread plot).

    Vectorised (``np.add.reduceat``): the lab redraws it a few times a second from the training thread,
    and a Python loop over the bins was two thirds of a redraw.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    bins = max(1, min(bins, n))
    starts = np.unique(np.linspace(0, n, bins + 1).astype(np.int64)[:-1])  # bins <= n: none is empty
    counts = np.diff(np.append(starts, n))
    xf, yf = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xs = np.add.reduceat(xf, starts) / counts
    mean = np.add.reduceat(yf, starts) / counts
    dev = yf - np.repeat(mean, counts)  # two passes, as np.std does
    sd = np.sqrt(np.add.reduceat(dev * dev, starts) / counts)
    return xs, mean - sd, mean + sd


def config_diff(old: dict, new: dict, keys: tuple[str, ...] | None = None) -> str:
    """What differs between two run configs, as "lr 3e-3 → 1e-2, init xavier → kaiming"."""
    def fmt(v):  # two significant digits: 0.003 -> 3e-3, 0.00316 -> 3.2e-3
        if isinstance(v, float) and v and (abs(v) < 0.1 or abs(v) >= 1e4):
            mantissa, exp = f"{v:.1e}".split("e")
            return f"{mantissa.removesuffix('.0')}e{int(exp)}"
        return f"{v:.2g}" if isinstance(v, float) else str(v)

    names = keys or tuple(k for k in new if k in old)
    parts = [f"{k} {fmt(old[k])} → {fmt(new[k])}" for k in names
             if k in old and k in new and fmt(old[k]) != fmt(new[k])]  # only differences one can see
    return ", ".join(parts) or "same settings"
