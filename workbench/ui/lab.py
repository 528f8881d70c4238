"""``OverfitLab``: overfit a tiny subset with sliders, live curves against a human baseline; runs persist.

Controls map onto ``LabSettings`` (pure). While a run trains in its worker thread, the LR slider hands its
value to the run through the lab core (``workbench.lab.Lab``), which the loop applies before its next step;
any other control restarts the run (the stopped run stays as a faded line, labelled with what changed).
Every run is written to the run store as it trains.

Tabs: "curves" (loss and accuracy, the LR schedule's preview and the LR used under the loss, the best
epoch of early stopping, and the diagnosis in words: ``diagnose`` of the run and its probes, each finding
clickable to mark its evidence on the loss), "training" (``ProbesView`` of the ``Probes`` every run
gets), "predictions" and "runs".

The live views run in the training thread, so each has a share of its wall time (``VIEW_BUDGET``):
a view that gets slow (a long run, a loaded machine) redraws less often instead of slowing training.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets

from ..data.dataset import DataSplits, ImageDataset
from ..diagnose.diagnosis import diagnose
from ..diagnose.dynamics import fixed_batch
from ..diagnose.finding import Diagnosis
from ..diagnose.probes import Probes
from ..diagnose.verdict import verdict
from ..lab import Lab, LabSettings, resize_images
from ..train.callbacks import Callback
from ..train.history import History
from ..train.runs import DEFAULT_STORE, RunStore, StoredRun
from .base import RunView
from .curves import LiveCurves
from .diagnosis_view import DiagnosisView
from .ema_lines import EMALines
from .lab_callbacks import ProbeBudget, Verdicts
from .lab_controls import control_value, make_controls, offer_value, setting_value
from .lab_regularize import REGULARIZE_KEYS, RegularizeRow, regularize_controls
from .lab_transfer import TransferRow
from .lr_range_view import LRRangeView
from .plotting import config_diff
from .predictions import PredictionView
from .probes_view import ProbesView
from .runs import RunsView
from .share import share_row

__all__ = ["OverfitLab"]

#: Most share of the training thread's wall time each live view may take: the curves; scoring the fixed
#: batch, and (as much again) redrawing its bars and wiggle; the diagnosis (list and verdict line); the
#: training tab (probes). At most 2.2 % together (the lab's goal is >= 0.97x a bare loop): the probes are
#: redrawn only while their tab shows, the prediction bars only while theirs, so the probes take from the
#: bars' share. On an idle machine they take less and keep their full rate (4 Hz; the probes 2 Hz).
VIEW_BUDGET = {"curves": 0.008, "predictions": 0.006, "verdict": 0.002, "probes": 0.004}
#: The lab's probes: every 25 steps, at most twice a second (what the training tab can show), and at most
#: ``PROBES_BUDGET`` of the training thread: each sample costs a copy of the weights and hooks on every layer
#: (see ``ProbeBudget``), more than a step on a CNN on one CPU thread.
PROBES_EVERY, PROBES_HZ, PROBES_BUDGET = 25, 2.0, 0.006
#: The schedule is previewed for runs up to this many steps (``schedule_preview`` steps torch's schedulers
#: one by one: ~20-50 us a step, so 20000 steps take up to a second at a control change).
PREVIEW_MAX_STEPS = 20_000


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
    pretrained : path, nn.Module or (arch, path), optional
        Start every run from pretrained weights (``workbench.lab.Lab``); a transfer row then offers
        "freeze up to" a layer group and the body's LR factor.
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
        pretrained=None,
        **kwargs,
    ) -> None:
        if isinstance(data, DataSplits):
            self.train_data, self.val_data = data.train, data.val
        elif isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, ImageDataset) for d in data):
            self.train_data, self.val_data = data
        else:
            raise TypeError(
                "The 'data' parameter of OverfitLab must be DataSplits or a (train, val) pair of "
                f"ImageDatasets. Got {type(data).__name__} instead."
            )
        s = settings or LabSettings()
        self.core = Lab(self.train_data, self.val_data, s, store=store, pretrained=pretrained)
        s = self.core.settings  # with the weights file of ``pretrained``
        self.store = self.core.store
        self._init_run_controls(background=background, name="overfit-lab")
        self._last_settings: LabSettings | None = None
        self._last_history: History | None = None

        # -- controls ----------------------------------------------------------------------------------------
        self._controls = {**make_controls(s, len(self.train_data)), **regularize_controls(s, self.train_data)}
        grid_controls = [w for k, w in self._controls.items() if k not in REGULARIZE_KEYS]
        self.transfer_row = TransferRow(self.core)
        self._controls.update(self.transfer_row.controls)  # weights, freeze_upto, body_lr, wired alike
        c = self._controls
        self.lr, self.optimizer, self.init, self.model_kind = c["lr"], c["optimizer"], c["init"], c["model"]
        self.width, self.depth, self.seed, self.subset = c["width"], c["depth"], c["seed"], c["subset"]
        self.batch_size, self.weight_decay, self.dropout = c["batch_size"], c["weight_decay"], c["dropout"]
        self.epochs = c["epochs"]
        self.schedule, self.warmup_steps, self.patience = c["schedule"], c["warmup_steps"], c["patience"]
        self.augment, self.input_size, self.ema = c["augment"], c["input_size"], c["ema"]
        for key, w in self._controls.items():
            w.observe(
                lambda change, key=key: self._on_control(key, setting_value(key, change["new"])), "value"
            )

        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.reset_button.on_click(lambda _: self.reset())
        # the shareable run line: every setting in one line; paste one and press "Use line" to restore it
        self._applying = False
        self.run_line = widgets.Text(
            value=s.to_line(),
            description="run line",
            tooltip="every setting of this run: copy it to share; paste one and press Use line",
            layout=widgets.Layout(width="100%"),
        )
        share = share_row(self, self.run_line, on_use=self._use_line_clicked)  # + copy and Save HTML
        self.use_line_button, self.copy_button, self.save_html_button, share_box = share
        self.verdict_html = widgets.HTML("")
        self.verdict_html.add_class("wb-verdict")

        # -- views ------------------------------------------------------------------------------------------
        self.curves = LiveCurves(smooth=True, band=True, lr=True)
        self.ema_lines = EMALines(self.curves)  # the EMA weights' val curves, when the EMA is on
        self._preview: tuple[tuple, np.ndarray] | None = None  # (what shapes it, the schedule at LR 1)
        if isinstance(human_accuracy, traitlets.HasTraits) and human_accuracy.has_trait("accuracy"):
            traitlets.dlink((human_accuracy, "accuracy"), (self.curves, "human_accuracy"))
        elif human_accuracy is not None:
            self.curves.human_accuracy = float(human_accuracy)
        x, y, _ = self._fixed = fixed_batch(self.val_data, n=min(8, len(self.val_data)), seed=0)
        self.predictions = PredictionView(x, y, self.val_data.classes, budget=VIEW_BUDGET["predictions"])
        self.runs_view = RunsView(self.store, on_reload=self.compare) if self.store is not None else None
        self.diagnosis_view = DiagnosisView(curves=self.curves)
        self.probes_view = ProbesView()
        self.probes: Probes | None = None  # the current run's

        self.regularize = RegularizeRow(c, self.train_data)  # its knobs and the augmentation preview
        grid = widgets.GridBox(
            grid_controls,
            layout=widgets.Layout(grid_template_columns="repeat(3, 330px)", grid_gap="2px 8px"),
        )
        self.predictions.wiggle_figure.layout = widgets.Layout(width="50%", min_width="320px", height="260px")
        curves_tab = widgets.VBox(
            [
                self.curves,
                self.verdict_html,
                self.diagnosis_view,
                widgets.HBox([self.predictions.wiggle_figure]),
            ]
        )
        tabs = [("curves", curves_tab), ("training", self.probes_view), ("predictions", self.predictions)]
        if self.runs_view is not None:
            tabs.append(("runs", self.runs_view))
        tab = widgets.Tab(children=[c for _, c in tabs])
        for i, (title, _) in enumerate(tabs):
            tab.set_title(i, title)
        self.tabs = tab
        # the prediction bars and the probes are redrawn only while their tab shows
        bars_tab = [c for _, c in tabs].index(self.predictions)
        probes_tab = [c for _, c in tabs].index(self.probes_view)
        self.predictions.show_bars(tab.selected_index == bars_tab)
        self.probes_view.show_live(tab.selected_index == probes_tab)
        tab.observe(lambda change: self.predictions.show_bars(change["new"] == bars_tab), "selected_index")
        tab.observe(lambda change: self.probes_view.show_live(change["new"] == probes_tab), "selected_index")
        super().__init__(
            children=[
                grid,
                self.regularize,
                self.transfer_row,
                widgets.HBox([self.run_button, self.stop_button, self.reset_button]),
                share_box,
                self.status_html,
                tab,
                self.error_html,
            ],
            **kwargs,
        )
        self.add_class("wb-overfit-lab")
        self._show_schedule()

    # -- settings ----------------------------------------------------------------------------------------
    @property
    def settings(self) -> LabSettings:
        return LabSettings(**{k: setting_value(k, w.value) for k, w in self._controls.items()})

    @property
    def history(self) -> History:
        return self.core.history

    @property
    def model(self):
        """The module of the latest run."""
        return self.core.model

    def _on_control(self, key: str, value) -> None:
        if self._applying:  # use_line sets every control, then applies them at once
            return
        try:
            what = self.core.update(**{key: value})
        except (ValueError, TypeError) as err:
            self._set_status(f"cannot use {key}={value!r}: {err}", error=True)
            return
        self.transfer_row.refresh()  # the model's groups, a freeze its new depth lacks dropped
        if what == "live":
            self._set_status(f"training: LR now {value:.1e} (from the next step)")
        elif what == "restart":
            self.restart()
            return
        self.run_line.value = self.core.settings.to_line()
        self._show_schedule()

    def use_line(self, line: str) -> LabSettings:
        """Set every control from a run line (``LabSettings.to_line``); a running run restarts with them.
        A bad line raises ``ValueError`` naming its field, and changes nothing."""
        settings = LabSettings.from_line(line)
        self._applying = True
        try:
            for key, w in self._controls.items():
                value = control_value(key, getattr(settings, key))
                if hasattr(w, "options"):  # a choice the control does not offer yet: add it (e.g. subset 100)
                    offer_value(w, value)
                w.value = value
                if setting_value(key, w.value) != getattr(settings, key):
                    raise ValueError(
                        f"The run line's {key}={getattr(settings, key)!r} is outside what this lab's control "
                        f"allows ({w.value!r} is as far as it goes on this data)."
                    )
            what = self.core.update(**settings.to_dict())  # reads a weights file: may refuse the line
        except (ValueError, traitlets.TraitError):
            for key, w in self._controls.items():  # put the controls back as they were
                w.value = control_value(key, getattr(self.core.settings, key))
            raise
        finally:
            self._applying = False
        if what == "restart":
            self.restart()
        self.transfer_row.refresh()
        self.run_line.value = settings.to_line()
        self._show_schedule()
        return settings

    def _use_line_clicked(self) -> None:
        try:
            settings = self.use_line(self.run_line.value)
        except (ValueError, traitlets.TraitError) as err:
            self._set_status(f"cannot use this run line: {err}", error=True)
            return
        self._set_status(f"settings from the run line: {settings.name()}")

    def _show_schedule(self) -> None:
        """The LR schedule of a run with the current settings, drawn under the loss (before Run)."""
        s = self.core.settings
        n = min(s.subset, len(self.train_data))
        per_epoch = math.ceil(n / min(s.batch_size, n))
        if s.epochs * per_epoch > PREVIEW_MAX_STEPS:
            self.curves.show_schedule(None)
            return
        key = (s.schedule, s.warmup_steps, s.epochs, n, min(s.batch_size, n))
        if self._preview is None or self._preview[0] != key:
            # every schedule is proportional to its peak LR: an LR drag rescales, it does not recompute
            self._preview = (key, self.core.lr_preview() / s.lr)
        self.curves.show_schedule(self._preview[1] * s.lr, per_epoch)

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
        self._show_schedule()
        self.predictions.inputs = resize_images(self._fixed[0], settings.input_size)  # as the model takes it
        self.probes = Probes(every=PROBES_EVERY, max_hz=PROBES_HZ)
        callbacks: list[Callback] = [
            self.probes,
            ProbeBudget(self.probes, PROBES_BUDGET, PROBES_HZ),
            self.curves.callback(VIEW_BUDGET["curves"]),
            self.predictions.new_tracker(),
            self.predictions.callback(),
            self.probes_view.callback(VIEW_BUDGET["probes"]),
            Verdicts(lambda: self._show_verdict, 2.0, VIEW_BUDGET["verdict"]),
            self.ema_lines.callback(lambda: self.core.ema),
        ]
        target = self.core.prepare(callbacks, human_baseline=self.curves.human_accuracy)
        self.probes_view.follow(self.core.history, self.probes)
        self.diagnosis_view.show(None)
        self.verdict_html.value = ""
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

    def lr_range_view(self, **kwargs) -> LRRangeView:
        """An ``LRRangeView`` for a run with the current settings, its choice handed to the LR slider: it
        sweeps the groups that train (the head alone when the body is frozen), at the run's LR ratios."""
        return LRRangeView(lab=self, **{**self.core.range_test_args(), **kwargs})

    def reset(self) -> None:
        """Stop, and clear the comparison (faded runs) and the current curves."""
        self.stop(wait=True)
        self.curves.clear_ghosts()
        self.curves.reset()
        self._last_history = None
        self.verdict_html.value = ""
        self.diagnosis_view.show(None)
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
        """The core ``Verdict`` of the latest run: whether the lab's goal (fit the subset) was reached."""
        return verdict(self.history, self.curves.human_accuracy)

    @property
    def diagnosis(self) -> Diagnosis:
        """What ``diagnose`` reads in the latest run's curves and probes (the list under the curves)."""
        return diagnose(self.history, self.probes, self.curves.human_accuracy)

    def _show_verdict(self, history: History) -> None:
        """The diagnosis list, and its worst finding as the line under the curves."""
        d = diagnose(history, self.probes, self.curves.human_accuracy)
        self.diagnosis_view.show(d)
        top = d.findings[0]
        color = {"error": "#b00020", "warning": "#9a6700"}.get(top.severity, "#1a7f37")
        more = f" <small>({len(d.findings) - 1} more below)</small>" if len(d.findings) > 1 else ""
        self.verdict_html.value = (
            f"<b style='color:{color}'>{html.escape(top.kind)}</b>: {html.escape(top.message)}{more}"
        )
