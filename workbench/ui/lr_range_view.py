"""``LRRangeView``: the LR range test drawn as it sweeps; stop; pick a suggestion and hand it on."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets
from torch import nn

from ..background import Throttle
from ..tune.lr_range import LRRangeResult, lr_range_test
from .base import RunView

__all__ = ["LRRangeView"]


class LRRangeView(RunView):
    """Run the LR range test with its curve drawn as it goes; stop; pick a suggestion and hand it on.

    Parameters
    ----------
    model, data
        What ``lr_range_test`` sweeps (omit both to only show a ``result``).
    on_choose : callable, optional
        ``on_choose(lr)`` receives the chosen LR (e.g. ``lab.use_lr`` or ``SearchView.center_on``); the
        choice is also the ``chosen_lr`` trait.
    result : LRRangeResult, optional
        A finished test to show as it is, without running anything (the Display pattern).
    lab : OverfitLab, optional
        Shorthand for ``on_choose=lab.use_lr``.
    """

    chosen_lr = traitlets.Float(None, allow_none=True)

    def __init__(
        self,
        model: nn.Module | None = None,
        data=None,
        *,
        lab=None,
        on_choose: Callable[[float], None] | None = None,
        result: LRRangeResult | None = None,
        background: bool = True,
        **test_kwargs,
    ) -> None:
        if result is None and (model is None or data is None):
            raise TypeError("LRRangeView needs a model and data to sweep, or a finished result= to show.")
        if result is not None and not isinstance(result, LRRangeResult):
            raise TypeError(
                "The 'result' parameter of LRRangeView must be an LRRangeResult. Got "
                f"{type(result).__name__} instead."
            )
        self.model, self.data, self.test_kwargs = model, data, test_kwargs
        self.on_choose = on_choose if lab is None else lab.use_lr
        self.result: LRRangeResult | None = None
        self._points: list[tuple[float, float, float]] = []
        self._lock = threading.Lock()
        self._init_run_controls(background=background, run_label="Run range test", name="lr-range-test")
        self.run_button.button_style = "primary"
        x, y = bq.LogScale(), bq.LinearScale()
        self.raw_line = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x, "y": y},
            colors=["#9ecae1"],
            labels=["loss"],
            display_legend=True,
            stroke_width=1,
        )
        self.smooth_line = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x, "y": y},
            colors=["#08519c"],
            labels=["smoothed"],
            display_legend=True,
            stroke_width=2.5,
        )
        self.marks_line = bq.Lines(
            x=np.zeros((0, 2)),
            y=np.zeros((0, 2)),
            scales={"x": x, "y": y},
            colors=["#2ca02c", "#ff7f0e", "#9467bd"],
            line_style="dashed",
            stroke_width=1.5,
        )
        self.figure = bq.Figure(
            marks=[self.raw_line, self.smooth_line, self.marks_line],
            title="LR range test",
            axes=[
                bq.Axis(scale=x, label="learning rate (log)", tick_format=".0e"),
                bq.Axis(scale=y, side="left", label="loss"),
            ],
            layout=widgets.Layout(width="720px", height="360px"),
            animation_duration=0,
            fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 20},
            legend_location="top-left",
        )
        self.figure.add_class("wb-lr-range-figure")
        self.choice = widgets.Dropdown(
            description="suggestion",
            options=[("run the test first", None)],
            layout=widgets.Layout(width="360px"),
        )
        self.use_button = widgets.Button(description="use this LR", icon="check", disabled=True)
        self.use_button.on_click(lambda _: self.use(self.choice.value))
        super().__init__(
            children=[
                widgets.HBox([self.run_button, self.stop_button]),
                self.status_html,
                self.figure,
                widgets.HBox([self.choice, self.use_button]),
                self.error_html,
            ]
        )
        self.add_class("wb-lr-range")
        if result is not None:
            self.run_button.disabled = model is None or data is None
            self.show(result)

    # -- the run ------------------------------------------------------------------------------------------
    def _prepare_run(self):
        self._points = []
        self.use_button.disabled = True
        throttle = Throttle(8.0)

        def on_point(lr, loss, smooth):
            with self._lock:
                self._points.append((lr, loss, smooth))
            if throttle.ready():
                self._draw()

        self._set_status("sweeping the learning rate…")
        return lambda stop_event: lr_range_test(
            self.model, self.data, on_point=on_point, stop_event=stop_event, **self.test_kwargs
        )

    def _result(self) -> LRRangeResult | None:
        return self.result

    def _on_failed(self, run) -> None:
        self._draw()

    def _on_finished(self, result: LRRangeResult) -> None:
        self.show(result)

    # -- drawing --------------------------------------------------------------------------------------------
    def _draw(self) -> None:
        with self._lock:
            pts = np.array(self._points, dtype=float) if self._points else np.zeros((0, 3))
        pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts
        with self.raw_line.hold_sync(), self.smooth_line.hold_sync():
            self.raw_line.x, self.raw_line.y = pts[:, 0], pts[:, 1]
            self.smooth_line.x, self.smooth_line.y = pts[:, 0], pts[:, 2]

    def show(self, r: LRRangeResult) -> None:
        """Draw a finished test: the curve, its suggestions, the recommendation or why there is none."""
        self.result = r
        with self._lock:
            self._points = list(zip(r.lrs.tolist(), r.losses.tolist(), r.smoothed.tolist(), strict=True))
        self._draw()
        names = list(r.suggestions)
        smooth = r.smoothed[np.isfinite(r.smoothed)]
        lo = float(np.nanmin(r.losses)) if len(r.losses) else 0.0
        hi = float(smooth.max()) if len(smooth) else lo
        with self.marks_line.hold_sync():
            self.marks_line.x = np.array([[r.suggestions[n]] * 2 for n in names]).reshape(-1, 2)
            self.marks_line.y = np.array([[lo, hi]] * len(names)).reshape(-1, 2)
            self.marks_line.labels = names
            self.marks_line.display_legend = bool(names)
        if not r.found:  # nothing to hand on: say what to check instead of offering a guess
            self.choice.options = [("no good LR found", None)]
            self.choice.value = None
            self.use_button.disabled = True
            self._set_status(
                f"{r.stopped}. No good LR found. {r.reason}",
                markup=f"{html.escape(r.stopped)}. <b class='wb-no-lr' style='color:#b00020'>No good LR "
                f"found.</b> {html.escape(r.reason)}",
            )
            return
        self.choice.options = [
            (f"{n}: {v:.1e}" + (" (recommended)" if n == r.recommended else ""), v)
            for n, v in r.suggestions.items()
        ]
        self.choice.value = r.lr
        self.use_button.disabled = False
        self._set_status(
            f"{r.stopped}. recommended {r.lr:.1e} ({r.reason})",
            markup=f"{html.escape(r.stopped)}. <b>recommended {r.lr:.1e}</b> ({html.escape(r.reason)})",
        )

    def use(self, lr: float | None) -> None:
        """Hand ``lr`` on: the ``chosen_lr`` trait and ``on_choose(lr)``."""
        if lr is None:
            return
        self.chosen_lr = float(lr)
        if self.on_choose is not None:
            self.on_choose(float(lr))
        self._set_status(
            f"{self.status} — LR {lr:.1e} handed on",
            markup=f"{self.status_html.value}<br>LR {lr:.1e} handed on",
        )
