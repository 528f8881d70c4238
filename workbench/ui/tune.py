"""Views for step 4 of the recipe: the LR range test drawn live, and the search as it runs."""

from __future__ import annotations

import html
import math
import threading

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets
from torch import nn

from .._validation import check_choice, check_int
from ..train.runs import DEFAULT_STORE, RunStore
from ..tune.lr_range import LRRangeResult, lr_range_test
from ..tune.searching import ModelSpec, SearchResult, SearchSpace, TrialOutcome, ranked, refine, search
from .runner import BackgroundRun, Throttle

__all__ = ["LRRangeView", "SearchView", "epoch_ticks", "log_limits"]

#: Padding of the scatter's log scales, as a fraction of the data's span in decades (half a decade for one point):
#: a marker is ~10 px wide, about 3% of the plot, so points at the edge of the data sit wholly inside the frame.
LOG_PAD = 0.1


def log_limits(values: np.ndarray, pad: float = LOG_PAD) -> tuple[float, float] | None:
    """(min, max) of a log scale that shows every value with ``pad`` of the span (in decades) either side."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return None
    lo, hi = math.log10(v.min()), math.log10(v.max())
    margin = pad * (hi - lo) if hi > lo else 0.5
    return 10 ** (lo - margin), 10 ** (hi + margin)


def epoch_ticks(last: int, most: int = 10) -> np.ndarray:
    """Whole-epoch ticks 1 .. ``last``, every k-th epoch so that there are at most ``most``."""
    step = max(1, math.ceil(last / most))
    return np.arange(1, max(1, last) + 1, step, dtype=float)


class LRRangeView(widgets.VBox):
    """Run the LR range test with its curve drawn as it goes; cancel; pick a suggestion and hand it on.

    ``lab`` (an ``OverfitLab``) or ``on_choose(lr)`` receives the chosen LR; it is also the
    ``chosen_lr`` trait.
    """

    chosen_lr = traitlets.Float(None, allow_none=True)
    running = traitlets.Bool(False)

    def __init__(self, model: nn.Module, data, *, lab=None, on_choose=None, background: bool = True, **test_kwargs) -> None:
        self.model, self.data, self.lab, self.on_choose = model, data, lab, on_choose
        self.background, self.test_kwargs = background, test_kwargs
        self.result: LRRangeResult | None = None
        self.run: BackgroundRun | None = None
        self._points: list[tuple[float, float, float]] = []
        self._lock = threading.Lock()
        x, y = bq.LogScale(), bq.LinearScale()
        self.raw_line = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=["#9ecae1"],
                                 labels=["loss"], display_legend=True, stroke_width=1)
        self.smooth_line = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=["#08519c"],
                                    labels=["smoothed"], display_legend=True, stroke_width=2.5)
        self.marks_line = bq.Lines(x=np.zeros((0, 2)), y=np.zeros((0, 2)), scales={"x": x, "y": y},
                                   colors=["#2ca02c", "#ff7f0e", "#9467bd"], line_style="dashed", stroke_width=1.5)
        self.figure = bq.Figure(
            marks=[self.raw_line, self.smooth_line, self.marks_line], title="LR range test",
            axes=[bq.Axis(scale=x, label="learning rate (log)", tick_format=".0e"), bq.Axis(scale=y, side="left", label="loss")],
            layout=widgets.Layout(width="720px", height="360px"), animation_duration=0,
            fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 20}, legend_location="top-left")
        self.figure.add_class("wb-lr-range-figure")
        self.start_button = widgets.Button(description="Run range test", button_style="primary", icon="play")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.start_button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.status = widgets.HTML("")
        self.status.add_class("wb-status")
        self.choice = widgets.Dropdown(description="suggestion", options=[("run the test first", None)],
                                       layout=widgets.Layout(width="360px"))
        self.use_button = widgets.Button(description="use this LR", icon="check", disabled=True)
        self.use_button.on_click(lambda _: self.use(self.choice.value))
        super().__init__(children=[widgets.HBox([self.start_button, self.cancel_button]), self.status, self.figure,
                                   widgets.HBox([self.choice, self.use_button])])
        self.add_class("wb-lr-range")

    def start(self) -> BackgroundRun | None:
        if self.running:
            return None
        self._points = []
        throttle = Throttle(8.0)

        def on_point(lr, loss, smooth):
            with self._lock:
                self._points.append((lr, loss, smooth))
            if throttle.ready():
                self._draw()

        def target(stop_event):
            return lr_range_test(self.model, self.data, on_point=on_point, stop_event=stop_event, **self.test_kwargs)

        self.running = True
        self.start_button.disabled, self.cancel_button.disabled, self.use_button.disabled = True, False, True
        self.status.value = "sweeping the learning rate…"
        self.run = BackgroundRun(target, background=self.background, on_done=self._done, name="lr-range-test")
        return self.run.start()

    def cancel(self) -> None:
        if self.run is not None and self.running:
            self.run.stop()

    def wait(self, timeout: float | None = None) -> LRRangeResult | None:
        if self.run is not None:
            self.run.join(timeout)
        return self.result

    def _draw(self) -> None:
        with self._lock:
            pts = np.array(self._points, dtype=float) if self._points else np.zeros((0, 3))
        finite = np.isfinite(pts).all(axis=1) if len(pts) else np.zeros(0, bool)
        pts = pts[finite]
        with self.raw_line.hold_sync(), self.smooth_line.hold_sync():
            self.raw_line.x, self.raw_line.y = pts[:, 0], pts[:, 1]
            self.smooth_line.x, self.smooth_line.y = pts[:, 0], pts[:, 2]

    def _done(self, run: BackgroundRun) -> None:
        self._draw()
        self.running = False
        self.start_button.disabled, self.cancel_button.disabled = False, True
        if run.error is not None:
            self.status.value = f"<span style='color:#b00020'>failed: {html.escape(str(run.error))}</span>"
            return
        r: LRRangeResult = run.result
        self.result = r
        names = list(r.suggestions)
        lo, hi = float(np.nanmin(r.losses)), float(np.nanmax(r.smoothed[np.isfinite(r.smoothed)]))
        with self.marks_line.hold_sync():
            self.marks_line.x = np.array([[r.suggestions[n]] * 2 for n in names]).reshape(-1, 2)
            self.marks_line.y = np.array([[lo, hi]] * len(names)).reshape(-1, 2)
            self.marks_line.labels = names
            self.marks_line.display_legend = bool(names)
        if not r.found:  # nothing to hand on: say what to check instead of offering a guess
            self.choice.options = [("no good LR found", None)]
            self.choice.value = None
            self.use_button.disabled = True
            self.status.value = (f"{html.escape(r.stopped)}. <b class='wb-no-lr' style='color:#b00020'>No good LR found."
                                 f"</b> {html.escape(r.reason)}")
            return
        self.choice.options = [(f"{n}: {v:.1e}" + (" (recommended)" if n == r.recommended else ""), v)
                               for n, v in r.suggestions.items()]
        self.choice.value = r.lr
        self.use_button.disabled = False
        self.status.value = f"{html.escape(r.stopped)}. <b>recommended {r.lr:.1e}</b> ({html.escape(r.reason)})"

    def use(self, lr: float | None) -> None:
        """Hand ``lr`` to the lab / callback."""
        if lr is None:
            return
        self.chosen_lr = float(lr)
        if self.lab is not None:
            self.lab.lr.value = float(lr)
        if self.on_choose is not None:
            self.on_choose(float(lr))
        self.status.value += f"<br>LR {lr:.1e} handed on"


class SearchView(widgets.VBox):
    """A search as it runs: LR x weight decay coloured by validation accuracy, best curves, trial table.

    Controls: ``mode`` (random or grid, for the search and the refine), ``refine_trials`` and
    ``refine_epochs`` (how many trials the refine runs and how long each trains; default 6 and
    max(10, 5 x epochs)). A grid runs every grid point, so its trial count rounds up to whole rows.
    """

    running = traitlets.Bool(False)
    done = traitlets.Int(0)

    def __init__(self, data, *, model: ModelSpec = ModelSpec(), space: SearchSpace = SearchSpace(), n_trials: int = 8,
                 epochs: int = 2, optimizer: str = "adam", store: RunStore | str = DEFAULT_STORE, study_name: str = "coarse",
                 workers: int = 2, client=None, mode: str = "random", refine_trials: int = 6, refine_epochs: int | None = None,
                 background: bool = True, **kwargs) -> None:
        check_choice(mode, "mode", "SearchView", ("random", "grid"))
        check_int(refine_trials, "refine_trials", "SearchView", low=1)
        refine_epochs = max(10, 5 * epochs) if refine_epochs is None else check_int(refine_epochs, "refine_epochs", "SearchView", low=1)
        self.data = data
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.options = dict(model=model, space=space, n_trials=n_trials, epochs=epochs, optimizer=optimizer,
                            store=self.store, study_name=study_name, workers=workers, client=client, mode=mode)
        self.background = background
        self.result: SearchResult | None = None
        self.run: BackgroundRun | None = None
        self.outcomes: list[TrialOutcome] = []
        self._lock = threading.Lock()
        xs, ys = bq.LogScale(), bq.LogScale()
        cs = bq.ColorScale(scheme="viridis", min=0, max=1)
        self.wd_floor = 1e-6  # where weight decay 0 is drawn on the log axis
        self.scatter = bq.Scatter(x=np.zeros(0), y=np.zeros(0), color=np.zeros(0), scales={"x": xs, "y": ys, "color": cs},
                                  default_size=90, stroke="black", tooltip=bq.Tooltip(fields=["x", "y", "color"],
                                                                                       formats=[".1e", ".0e", ".1%"],
                                                                                       labels=["lr", "wd", "val acc"]))
        self.failed = bq.Scatter(x=np.zeros(0), y=np.zeros(0), scales={"x": xs, "y": ys}, marker="cross", colors=["#b00020"],
                                 default_size=90)
        self.scatter_figure = bq.Figure(
            marks=[self.scatter, self.failed], title="LR x weight decay (colour: val accuracy; red cross: failed)",
            axes=[bq.Axis(scale=xs, label="learning rate", tick_format=".0e"),
                  bq.Axis(scale=ys, side="left", label="weight decay (0 drawn at 1e-6)", tick_format=".0e"),
                  bq.ColorAxis(scale=cs, side="right", label="val acc", tick_format=".0%",
                               tick_values=np.array([0.0, 0.25, 0.5, 0.75, 1.0]))],
            layout=widgets.Layout(width="520px", height="380px"), fig_margin={"top": 50, "bottom": 50, "left": 70, "right": 80},
            animation_duration=0)
        self.scatter_figure.add_class("wb-search-scatter")
        ex, ey = bq.LinearScale(), bq.LinearScale(min=0, max=1)
        self.curve_scales = (ex, ey)
        self.epoch_axis = bq.Axis(scale=ex, label="epoch", tick_format="d", tick_values=epoch_ticks(epochs))
        self.curves_figure = bq.Figure(
            marks=[], title="best trials: val accuracy per epoch",
            axes=[self.epoch_axis, bq.Axis(scale=ey, side="left", tick_format=".0%")],
            layout=widgets.Layout(width="440px", height="380px"), fig_margin={"top": 50, "bottom": 50, "left": 60, "right": 20},
            animation_duration=0, legend_location="bottom")
        self.progress = widgets.IntProgress(value=0, min=0, max=n_trials, description="trials")
        self.status = widgets.HTML("")
        self.status.add_class("wb-status")
        self.table = widgets.HTML("")
        self.run_button = widgets.Button(description="Run search", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.refine_button = widgets.Button(description="Refine top 3", icon="search-plus", disabled=True)
        self.mode = widgets.Dropdown(options=["random", "grid"], value=mode, description="mode",
                                     layout=widgets.Layout(width="170px"))
        self.refine_trials = widgets.BoundedIntText(value=refine_trials, min=1, max=1000, description="refine trials",
                                                    layout=widgets.Layout(width="170px"))
        self.refine_epochs = widgets.BoundedIntText(value=refine_epochs, min=1, max=1000, description="refine epochs",
                                                    layout=widgets.Layout(width="170px"))
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.refine_button.on_click(lambda _: self.start(refine_from=self.result))
        super().__init__(children=[widgets.HBox([self.run_button, self.stop_button, self.refine_button, self.progress]),
                                   widgets.HBox([self.mode, self.refine_trials, self.refine_epochs]), self.status,
                                   widgets.HBox([self.scatter_figure, self.curves_figure]), self.table], **kwargs)
        self.add_class("wb-search-view")

    def start(self, refine_from: SearchResult | None = None) -> BackgroundRun | None:
        if self.running:
            return None
        with self._lock:
            self.outcomes = []
        self.done = 0
        opts = {**self.options, "mode": self.mode.value}
        if refine_from is not None:
            n, epochs = self.refine_trials.value, self.refine_epochs.value
            self.progress.max = n
            stage = "refine"

            def target(stop_event):
                return refine(refine_from, self.data, n_trials=n, epochs=epochs, model=opts["model"], mode=opts["mode"],
                              optimizer=opts["optimizer"], store=self.store, workers=opts["workers"], client=opts["client"],
                              on_trial=self._on_trial, stop_event=stop_event)
        else:
            grid = opts["space"].grid(opts["n_trials"]) if opts["mode"] == "grid" else None  # a grid runs every point
            self.progress.max = len(grid["lr"]) * len(grid["weight_decay"]) if grid else opts["n_trials"]
            stage = "coarse"

            def target(stop_event):
                return search(self.data, on_trial=self._on_trial, stop_event=stop_event, **opts)

        self.running = True
        self.run_button.disabled, self.stop_button.disabled, self.refine_button.disabled = True, False, True
        self.status.value = f"{stage} search running…"
        self.run = BackgroundRun(target, background=self.background, on_done=self._done, name=f"search-{stage}")
        return self.run.start()

    def stop(self) -> None:
        if self.run is not None and self.running:
            self.run.stop()
            self.status.value = "stopping: no new trials; the running ones finish"

    def center_on(self, lr: float, decades: float = 1.5) -> None:
        """Search LRs within ``decades`` of ``lr`` (e.g. the range test's choice: ``LRRangeView(on_choose=view.center_on)``)."""
        if not lr > 0:
            raise ValueError(f"center_on: lr must be > 0. Got {lr!r} instead.")
        space = self.options["space"]
        lo, hi = lr / 10**decades, min(10.0, lr * 10**decades)
        self.options["space"] = SearchSpace(lr=(lo, hi), weight_decay=space.weight_decay, weight_decay_range=space.weight_decay_range)
        self.status.value = f"LR range set to {lo:.1e} .. {hi:.1e} around {lr:.1e}"

    def wait(self, timeout: float | None = None) -> SearchResult | None:
        if self.run is not None:
            self.run.join(timeout)
        return self.result

    def _on_trial(self, outcome: TrialOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)
        self.done += 1
        self.progress.max = max(self.progress.max, self.done)  # a refine grid rounds its trial count up to whole rows
        self.progress.value = self.done
        self._draw(self.outcomes)

    def _draw(self, outcomes: list[TrialOutcome]) -> None:
        ok = ranked(outcomes)
        bad = [o for o in outcomes if o.status != "complete"]

        def xy(items):
            return (np.array([o.params["lr"] for o in items], dtype=float),
                    np.array([max(o.params["weight_decay"], self.wd_floor) for o in items], dtype=float))

        (x_ok, y_ok), (x_bad, y_bad) = xy(ok), xy(bad)
        with self.scatter.hold_sync():
            self.scatter.x, self.scatter.y = x_ok, y_ok
            self.scatter.color = np.array([o.value for o in ok], dtype=float)
        with self.failed.hold_sync():
            self.failed.x, self.failed.y = x_bad, y_bad
        xs, ys = self.scatter.scales["x"], self.scatter.scales["y"]
        for scale, values in ((xs, np.concatenate([x_ok, x_bad])), (ys, np.concatenate([y_ok, y_bad]))):
            limits = log_limits(values)
            if limits is not None:
                with scale.hold_sync():
                    scale.min, scale.max = limits
        best = ok[:3]
        lines = []
        for rank, o in enumerate(best):
            if o.run_id is None:
                continue
            snap = self.store.load(o.run_id).history.snapshot()
            acc = snap.metrics.get("val_acc", np.zeros(0))
            lines.append(bq.Lines(x=snap.epoch.astype(float), y=acc, scales={"x": self.curve_scales[0], "y": self.curve_scales[1]},
                                  colors=[["#1a7f37", "#1f77b4", "#9467bd"][rank]], marker="circle", marker_size=20,
                                  labels=[f"#{o.number}: lr {o.params['lr']:.1e}, wd {o.params['weight_decay']:g}"],
                                  display_legend=True))
        last = max((int(m.x.max()) for m in lines if len(m.x)), default=0)
        if last:
            with self.curve_scales[0].hold_sync():
                self.curve_scales[0].min, self.curve_scales[0].max = 0.75, last + 0.25  # markers at 1 and last show whole
            self.epoch_axis.tick_values = epoch_ticks(last)
        self.curves_figure.marks = lines
        rows = "".join(
            f"<tr><td>{o.number}</td><td>{o.params['lr']:.2e}</td><td>{o.params['weight_decay']:g}</td>"
            f"<td>{'' if o.value is None else f'{o.value:.1%}'}</td><td>{o.status}</td>"
            f"<td>{html.escape((o.reason or '').splitlines()[0][:90]) if o.status != 'complete' else ''}</td></tr>"
            for o in sorted(outcomes, key=lambda o: -(o.value or -1))
        )
        self.table.value = ("<table class='wb-trials'><tr><th>trial</th><th>lr</th><th>wd</th><th>val acc</th><th>status</th>"
                            f"<th>reason</th></tr>{rows}</table>")

    def _done(self, run: BackgroundRun) -> None:
        self.running = False
        self.run_button.disabled, self.stop_button.disabled = False, True
        if run.error is not None:
            self.status.value = f"<span style='color:#b00020'>search failed: {html.escape(str(run.error))}</span>"
            return
        self.result = run.result
        self._draw(self.result.outcomes)
        best = self.result.best
        self.refine_button.disabled = best is None
        self.status.value = (f"{self.result.study_name}: {len(self.result.outcomes)} trials in {self.result.seconds:.1f} s; "
                             + (f"<b>best val acc {best.value:.1%}</b> at lr {best.params['lr']:.1e}, wd {best.params['weight_decay']:g}"
                                if best else "no trial completed"))
