"""``DataBrowser``: look at the data through what ``inspect`` found.

A paged gallery (thumbnails made only for the page on screen) filtered by split, class and issue;
duplicate / leakage / conflict groups side by side; class-count bars per split; a details pane for
the clicked sample; a downsample slider that shows how small the input can get before a person
can no longer tell the class; and the most doubtful labels first (``DoubtfulLabelsView``, which can
upgrade the ranking to a cross-validated CNN in the background). A view over a ``DataReport`` and the
datasets: it computes nothing but pictures.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets

from ..background import BackgroundRun
from ..data.inspection import inspect
from ..data.preview import downsample_preview, png_bytes
from ..data.report import ISSUES, DataReport
from ..data.splits import named_splits
from .datastats import DataStats
from .doubtful import DoubtfulLabelsView

__all__ = ["DataBrowser"]

SPLIT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


class DataBrowser(widgets.VBox):
    """Browse datasets with the findings of ``inspect``.

    Parameters
    ----------
    data : ImageDataset, DataSplits or dict of name -> ImageDataset
        The split names must match the report's (``inspect(train, test, val=...)`` names them so).
    report : DataReport, optional
        Shown as it is. When not given, ``inspect`` runs in a worker thread with a progress bar (inline with
        ``background=False``) and the views appear when it is done; ``wait()`` blocks until then.
    page_size : int
        Thumbnails per page.
    background : bool
        Inspect (when no report is given) and upgrade the label ranking to the CNN in a worker thread
        (False: inline, the path tests use).
    """

    split = traitlets.Unicode("all")
    class_name = traitlets.Unicode("all")
    issue = traitlets.Unicode("all")
    page = traitlets.Int(0)
    selected = traitlets.Tuple((), help="(split, index) of the sample in the details pane.")
    shown = traitlets.List(help="(split, index) of the samples on the current page.")
    tab = traitlets.Unicode("gallery", help="Title of the tab on screen.")

    #: the tabs, in order
    tab_titles = ("gallery", "groups", "class counts", "downsample", "doubtful labels", "split stats")

    def __init__(
        self,
        data,
        report: DataReport | None = None,
        *,
        page_size: int = 24,
        background: bool = True,
        **kwargs,
    ) -> None:
        self.datasets = named_splits(data, where="DataBrowser")
        self.page_size, self.background = page_size, background
        self.report: DataReport | None = None
        self.run: BackgroundRun | None = None
        super().__init__(children=[], **kwargs)
        self.add_class("wb-data-browser")
        if report is not None:
            self._build(report)
            return
        # no report given: inspect in the background, with progress; the views appear when it is done
        self.inspect_progress = widgets.IntProgress(value=0, min=0, max=1, description="inspect")
        self.inspect_status = widgets.HTML("<i>inspecting the data…</i>")
        self.inspect_status.add_class("wb-status")
        self.children = [widgets.HBox([self.inspect_progress, self.inspect_status])]

        def progress(stage: str, done: int, total: int) -> None:
            self.inspect_progress.max, self.inspect_progress.value = max(total, 1), done
            self.inspect_status.value = f"<i>inspecting: {html.escape(stage)} ({done}/{total})</i>"

        self.run = BackgroundRun(
            lambda stop: inspect(**self.datasets, progress=progress),
            background=background,
            on_done=self._inspected,
            name="inspect",
        ).start()

    def wait(self, timeout: float | None = None) -> DataReport | None:
        """Block until a background ``inspect`` is done (for scripts and top-to-bottom notebooks)."""
        if self.run is not None:
            self.run.join(timeout)
        return self.report

    def _inspected(self, run: BackgroundRun) -> None:
        if run.error is not None:
            self.inspect_status.value = (
                f"<b style='color:#b00020'>inspect failed: {html.escape(type(run.error).__name__)}: "
                f"{html.escape(str(run.error))}</b>"
            )
            return
        self._build(run.result)

    def _build(self, report: DataReport) -> None:
        self.report = report
        missing = set(self.report.splits) - set(self.datasets)
        if missing:
            raise ValueError(
                f"DataBrowser: the report covers splits {sorted(missing)} that are not in data "
                f"({sorted(self.datasets)}); pass the same splits you inspected."
            )
        self._selection: list[tuple[str, int]] = []
        r = self.report

        self.split_dd = widgets.Dropdown(options=["all", *r.splits], value="all", description="split")
        self.class_dd = widgets.Dropdown(options=["all", *r.classes], value="all", description="class")
        self.issue_dd = widgets.Dropdown(options=self._issue_options(), value="all", description="issue")
        for dd in (self.split_dd, self.class_dd, self.issue_dd):
            dd.layout.width = "260px"
        self.issue_dd.add_class("wb-issue-filter")
        self.prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
        self.page_label = widgets.HTML()
        self.gallery = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns="repeat(8, 124px)", grid_gap="6px")
        )
        self.gallery.add_class("wb-gallery")
        self.details = widgets.HTML("<i>click a sample's caption for its details</i>")
        self.details.add_class("wb-details")
        self.preview_image = widgets.Image(format="png")
        self.side = widgets.IntSlider(
            description="side (px)", min=2, max=64, value=64, continuous_update=True
        )
        self.class_row = widgets.HBox()
        self.group_dd = widgets.Dropdown(description="group", layout=widgets.Layout(width="420px"))
        self.group_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.summary = widgets.HTML(f"<pre style='font-size:12px'>{html.escape(r.summary())}</pre>")
        self.counts_figure = self._class_bars()
        self.doubtful = DoubtfulLabelsView(
            r, self.datasets, page_size=self.page_size, background=self.background, on_report=self._use_report
        )

        self.split_dd.observe(lambda c: setattr(self, "split", c["new"]), "value")
        self.class_dd.observe(lambda c: setattr(self, "class_name", c["new"]), "value")
        self.issue_dd.observe(lambda c: setattr(self, "issue", c["new"]), "value")
        self.prev_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.side.observe(lambda _: self._draw_preview(), "value")
        self.group_dd.observe(lambda _: self._draw_group(), "value")

        gallery_tab = widgets.VBox(
            [
                widgets.HBox([self.split_dd, self.class_dd, self.issue_dd]),
                widgets.HBox([self.prev_button, self.page_label, self.next_button]),
                self.gallery,
                self.details,
            ]
        )
        groups_tab = widgets.VBox([self.group_dd, self.group_box])
        preview_tab = widgets.VBox(
            [
                widgets.HTML(
                    "How small can the input get before the class is unreadable to you? "
                    "The selected sample, and the first of each class, at <b>side</b> pixels:"
                ),
                self.side,
                self.preview_image,
                self.class_row,
            ]
        )
        self.stats = DataStats(r)  # per-channel statistics and split shift
        tabs = widgets.Tab(
            children=[
                gallery_tab,
                groups_tab,
                widgets.VBox([self.counts_figure]),
                preview_tab,
                self.doubtful,
                self.stats,
            ]
        )
        for k, title in enumerate(self.tab_titles):
            tabs.set_title(k, title)
        self.tabs = tabs
        tabs.selected_index = self.tab_titles.index(self.tab)
        tabs.observe(lambda c: setattr(self, "tab", self.tab_titles[c["new"]]), "selected_index")
        self.children = [self.summary, tabs]
        self._refresh_groups()
        self._refilter()
        first = self._selection[0] if self._selection else None
        if first:
            self.select(*first)

    @traitlets.validate("tab")
    def _valid_tab(self, proposal) -> str:
        if proposal["value"] not in self.tab_titles:
            raise traitlets.TraitError(
                f"DataBrowser.tab must be one of {self.tab_titles}. Got {proposal['value']!r} instead."
            )
        return proposal["value"]

    @traitlets.observe("tab")
    def _on_tab(self, change) -> None:
        if self.report is None:
            return  # still inspecting: the tab is applied when the views are built
        self.tabs.selected_index = self.tab_titles.index(self.tab)

    def _issue_options(self) -> list[tuple[str, str]]:
        r = self.report
        options = [("all samples", "all"), (f"any issue ({len(r.select(issue='any'))})", "any")]
        return options + [(f"{i} ({n})", i) for i in ISSUES if (n := r.count(i))]

    def _use_report(self, report: DataReport) -> None:
        """Take the report with the upgraded label ranking: new counts, summary and selection."""
        self.report = report
        options = self._issue_options()
        keep = self.issue if self.issue in [v for _, v in options] else "all"
        with self.issue_dd.hold_trait_notifications():
            self.issue_dd.options = options
            self.issue_dd.value = keep
        self.issue = keep
        self.summary.value = f"<pre style='font-size:12px'>{html.escape(report.summary())}</pre>"
        self._refilter()

    # -- filtering and paging -----------------------------------------------------------------------
    @traitlets.observe("split", "class_name", "issue")
    def _on_filter(self, change) -> None:
        if self.report is None:
            return
        for dd, value in (
            (self.split_dd, self.split),
            (self.class_dd, self.class_name),
            (self.issue_dd, self.issue),
        ):
            if dd.value != value:
                dd.value = value  # keeps code-driven changes and the dropdowns in step
        self._refilter()

    def _refilter(self) -> None:
        self._selection = self.report.select(self.split, self.class_name, self.issue)
        self.page = 0
        self._draw_page()

    @property
    def pages(self) -> int:
        return max(1, -(-len(self._selection) // self.page_size))

    def go(self, page: int) -> None:
        """Show page ``page`` (clipped to the range)."""
        self.page = int(np.clip(page, 0, self.pages - 1))
        self._draw_page()

    def _draw_page(self) -> None:
        start = self.page * self.page_size
        items = self._selection[start : start + self.page_size]
        self.shown = [list(i) for i in items]
        self.gallery.children = [self._tile(s, i) for s, i in items]
        self.page_label.value = (
            f"&nbsp;page {self.page + 1}/{self.pages} &middot; {len(self._selection)} samples&nbsp;"
        )
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    def _tile(self, split: str, index: int, caption_path: bool = False) -> widgets.VBox:
        ds = self.datasets[split]
        x, y = ds[index]
        img = widgets.Image(
            value=png_bytes(x, 96), format="png", layout=widgets.Layout(width="96px", height="96px")
        )
        flags = {r["issue"] for r in self.report.issues_of(split, index)}
        text = f"{split}#{index} · {ds.classes[y]}"
        button = widgets.Button(
            description=text,
            tooltip=", ".join(sorted(flags)) or "no issue",
            layout=widgets.Layout(width="120px", padding="0px 2px"),
        )
        button.style.font_size = "11px"
        if flags:
            button.style.button_color = "#fde2e1"
        button.on_click(lambda _: self.select(split, index))
        parts = [img, button]
        if caption_path and ds.paths[index]:
            parts.append(
                widgets.HTML(
                    "<div style='font-size:10px;width:104px;word-break:break-all'>"
                    f"{html.escape(str(ds.paths[index]))}</div>"
                )
            )
        tile = widgets.VBox(parts)
        tile.add_class("wb-tile")
        return tile

    # -- one sample ----------------------------------------------------------------------------------
    def select(self, split: str, index: int) -> None:
        """Show a sample in the details pane and the downsample preview."""
        ds = self.datasets[split]
        x, y = ds[index]
        self.selected = (split, int(index))
        rows = self.report.issues_of(split, index)
        issues = (
            "".join(
                f"<li><b>{html.escape(r['issue'])}</b> {html.escape(r['detail'])}"
                + (f" (group {html.escape(r['group'])})" if r["group"] else "")
                + "</li>"
                for r in rows
            )
            or "<li>no issue found</li>"
        )
        self.details.value = (
            f"<b>{html.escape(split)} #{index}</b> &middot; label <b>{html.escape(ds.classes[y])}</b> "
            f"({y})<br>"
            f"path: {html.escape(str(ds.paths[index] or '(in memory)'))}<br>"
            f"shape {tuple(x.shape)} &middot; dtype {str(x.dtype).replace('torch.', '')} &middot; "
            f"min {float(x.min()):.3f} &middot; max {float(x.max()):.3f} &middot; mean {float(x.mean()):.3f}"
            f"<ul>{issues}</ul>"
        )
        self.side.max = int(max(x.shape[-2:]))
        self._draw_preview()

    def _draw_preview(self) -> None:
        if not self.selected:
            return
        split, index = self.selected
        x, _ = self.datasets[split][index]
        self.preview_image.value = png_bytes(downsample_preview(x, self.side.value), 192)
        firsts = []
        ds = self.datasets[split]
        for c, i in ds.first_of_each_class().items():
            xc, _ = ds[i]
            firsts.append(
                widgets.VBox(
                    [
                        widgets.Image(
                            value=png_bytes(downsample_preview(xc, self.side.value), 64), format="png"
                        ),
                        widgets.HTML(f"<center>{html.escape(ds.classes[c])}</center>"),
                    ]
                )
            )
        self.class_row.children = firsts

    # -- groups ----------------------------------------------------------------------------------------
    def _refresh_groups(self) -> None:
        options = []
        for issue in ("leakage", "label_conflict", "exact_duplicate", "near_duplicate"):
            for g in self.report.groups_with(issue):
                options.append((f"{issue}: {g} ({len(self.report.groups[g])} images)", g))
        self.group_dd.options = options or [("no groups found", "")]
        self._draw_group()

    def _draw_group(self) -> None:
        g = self.group_dd.value
        members = self.report.groups.get(g, []) if g else []
        self.group_box.children = [self._tile(s, i, caption_path=True) for s, i in members]

    # -- class counts --------------------------------------------------------------------------------------
    def _class_bars(self) -> widgets.VBox:
        r = self.report
        names = list(r.splits)
        counts = np.array([[r.splits[n].class_counts[c] for c in r.classes] for n in names], dtype=float)
        x, y = bq.OrdinalScale(), bq.LinearScale(min=0)
        bars = bq.Bars(
            x=list(r.classes),
            y=counts,
            scales={"x": x, "y": y},
            type="grouped",
            colors=SPLIT_COLORS[: len(names)],
            labels=names,
            display_legend=True,
        )
        fig = bq.Figure(
            marks=[bars],
            axes=[bq.Axis(scale=x, label="class"), bq.Axis(scale=y, side="left", label="images")],
            title="class counts per split",
            layout=widgets.Layout(width="720px", height="340px"),
            fig_margin={"top": 40, "bottom": 45, "left": 60, "right": 20},
        )
        self.count_bars = bars
        notes = []
        for s in r.splits.values():
            note = f"{s.name}: imbalance {s.imbalance_ratio:.2f}"
            if s.imbalance_ratio >= 3:
                note = f"<b style='color:#b00020'>{note} — imbalanced</b>"
            if s.missing_classes:
                missing = ", ".join(map(html.escape, s.missing_classes))
                note += f" &middot; <b style='color:#b00020'>missing {missing}</b>"
            notes.append(note)
        return widgets.VBox([fig, widgets.HTML("<br>".join(notes))])
