"""``DoubtfulLabelsView``: page through every label of a split, most doubtful first.

A view over ``DataReport.label_ranking(split)``: each tile shows the image with its given class and
the class the label model suggests, and the label quality. The ranking starts from whatever model
``inspect`` used (the instant k-NN by default); **rank with the CNN** calls the core's
``rank_labels(report, data, "cnn")`` in a worker thread (progress per epoch, Cancel), and hands the
upgraded report to ``on_report``. The view computes nothing but pictures.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import traitlets

from ..background import BackgroundRun, Throttle
from ..data.dataset import ImageDataset
from ..data.labels import CNN_EPOCHS, CNN_FOLDS, LabelModelStopped, rank_labels
from ..data.preview import png_bytes
from ..data.report import DataReport

__all__ = ["DoubtfulLabelsView"]

MODEL_NAMES = {
    "knn": "k-NN (instant, leave-one-out)",
    "cnn": f"CNN ({CNN_FOLDS}-fold cross-validated)",
    "given": "your pred_probs",
}


class DoubtfulLabelsView(widgets.VBox):
    """Every sample of a split, most doubtful label first, with given and suggested class.

    Parameters
    ----------
    report : DataReport
        From ``inspect`` (with ``suspicious=True``).
    datasets : dict of split name -> ImageDataset
        The inspected splits.
    page_size : int
        Tiles per page.
    background : bool
        Run the CNN upgrade in a worker thread (False: inline, the path tests use).
    seed : int
        Seed of the CNN's folds and weights.
    on_report : callable(DataReport), optional
        Receives the upgraded report (the ``DataBrowser`` refreshes its other tabs with it).
    """

    split = traitlets.Unicode()
    page = traitlets.Int(0)
    model = traitlets.Unicode(help="The label model behind the ranking shown: 'knn', 'cnn' or 'given'.")
    running = traitlets.Bool(False)
    shown = traitlets.List(help="Indices (in the split) of the samples on the current page.")

    def __init__(
        self,
        report: DataReport,
        datasets: dict[str, ImageDataset],
        *,
        page_size: int = 24,
        background: bool = True,
        seed: int = 0,
        on_report: Callable[[DataReport], None] | None = None,
        **kwargs,
    ) -> None:
        self.report, self.datasets = report, datasets
        self.page_size, self.background, self.seed, self.on_report = page_size, background, seed, on_report
        self.run: BackgroundRun | None = None
        self._ranking = None
        self._lock = threading.Lock()
        scored = [s for s in report.splits if s in report.label_scores]
        self.split_dd = widgets.Dropdown(
            options=scored or ["(none)"], description="split", layout=widgets.Layout(width="200px")
        )
        self.prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
        self.page_label = widgets.HTML()
        self.header = widgets.HTML()
        self.upgrade_button = widgets.Button(
            description="rank with the CNN",
            icon="graduation-cap",
            button_style="primary",
            tooltip=f"train a small CNN out-of-fold ({CNN_FOLDS} folds x {CNN_EPOCHS} epochs) "
            "and rank the labels by its probabilities",
            layout=widgets.Layout(width="190px"),
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, layout=widgets.Layout(width="90px")
        )
        self.progress = widgets.IntProgress(
            min=0, max=1, value=0, layout=widgets.Layout(width="240px", visibility="hidden")
        )
        self.status = widgets.HTML("")
        self.status.add_class("wb-status")
        self.gallery = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns="repeat(8, 124px)", grid_gap="6px")
        )
        self.gallery.add_class("wb-doubtful-gallery")
        self.split_dd.observe(lambda c: setattr(self, "split", c["new"]), "value")
        self.prev_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.upgrade_button.on_click(lambda _: self.upgrade())
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__(
            children=[
                self.header,
                widgets.HBox([self.upgrade_button, self.cancel_button, self.progress]),
                self.status,
                widgets.HBox([self.split_dd, self.prev_button, self.page_label, self.next_button]),
                self.gallery,
            ],
            **kwargs,
        )
        self.add_class("wb-doubtful-labels")
        if not scored:
            self.upgrade_button.disabled = self.prev_button.disabled = self.next_button.disabled = True
            self.header.value = "<i>no label scores: inspect ran with suspicious=False</i>"
            return
        self.upgrade_button.disabled = report.settings.get("label_model") == "cnn"
        self.split = scored[0]

    # -- ranking and paging ---------------------------------------------------------------------------
    @traitlets.observe("split")
    def _on_split(self, change) -> None:
        if self.split_dd.value != self.split:
            self.split_dd.value = self.split
        self._rerank()

    def _rerank(self) -> None:
        self._ranking = self.report.label_ranking(self.split)  # the core ranks; this view pages
        self.model = self.report.label_scores[self.split].model
        flagged = len(self.report.label_scores[self.split].flagged)
        self.header.value = (
            f"<b>most doubtful labels</b> of <b>{html.escape(self.split)}</b>, ranked by the "
            f"<b>{html.escape(MODEL_NAMES.get(self.model, self.model))}</b>: {flagged} flagged of "
            f"{len(self._ranking)}. Under each image: the given class &rarr; the class the model suggests, "
            "and the label quality (the model's probability of the given class)."
        )
        self.page = 0
        self._draw_page()

    @property
    def pages(self) -> int:
        return max(1, -(-len(self._ranking) // self.page_size)) if self._ranking is not None else 1

    def go(self, page: int) -> None:
        """Show page ``page`` (clipped to the range)."""
        self.page = int(np.clip(page, 0, self.pages - 1))
        self._draw_page()

    def _draw_page(self) -> None:
        part = self._ranking.iloc[self.page * self.page_size : (self.page + 1) * self.page_size]
        self.shown = [int(i) for i in part["index"]]
        self.gallery.children = [self._tile(row) for row in part.itertuples(index=False)]
        self.page_label.value = (
            f"&nbsp;page {self.page + 1}/{self.pages} &middot; {len(self._ranking)} samples&nbsp;"
        )
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    def _tile(self, row) -> widgets.VBox:
        x, _ = self.datasets[self.split][int(row.index)]
        img = widgets.Image(
            value=png_bytes(x, 96), format="png", layout=widgets.Layout(width="96px", height="96px")
        )
        differs = row.suggested != row.label
        arrow = f"&rarr; <b style='color:#b00020'>{html.escape(row.suggested)}</b>" if differs else "&check;"
        quality = "n/a" if np.isnan(row.quality) else f"{row.quality:.3f}"
        caption = widgets.HTML(
            f"<div class='wb-doubtful-caption' style='font-size:11px;line-height:1.3'>#{int(row.index)} "
            f"&middot; given <b>{html.escape(row.label)}</b> {arrow}<br>quality {quality}</div>"
        )
        tile = widgets.VBox([img, caption], layout=widgets.Layout(width="120px"))
        tile.add_class("wb-tile")
        return tile

    # -- the CNN upgrade ---------------------------------------------------------------------------------
    def upgrade(self) -> BackgroundRun | None:
        """Re-rank every split's labels with the out-of-fold CNN (``rank_labels``), in the background."""
        if self.running or self._ranking is None:
            return None
        throttle = Throttle(4.0)

        def on_progress(stage: str, done: int, total: int) -> None:
            if throttle.ready() or done == total:
                with self._lock:
                    self.progress.max, self.progress.value = total, done
                    self.status.value = f"{html.escape(stage)}: epoch {done} of {total}…"

        def target(stop_event: threading.Event) -> DataReport:
            return rank_labels(
                self.report, self.datasets, "cnn", seed=self.seed, progress=on_progress, stop_event=stop_event
            )

        self.running = True
        self.upgrade_button.disabled, self.cancel_button.disabled = True, False
        self.progress.value, self.progress.layout.visibility = 0, "visible"
        self.status.value = "training the CNN out-of-fold…"
        self.run = BackgroundRun(
            target, background=self.background, on_done=self._done, name="label-ranking-cnn"
        )
        return self.run.start()

    def cancel(self) -> None:
        """Stop the CNN after its current step; the ranking stays as it was."""
        if self.run is not None and self.running:
            self.run.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the upgrade to end; True when it has."""
        return self.run.join(timeout) if self.run is not None else True

    def _done(self, run: BackgroundRun) -> None:
        self.running = False
        self.cancel_button.disabled = True
        self.progress.layout.visibility = "hidden"
        if isinstance(run.error, LabelModelStopped):
            self.upgrade_button.disabled = False
            self.status.value = f"cancelled: {html.escape(str(run.error))}"
            return
        if run.error is not None:
            self.upgrade_button.disabled = False
            self.status.value = f"<span style='color:#b00020'>failed: {html.escape(str(run.error))}</span>"
            return
        self.set_report(run.result)
        seconds = sum(s.seconds for s in run.result.label_scores.values())
        self.status.value = f"ranked by the CNN in {seconds:.1f} s"
        if self.on_report is not None:
            self.on_report(run.result)

    def set_report(self, report: DataReport) -> None:
        """Show the ranking of another report of the same data."""
        self.report = report
        self.upgrade_button.disabled = report.settings.get("label_model") == "cnn"
        self._rerank()
