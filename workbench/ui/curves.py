"""``LiveCurves``: loss (log scale) and accuracy of a run, train and val, redrawn a few times a second.

The view never computes: it takes a ``History`` snapshot, downsamples it in numpy and sends whole
arrays to bqplot inside ``hold_sync()`` (one message per mark). Redraws are throttled by wall clock,
so the training thread pays for a redraw a few times a second, not every step. The x-axis is optimizer
steps or epochs (``x_axis``; the recipe plots loss per epoch, since a step's loss depends on the batch
size); earlier runs and the human baseline follow the switch.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from contextlib import ExitStack

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets

from ..background import Throttle
from ..train.callbacks import Callback, FitState
from ..train.history import History, HistorySnapshot, in_epochs
from .curve_schedule import BestEpochMarks, LRPanel
from .evidence_marks import EvidenceMarks, evidence_x
from .plotting import downsample, ema, log_ticks, spread_band

__all__ = ["LiveCurves"]

TRAIN, VAL, STEP, HUMAN = "#1f77b4", "#ff7f0e", "#9ecae1", "#2ca02c"
GHOSTS = ["#7f7f7f", "#8c564b", "#9467bd", "#e377c2", "#17becf"]


EPOCH_MARKERS = 60  # per-epoch lines show a dot per epoch up to this many epochs
EPOCH_POINTS = 300  # and are averaged down to this many points (the per-step line keeps max_points)


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
    smooth, band : bool
        Add the debiased EMA of the batch losses (``ema``) / a mean +- std band per window (``spread_band``).
    lr : bool
        Add a figure under the loss with the LR of each step and the schedule's preview (``show_schedule``).

    ``x_axis`` ("step" or "epoch", also a toggle above the figures) picks the x-axis; in epochs, step
    ``s`` sits at ``s / steps_per_epoch`` and each epoch's metrics at its end.
    """

    refresh_hz = traitlets.Float(4.0)
    max_points = traitlets.Int(2000)
    drawn_version = traitlets.Int(-1, help="History version last drawn (tests read it).")
    human_accuracy = traitlets.Float(
        None, allow_none=True, help="Drawn as a horizontal line on the accuracy figure."
    )
    max_ghosts = traitlets.Int(5, help="Earlier runs kept as faded lines.")
    x_axis = traitlets.Enum(("step", "epoch"), "step", help="Draw against optimizer steps or epochs.")

    def __init__(
        self,
        refresh_hz: float = 4.0,
        max_points: int = 2000,
        *,
        smooth: bool = False,
        band: bool = False,
        lr: bool = False,
        **kwargs,
    ) -> None:
        self.smooth, self.band = smooth, band
        self._schedule: tuple[np.ndarray, int | None] | None = None  # show_schedule's LR per step
        self._snap: HistorySnapshot | None = None  # last drawn, redrawn when x_axis changes
        self._ghost_snaps: list[HistorySnapshot] = []
        self._draw_lock = threading.Lock()  # the training thread and a toggle click may both draw
        x_loss, y_loss = bq.LinearScale(), bq.LogScale()
        self._scales = (x_loss, y_loss)
        self._loss_axis = bq.Axis(scale=y_loss, side="left", label="loss (log)", tick_format=".2~g")
        x_acc, y_acc = bq.LinearScale(), bq.LinearScale(min=0.0, max=1.0)
        self._acc_scales = (x_acc, y_acc)
        self.step_loss = _line(x_loss, y_loss, STEP, "batch", width=1.0)
        self.smooth_loss = _line(x_loss, y_loss, "#08519c", "smoothed", width=2.5)
        self.band_mark = bq.Lines(
            x=np.zeros(0),
            y=np.zeros((2, 0)),
            scales={"x": x_loss, "y": y_loss},
            fill="between",
            colors=["#c6dbef", "#c6dbef"],
            fill_colors=["#c6dbef"],
            fill_opacities=[0.5],
            labels=["± std"],
            display_legend=False,
            stroke_width=0.5,
        )
        self.human_line = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_acc, "y": y_acc},
            colors=[HUMAN],
            line_style="dashed",
            labels=["human"],
            display_legend=True,
            stroke_width=2,
        )
        self.ghost_loss: list[bq.Lines] = []
        self.ghost_acc: list[bq.Lines] = []
        self.train_loss = _line(x_loss, y_loss, TRAIN, "train", markers=True)
        self.val_loss = _line(x_loss, y_loss, VAL, "val", markers=True)
        self.train_acc = _line(x_acc, y_acc, TRAIN, "train", markers=True)
        self.val_acc = _line(x_acc, y_acc, VAL, "val", markers=True)
        layout = widgets.Layout(width="50%", min_width="320px", height="320px")
        margin = {"top": 40, "bottom": 45, "left": 60, "right": 20}
        self.evidence = EvidenceMarks(x_loss, y_loss)  # a finding's steps/epochs (``mark``)
        self._marked: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
        self._loss_range = (np.nan, np.nan)
        loss_marks = self.evidence.marks + ([self.band_mark] if band else [])
        loss_marks += (
            [self.step_loss] + ([self.smooth_loss] if smooth else []) + [self.train_loss, self.val_loss]
        )
        self.loss_figure = bq.Figure(
            marks=loss_marks,
            axes=[
                bq.Axis(scale=x_loss, label=self.x_axis),
                self._loss_axis,
            ],
            title="loss",
            layout=layout,
            fig_margin=margin,
            legend_location="top-right",
            animation_duration=0,
        )
        self.acc_figure = bq.Figure(
            marks=[self.train_acc, self.val_acc, self.human_line],
            axes=[
                bq.Axis(scale=x_acc, label=self.x_axis),
                bq.Axis(scale=y_acc, side="left", label="accuracy", tick_format=".0%"),
            ],
            title="accuracy",
            layout=layout,
            fig_margin=margin,
            legend_location="bottom-right",
            animation_duration=0,
        )
        self.best = BestEpochMarks(self._scales, self._acc_scales)  # early stopping's best epoch
        self.loss_figure.marks = [*self.loss_figure.marks, self.best.on_loss]
        self.acc_figure.marks = [*self.acc_figure.marks, self.best.on_acc]
        self._own_loss_marks = list(self.loss_figure.marks)
        self._own_acc_marks = list(self.acc_figure.marks)
        self.lr_panel = (
            LRPanel(widgets.Layout(width="50%", min_width="320px", height="200px")) if lr else None
        )
        self.ghost_legend = widgets.HTML("")
        self.ghost_legend.add_class("wb-ghost-legend")
        self.x_toggle = widgets.ToggleButtons(
            options=[("steps", "step"), ("epochs", "epoch")],
            value=self.x_axis,
            description="x-axis:",
            style={"button_width": "70px"},
        )
        widgets.link((self.x_toggle, "value"), (self, "x_axis"))
        super().__init__(
            children=[
                self.x_toggle,
                widgets.HBox([self.loss_figure, self.acc_figure]),
                *([widgets.HBox([self.lr_panel.figure])] if self.lr_panel is not None else []),
                self.ghost_legend,
            ],
            **kwargs,
        )
        self.refresh_hz = refresh_hz
        self.max_points = max_points
        self._drawn_epochs = -1
        self.add_class("wb-live-curves")

    def reset(self) -> None:
        """Clear every curve of the current run (earlier runs' faded lines stay)."""
        for mark in self._marks:
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0), np.zeros(0)
        with self.band_mark.hold_sync():
            self.band_mark.x, self.band_mark.y = np.zeros(0), np.zeros((2, 0))
        self.drawn_version = -1
        self._drawn_epochs = -1
        self._snap = None
        self.clear_marks()
        self.best.draw(None, np.nan, np.nan)
        if self.lr_panel is not None:
            self.lr_panel.draw_used(np.zeros(0), np.zeros(0))

    @property
    def _marks(self) -> tuple[bq.Lines, ...]:
        return (
            self.step_loss,
            self.smooth_loss,
            self.train_loss,
            self.val_loss,
            self.train_acc,
            self.val_acc,
        )

    # -- earlier runs and the human baseline ---------------------------------------------------------------
    def add_ghost(self, history: History | HistorySnapshot, label: str) -> None:
        """Keep a finished run as faded lines (smoothed train loss, val accuracy), labelled with ``label``."""
        snap = history.snapshot() if isinstance(history, History) else history
        color = GHOSTS[len(self.ghost_loss) % len(GHOSTS)]
        gl = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self._scales[0], "y": self._scales[1]},
            colors=[color],
            opacities=[0.45],
            labels=[label],
            display_legend=False,
            stroke_width=1.5,
        )
        ga = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self._acc_scales[0], "y": self._acc_scales[1]},
            colors=[color],
            opacities=[0.45],
            labels=[label],
            display_legend=False,
            stroke_width=1.5,
        )
        self._draw_ghost(gl, ga, snap)
        self.ghost_loss.append(gl)
        self.ghost_acc.append(ga)
        self._ghost_snaps.append(snap)
        if len(self.ghost_loss) > self.max_ghosts:
            self.ghost_loss.pop(0)
            self.ghost_acc.pop(0)
            self._ghost_snaps.pop(0)
        self._place_ghosts()

    def _draw_ghost(self, gl: bq.Lines, ga: bq.Lines, snap: HistorySnapshot) -> None:
        x, y = downsample(
            self._x(snap, snap.step), ema(snap.loss) if len(snap.loss) else snap.loss, self.max_points
        )
        keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
        with gl.hold_sync():
            gl.x, gl.y = x[keep], y[keep]
        acc = snap.metrics.get("val_acc", np.zeros(0))
        ax = self._x(snap, snap.epoch_step)
        ok = np.isfinite(acc) & np.isfinite(ax)
        with ga.hold_sync():
            ga.x, ga.y = ax[ok], acc[ok]

    def clear_ghosts(self) -> None:
        self.ghost_loss, self.ghost_acc, self._ghost_snaps = [], [], []
        self._place_ghosts()

    def _x(self, snap: HistorySnapshot, steps: np.ndarray) -> np.ndarray:
        """Steps in the units of the x-axis."""
        return in_epochs(snap, steps) if self.x_axis == "epoch" else np.asarray(steps, dtype=np.float64)

    @traitlets.observe("x_axis")
    def _switch_x(self, _=None) -> None:
        for fig in (self.loss_figure, self.acc_figure):
            fig.axes[0].label = self.x_axis
        for gl, ga, snap in zip(self.ghost_loss, self.ghost_acc, self._ghost_snaps):
            self._draw_ghost(gl, ga, snap)
        if self.lr_panel is not None:
            self.lr_panel.figure.axes[0].label = self.x_axis
        self._draw_schedule()
        if self._snap is not None:
            self.update(self._snap, force=True)  # redraws the human line and the marks too
        else:
            self._draw_human()
            self._draw_marks()

    # -- the LR schedule and early stopping --------------------------------------------------------------
    def show_schedule(self, lr: np.ndarray | None, steps_per_epoch: int | None = None) -> None:
        """Draw a run's planned LR (``schedule_preview``: entry i is the LR of step i + 1) on the LR figure,
        before and while it runs; None clears it. ``steps_per_epoch`` places it on an epoch axis."""
        self._schedule = None if lr is None else (np.asarray(lr, dtype=np.float64), steps_per_epoch)
        self._draw_schedule()

    def _draw_schedule(self) -> None:
        if self.lr_panel is not None:
            self.lr_panel.draw_schedule(self._schedule, self.x_axis, self.max_points)

    # -- marks: the evidence of a finding -------------------------------------------------------------------
    def mark(self, steps: Sequence[int] = (), epochs: Sequence[int] = ()) -> None:
        """Mark ``steps`` and ``epochs`` on the loss figure: a dashed line at each, the span from the first
        to the last shaded. They follow the x-axis switch and later redraws; ``clear_marks()`` removes
        them."""
        self._marked = (tuple(int(s) for s in steps), tuple(int(e) for e in epochs))
        self._draw_marks()

    def clear_marks(self) -> None:
        self._marked = ((), ())
        self.evidence.clear()

    @property
    def marked(self) -> np.ndarray:
        """Where the marks are drawn, in x-axis units (empty when nothing is marked)."""
        return np.unique(np.asarray(self.evidence.lines.x, dtype=np.float64))

    def _draw_marks(self) -> None:
        steps, epochs = self._marked
        if not (steps or epochs):
            return
        low, high = self._loss_range
        self.evidence.draw(evidence_x(self._snap, steps, epochs, self.x_axis), low, high)

    def add_marks(self, loss: Sequence[bq.Mark] = (), acc: Sequence[bq.Mark] = ()) -> None:
        """Draw more marks of the current run on the loss / accuracy figures (on their scales: use
        ``val_loss.scales`` / ``val_acc.scales``); they stay when earlier runs are added or cleared."""
        self._own_loss_marks += list(loss)
        self._own_acc_marks += list(acc)
        self._place_ghosts()

    def _place_ghosts(self) -> None:
        self.loss_figure.marks = [*self.ghost_loss, *self._own_loss_marks]
        self.acc_figure.marks = [*self.ghost_acc, *self._own_acc_marks]
        items = "".join(
            "<li><span "
            f"style='display:inline-block;width:22px;height:3px;background:{g.colors[0]};opacity:.7;vertical-align:middle;margin-right:6px'></span>{html.escape(g.labels[0])}</li>"
            for g in self.ghost_loss
        )
        self.ghost_legend.value = (
            (
                f"<div style='font-size:12px'>earlier runs (faded), and what differed from them:"
                f"<ul style='margin:2px 0'>{items}</ul></div>"
            )
            if items
            else ""
        )

    @traitlets.observe("human_accuracy")
    def _draw_human(self, _=None) -> None:
        end = max(
            [float(self.step_loss.x[-1]) if len(self.step_loss.x) else 1.0]
            + [float(g.x[-1]) for g in self.ghost_acc if len(g.x)]
        )
        with self.human_line.hold_sync():
            if self.human_accuracy is None:
                self.human_line.x, self.human_line.y = np.zeros(0), np.zeros(0)
            else:
                self.human_line.x = np.array([0.0, end])
                self.human_line.y = np.array([self.human_accuracy] * 2)

    def update(self, history: History | HistorySnapshot, force: bool = False) -> bool:
        """Draw the latest state of ``history``; False when nothing changed since the last draw."""
        snap = history.snapshot() if isinstance(history, History) else history
        with self._draw_lock:
            return self._update(snap, force)

    def _update(self, snap: HistorySnapshot, force: bool) -> bool:
        if snap.version == self.drawn_version and not force:
            return False
        self._snap = snap
        steps = self._x(snap, snap.step)
        step_x, step_y = downsample(steps, snap.loss, self.max_points)
        series = {self.step_loss: (step_x, step_y)}
        # the per-epoch lines only when an epoch ended since the last draw (each mark sent is a redraw in the
        # browser), averaged down to EPOCH_POINTS (or max_points, if fewer): tiny subsets run thousands of
        # epochs
        epochs_changed = force or len(snap.epoch_step) != self._drawn_epochs
        if epochs_changed:
            # a marker per epoch while they are few; beyond that each is an SVG element redrawn on every
            # rescale, which left a slow browser seconds behind (Stop seemed not to answer)
            marker = "circle" if len(snap.epoch_step) <= EPOCH_MARKERS else None
            for mark, name in (
                (self.train_loss, "train_loss"),
                (self.val_loss, "val_loss"),
                (self.train_acc, "train_acc"),
                (self.val_acc, "val_acc"),
            ):
                series[mark] = downsample(
                    self._x(snap, snap.epoch_step),
                    snap.metrics.get(name, np.full(len(snap.epoch_step), np.nan)),
                    min(self.max_points, EPOCH_POINTS),
                )
                if mark.marker != marker:
                    mark.marker = marker
        if self.smooth:
            sx, sy = downsample(steps, ema(snap.loss) if len(snap.loss) else snap.loss, self.max_points)
            series[self.smooth_loss] = (sx, sy)
        with ExitStack() as stack:
            for mark in series:
                stack.enter_context(mark.hold_sync())
            for mark, (x, y) in series.items():
                keep = (
                    np.isfinite(x)
                    & np.isfinite(y)
                    & (y > 0 if mark in (self.step_loss, self.train_loss, self.val_loss) else True)
                )
                mark.x, mark.y = x[keep], y[keep]
            if self.lr_panel is not None:
                self.lr_panel.draw_used(*downsample(steps, snap.lr, self.max_points))
            if epochs_changed:
                self.best.draw_from(snap, lambda steps: self._x(snap, steps))
            if self.band and len(snap.step):
                bx, lo, hi = spread_band(steps, snap.loss, min(60, max(1, len(snap.step) // 10)))
                ok = np.isfinite(bx)  # epochs before the first epoch end are unknown without steps_per_epoch
                with self.band_mark.hold_sync():
                    self.band_mark.x = bx[ok]
                    self.band_mark.y = np.vstack([np.maximum(lo[ok], 1e-6), np.maximum(hi[ok], 1e-6)])
            losses = np.concatenate([m.y for m in (self.step_loss, self.train_loss, self.val_loss)])
            if len(losses):
                self._loss_range = (float(losses.min()), float(losses.max()))
                self._loss_axis.tick_values = log_ticks(*self._loss_range)
            self._draw_marks()
        self.drawn_version = snap.version
        self._drawn_epochs = len(snap.epoch_step)
        if self.human_accuracy is not None and (epochs_changed or force):
            self._draw_human()
        return True

    def callback(self, budget: float | None = None) -> Callback:
        """A training callback that redraws at most ``refresh_hz`` times a second, and once at the end.

        ``budget``: most fraction of the training thread's wall time the redraws may take (see ``Throttle``).
        """
        return _RedrawCallback(self, budget)


class _RedrawCallback(Callback):
    def __init__(self, curves: LiveCurves, budget: float | None = None) -> None:
        self.curves = curves
        self.throttle = Throttle(curves.refresh_hz, budget)

    def on_step_end(self, state: FitState) -> None:
        self.throttle.call(self.curves.update, state.history)

    def on_epoch_end(self, state: FitState) -> None:
        self.throttle.call(self.curves.update, state.history)

    def on_fit_end(self, state: FitState) -> None:
        self.curves.update(state.history)
