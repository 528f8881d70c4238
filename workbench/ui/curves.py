"""``LiveCurves``: loss (log scale) and accuracy of a run, train and val, redrawn a few times a second.

The view never computes: it takes a ``History`` snapshot, downsamples it in numpy and sends whole
arrays to bqplot inside ``hold_sync()`` (one message per mark). Redraws are throttled by wall clock,
so the training thread pays for a redraw a few times a second, not every step.
"""

from __future__ import annotations

from contextlib import ExitStack

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets

from ..train.callbacks import Callback, FitState
from ..train.history import History, HistorySnapshot, downsample, log_ticks
from .runner import Throttle

__all__ = ["LiveCurves"]

TRAIN, VAL, STEP = "#1f77b4", "#ff7f0e", "#9ecae1"


def _line(x_scale, y_scale, color: str, label: str, *, markers: bool = False, width: float = 2.0) -> bq.Lines:
    return bq.Lines(
        x=np.zeros(0),
        y=np.zeros(0),
        scales={"x": x_scale, "y": y_scale},
        colors=[color],
        labels=[label],
        display_legend=True,
        stroke_width=width,
        marker="circle" if markers else None,
        marker_size=16,
    )


class LiveCurves(widgets.VBox):
    """Loss and accuracy figures for one run.

    Parameters
    ----------
    refresh_hz : float
        Most redraws per second while training.
    max_points : int
        Step curves with more points are averaged down to this many before they are sent.
    """

    refresh_hz = traitlets.Float(4.0)
    max_points = traitlets.Int(2000)
    drawn_version = traitlets.Int(-1, help="History version last drawn (tests read it).")

    def __init__(self, refresh_hz: float = 4.0, max_points: int = 2000, **kwargs) -> None:
        x_loss, y_loss = bq.LinearScale(), bq.LogScale()
        self._loss_axis = bq.Axis(scale=y_loss, side="left", label="loss (log)", tick_format=".2~g")
        x_acc, y_acc = bq.LinearScale(), bq.LinearScale(min=0.0, max=1.0)
        self.step_loss = _line(x_loss, y_loss, STEP, "train (step)", width=1.0)
        self.train_loss = _line(x_loss, y_loss, TRAIN, "train (epoch)", markers=True)
        self.val_loss = _line(x_loss, y_loss, VAL, "val (epoch)", markers=True)
        self.train_acc = _line(x_acc, y_acc, TRAIN, "train", markers=True)
        self.val_acc = _line(x_acc, y_acc, VAL, "val", markers=True)
        layout = widgets.Layout(width="50%", min_width="320px", height="320px")
        margin = {"top": 40, "bottom": 45, "left": 60, "right": 20}
        self.loss_figure = bq.Figure(
            marks=[self.step_loss, self.train_loss, self.val_loss],
            axes=[
                bq.Axis(scale=x_loss, label="step"),
                self._loss_axis,
            ],
            title="loss",
            layout=layout,
            fig_margin=margin,
            legend_location="top-right",
            animation_duration=0,
        )
        self.acc_figure = bq.Figure(
            marks=[self.train_acc, self.val_acc],
            axes=[
                bq.Axis(scale=x_acc, label="step"),
                bq.Axis(scale=y_acc, side="left", label="accuracy", tick_format=".0%"),
            ],
            title="accuracy",
            layout=layout,
            fig_margin=margin,
            legend_location="bottom-right",
            animation_duration=0,
        )
        super().__init__(children=[widgets.HBox([self.loss_figure, self.acc_figure])], **kwargs)
        self.refresh_hz = refresh_hz
        self.max_points = max_points
        self.add_class("wb-live-curves")

    def reset(self) -> None:
        """Clear every curve."""
        for mark in self._marks:
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0), np.zeros(0)
        self.drawn_version = -1

    @property
    def _marks(self) -> tuple[bq.Lines, ...]:
        return (self.step_loss, self.train_loss, self.val_loss, self.train_acc, self.val_acc)

    def update(self, history: History | HistorySnapshot, force: bool = False) -> bool:
        """Draw the latest state of ``history``; False when nothing changed since the last draw."""
        snap = history.snapshot() if isinstance(history, History) else history
        if snap.version == self.drawn_version and not force:
            return False
        step_x, step_y = downsample(snap.step, snap.loss, self.max_points)
        ex = snap.epoch_step.astype(np.float64)
        series = {
            self.step_loss: (step_x, step_y),
            self.train_loss: (ex, snap.metrics.get("train_loss", np.zeros(0))),
            self.val_loss: (ex, snap.metrics.get("val_loss", np.zeros(0))),
            self.train_acc: (ex, snap.metrics.get("train_acc", np.zeros(0))),
            self.val_acc: (ex, snap.metrics.get("val_acc", np.zeros(0))),
        }
        with ExitStack() as stack:
            for mark in series:
                stack.enter_context(mark.hold_sync())
            for mark, (x, y) in series.items():
                keep = np.isfinite(y) & (y > 0 if mark in (self.step_loss, self.train_loss, self.val_loss) else True)
                mark.x, mark.y = x[keep], y[keep]
            losses = np.concatenate([m.y for m in (self.step_loss, self.train_loss, self.val_loss)])
            if len(losses):
                self._loss_axis.tick_values = log_ticks(float(losses.min()), float(losses.max()))
        self.drawn_version = snap.version
        return True

    def callback(self) -> Callback:
        """A training callback that redraws at most ``refresh_hz`` times a second, and once at the end."""
        return _RedrawCallback(self)


class _RedrawCallback(Callback):
    def __init__(self, curves: LiveCurves) -> None:
        self.curves = curves
        self.throttle = Throttle(curves.refresh_hz)

    def on_step_end(self, state: FitState) -> None:
        if self.throttle.ready():
            self.curves.update(state.history)

    def on_epoch_end(self, state: FitState) -> None:
        if self.throttle.ready():
            self.curves.update(state.history)

    def on_fit_end(self, state: FitState) -> None:
        self.curves.update(state.history)
