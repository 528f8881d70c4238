"""What LR schedules and early stopping add to ``LiveCurves``: the LR figure under the loss, the best epoch.

- ``LRPanel``: a small figure in the loss figure's x units: the schedule's preview (``schedule_preview``:
  the LR at every step of the planned run, dashed, drawn before Run) and the LR the run actually used
  (the history's per-step LR: a dragged LR slider shows as a departure from the preview). Its x-axis
  spans the whole planned run, so the LR used also shows how far the run has got; the loss figure keeps
  its own scale (sharing it would squeeze a live loss curve into the first pixels of a long plan).
- ``BestEpochMarks``: a diamond on the val loss and the val accuracy at the epoch whose weights early
  stopping kept (``History.best_epoch``).

Plain marks; ``LiveCurves`` says where its x-axis puts a step. Nothing about the run is computed here.
"""

from __future__ import annotations

from collections.abc import Callable

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..train.history import HistorySnapshot
from .plotting import downsample, log_limits, log_ticks

__all__ = ["BEST", "BestEpochMarks", "LRPanel"]

BEST = "#2ca02c"


class LRPanel:
    """The LR figure: ``preview`` (dashed, the planned schedule) and ``used`` (the LR of each step)."""

    def __init__(self, layout: widgets.Layout) -> None:
        x_scale = self._x = bq.LinearScale()
        self._y = bq.LogScale()
        self.preview = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_scale, "y": self._y},
            colors=["#7f7f7f"],
            line_style="dashed",
            labels=["schedule"],
            display_legend=True,
            stroke_width=1.5,
        )
        self.used = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_scale, "y": self._y},
            colors=["#9467bd"],
            labels=["LR used"],
            display_legend=True,
            stroke_width=2.0,
        )
        self._axis = bq.Axis(scale=self._y, side="left", label="LR (log)", tick_format=".0e")
        self.figure = bq.Figure(
            marks=[self.preview, self.used],
            axes=[bq.Axis(scale=x_scale, num_ticks=6, tick_format=".3~s"), self._axis],
            title="learning rate",
            layout=layout,
            fig_margin={"top": 30, "bottom": 30, "left": 60, "right": 20},
            legend_location="top-right",
            animation_duration=0,
        )

    def draw_schedule(
        self, schedule: tuple[np.ndarray, int | None] | None, x_axis: str, max_points: int
    ) -> None:
        """The preview of ``(lr per step, steps_per_epoch)`` (None: clear) on a "step" or "epoch" axis."""
        if schedule is None:
            self.draw_preview(np.zeros(0), np.zeros(0))
            return
        lr, spe = schedule
        steps = np.arange(1, len(lr) + 1, dtype=np.float64)
        if x_axis == "epoch":
            steps = steps / spe if spe else np.full(len(lr), np.nan)
        self.draw_preview(*downsample(steps, lr, max_points))

    def draw_preview(self, x: np.ndarray, lr: np.ndarray) -> None:
        with self.preview.hold_sync():
            self.preview.x, self.preview.y = _positive(x, lr)
        self._limits()

    def draw_used(self, x: np.ndarray, lr: np.ndarray) -> None:
        with self.used.hold_sync():
            self.used.x, self.used.y = _positive(x, lr)
        self._limits()

    def _limits(self) -> None:
        """The x-axis from 0 to the end of either line; a log axis over both (a constant LR gets half a
        decade either side)."""
        xs = np.concatenate([self.preview.x, self.used.x])
        if len(xs) and (self._x.min, self._x.max) != (0.0, float(xs.max())):
            with self._x.hold_sync():
                self._x.min, self._x.max = 0.0, max(float(xs.max()), 1e-9)
        limits = log_limits(np.concatenate([self.preview.y, self.used.y]))
        if limits is not None and (self._y.min, self._y.max) != limits:
            with self._y.hold_sync():
                self._y.min, self._y.max = limits
            self._axis.tick_values = log_ticks(*limits, max_ticks=5)


class BestEpochMarks:
    """A diamond at the best epoch, on the loss figure (val loss) and the accuracy figure (val acc)."""

    def __init__(self, loss_scales: tuple[bq.Scale, bq.Scale], acc_scales: tuple[bq.Scale, bq.Scale]) -> None:
        def diamond(scales):
            return bq.Scatter(
                x=np.zeros(0),
                y=np.zeros(0),
                scales={"x": scales[0], "y": scales[1]},
                marker="diamond",
                colors=[BEST],
                default_size=180,
                labels=["best epoch"],
                display_legend=False,
            )

        self.on_loss, self.on_acc = diamond(loss_scales), diamond(acc_scales)

    def draw(self, x: float | None, val_loss: float, val_acc: float) -> None:
        """Mark ``x`` (the best epoch's position; None: clear) at its val loss and val accuracy."""
        for mark, y in ((self.on_loss, val_loss), (self.on_acc, val_acc)):
            ok = x is not None and np.isfinite(x) and np.isfinite(y) and (y > 0 or mark is self.on_acc)
            if not ok and not len(mark.x):
                continue
            with mark.hold_sync():
                if ok:
                    mark.x, mark.y = np.array([x], dtype=np.float64), np.array([y], dtype=np.float64)
                else:
                    mark.x, mark.y = np.zeros(0), np.zeros(0)

    def draw_from(self, snap: HistorySnapshot, to_x: Callable[[np.ndarray], np.ndarray]) -> None:
        """Mark ``snap.best_epoch`` (none: clear), placed on the x-axis by ``to_x`` (steps -> x)."""
        at = np.flatnonzero(snap.epoch == snap.best_epoch) if snap.best_epoch is not None else []
        if not len(at):
            self.draw(None, np.nan, np.nan)
            return
        i = int(at[0])

        def metric(*names: str) -> float:  # val if the run has it, else train (early stopping on train loss)
            values = [float(snap.metrics[n][i]) for n in names if n in snap.metrics]
            return next((v for v in values if np.isfinite(v)), np.nan)

        x = float(to_x(snap.epoch_step[i : i + 1])[0])
        self.draw(x, metric("val_loss", "train_loss"), metric("val_acc", "train_acc"))


def _positive(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    return x[keep], y[keep]
