"""``DataStats``: per-channel statistics per split and split-vs-split shift, from a ``DataReport``.

A view over ``report.channel_stats`` and ``report.split_shifts`` (computed by ``inspect``, see
``workbench.data.stats``): a table (mean, std per channel; the share of variance that is per-image
brightness; the spread of contrast), a grouped bar chart of the same means and stds per split, what
preprocessing would remove, and the image statistics that differ between splits with their evidence.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..data.report import DataReport

__all__ = ["DataStats"]

SPLIT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


class DataStats(widgets.VBox):
    """Per-channel statistics and split shift of an inspected dataset.

    Parameters
    ----------
    report : DataReport
        What ``workbench.data.inspect`` returned.
    """

    def __init__(self, report: DataReport, **kwargs) -> None:
        if not isinstance(report, DataReport) or report.channel_stats is None:
            raise TypeError(
                "The 'report' parameter of DataStats must be a DataReport from workbench.data.inspect "
                f"(with channel statistics). Got {type(report).__name__} instead."
            )
        self.report = report
        cs = report.channel_stats
        names = list(cs.splits)
        labels = [f"{c} {what}" for c in cs.channels for what in ("mean", "std")]
        values = np.stack([cs.mean, cs.std], axis=2).reshape(len(names), -1)  # (S, 2C): c0 mean, c0 std, ...
        values = np.nan_to_num(values)
        # both ends set: a LinearScale with only min=0 draws every bar at height 0 (domain [0, 0])
        x, y = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=float(max(values.max(), 1e-6)) * 1.1)
        self.bars = bq.Bars(
            x=labels,
            y=values,
            scales={"x": x, "y": y},
            type="grouped",
            colors=SPLIT_COLORS[: len(names)],
            labels=names,
            display_legend=True,
        )
        self.figure = bq.Figure(
            marks=[self.bars],
            axes=[bq.Axis(scale=x, label="channel"), bq.Axis(scale=y, side="left", label="pixel value")],
            title="per-channel mean and std per split",
            layout=widgets.Layout(width="560px", height="300px"),
            fig_margin={"top": 40, "bottom": 45, "left": 60, "right": 20},
        )
        self.table = widgets.HTML(self._table())
        advice = cs.advice()
        self.advice = widgets.HTML(
            "<ul>" + "".join(f"<li>{html.escape(a)}</li>" for a in advice) + "</ul>" if advice else ""
        )
        if report.split_shifts:
            items = "".join(
                f"<li><b style='color:#b00020'>{html.escape(s.message)}</b></li>" for s in report.split_shifts
            )
            shift = (
                "<b>Split shift</b> (two-sample KS test, D &ge; 0.1 and Bonferroni p &lt; 0.001):"
                f"<ul>{items}</ul>"
            )
        else:
            shift = "<b>Split shift</b>: brightness, contrast, size and aspect are alike in every split."
        self.shifts = widgets.HTML(shift)
        super().__init__(children=[self.table, self.figure, self.advice, self.shifts], **kwargs)
        self.add_class("wb-data-stats")

    def _table(self) -> str:
        cs = self.report.channel_stats
        head = (
            "<tr><th>split</th><th>channel</th><th>mean</th><th>std</th><th>per-image brightness</th>"
            "<th>contrast spread</th></tr>"
        )
        body = []
        for k, s in enumerate(cs.splits):
            for j, c in enumerate(cs.channels):
                body.append(
                    f"<tr><td>{html.escape(s)}</td><td>{c}</td>"
                    f"<td>{cs.mean[k, j]:.4f}</td><td>{cs.std[k, j]:.4f}</td>"
                    f"<td>{cs.between_image[k]:.1%}</td><td>{cs.contrast_spread[k]:.2f}</td></tr>"
                )
        return f"<table class='wb-channel-table' style='font-size:12px'>{head}{''.join(body)}</table>"
