"""``History``: what a run has measured so far, safe to read while another thread trains.

The training thread appends plain floats under a lock; readers take a ``snapshot()`` (numpy copies)
and never hold the lock while they draw. ``version`` grows with every change, so a view can skip a
redraw when nothing is new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

__all__ = ["EPOCH_METRICS", "History", "HistorySnapshot", "in_epochs"]

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
    steps_per_epoch: int | None = None  # set by fit; None for a history from elsewhere
    best_epoch: int | None = None  # early stopping: the epoch whose weights the model ends with
    stopped_epoch: int | None = None  # early stopping: the epoch at which it ended the run


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
        self.steps_per_epoch: int | None = None  # fit sets it: an epoch x-axis is exact from the first step
        self.best_epoch: int | None = None  # early stopping sets these two
        self.stopped_epoch: int | None = None

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
                steps_per_epoch=self.steps_per_epoch,
                best_epoch=self.best_epoch,
                stopped_epoch=self.stopped_epoch,
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
        frame = pd.DataFrame(
            {"step": snap.epoch_step, **snap.metrics}, index=pd.Index(snap.epoch, name="epoch")
        )
        return frame

    def __repr__(self) -> str:
        return f"History(status={self.status!r}, steps={self.steps}, epochs={len(self._epoch)})"


def in_epochs(snap: HistorySnapshot, steps: np.ndarray) -> np.ndarray:
    """Optimizer steps of ``snap``'s run as (fractional) epochs: step ``s`` is ``s / steps_per_epoch``.

    Without ``steps_per_epoch`` (a history not from ``fit``), the recorded epoch ends are interpolated
    and the last epoch's length carries on past them; NaN where no epoch has ended yet.
    """
    steps = np.asarray(steps, dtype=np.float64)
    if snap.steps_per_epoch:
        return steps / snap.steps_per_epoch
    if not len(snap.epoch_step):
        return np.full(len(steps), np.nan)
    ends = np.concatenate([[0.0], snap.epoch_step.astype(np.float64)])
    epochs = np.concatenate([[0.0], snap.epoch.astype(np.float64)])
    out = np.interp(steps, ends, epochs)
    last = max(ends[-1] - ends[-2], 1.0)
    beyond = steps > ends[-1]
    out[beyond] = epochs[-1] + (steps[beyond] - ends[-1]) / last
    return out
