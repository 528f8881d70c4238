"""Marks on a curve for the evidence of a finding: a line at each step or epoch, the span between shaded.

``LiveCurves.mark(steps=..., epochs=...)`` draws them on the loss figure; the diagnosis list calls it when
a finding is clicked. Kept apart from ``curves.py`` (one idea per module): the positions are worked out
here in numpy, in the units of the curve's x-axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import numpy as np

from ..train.history import HistorySnapshot, in_epochs

__all__ = ["EvidenceMarks", "evidence_x"]

MARK = "#d62728"


def evidence_x(
    snap: HistorySnapshot | None, steps: Sequence[int], epochs: Sequence[int], x_axis: str
) -> np.ndarray:
    """Where ``steps`` and ``epochs`` sit on an x-axis in ``x_axis`` units ("step" or "epoch"), sorted.

    An epoch sits at its end (where its metrics are drawn); without a run to read, steps are steps and
    epochs cannot be placed on a step axis.
    """
    s = np.asarray(steps, dtype=np.float64)
    e = np.asarray(epochs, dtype=np.float64)
    if x_axis == "epoch":
        s = in_epochs(snap, s) if snap is not None else np.full(len(s), np.nan)
    elif len(e):
        if snap is not None and snap.steps_per_epoch:
            e = e * snap.steps_per_epoch
        elif snap is not None and len(snap.epoch):
            e = np.interp(e, snap.epoch.astype(np.float64), snap.epoch_step.astype(np.float64))
        else:
            e = np.full(len(e), np.nan)
    x = np.concatenate([s, e])
    return np.sort(x[np.isfinite(x)])


class EvidenceMarks:
    """Two marks on the given scales: ``span`` (shaded between the first and last x) and ``lines``."""

    def __init__(self, x_scale: bq.Scale, y_scale: bq.Scale) -> None:
        scales = {"x": x_scale, "y": y_scale}
        self.span = bq.Lines(
            x=np.zeros(0),
            y=np.zeros((2, 0)),
            scales=scales,
            fill="between",
            colors=[MARK, MARK],
            fill_colors=[MARK],
            fill_opacities=[0.12],
            stroke_width=0.0,
        )
        self.lines = bq.Lines(
            x=np.zeros((0, 2)),
            y=np.zeros((0, 2)),
            scales=scales,
            colors=[MARK],
            line_style="dashed",
            stroke_width=2.0,
        )

    @property
    def marks(self) -> list[bq.Lines]:
        return [self.span, self.lines]

    @property
    def shown(self) -> bool:
        return len(self.lines.x) > 0

    def draw(self, x: np.ndarray, low: float, high: float) -> None:
        """A vertical line at each ``x`` from ``low`` to ``high``; the span between the first and last
        shaded (when they differ)."""
        if not len(x) or not (np.isfinite(low) and np.isfinite(high)):
            self.clear()
            return
        with self.lines.hold_sync():
            self.lines.x = np.repeat(x[:, None], 2, axis=1)  # (n, 2): one line per mark
            self.lines.y = np.tile([low, high], (len(x), 1))
        with self.span.hold_sync():
            if x[-1] > x[0]:
                self.span.x = np.array([x[0], x[-1]])
                self.span.y = np.array([[low, low], [high, high]])
            else:
                self.span.x, self.span.y = np.zeros(0), np.zeros((2, 0))

    def clear(self) -> None:
        if not len(self.lines.x) and not len(self.span.x):
            return  # already clear: nothing is sent
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = np.zeros((0, 2)), np.zeros((0, 2))
        with self.span.hold_sync():
            self.span.x, self.span.y = np.zeros(0), np.zeros((2, 0))
