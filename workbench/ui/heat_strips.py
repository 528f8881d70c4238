"""``HeatStrips``: fixed-bin histograms over time, one heat strip per layer (fastai's "colorful dimension").

x = step, y = bin: each column is one sample's counts, ``log1p`` and scaled to its own maximum so the shape
of the distribution shows at every step, whatever the layer's size. Long runs are averaged down to a
number of columns in numpy before they are sent; bqplot's ``HeatMap`` paints them on a canvas.
"""

from __future__ import annotations

import html
from contextlib import ExitStack

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..diagnose.probes import ACT_BINS, GRAD_BINS, Probes

__all__ = ["HeatStrips", "heat_columns"]

_MARGIN = {"top": 6, "bottom": 22, "left": 36, "right": 8}


def heat_columns(steps: np.ndarray, counts: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, color)``: at most ``most`` columns (consecutive samples averaged), each ``log1p`` and scaled to
    [0, 1]; ``color`` is ``(bins, columns)`` (rows are y, columns are x), as ``HeatMap`` takes it."""
    n = len(steps)
    if n > most:
        edges = np.linspace(0, n, most + 1).astype(np.int64)
        sizes = np.diff(edges)[:, None]
        steps = np.add.reduceat(steps.astype(np.float64), edges[:-1]) / sizes[:, 0]
        counts = np.add.reduceat(counts, edges[:-1], axis=0) / sizes
    c = np.log1p(np.asarray(counts, dtype=np.float64))  # (samples, bins)
    c /= np.maximum(c.max(axis=1, keepdims=True), 1e-12)
    if len(steps) == 1:  # one sample: a column one step wide (bqplot needs two to draw a heat map)
        steps, c = np.append(steps, steps[0] + 1), np.vstack([c, c])
    return steps.astype(np.float64), c.T


class HeatStrips(widgets.VBox):
    """The strips of one kind ("activation" or "gradient"), on a shared x scale and colour scale.

    ``strips`` maps each layer to its ``HeatMap``; ``draw`` makes them for the probes' layers (once per
    model: the same layers keep their strips from run to run) and fills them.
    """

    def __init__(self, kind: str, x_scale: bq.Scale, colors: bq.ColorScale, **kwargs) -> None:
        self.kind = kind
        self.bins = ACT_BINS if kind == "activation" else GRAD_BINS
        self._x, self._colors = x_scale, colors
        self.strips: dict[str, bq.HeatMap] = {}
        super().__init__([], **kwargs)

    def draw(self, probes: Probes, layers: list[str], most: int) -> None:
        """Draw ``layers``' histograms (at most ``most`` columns each). Set the x scale's range first."""
        if list(self.strips) != layers:  # another model: new strips, the old ones closed
            for row in self.children:
                _close(row)
            made = [self._strip(name, i == len(layers) - 1) for i, name in enumerate(layers)]
            self.strips = {name: heat for name, (heat, _) in zip(layers, made)}
            self.children = tuple(row for _, row in made)
        with ExitStack() as stack:
            for name, heat in self.strips.items():
                steps, _, counts = probes.histogram(name, self.kind)
                if not len(steps):
                    continue
                x, color = heat_columns(steps, counts, most)
                stack.enter_context(heat.hold_sync())
                heat.x, heat.color = x, color

    def clear(self) -> None:
        """Blank every strip (kept for the next run)."""
        for heat in self.strips.values():
            with heat.hold_sync():
                heat.x, heat.color = np.arange(2.0), np.zeros((self.bins[0], 2))

    def _strip(self, layer: str, last: bool) -> tuple[bq.HeatMap, widgets.HBox]:
        """One layer's heat strip, its name beside it (an axis label would run into the next strip's)."""
        bins, lo, hi = self.bins
        edges = np.linspace(lo, hi, bins + 1)
        y = bq.LinearScale(min=lo, max=hi)
        heat = bq.HeatMap(
            x=np.arange(2.0),
            y=(edges[:-1] + edges[1:]) / 2,
            color=np.zeros((bins, 2)),  # bqplot squeezes arrays: a heat map needs two columns at least
            scales={"x": self._x, "y": y, "color": self._colors},
        )
        fig = bq.Figure(
            marks=[heat],
            axes=[
                bq.Axis(scale=self._x, num_ticks=5, tick_format=".3~s", visible=last),
                bq.Axis(scale=y, side="left", num_ticks=3),
            ],
            layout=widgets.Layout(flex="1 1 auto", height="86px" if last else "70px"),
            fig_margin={**_MARGIN, "bottom": 22 if last else 4},
            padding_y=0.0,
            animation_duration=0,
        )
        name = widgets.HTML(
            f"<small title='{html.escape(layer)}'>{html.escape(layer)}</small>",
            layout=widgets.Layout(width="96px", min_width="96px", overflow="hidden"),
        )
        return heat, widgets.HBox([name, fig], layout=widgets.Layout(align_items="center", width="100%"))


def _close(row: widgets.Widget) -> None:
    """Close a strip's widgets (its name, figure, heat map, axes and y scale): the kernel forgets them."""
    name, fig = row.children
    for w in (*fig.marks, *fig.axes, fig.marks[0].scales["y"], fig, name, row):
        w.close()
