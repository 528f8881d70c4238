"""``SearchView``: a search as it runs — LR x weight decay coloured by val accuracy, best curves, trials."""

from __future__ import annotations

import html
import threading

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets

from .._validation import check_choice, check_int
from ..train.runs import DEFAULT_STORE, RunStore
from ..tune.searching import ModelSpec, SearchResult, SearchSpace, TrialOutcome, ranked, refine, search
from .base import RunView
from .plotting import epoch_ticks, log_limits
from .trial_lines import TrialLines

__all__ = ["SearchView"]


class SearchView(RunView):
    """A search as it runs: LR x weight decay coloured by validation accuracy, best curves, trial table.

    Controls: ``mode`` (random or grid, for the search and the refine), ``refine_trials`` and
    ``refine_epochs`` (how many trials the refine runs and how long each trains; default 6 and
    max(10, 5 x epochs)). A grid runs every grid point, so its trial count rounds up to whole rows.
    ``result=`` shows a finished ``SearchResult`` without running anything (the Display pattern).
    """

    done = traitlets.Int(0)
    stopping_text = "stopping: no new trials; the running ones finish"

    def __init__(
        self,
        data=None,
        *,
        model: ModelSpec = ModelSpec(),
        space: SearchSpace = SearchSpace(),
        n_trials: int = 8,
        epochs: int = 2,
        optimizer: str = "adam",
        store: RunStore | str | None = None,
        study_name: str = "coarse",
        workers: int = 2,
        client=None,
        mode: str = "random",
        refine_trials: int = 6,
        refine_epochs: int | None = None,
        result: SearchResult | None = None,
        background: bool = True,
        **kwargs,
    ) -> None:
        check_choice(mode, "mode", "SearchView", ("random", "grid"))
        check_int(refine_trials, "refine_trials", "SearchView", low=1)
        refine_epochs = (
            max(10, 5 * epochs)
            if refine_epochs is None
            else check_int(refine_epochs, "refine_epochs", "SearchView", low=1)
        )
        self.data = data
        if store is None:  # a result's own run store (its trials' curves live there), else the default file
            store = (
                result.storage_url.removeprefix("sqlite:///")
                if isinstance(result, SearchResult)
                else DEFAULT_STORE
            )
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.options = {
            "model": model,
            "space": space,
            "n_trials": n_trials,
            "epochs": epochs,
            "optimizer": optimizer,
            "store": self.store,
            "study_name": study_name,
            "workers": workers,
            "client": client,
            "mode": mode,
        }
        if data is None and result is None:
            raise TypeError("SearchView needs data to search, or a finished result= to show.")
        if result is not None and not isinstance(result, SearchResult):
            raise TypeError(
                f"The 'result' parameter of SearchView must be a SearchResult. Got {type(result).__name__} "
                "instead."
            )
        self.result: SearchResult | None = None
        self._init_run_controls(background=background, run_label="Run search", name="search")
        self.run_button.button_style = "primary"
        self.outcomes: list[TrialOutcome] = []
        self._lock = threading.Lock()
        xs, ys = bq.LogScale(), bq.LogScale()
        cs = bq.ColorScale(scheme="viridis", min=0, max=1)
        self.wd_floor = 1e-6  # where weight decay 0 is drawn on the log axis
        self.scatter = bq.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            color=np.zeros(0),
            scales={"x": xs, "y": ys, "color": cs},
            default_size=90,
            stroke="black",
            tooltip=bq.Tooltip(
                fields=["x", "y", "color"], formats=[".1e", ".0e", ".1%"], labels=["lr", "wd", "val acc"]
            ),
        )
        self.failed = bq.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": xs, "y": ys},
            marker="cross",
            colors=["#b00020"],
            default_size=90,
        )
        self.scatter_figure = bq.Figure(
            marks=[self.scatter, self.failed],
            title="LR x weight decay (colour: val accuracy; red cross: failed)",
            axes=[
                bq.Axis(scale=xs, label="learning rate", tick_format=".0e"),
                bq.Axis(scale=ys, side="left", label="weight decay (0 drawn at 1e-6)", tick_format=".0e"),
                bq.ColorAxis(
                    scale=cs,
                    side="right",
                    label="val acc",
                    tick_format=".0%",
                    tick_values=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
                ),
            ],
            layout=widgets.Layout(width="520px", height="380px"),
            fig_margin={"top": 50, "bottom": 50, "left": 70, "right": 80},
            animation_duration=0,
        )
        self.scatter_figure.add_class("wb-search-scatter")
        ex, ey = bq.LinearScale(), bq.LinearScale(min=0, max=1)
        self.curve_scales = (ex, ey)
        self.epoch_axis = bq.Axis(scale=ex, label="epoch", tick_format="d", tick_values=epoch_ticks(epochs))
        self.curves_figure = bq.Figure(
            marks=[],
            title="best trials: val accuracy per epoch",
            axes=[self.epoch_axis, bq.Axis(scale=ey, side="left", tick_format=".0%")],
            layout=widgets.Layout(width="440px", height="380px"),
            fig_margin={"top": 50, "bottom": 50, "left": 60, "right": 20},
            animation_duration=0,
            legend_location="bottom",
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=n_trials, description="trials")
        self.table = widgets.HTML("")
        self.trial_lines = TrialLines()  # the selected trial's run line; .link(lab) adds "Open in lab"
        self.refine_button = widgets.Button(description="Refine top 3", icon="search-plus", disabled=True)
        self.mode = widgets.Dropdown(
            options=["random", "grid"], value=mode, description="mode", layout=widgets.Layout(width="170px")
        )
        self.refine_trials = widgets.BoundedIntText(
            value=refine_trials,
            min=1,
            max=1000,
            description="refine trials",
            layout=widgets.Layout(width="170px"),
        )
        self.refine_epochs = widgets.BoundedIntText(
            value=refine_epochs,
            min=1,
            max=1000,
            description="refine epochs",
            layout=widgets.Layout(width="170px"),
        )
        self.refine_button.on_click(lambda _: self.start(refine_from=self.result))
        super().__init__(
            children=[
                widgets.HBox([self.run_button, self.stop_button, self.refine_button, self.progress]),
                widgets.HBox([self.mode, self.refine_trials, self.refine_epochs]),
                self.status_html,
                widgets.HBox([self.scatter_figure, self.curves_figure]),
                self.table,
                self.trial_lines,
                self.error_html,
            ],
            **kwargs,
        )
        self.add_class("wb-search-view")
        if result is not None:
            self.show(result)

    def start(self, refine_from: SearchResult | None = None):
        """Run the coarse search, or (``refine_from=`` a result) the refine around its best trials."""
        return super().start(refine_from)

    def _prepare_run(self, refine_from: SearchResult | None = None):
        with self._lock:
            self.outcomes = []
        self.done = 0
        self.refine_button.disabled = True
        opts = {**self.options, "mode": self.mode.value}
        if refine_from is not None:
            n, epochs = self.refine_trials.value, self.refine_epochs.value
            self.progress.max = n
            self._set_status("refine search running…")
            return lambda stop_event: refine(
                refine_from,
                self.data,
                n_trials=n,
                epochs=epochs,
                model=opts["model"],
                mode=opts["mode"],
                optimizer=opts["optimizer"],
                store=self.store,
                workers=opts["workers"],
                client=opts["client"],
                on_trial=self._on_trial,
                stop_event=stop_event,
            )
        grid = (
            opts["space"].grid(opts["n_trials"]) if opts["mode"] == "grid" else None
        )  # a grid runs every point
        self.progress.max = len(grid["lr"]) * len(grid["weight_decay"]) if grid else opts["n_trials"]
        self._set_status("coarse search running…")
        return lambda stop_event: search(self.data, on_trial=self._on_trial, stop_event=stop_event, **opts)

    def center_on(self, lr: float, decades: float = 1.5) -> None:
        """Search LRs within ``decades`` of ``lr`` (e.g. the range test's choice:
        ``LRRangeView(on_choose=view.center_on)``)."""
        if not lr > 0:
            raise ValueError(f"center_on: lr must be > 0. Got {lr!r} instead.")
        space = self.options["space"]
        lo, hi = lr / 10**decades, min(10.0, lr * 10**decades)
        self.options["space"] = SearchSpace(
            lr=(lo, hi), weight_decay=space.weight_decay, weight_decay_range=space.weight_decay_range
        )
        self._set_status(f"LR range set to {lo:.1e} .. {hi:.1e} around {lr:.1e}")

    def _result(self) -> SearchResult | None:
        return self.result

    def _on_trial(self, outcome: TrialOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)
        self.done += 1
        self.progress.max = max(
            self.progress.max, self.done
        )  # a refine grid rounds its trial count up to whole rows
        self.progress.value = self.done
        self._draw(self.outcomes)

    def _draw(self, outcomes: list[TrialOutcome]) -> None:
        ok = ranked(outcomes)
        bad = [o for o in outcomes if o.status != "complete"]

        def xy(items):
            return (
                np.array([o.params["lr"] for o in items], dtype=float),
                np.array([max(o.params["weight_decay"], self.wd_floor) for o in items], dtype=float),
            )

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
            lines.append(
                bq.Lines(
                    x=snap.epoch.astype(float),
                    y=acc,
                    scales={"x": self.curve_scales[0], "y": self.curve_scales[1]},
                    colors=[["#1a7f37", "#1f77b4", "#9467bd"][rank]],
                    marker="circle",
                    marker_size=20,
                    labels=[f"#{o.number}: lr {o.params['lr']:.1e}, wd {o.params['weight_decay']:g}"],
                    display_legend=True,
                )
            )
        last = max((int(m.x.max()) for m in lines if len(m.x)), default=0)
        if last:
            with self.curve_scales[0].hold_sync():
                self.curve_scales[0].min, self.curve_scales[0].max = (
                    0.75,
                    last + 0.25,
                )  # markers at 1 and last show whole
            self.epoch_axis.tick_values = epoch_ticks(last)
        self.curves_figure.marks = lines
        rows = "".join(
            f"<tr><td>{o.number}</td><td>{o.params['lr']:.2e}</td><td>{o.params['weight_decay']:g}</td>"
            f"<td>{'' if o.value is None else f'{o.value:.1%}'}</td><td>{o.status}</td>"
            f"<td>{html.escape((o.reason or '').splitlines()[0][:90]) if o.status != 'complete' else ''}"
            "</td></tr>"
            for o in sorted(outcomes, key=lambda o: -(o.value or -1))
        )
        self.table.value = (
            "<table class='wb-trials'><tr><th>trial</th><th>lr</th><th>wd</th><th>val acc</th><th>status</th>"
            f"<th>reason</th></tr>{rows}</table>"
        )
        self.trial_lines.show(outcomes)

    def _on_finished(self, result: SearchResult) -> None:
        self.show(result)

    def show(self, result: SearchResult) -> None:
        """Draw a finished search: every trial, the best curves, the table, and what was best."""
        self.result = result
        with self._lock:
            self.outcomes = list(result.outcomes)
        self._draw(self.result.outcomes)
        best = self.result.best
        self.refine_button.disabled = best is None or self.data is None
        line = (
            f"{self.result.study_name}: {len(self.result.outcomes)} trials in {self.result.seconds:.1f} s; "
        )
        if best is None:
            self._set_status(line + "no trial completed")
        else:
            what = (
                f"best val acc {best.value:.1%} at lr {best.params['lr']:.1e}, "
                f"wd {best.params['weight_decay']:g}"
            )
            self._set_status(line + what, markup=html.escape(line) + f"<b>{html.escape(what)}</b>")
