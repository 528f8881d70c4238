"""``ComparisonView``: a ``Comparison`` (models scored on the whole test split) as a table and a bar chart.

Each bar is a model's test accuracy; its whisker is the Wilson interval. The table adds what each costs
(parameters, inference time per image) and its gain over a reference model (the single best, by
default) with the paired interval, which is what says whether a step bought anything.
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..squeeze.compare import Comparison

__all__ = ["ComparisonView"]

#: bar colours by what the model is (matched on the row's name, then its kind)
_COLOURS = (
    ("distilled", "#ff7f0e"),
    ("ema", "#2ca02c"),
    ("swa", "#17becf"),
    ("snapshot", "#9467bd"),
    ("single best", "#444444"),
)


def _colour(name: str, kind: str) -> str:
    low = name.lower()
    for key, colour in _COLOURS:
        if key in low:
            return colour
    return "#1f77b4" if kind == "ensemble" else "#aaaaaa"


class ComparisonView(widgets.VBox):
    """Bars of test accuracy with interval whiskers, and the table of accuracy, gain, loss and costs.

    ``show(comparison, reference=name)`` draws a ``Comparison``; the gains are over ``reference`` (default:
    its best single model).
    """

    def __init__(self, comparison: Comparison | None = None, **kwargs) -> None:
        self.comparison: Comparison | None = None
        self.reference: str | None = None
        xs, ys = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=1.0)
        self.y_scale = ys
        self.bars = bq.Bars(
            x=np.zeros(0, dtype=str),
            y=np.zeros(0),
            scales={"x": xs, "y": ys},
            padding=0.3,
            tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".2%"], labels=["model", "test acc"]),
        )
        # one vertical segment per model, from the interval's low to its high end: shape (models, 2)
        self.whiskers = bq.Lines(
            x=np.zeros((0, 2), dtype=str),
            y=np.zeros((0, 2)),
            scales={"x": xs, "y": ys},
            colors=["black"],
            stroke_width=3,
        )
        self.figure = bq.Figure(
            marks=[self.bars, self.whiskers],
            title="test accuracy (whiskers: 95% interval)",
            axes=[
                bq.Axis(scale=xs, label="model"),
                bq.Axis(scale=ys, side="left", tick_format=".0%", label="test accuracy"),
            ],
            layout=widgets.Layout(width="640px", height="360px"),
            fig_margin={"top": 50, "bottom": 60, "left": 70, "right": 20},
            animation_duration=0,
        )
        self.figure.add_class("wb-comparison-chart")
        self.table = widgets.HTML("")
        super().__init__(children=[self.figure, self.table], **kwargs)
        self.add_class("wb-comparison-view")
        if comparison is not None:
            self.show(comparison)

    def show(self, comparison: Comparison, reference: str | None = None) -> None:
        """Draw ``comparison``; gains are over ``reference`` (default: the best single model, if any)."""
        if not isinstance(comparison, Comparison):
            raise TypeError(
                "The 'comparison' parameter of ComparisonView.show must be a Comparison (from "
                f"workbench.squeeze.compare). Got {type(comparison).__name__} instead."
            )
        singles = [r.name for r in comparison.rows if r.kind == "single"]
        if reference is None and singles:
            reference = comparison.best()
        self.comparison, self.reference = comparison, reference
        rows = comparison.rows
        names = np.array([r.name for r in rows], dtype=str)
        acc = np.array([r.accuracy for r in rows], dtype=float)
        low = np.array([r.low for r in rows], dtype=float)
        high = np.array([r.high for r in rows], dtype=float)
        floor = max(0.0, math.floor((low.min() - 0.03) * 20) / 20) if len(rows) else 0.0  # a 5 % step
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = floor, 1.0
        with self.bars.hold_sync():
            self.bars.x, self.bars.y, self.bars.base = names, acc, floor
            self.bars.colors = [_colour(r.name, r.kind) for r in rows] or ["#aaaaaa"]
        with self.whiskers.hold_sync():
            self.whiskers.x = np.stack([names, names], axis=1) if len(rows) else np.zeros((0, 2), dtype=str)
            self.whiskers.y = np.stack([low, high], axis=1) if len(rows) else np.zeros((0, 2))
        self.table.value = self._table(comparison, reference)

    @staticmethod
    def _table(comparison: Comparison, reference: str | None) -> str:
        head = (
            "<tr><th>model</th><th>kind</th><th>test accuracy</th><th>95% interval</th>"
            f"<th>gain over {html.escape(reference or '-')}</th><th>loss</th><th>parameters</th>"
            "<th>µs / image</th></tr>"
        )
        body = []
        for r in comparison.rows:
            gain = ""
            if reference is not None and r.name != reference:
                g = comparison.gain(r.name, reference)
                mark = " ✔" if g.low > 0 else ""
                gain = f"{g.diff * 100:+.2f} pp [{g.low * 100:+.2f}, {g.high * 100:+.2f}]{mark}"
            body.append(
                f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.accuracy:.2%}</td>"
                f"<td>[{r.low:.2%}, {r.high:.2%}]</td><td>{gain}</td><td>{r.loss:.4f}</td>"
                f"<td>{r.parameters:,}</td><td>{r.us_per_image:.1f}</td></tr>"
            )
        n = comparison.rows[0].n if comparison.rows else 0
        caption = f"<caption>every model on the same {n:,} test samples</caption>"
        return f"<table class='wb-comparison'>{caption}{head}{''.join(body)}</table>"
