"""``App``: the whole recipe as one page — a tab per step, the recipe's progress on the side.

The tabs are the existing views (``app_tabs.TABS``), built lazily: only the first tab at start, each
other one the first time it is selected, so the page is usable while the rest is not built yet (Voilà
starts a fresh kernel per page load). Views record their finished runs into the ``Recipe`` (inspect ->
data, the checks -> checks, a lab run -> overfit, the range test -> lr, a search -> search) and the
``RecipePanel`` redraws. A folder that cannot be read gives a message on the page, not a traceback.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from .._validation import check_choice
from ..data import DataSplits, from_folder, load_digits, split
from ..models import MODEL_KINDS
from ..recipe import Recipe
from ..train.runs import DEFAULT_STORE, RunStore
from .app_tabs import TABS
from .recipe_panel import RecipePanel

__all__ = ["STEP_TABS", "App", "load_app_data"]

log = logging.getLogger(__name__)

#: recipe step -> the tab where it is done
STEP_TABS = {
    "data": "data",
    "checks": "pipeline & checks",
    "overfit": "overfit lab",
    "lr": "tune",
    "search": "tune",
    "regularize": "overfit lab",
    "squeeze": "squeeze",
}

_FOLDER_HELP = (
    "Give an ImageFolder tree: PATH/<class name>/<image files> (e.g. PATH/cat/001.png, PATH/dog/002.png), "
    "with a few images per class; or leave the folder out to use the embedded digits."
)


def load_app_data(folder: str | Path | None = None, seed: int = 0) -> DataSplits:
    """The app's data: ``folder`` (an ImageFolder tree) split 70/15/15 by ``seed``, or the embedded digits."""
    if folder is None or str(folder) == "":
        return load_digits(seed=seed)
    ds = from_folder(folder)
    if len(ds) == 0:
        raise ValueError(f"from_folder({str(folder)!r}): no readable image found in the class folders.")
    if len(ds.classes) < 2:
        raise ValueError(
            f"from_folder({str(folder)!r}): found only the class {list(ds.classes)}; a classifier needs at "
            "least two class folders."
        )
    return split(ds, val_fraction=0.15, test_fraction=0.15, seed=seed)


class App(widgets.HBox):
    """The recipe as one page: a tab per step on ``folder`` (or the embedded digits), progress on the side.

    Parameters
    ----------
    folder : str or Path, optional
        An ImageFolder tree (``folder/<class>/<image>``), split 70/15/15 with ``seed``. Default: the
        embedded digits.
    store : path or RunStore, optional
        The run store where runs and the recipe's progress are kept (default ``workbench_runs.sqlite``
        in the working directory).
    seed : int
        Seeds the split, the models and the lab's first run.
    model : {"linear", "mlp", "cnn"}
        The baseline the checks, the range test and the search build.
    background : bool
        Run the views' work in worker threads (default) or inline (tests).
    """

    tab = traitlets.Unicode("", help="Title of the tab on screen.")
    built = traitlets.Tuple(help="Titles of the tabs built so far, in the order they were built.")
    error = traitlets.Unicode("", help="Why the app could not open its data ('' when it did).")
    chosen_lr = traitlets.Float(None, allow_none=True, help="The LR last chosen in the range test.")

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        store: str | Path | RunStore | None = None,
        seed: int = 0,
        model: str = "mlp",
        background: bool = True,
        **kwargs: Any,
    ) -> None:
        check_choice(model, "model", "App", MODEL_KINDS)
        self.folder, self.seed, self.model_kind, self.background = folder, int(seed), model, background
        self.views: dict[str, widgets.Widget] = {}
        super().__init__(children=[], **kwargs)
        self.add_class("wb-app")
        try:
            self.store = store if isinstance(store, RunStore) else RunStore(store or DEFAULT_STORE)
            self.splits = load_app_data(folder, self.seed)
            self.recipe = Recipe(self.splits, self.store)
        except (OSError, ValueError, TypeError, RuntimeError) as err:
            self._fail(err)
            return
        self.panel = RecipePanel(self.recipe, on_go=self.go_to_step)
        self.panel.layout = widgets.Layout(width="340px", flex="0 0 340px", padding="0 0 0 12px")
        self.titles = tuple(title for title, _ in TABS)
        self._builders = dict(TABS)
        self._pages = [widgets.VBox([widgets.HTML(f"<i>opening {title}…</i>")]) for title in self.titles]
        self.tabs = widgets.Tab(children=self._pages, titles=self.titles)
        self.tabs.add_class("wb-app-tabs")
        train = self.splits.train
        header = widgets.HTML(
            f"<b>workbench</b> on <code>{html.escape(train.name)}</code>: {len(train)} train, "
            f"{len(self.splits.val)} val"
            + (f", {len(self.splits.test)} test" if self.splits.test is not None else "")
            + f" images, {len(train.classes)} classes"
        )
        header.add_class("wb-app-header")
        main = widgets.VBox([header, self.tabs], layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        self.children = [main, self.panel]
        self.tabs.observe(self._on_select, "selected_index")
        self.tabs.selected_index = 0
        self._on_select({"new": 0})

    # -- tabs -----------------------------------------------------------------------------------------------
    def select(self, title: str) -> widgets.Widget:
        """Show the tab ``title`` (building its view if this is the first time); the view."""
        if self.error:
            raise RuntimeError(f"The app has no tabs: {self.error}")
        if title not in self.titles:
            raise ValueError(
                f"The 'title' parameter of App.select must be one of {self.titles}. Got {title!r} instead."
            )
        self.tabs.selected_index = self.titles.index(title)
        return self.views[title]

    def go_to_step(self, step: str) -> None:
        """Open the tab where the recipe step ``step`` is done (the panel's "go" button)."""
        title = STEP_TABS.get(step)
        if title in self.titles:
            self.select(title)

    def _on_select(self, change: dict) -> None:
        index = change["new"]
        if index is None:
            return
        title = self.titles[index]
        self.tab = title
        if title not in self.views:
            self._build(index, title)
        elif hasattr(self.views[title], "refresh"):  # e.g. the run reader lists the runs made since
            self.views[title].refresh()

    def _build(self, index: int, title: str) -> None:
        try:
            view = self._builders[title](self)
        except Exception as err:  # a broken tab says why on the page; the others still work
            log.exception("building the %r tab failed", title)
            view = widgets.HTML(
                f"<div class='wb-app-tab-error' style='color:#b00020'><b>The {html.escape(title)} tab could "
                f"not be built:</b> {html.escape(str(err))}</div>"
            )
        self.views[title] = view
        self._pages[index].children = [view]
        self.built = (*self.built, title)

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the data tab's ``inspect`` is done (for scripts and top-to-bottom notebooks); its
        ``DataReport`` (None when the data could not be opened)."""
        data = self.views.get("data")
        return data.wait(timeout) if data is not None else None

    # -- the recipe ------------------------------------------------------------------------------------------
    def record(self, result: Any, **kwargs: Any) -> None:
        """Record ``result`` into the recipe and redraw the panel (a failure is logged, never raised into
        the view that finished)."""
        try:
            self.panel.record(result, **kwargs)
        except Exception:  # recording is bookkeeping: it must not break the view whose run ended
            log.exception("recording %s into the recipe failed", type(result).__name__)

    def watch(self, view: widgets.Widget, get_result: Callable[[], Any], step: str | None = None) -> None:
        """When ``view``'s run ends (``running`` goes False), record ``get_result()`` unless it is None;
        with ``step``, ``get_result()`` is that step's evidence (a dict), for results the recipe does not
        read by itself."""

        def ended(change: dict) -> None:
            if not change["new"]:
                result = get_result()
                if result is not None:
                    self.record(result, **({} if step is None else {"step": step, "evidence": result}))

        view.observe(ended, "running")

    def use_lr(self, lr: float) -> None:
        """The LR chosen in the range test: handed to the lab and centres the search (when built)."""
        self.chosen_lr = float(lr)
        if "overfit lab" in self.views:
            self.views["overfit lab"].use_lr(lr)
        tune = self.views.get("tune")
        if tune is not None and hasattr(tune, "search"):
            tune.search.center_on(lr)

    # -- a bad folder ----------------------------------------------------------------------------------------
    def _fail(self, err: Exception) -> None:
        where = f"the folder {str(self.folder)!r}" if self.folder else "the data"
        self.error = f"Could not open {where}: {err}"
        box = widgets.HTML(
            "<div style='border-left:4px solid #b00020;padding:6px 12px'>"
            f"<b>{html.escape(self.error)}</b><p>{html.escape(_FOLDER_HELP)}</p></div>"
        )
        box.add_class("wb-app-error")
        self.children = [box]
