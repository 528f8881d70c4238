"""``ProbesView``: what ``Probes`` recorded, drawn per layer — the "training" tab of the lab.

- activation and gradient histograms over time as heat strips, one strip per layer (x = step, y = bin;
  fastai's "colorful dimension"): each column is one sample's fixed-bin counts, ``log1p`` and scaled to
  its own maximum so the shape of the distribution shows at every step;
- the update/weight ratio ‖ΔW‖/‖W‖ per weight tensor on a log axis, the healthy band around 1e-3 shaded;
- the gradient norm per weight tensor (log axis);
- the first layer's weights as an image grid.

A display: it computes nothing about the run, it reads the probes' arrays, averages long runs down to
``max_columns`` columns in numpy and sends the counts (not pixels) to bqplot inside ``hold_sync()``.
Redraws are throttled by wall clock and by a share of the training thread's time (``Throttle``), and
skipped while a host hides the view (``show_live(False)``).
"""

from __future__ import annotations

import io
import math
import threading
from contextlib import ExitStack

import bqplot as bq
import ipywidgets as widgets
import numpy as np
from PIL import Image

from ..background import Throttle
from ..diagnose.probes import ACT_BINS, GRAD_BINS, Probes
from ..train.callbacks import Callback, FitState
from ..train.history import History
from .heat_strips import HeatStrips
from .plotting import log_limits, log_ticks

__all__ = ["RATIO_BAND", "ProbesView"]

#: The shaded band of the ratio plot: an order of magnitude either side of the ~1e-3 rule of thumb.
RATIO_BAND = (1e-4, 1e-2)
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _weights(names: list[str]) -> list[str]:
    """The weight tensors (biases are small and follow their weights), or every name if none is left."""
    kept = [n for n in names if not n.endswith("bias")]
    return kept or names


def _mosaic(images: np.ndarray, most: int = 64, tile: int = 28) -> bytes:
    """``(N, C, H, W)`` images in [0, 1] as one PNG grid of at most ``most`` tiles ``tile`` pixels high."""
    imgs = images[:most]
    n, c, h, w = imgs.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    scale = max(1, tile // max(h, w))
    th, tw = h * scale, w * scale
    grid = np.ones((rows * (th + 1) + 1, cols * (tw + 1) + 1, 3), dtype=np.float64)
    for i, im in enumerate(imgs):
        px = np.repeat(np.repeat(im.transpose(1, 2, 0), scale, axis=0), scale, axis=1)  # (th, tw, C)
        r, k = divmod(i, cols)
        grid[1 + r * (th + 1) : 1 + r * (th + 1) + th, 1 + k * (tw + 1) : 1 + k * (tw + 1) + tw] = (
            px if c == 3 else px[..., :1]
        )
    buf = io.BytesIO()
    Image.fromarray((grid * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class ProbesView(widgets.VBox):
    """Heat strips of activations and gradients per layer, update/weight ratios, gradient norms, first-layer
    weights.

    Parameters
    ----------
    history : History, optional
        The run the probes watch (the status line reads its step and epoch).
    probes : Probes, optional
        Its probes; a finished run is drawn at once, a running one by ``update()`` or ``callback()``.
    refresh_hz : float
        Most redraws per second while training.
    max_strips : int
        Most heat strips per kind (the first layers in model order).
    max_columns : int
        Longer runs are averaged down to this many columns per strip before they are sent.
    """

    def __init__(
        self,
        history: History | None = None,
        probes: Probes | None = None,
        *,
        refresh_hz: float = 2.0,
        max_strips: int = 6,
        max_columns: int = 200,
        **kwargs,
    ) -> None:
        self.refresh_hz, self.max_strips, self.max_columns = refresh_hz, max_strips, max_columns
        self.history, self.probes = history, probes
        self.drawn_version = -1
        self.live = True  # a host that hides the view turns this off (see show_live)
        self._draw_lock = threading.Lock()
        self._x = bq.LinearScale()  # steps, shared by every figure so the strips and lines line up
        self._colors = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        half = {"width": "50%", "min_width": "320px"}
        self.activation_box = HeatStrips("activation", self._x, self._colors, layout=widgets.Layout(**half))
        self.gradient_box = HeatStrips("gradient", self._x, self._colors, layout=widgets.Layout(**half))
        self.ratio_lines: dict[str, bq.Lines] = {}
        self.norm_lines: dict[str, bq.Lines] = {}
        self._ratio_y, self._norm_y = bq.LogScale(), bq.LogScale()
        lo, hi = RATIO_BAND
        self.ratio_band = bq.Lines(
            x=np.zeros(0),
            y=np.zeros((2, 0)),
            scales={"x": self._x, "y": self._ratio_y},
            fill="between",
            colors=["#c7e9c0", "#c7e9c0"],
            fill_colors=["#c7e9c0"],
            fill_opacities=[0.5],
            stroke_width=0.5,
        )
        self.ratio_target = bq.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self._x, "y": self._ratio_y},
            colors=["#2ca02c"],
            line_style="dashed",
            labels=["1e-3"],
            stroke_width=1.5,
        )
        self._ratio_axis = bq.Axis(scale=self._ratio_y, side="left", label="‖ΔW‖/‖W‖", tick_format=".0e")
        self._norm_axis = bq.Axis(scale=self._norm_y, side="left", label="‖grad‖", tick_format=".0e")
        layout = widgets.Layout(width="50%", min_width="320px", height="280px")
        margin = {"top": 40, "bottom": 40, "left": 65, "right": 10}
        self.ratio_figure = bq.Figure(
            marks=[self.ratio_band, self.ratio_target],
            axes=[bq.Axis(scale=self._x, label="step"), self._ratio_axis],
            title=f"update/weight ratio per step (band {lo:.0e} – {hi:.0e})",
            layout=layout,
            fig_margin=margin,
            legend_location="top-right",
            animation_duration=0,
        )
        self.norm_figure = bq.Figure(
            marks=[],
            axes=[bq.Axis(scale=self._x, label="step"), self._norm_axis],
            title="gradient norm per layer",
            layout=layout,
            fig_margin=margin,
            legend_location="top-right",
            animation_duration=0,
        )
        self.weights_image = widgets.Image(format="png", layout=widgets.Layout(max_width="340px"))
        self.weights_note = widgets.HTML("")
        self.status_html = widgets.HTML("")
        self.status_html.add_class("wb-probes-status")
        act, grad = ACT_BINS, GRAD_BINS
        super().__init__(
            children=[
                self.status_html,
                widgets.HBox(
                    [
                        widgets.VBox(
                            [widgets.HTML(f"<b>activations</b> (value, {act[1]:g} … {act[2]:g})")],
                            layout=widgets.Layout(width="50%"),
                        ),
                        widgets.VBox(
                            [widgets.HTML(f"<b>gradients</b> (log10 |g|, {grad[1]:g} … {grad[2]:g})")],
                            layout=widgets.Layout(width="50%"),
                        ),
                    ]
                ),
                widgets.HBox([self.activation_box, self.gradient_box]),
                widgets.HBox([self.ratio_figure, self.norm_figure]),
                widgets.HTML("<b>first-layer weights</b>"),
                self.weights_note,
                self.weights_image,
            ],
            **kwargs,
        )
        self.add_class("wb-probes-view")
        if probes is not None:
            self.update()

    @property
    def activation_strips(self) -> dict[str, bq.HeatMap]:
        """Layer -> its activation heat map."""
        return self.activation_box.strips

    @property
    def gradient_strips(self) -> dict[str, bq.HeatMap]:
        """Weight tensor -> its gradient heat map."""
        return self.gradient_box.strips

    # -- following a run -------------------------------------------------------------------------------
    def follow(self, history: History | None, probes: Probes | None) -> None:
        """Draw another run (the lab calls it at each Run): what was drawn is cleared."""
        with self._draw_lock:
            self.history, self.probes = history, probes
            self.drawn_version = -1
            self._clear()
        if probes is not None and probes.samples:
            self.update()

    def show_live(self, live: bool) -> None:
        """Keep redrawing while training (and catch up now), or stop while a host hides the view."""
        self.live = bool(live)
        if self.live:
            self.update()

    def _clear(self) -> None:
        """Empty what was drawn; the strips and lines stay for the next run (same model: same layers)."""
        self.activation_box.clear()
        self.gradient_box.clear()
        for line in (*self.ratio_lines.values(), *self.norm_lines.values()):
            with line.hold_sync():
                line.x, line.y = np.zeros(0), np.zeros(0)
        self.weights_image.value = b""
        self.weights_note.value = ""
        self.status_html.value = ""

    # -- drawing -------------------------------------------------------------------------------------------
    def update(self, force: bool = False) -> bool:
        """Draw what the probes hold now; False when nothing changed (or nothing to draw, or not live)."""
        probes = self.probes
        if probes is None or (not self.live and not force):
            return False
        with self._draw_lock:
            if probes.version == self.drawn_version and not force:
                return False
            return self._draw(probes)

    def _draw(self, probes: Probes) -> bool:
        version, most = probes.version, self.max_columns
        if not probes.samples:
            return False
        # the x-axis first: a heat map drawn against the old, shorter axis would be a canvas thousands of
        # times too wide (the browser paints nothing), and bqplot does not repaint it when the axis moves
        lo = float(probes.samples[0].step)
        hi = max(float(probes.samples[-1].step), lo + 1.0)
        with self._x.hold_sync():
            self._x.min, self._x.max = lo, hi
        lo_band, hi_band = RATIO_BAND
        with self.ratio_band.hold_sync():
            self.ratio_band.x = np.array([lo, hi])
            self.ratio_band.y = np.array([[lo_band, lo_band], [hi_band, hi_band]])
        with self.ratio_target.hold_sync():
            self.ratio_target.x, self.ratio_target.y = np.array([lo, hi]), np.array([1e-3, 1e-3])
        self.activation_box.draw(probes, probes.layers("mean")[: self.max_strips], most)
        self.gradient_box.draw(probes, _weights(probes.layers("grad_norm"))[: self.max_strips], most)
        ratios = self._lines(probes, "update_ratio", self.ratio_lines, self._ratio_y, self.ratio_figure)
        norms = self._lines(probes, "grad_norm", self.norm_lines, self._norm_y, self.norm_figure)
        for values, scale, axis in (
            (np.concatenate([ratios, list(RATIO_BAND)]), self._ratio_y, self._ratio_axis),
            (norms, self._norm_y, self._norm_axis),
        ):
            limits = log_limits(values)
            if limits is not None:
                with scale.hold_sync():
                    scale.min, scale.max = limits
                axis.tick_values = log_ticks(*limits, max_ticks=6)
        self._draw_weights(probes)
        last = probes.samples[-1]
        epoch = f", epoch {last.epoch}" if last.epoch else ""
        h = self.history
        run = f" — the run: {h.steps} steps, {h.status}" if h is not None else ""
        self.status_html.value = (
            f"<small>{len(probes.samples)} samples (every {probes.every} steps, at most "
            f"{probes.max_hz:g}/s); last at step {last.step}{epoch}{run}</small>"
        )
        self.drawn_version = version
        return True

    def _lines(
        self, probes: Probes, quantity: str, lines: dict[str, bq.Lines], y: bq.LogScale, fig: bq.Figure
    ) -> np.ndarray:
        """One line per weight tensor; returns every value drawn (for the axis limits)."""
        layers = _weights(probes.layers(quantity))
        if list(lines) != layers:
            for line in lines.values():
                line.close()
            lines.clear()
            for i, name in enumerate(layers):
                lines[name] = bq.Lines(
                    x=np.zeros(0),
                    y=np.zeros(0),
                    scales={"x": self._x, "y": y},
                    colors=[_COLORS[i % len(_COLORS)]],
                    labels=[name],
                    display_legend=True,
                    stroke_width=1.5,
                )
            fixed = [self.ratio_band, self.ratio_target] if fig is self.ratio_figure else []
            fig.marks = [*fixed, *lines.values()]
        drawn = []
        with ExitStack() as stack:
            for name, line in lines.items():
                steps, values = probes.series(name, quantity)
                keep = np.isfinite(values) & (values > 0)  # a log axis: 0 (no update yet) is not drawn
                stack.enter_context(line.hold_sync())
                line.x, line.y = steps[keep].astype(np.float64), values[keep]
                drawn.append(values[keep])
        return np.concatenate(drawn) if drawn else np.zeros(0)

    def _draw_weights(self, probes: Probes) -> None:
        images = probes.first_layer_images()
        if images is None:
            self.weights_note.value = (
                "<small>The first layer is not a conv or a linear layer on images: no weight images.</small>"
            )
            return
        self.weights_note.value = (
            f"<small>{min(len(images), 64)} of {len(images)} units, each scaled to its own range</small>"
        )
        self.weights_image.value = _mosaic(images)

    def callback(self, budget: float | None = None) -> Callback:
        """A training callback that redraws at most ``refresh_hz`` times a second, and once at the end.

        ``budget``: most fraction of the training thread's wall time the redraws may take (see ``Throttle``).
        """
        return _RedrawProbes(self, budget)


class _RedrawProbes(Callback):
    def __init__(self, view: ProbesView, budget: float | None) -> None:
        self.view = view
        self.throttle = Throttle(view.refresh_hz, budget)

    def on_step_end(self, state: FitState) -> None:
        if self.view.live:  # hidden: not even the throttle's clock is read
            self.throttle.call(self.view.update)

    def on_fit_end(self, state: FitState) -> None:
        self.view.update()
