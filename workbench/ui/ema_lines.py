"""``EMALines``: the EMA weights' val loss and accuracy per epoch, drawn beside the live weights' on a
``LiveCurves`` as lines labelled "EMA".

The numbers are the ``EMA`` callback's own ``history_`` (``ema_val_loss``, ``ema_val_acc``: ``fit`` writes
an epoch's metrics before the callbacks run, so the averaged model's go there, not into the run's). Put the
EMA callback before ``callback()`` in the run's list: the lines then include the epoch that just ended.
"""

from __future__ import annotations

from collections.abc import Callable

import bqplot as bq
import numpy as np

from ..background import Throttle
from ..squeeze.averaging import EMA
from ..train.callbacks import Callback, FitState
from ..train.history import HistorySnapshot, in_epochs
from .curves import LiveCurves

__all__ = ["EMA_COLOR", "EMALines"]

EMA_COLOR = "#6a3d9a"  # not the evidence marks' red nor a faded earlier run's colour


class EMALines:
    """Two lines ("EMA") on ``curves``: the averaged weights' val loss and val accuracy at each epoch end.

    They follow the curves' x-axis (steps or epochs); ``clear()`` empties them (a new run).
    """

    def __init__(self, curves: LiveCurves) -> None:
        self.curves = curves
        self.loss, self.acc = (
            bq.Lines(
                x=np.zeros(0),
                y=np.zeros(0),
                scales=dict(like.scales),
                colors=[EMA_COLOR],
                labels=["EMA"],
                display_legend=True,
                stroke_width=2.0,
                line_style="dashed",
                marker="square",
                marker_size=12,
            )
            for like in (curves.val_loss, curves.val_acc)
        )
        self._snap: HistorySnapshot | None = None
        curves.add_marks(loss=[self.loss], acc=[self.acc])
        curves.observe(lambda _: self._draw(), "x_axis")

    def clear(self) -> None:
        self._snap = None
        self._draw()

    def draw(self, ema: EMA | None) -> None:
        """Draw ``ema``'s per-epoch val metrics (None, or no epoch yet: no lines)."""
        self._snap = ema.history_.snapshot() if ema is not None else None
        self._draw()

    def _draw(self) -> None:
        snap = self._snap
        for mark, name in ((self.loss, "ema_val_loss"), (self.acc, "ema_val_acc")):
            x, y = np.zeros(0), np.zeros(0)
            if snap is not None and len(snap.epoch_step):
                steps = snap.epoch_step.astype(np.float64)
                x = in_epochs(snap, steps) if self.curves.x_axis == "epoch" else steps
                y = snap.metrics.get(name, np.full(len(steps), np.nan))
                keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if mark is self.loss else True)
                x, y = x[keep], y[keep]
            with mark.hold_sync():
                mark.x, mark.y = x, y

    def callback(self, get_ema: Callable[[], EMA | None], budget: float | None = None) -> Callback:
        """Clear the lines at the start of a run; redraw them from ``get_ema()`` (looked up at each call: the
        run's EMA) at epoch ends, at most as often as the curves redraw, and once at the end."""
        return _Redraw(self, get_ema, Throttle(self.curves.refresh_hz, budget))


class _Redraw(Callback):
    def __init__(self, lines: EMALines, get_ema: Callable[[], EMA | None], throttle: Throttle) -> None:
        self.lines, self.get_ema, self.throttle = lines, get_ema, throttle

    def on_fit_start(self, state: FitState) -> None:
        self.lines.clear()  # the previous run's lines

    def on_epoch_end(self, state: FitState) -> None:
        ema = self.get_ema()
        if ema is not None:  # EMA off: nothing to send (the lines were cleared at the start)
            self.throttle.call(self.lines.draw, ema)

    def on_fit_end(self, state: FitState) -> None:
        ema = self.get_ema()
        if ema is not None:
            self.lines.draw(ema)
