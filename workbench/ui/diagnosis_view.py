"""``DiagnosisView``: a run's ``Diagnosis`` as a list in words; clicking a finding marks its evidence.

One row per finding: a toggle button (severity icon and kind), the message and what to try. Toggling a
finding on marks the steps/epochs of its evidence on the loss curve of a ``LiveCurves`` (a dashed line at
each, the span between shaded); toggling it off clears them. The view never diagnoses: ``show(diagnosis)``
draws a result that ``workbench.diagnose.diagnose`` computed.

Live runs refresh it a few times a second, so the rows are kept and rewritten in place (no new widgets per
refresh), and the finding that is marked stays marked (by kind) while its evidence moves on.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets
import traitlets

from ..diagnose.finding import Diagnosis, Finding
from .curves import LiveCurves

__all__ = ["DiagnosisView", "evidence_of"]

_STYLE = {"error": "danger", "warning": "warning", "info": "info"}
_ICON = {"error": "times-circle", "warning": "exclamation-triangle", "info": "info-circle"}
_COLOR = {"error": "#b00020", "warning": "#9a6700", "info": "#1f4e79"}


def evidence_of(finding: Finding) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(steps, epochs)`` that a finding's evidence names (``step``, ``steps``, ``epoch``, ``epochs``)."""
    ev = finding.evidence

    def ints(*keys: str) -> tuple[int, ...]:
        out: list[int] = []
        for key in keys:
            v = ev.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(int(v))
            elif isinstance(v, (list, tuple)):
                out += [int(x) for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
        return tuple(out)

    return ints("step", "steps"), ints("epoch", "epochs")


class _Row:
    """One finding's widgets, rewritten in place."""

    def __init__(self, on_toggle) -> None:
        self.button = widgets.ToggleButton(
            value=False, layout=widgets.Layout(width="190px", min_width="190px"), tooltip="mark on the curve"
        )
        self.text = widgets.HTML("")
        self.box = widgets.HBox([self.button, self.text], layout=widgets.Layout(align_items="center"))
        self.box.add_class("wb-finding")
        self.finding: Finding | None = None
        self.button.observe(lambda change: on_toggle(self, change["new"]), "value")

    def show(self, finding: Finding) -> None:
        self.finding = finding
        steps, epochs = evidence_of(finding)
        self.button.description = finding.kind
        self.button.button_style = _STYLE.get(finding.severity, "")
        self.button.icon = _ICON.get(finding.severity, "")
        self.button.disabled = not (steps or epochs)  # nothing to mark (healthy, or a run too short)
        advice = f"<br><i>Try:</i> {html.escape(finding.advice)}" if finding.advice else ""
        color = _COLOR.get(finding.severity, "inherit")
        self.text.value = (
            f"<div style='line-height:1.3'><span style='color:{color}'>{html.escape(finding.message)}</span>"
            f"{advice}</div>"
        )
        self.box.layout.display = None


class DiagnosisView(widgets.VBox):
    """The findings of a diagnosis, worst first; clicking one marks its evidence on ``curves``.

    Parameters
    ----------
    diagnosis : Diagnosis, optional
        Drawn at once (a finished run); a live run calls ``show`` again as it goes.
    curves : LiveCurves, optional
        Where a clicked finding's steps/epochs are marked.
    """

    selected = traitlets.Unicode(None, allow_none=True, help="The kind of the finding marked on the curve.")

    def __init__(
        self, diagnosis: Diagnosis | None = None, curves: LiveCurves | None = None, **kwargs
    ) -> None:
        self.curves = curves
        self.diagnosis: Diagnosis | None = None
        self.rows: list[_Row] = []
        self._lock = threading.RLock()  # the training thread refreshes, a click selects
        self._quiet = False  # set while rows are rewritten: their toggles are not clicks
        self.title = widgets.HTML("<b>What the curves say</b> <small>(click a finding to mark it)</small>")
        self.list_box = widgets.VBox([])
        super().__init__(children=[self.title, self.list_box], **kwargs)
        self.add_class("wb-diagnosis")
        if diagnosis is not None:
            self.show(diagnosis)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.diagnosis.findings if self.diagnosis is not None else ()

    def show(self, diagnosis: Diagnosis | None) -> None:
        """Draw ``diagnosis`` (None: an empty list); the marked finding stays marked if it is still found."""
        if diagnosis is not None and not isinstance(diagnosis, Diagnosis):
            raise TypeError(
                "The 'diagnosis' parameter of DiagnosisView.show must be a Diagnosis (from "
                f"workbench.diagnose.diagnose) or None. Got {type(diagnosis).__name__} instead."
            )
        with self._lock:
            self.diagnosis = diagnosis
            findings = self.findings
            while len(self.rows) < len(findings):
                self.rows.append(_Row(self._on_toggle))
                self.list_box.children = tuple(r.box for r in self.rows)
            self._quiet = True
            try:
                for row, finding in zip(self.rows, findings):
                    row.show(finding)
                    row.button.value = finding.kind == self.selected
                for row in self.rows[len(findings) :]:
                    row.finding, row.button.value = None, False
                    row.box.layout.display = "none"
            finally:
                self._quiet = False
            if self.selected is not None and self.selected not in {f.kind for f in findings}:
                self.selected = None
            self._draw_mark()

    def select(self, kind: str | None) -> None:
        """Mark the evidence of the finding of this kind (None: clear the mark)."""
        if kind is not None and kind not in {f.kind for f in self.findings}:
            raise ValueError(
                f"The 'kind' parameter of DiagnosisView.select must be the kind of a finding shown "
                f"({', '.join(f.kind for f in self.findings) or 'none'}). Got {kind!r} instead."
            )
        with self._lock:
            self.selected = kind
            self._quiet = True
            try:
                for row in self.rows:
                    row.button.value = row.finding is not None and row.finding.kind == kind
            finally:
                self._quiet = False
            self._draw_mark()

    def _on_toggle(self, row: _Row, on: bool) -> None:
        if self._quiet or row.finding is None:
            return
        if on:
            self.select(row.finding.kind)
        elif self.selected == row.finding.kind:
            self.select(None)

    def _draw_mark(self) -> None:
        if self.curves is None:
            return
        finding = next((f for f in self.findings if f.kind == self.selected), None)
        if finding is None:
            self.curves.clear_marks()
            return
        steps, epochs = evidence_of(finding)
        self.curves.mark(steps=steps, epochs=epochs)
