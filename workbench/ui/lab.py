"""``OverfitLab``: overfit a tiny subset with sliders, live curves against a human baseline; runs persist.

Controls map onto ``LabSettings`` (pure). While a run trains in its worker thread, the LR slider
hands its value to the run through the lab core (``workbench.lab.Lab``), which the loop applies before its
next step; any other control restarts the run (the
stopped run stays as a faded line, labelled with what changed). Every run is written to the run
store as it trains.

The live views run in the training thread, so each has a share of its wall time (``VIEW_BUDGET``):
a view that gets slow (a long run, a loaded machine) redraws less often instead of slowing training.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import traitlets

from ..background import Throttle
from ..data.dataset import DataSplits, ImageDataset
from ..diagnose.dynamics import fixed_batch
from ..diagnose.verdict import verdict
from ..lab import Lab, LabSettings
from ..models import INIT_SCHEMES, MODEL_KINDS
from ..train.callbacks import Callback, FitState
from ..train.history import History
from ..train.optimizers import OPTIMIZERS
from ..train.runs import DEFAULT_STORE, RunStore, StoredRun
from .base import RunView
from .curves import LiveCurves
from .plotting import config_diff
from .predictions import PredictionView
from .runs import RunsView

__all__ = ["OverfitLab"]

#: Most share of the training thread's wall time each live view may take: the curves; scoring the fixed batch,
#: and (as much again) redrawing its bars and wiggle; the verdict. At most 2.2 % together (the lab's goal is
#: >= 0.97x a bare loop); on an idle machine they take less and keep their full rate (4 Hz).
VIEW_BUDGET = {"curves": 0.008, "predictions": 0.006, "verdict": 0.002}

_OPT_LABELS = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
}


class _Verdicts(Callback):
    """At epoch ends, at most twice a second, re-read the curves (a stall shows while the run goes on)."""

    def __init__(self, lab: OverfitLab) -> None:
        self.lab = lab
        self.throttle = Throttle(2.0, VIEW_BUDGET["verdict"])  # tiny subsets run hundreds of epochs a second

    def on_epoch_end(self, state: FitState) -> None:
        self.throttle.call(self.lab._show_verdict, state.history)


class OverfitLab(RunView):
    """The lab. ``data``: ``DataSplits`` (or an (train, val) pair).

    Parameters
    ----------
    data : DataSplits or (ImageDataset, ImageDataset)
    settings : LabSettings
        Starting values of the controls.
    store : path, RunStore or None
        Where runs are written (default ``workbench_runs.sqlite`` in the working directory; None: nowhere).
    human_accuracy : float or HumanBaseline, optional
        Drawn as a line on the accuracy curve; a ``HumanBaseline`` widget is followed live.
    background : bool
        Train in a worker thread (default) or inline (tests).
    """

    busy_text = "already training: press Stop first"

    def __init__(
        self,
        data,
        settings: LabSettings | None = None,
        *,
        store: str | Path | RunStore | None = DEFAULT_STORE,
        human_accuracy=None,
        background: bool = True,
        **kwargs,
    ) -> None:
        if isinstance(data, DataSplits):
            self.train_data, self.val_data = data.train, data.val
        elif isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, ImageDataset) for d in data):
            self.train_data, self.val_data = data
        else:
            raise TypeError(
                "The 'data' parameter of OverfitLab must be DataSplits or a (train, val) pair of "
                "ImageDatasets. "
                f"Got {type(data).__name__} instead."
            )
        s = settings or LabSettings()
        self.core = Lab(self.train_data, self.val_data, s, store=store)
        self.store = self.core.store
        self._init_run_controls(background=background, name="overfit-lab")
        self._last_settings: LabSettings | None = None
        self._last_history: History | None = None

        # -- controls --------------------------------------------------------------------------------------
        n = len(self.train_data)
        subset_options = (
            [("one batch", s.batch_size)]
            + [(str(k), k) for k in (64, 128, 256, 512, 1024) if k < n]
            + [(f"all {n}", n)]
        )
        if s.subset not in [v for _, v in subset_options]:
            subset_options.append((str(s.subset), s.subset))
        style = {"description_width": "90px"}
        self.lr = widgets.FloatLogSlider(
            value=s.lr,
            base=10,
            min=-5,
            max=0,
            step=0.05,
            description="LR",
            readout_format=".1e",
            continuous_update=True,
            style=style,
        )
        self.lr.add_class("wb-lr")
        self.optimizer = widgets.Dropdown(
            options=[(_OPT_LABELS[o], o) for o in OPTIMIZERS],
            value=s.optimizer,
            description="optimizer",
            style=style,
        )
        self.init = widgets.Dropdown(
            options=list(INIT_SCHEMES), value=s.init, description="init", style=style
        )
        self.model_kind = widgets.Dropdown(
            options=list(MODEL_KINDS), value=s.model, description="model", style=style
        )
        self.width = widgets.IntSlider(
            value=s.width, min=1, max=512, description="width/chan.", continuous_update=False, style=style
        )
        self.depth = widgets.IntSlider(
            value=s.depth, min=1, max=6, description="depth", continuous_update=False, style=style
        )
        self.seed = widgets.BoundedIntText(
            value=s.seed, min=0, max=2**31 - 1, description="seed", style=style
        )
        self.subset = widgets.SelectionSlider(
            options=subset_options, value=s.subset, description="subset", continuous_update=False, style=style
        )
        self.batch_size = widgets.Dropdown(
            options=[8, 16, 32, 64, 128, 256], value=s.batch_size, description="batch size", style=style
        )
        self.weight_decay = widgets.Dropdown(
            options=[0.0, 1e-5, 1e-4, 1e-3, 1e-2],
            value=s.weight_decay,
            description="weight decay",
            style=style,
        )
        self.dropout = widgets.FloatSlider(
            value=s.dropout,
            min=0.0,
            max=0.8,
            step=0.05,
            description="dropout",
            continuous_update=False,
            style=style,
        )
        self.epochs = widgets.BoundedIntText(
            value=s.epochs, min=1, max=100_000, description="epochs", style=style
        )
        self._controls = {
            "lr": self.lr,
            "optimizer": self.optimizer,
            "init": self.init,
            "model": self.model_kind,
            "width": self.width,
            "depth": self.depth,
            "seed": self.seed,
            "subset": self.subset,
            "batch_size": self.batch_size,
            "weight_decay": self.weight_decay,
            "dropout": self.dropout,
            "epochs": self.epochs,
        }
        for key, w in self._controls.items():
            w.observe(lambda change, key=key: self._on_control(key, change["new"]), "value")

        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.reset_button.on_click(lambda _: self.reset())
        self.verdict_html = widgets.HTML("")
        self.verdict_html.add_class("wb-verdict")

        # -- views ------------------------------------------------------------------------------------------
        self.curves = LiveCurves(smooth=True, band=True)
        if isinstance(human_accuracy, traitlets.HasTraits) and human_accuracy.has_trait("accuracy"):
            traitlets.dlink((human_accuracy, "accuracy"), (self.curves, "human_accuracy"))
        elif human_accuracy is not None:
            self.curves.human_accuracy = float(human_accuracy)
        x, y, _ = fixed_batch(self.val_data, n=min(8, len(self.val_data)), seed=0)
        self.predictions = PredictionView(x, y, self.val_data.classes, budget=VIEW_BUDGET["predictions"])
        self.runs_view = RunsView(self.store, on_reload=self.compare) if self.store is not None else None

        grid = widgets.GridBox(
            list(self._controls.values()),
            layout=widgets.Layout(grid_template_columns="repeat(3, 330px)", grid_gap="2px 8px"),
        )
        self.predictions.wiggle_figure.layout = widgets.Layout(width="50%", min_width="320px", height="260px")
        curves_tab = widgets.VBox(
            [self.curves, widgets.HBox([self.predictions.wiggle_figure]), self.verdict_html]
        )
        tabs = [("curves", curves_tab), ("predictions", self.predictions)]
        if self.runs_view is not None:
            tabs.append(("runs", self.runs_view))
        tab = widgets.Tab(children=[c for _, c in tabs])
        for i, (title, _) in enumerate(tabs):
            tab.set_title(i, title)
        self.tabs = tab
        # the prediction bars are redrawn only while their tab shows
        bars_tab = [c for _, c in tabs].index(self.predictions)
        self.predictions.show_bars(tab.selected_index == bars_tab)
        tab.observe(lambda change: self.predictions.show_bars(change["new"] == bars_tab), "selected_index")
        super().__init__(
            children=[
                grid,
                widgets.HBox([self.run_button, self.stop_button, self.reset_button]),
                self.status_html,
                tab,
                self.error_html,
            ],
            **kwargs,
        )
        self.add_class("wb-overfit-lab")

    # -- settings ----------------------------------------------------------------------------------------
    @property
    def settings(self) -> LabSettings:
        return LabSettings(**{k: w.value for k, w in self._controls.items()})

    @property
    def history(self) -> History:
        return self.core.history

    @property
    def model(self):
        """The module of the latest run."""
        return self.core.model

    def _on_control(self, key: str, value) -> None:
        try:
            what = self.core.update(**{key: value})
        except (ValueError, TypeError) as err:
            self._set_status(f"cannot use {key}={value!r}: {err}", error=True)
            return
        if what == "live":
            self._set_status(f"training: LR now {value:.1e} (from the next step)")
        elif what == "restart":
            self.restart()

    # -- runs ---------------------------------------------------------------------------------------------
    def start(self):
        """Start a run with the current controls (ignored while one is training)."""
        run = super().start()
        self.core.run = run
        return run

    def _prepare_run(self):
        try:
            settings = self.settings
            self.core.update(**settings.to_dict())
        except (ValueError, TypeError) as err:
            self._set_status(f"cannot start: {err}", error=True)
            return None
        if self._last_history is not None and self._last_history.steps:
            shaping = tuple(k for k in self._controls if k != "epochs")  # run length does not shape the curve
            self.curves.add_ghost(
                self._last_history, config_diff(self._last_settings.to_dict(), settings.to_dict(), shaping)
            )
        self.curves.reset()
        callbacks: list[Callback] = [
            self.curves.callback(VIEW_BUDGET["curves"]),
            self.predictions.new_tracker(),
            self.predictions.callback(),
            _Verdicts(self),
        ]
        target = self.core.prepare(callbacks, human_baseline=self.curves.human_accuracy)
        self._last_settings, self._last_history = settings, self.core.history
        self._set_status(f"training {settings.name()} on {len(self.core.part)} samples")
        return target

    def stop(self, wait: bool = False) -> None:
        """Ask the run to stop after its current step (``wait``: until it has)."""
        super().stop()
        if wait and self.run is not None:
            self.run.join(30)

    def restart(self) -> None:
        """Stop the running run and start a new one with the current controls."""
        self.stop(wait=True)
        self.start()

    def use_lr(self, lr: float) -> None:
        """Take an LR handed over by another tool (e.g. ``LRRangeView(on_choose=lab.use_lr)``): a running
        run trains on with it from its next step, like a drag of the slider."""
        self.lr.value = float(lr)

    def reset(self) -> None:
        """Stop, and clear the comparison (faded runs) and the current curves."""
        self.stop(wait=True)
        self.curves.clear_ghosts()
        self.curves.reset()
        self._last_history = None
        self.verdict_html.value = ""
        self._set_status("ready")

    def compare(self, run: StoredRun) -> None:
        """Add a stored run to the comparison as a faded line."""
        self.curves.add_ghost(run.history, f"run #{run.id}: {run.name}")

    # -- the worker's last word ---------------------------------------------------------------------------
    def _result(self) -> History:
        return self.core.history

    def _on_finished(self, result) -> None:
        h = self.core.history
        self._set_status(h.message or h.status, error=h.status == "diverged")
        self._after_run()

    def _on_failed(self, run) -> None:
        self._after_run()

    def _after_run(self) -> None:
        self._show_verdict(self.core.history)
        if self.runs_view is not None:
            self.runs_view.refresh()

    @property
    def verdict(self):
        """The core ``Verdict`` of the latest run (what the line under the curves says)."""
        return verdict(self.history, self.curves.human_accuracy)

    def _show_verdict(self, history: History) -> None:
        v = verdict(history, self.curves.human_accuracy)
        color = {
            "overfit": "#1a7f37",
            "diverged": "#b00020",
            "plateau": "#9a6700",
            "not_learning": "#b00020",
        }.get(v.kind, "inherit")
        self.verdict_html.value = (
            f"<b style='color:{color}'>{html.escape(v.kind)}</b>: {html.escape(v.message)}"
        )
