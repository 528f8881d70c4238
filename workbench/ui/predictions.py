"""``PredictionView``: a fixed batch's class probabilities as bars, live, and the "wiggle" between updates."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..background import Throttle
from ..data.preview import png_bytes
from ..diagnose.dynamics import PredictionTracker
from ..train.callbacks import Callback, FitState

__all__ = ["PredictionView"]


class PredictionView(widgets.VBox):
    """One small bar chart per sample (the true class in green); ``wiggle_figure`` shows how much they moved.

    ``budget`` (a fraction, e.g. 0.01, or None): the most wall time of the training thread that scoring the
    batch may take, and as much again for redrawing (see ``Throttle``).
    """

    def __init__(
        self, inputs, targets, classes, refresh_hz: float = 4.0, budget: float | None = None, **kwargs
    ) -> None:
        self.inputs, self.targets, self.classes = inputs, targets, tuple(classes)
        self.refresh_hz = refresh_hz
        self.budget = budget
        self.tracker: PredictionTracker | None = None
        self._drawn = -1
        self._bars_drawn = -1
        # a host that hides the bars (the lab's other tab) turns this off: eight charts redrawn four times a
        # second were half of the lab's messages, and a slow browser fell seconds behind (Stop seemed slow)
        self.live_bars = True
        self.bars: list[bq.Bars] = []
        tiles = []
        for x, y in zip(inputs, targets):
            xs, ys = bq.OrdinalScale(), bq.LinearScale(min=0, max=1)
            colors = ["#2ca02c" if c == int(y) else "#9e9e9e" for c in range(len(self.classes))]
            bars = bq.Bars(
                x=list(self.classes), y=np.zeros(len(self.classes)), scales={"x": xs, "y": ys}, colors=colors
            )
            fig = bq.Figure(
                marks=[bars],
                axes=[bq.Axis(scale=xs, tick_style={"font-size": "8px"})],
                layout=widgets.Layout(width="150px", height="95px"),
                fig_margin={"top": 4, "bottom": 18, "left": 4, "right": 4},
                animation_duration=0,
            )
            self.bars.append(bars)
            tiles.append(
                widgets.VBox(
                    [
                        widgets.HBox(
                            [
                                widgets.Image(value=png_bytes(x, 40), format="png"),
                                widgets.HTML(
                                    f"<small>true: <b>{html.escape(self.classes[int(y)])}</b></small>"
                                ),
                            ]
                        ),
                        fig,
                    ]
                )
            )
        wx, wy = bq.LinearScale(), bq.LinearScale(min=0)
        self.wiggle_line = bq.Lines(
            x=np.zeros(0), y=np.zeros(0), scales={"x": wx, "y": wy}, colors=["#d62728"]
        )
        self.wiggle_figure = bq.Figure(
            marks=[self.wiggle_line],
            title="wiggle: how much predictions moved between updates",
            axes=[bq.Axis(scale=wx, label="step"), bq.Axis(scale=wy, side="left", tick_format=".2f")],
            layout=widgets.Layout(width="420px", height="240px"),
            fig_margin={"top": 40, "bottom": 40, "left": 50, "right": 10},
            animation_duration=0,
        )
        grid = widgets.GridBox(tiles, layout=widgets.Layout(grid_template_columns="repeat(4, 160px)"))
        # the wiggle figure is a separate widget: a host view places it (the lab puts it beside the loss)
        super().__init__(children=[grid], **kwargs)
        self.add_class("wb-prediction-view")

    def new_tracker(self) -> PredictionTracker:
        """A tracker for the next run (records into the view's batch)."""
        self.tracker = PredictionTracker(self.inputs, self.targets, hz=self.refresh_hz, budget=self.budget)
        self._drawn = self._bars_drawn = -1
        return self.tracker

    def update(self) -> bool:
        """Draw the tracker's latest record (the bars only while ``live_bars``); False when nothing
        changed."""
        if self.tracker is None:
            return False
        version, probs, steps, wiggle = self.tracker.latest()
        if version == self._drawn or probs is None:
            return False
        if self.live_bars:
            self._draw_bars(version, probs)
        with self.wiggle_line.hold_sync():
            self.wiggle_line.x = steps[1:].astype(float)
            self.wiggle_line.y = wiggle[1:]
        self._drawn = version
        return True

    def show_bars(self, live: bool) -> None:
        """Keep the bars live (and bring them up to date now) or stop redrawing them while they are hidden."""
        self.live_bars = live
        if live and self.tracker is not None:
            version, probs, _, _ = self.tracker.latest()
            if probs is not None and version != self._bars_drawn:
                self._draw_bars(version, probs)

    def _draw_bars(self, version: int, probs) -> None:
        for bars, p in zip(self.bars, probs):
            bars.y = p
        self._bars_drawn = version

    def callback(self) -> Callback:
        """Redraws after the tracker records (put it after the tracker in the callback list)."""
        view, throttle = self, Throttle(self.refresh_hz, self.budget)

        class _Redraw(Callback):
            def on_step_end(self, state: FitState) -> None:
                throttle.call(view.update)

            def on_fit_end(self, state: FitState) -> None:
                view.update()

        return _Redraw()
