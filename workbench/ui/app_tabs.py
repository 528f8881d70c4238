"""The ``App``'s tabs: one builder per recipe step, each returning the step's existing view.

A builder takes the app (its ``splits``, ``store``, ``seed``, ``model_kind``, ``background``) and wires
the view's finished runs into the recipe with ``app.watch(view, get_result)``. The squeeze tab is there
only when ``SqueezeView`` exists in this install (its import is guarded).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..background import BackgroundRun
from ..checks import CHECKS, Checklist
from ..data import DataReport, inspect, named_splits
from ..diagnose import diagnose
from ..models import build_model
from ..train.runs import RunStore, StoredRun
from ..tune import ModelSpec
from .checks import BatchViewer, ChecksPanel
from .curves import LiveCurves
from .databrowser import DataBrowser
from .diagnosis_view import DiagnosisView
from .lab import OverfitLab
from .lr_range_view import LRRangeView
from .runs import RunsView
from .search_view import SearchView

try:  # written separately: the app shows a squeeze tab only where the view exists
    from .squeeze_view import SqueezeView
except ImportError:  # pragma: no cover - depends on the install
    SqueezeView = None

if TYPE_CHECKING:
    from .app import App

__all__ = ["TABS", "DataTab", "RunReader"]


class DataTab(widgets.VBox):
    """``inspect`` in a worker (with progress), recorded into the recipe, then the ``DataBrowser`` on it."""

    def __init__(self, app: App) -> None:
        self.app, self.report, self.browser = app, None, None
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="inspect")
        self.status_html = widgets.HTML("<i>inspecting the data…</i>")
        self.status_html.add_class("wb-status")
        super().__init__(children=[widgets.HBox([self.progress, self.status_html])])
        self.add_class("wb-app-data")

        def progress(stage: str, done: int, total: int) -> None:
            self.progress.max, self.progress.value = max(total, 1), done
            self.status_html.value = f"<i>inspecting: {html.escape(stage)} ({done}/{total})</i>"

        splits = named_splits(app.splits, where="App")
        self.run = BackgroundRun(
            lambda stop: inspect(**splits, progress=progress),
            background=app.background,
            on_done=self._inspected,
            name="app-inspect",
        ).start()

    def wait(self, timeout: float | None = None) -> DataReport | None:
        """Block until ``inspect`` is done; the report."""
        self.run.join(timeout)
        return self.report

    def _inspected(self, run: BackgroundRun) -> None:
        if run.error is not None:
            self.status_html.value = (
                f"<b style='color:#b00020'>inspect could not finish: {html.escape(str(run.error))}</b>"
            )
            return
        self.report = run.result
        self.app.record(self.report)
        self.browser = DataBrowser(self.app.splits, report=self.report, background=self.app.background)
        self.children = [self.browser]


class RunReader(widgets.VBox):
    """Read a stored run (a lab run, a search trial): its curves and what ``diagnose`` finds in them."""

    def __init__(self, store: RunStore, **kwargs) -> None:
        self.curves = LiveCurves(smooth=True, band=True, lr=True)
        self.diagnosis_view = DiagnosisView(curves=self.curves)
        self.title = widgets.HTML("<i>pick a run, then 'read this run': its curves and what they say</i>")
        self.runs_view = RunsView(store, on_reload=self.show)
        self.runs_view.reload_button.description = "read this run"
        self.run: StoredRun | None = None
        super().__init__(children=[self.runs_view, self.title, self.curves, self.diagnosis_view], **kwargs)
        self.add_class("wb-run-reader")
        self.refresh()

    def refresh(self) -> None:
        """List the store's runs again (new lab runs, search trials); the first one is picked if none is."""
        self.runs_view.refresh()
        picker = self.runs_view.picker
        if picker.value is None and picker.options and picker.options[0][1] is not None:
            picker.value = picker.options[0][1]

    def show(self, run: StoredRun) -> None:
        """Draw ``run``'s curves and its diagnosis."""
        self.run = run
        self.title.value = f"<b>run #{run.id} {html.escape(run.name)}</b> ({html.escape(run.status)})"
        self.curves.reset()
        self.curves.update(run.history, force=True)
        self.diagnosis_view.show(diagnose(run.history, human_accuracy=run.human_baseline))


def _data(app: App) -> widgets.Widget:
    return DataTab(app)


def _checks(app: App) -> widgets.Widget:
    model = build_model(app.model_kind, app.splits.train, seed=app.seed)
    panel = ChecksPanel(model, app.splits.train, app.splits.val, background=app.background)

    def checklist() -> Checklist | None:
        # one row's "run" runs one check: the step is recorded once every check ran, or one failed
        ran = [panel.results[n] for n in CHECKS if n in panel.results]
        failed = any(not r.passed and not r.skipped for r in ran)
        return Checklist(ran) if ran and (len(ran) == len(CHECKS) or failed) else None

    app.watch(panel, checklist)
    return widgets.VBox([panel, BatchViewer(model, app.splits.train)])


def _lab(app: App) -> widgets.Widget:
    lab = OverfitLab(app.splits, store=app.store, background=app.background)
    if app.chosen_lr is not None:
        lab.use_lr(app.chosen_lr)
    app.watch(lab, lambda: lab.history if lab.history.steps else None)
    return lab


def _tune(app: App) -> widgets.Widget:
    model = build_model(app.model_kind, app.splits.train, seed=app.seed)
    lr_view = LRRangeView(model, app.splits.train, on_choose=app.use_lr, background=app.background)
    search = SearchView(
        app.splits, model=ModelSpec(app.model_kind, seed=app.seed), store=app.store, background=app.background
    )
    app.watch(lr_view, lambda: lr_view.result)
    app.watch(search, lambda: search.result)
    box = widgets.VBox(
        [widgets.HTML("<h4>LR range test</h4>"), lr_view, widgets.HTML("<h4>Search</h4>"), search]
    )
    box.lr_view, box.search = lr_view, search  # type: ignore[attr-defined]
    return box


def _read(app: App) -> widgets.Widget:
    return RunReader(app.store)


def _squeeze(app: App) -> widgets.Widget:
    view = SqueezeView(app.splits, store=app.store, background=app.background)

    def scores() -> dict | None:
        # the step's evidence: every model's accuracy on the whole test split (single best, EMA, ensemble…)
        c = view.comparison
        return None if c is None else {"test_accuracy": {r.name: round(r.accuracy, 4) for r in c.rows}}

    app.watch(view, scores, step="squeeze")
    return view


#: (tab title, builder) in recipe order; a step whose view is not installed has no tab
TABS: tuple[tuple[str, Callable[[Any], widgets.Widget]], ...] = (
    ("data", _data),
    ("pipeline & checks", _checks),
    ("overfit lab", _lab),
    ("tune", _tune),
    ("read the training", _read),
    *((("squeeze", _squeeze),) if SqueezeView is not None else ()),
)
