"""``TrialLines``: pick a search trial, see its lab run line, copy it, or open it in a linked overfit lab.

A view over ``TrialOutcome.line`` / ``line_note`` (``workbench.tune.trial_line``); ``SearchView`` shows one
under its trial table.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..tune.searching import TrialOutcome, ranked
from .share import CopyButton
from .status import status_markup

__all__ = ["TrialLines"]


class TrialLines(widgets.VBox):
    """The selected trial's run line with a copy button, and "Open in lab" when a lab is linked.

    Parameters
    ----------
    lab : OverfitLab, optional
        Where "Open in lab" puts the line (``lab.use_line``); also settable later with ``link(lab)``.
    """

    def __init__(self, lab: Any = None, **kwargs: Any) -> None:
        self.outcomes: dict[int, TrialOutcome] = {}
        self.trial = widgets.Dropdown(options=[], description="trial", layout=widgets.Layout(width="330px"))
        self.line = widgets.Text(
            value="",
            description="run line",
            tooltip="this trial as a run line: paste it into the overfit lab (Use line)",
            layout=widgets.Layout(width="100%"),
        )
        self.line.add_class("wb-trial-line")
        self.copy_button = CopyButton(source=self.line, label="copy line")
        self.open_button = widgets.Button(description="Open in lab", icon="external-link", disabled=True)
        self.open_button.on_click(lambda _: self.open_in_lab())
        self.note = widgets.HTML("")
        self.note.add_class("wb-trial-line-note")
        self._chosen: int | None = None  # a trial the user picked (kept while it is listed)
        self._listing = False
        self.trial.observe(self._on_pick, "value")
        self.lab = None
        super().__init__(
            children=[
                widgets.HBox([self.trial, self.line, self.copy_button, self.open_button]),
                self.note,
            ],
            **kwargs,
        )
        self.add_class("wb-trial-lines")
        self.link(lab)

    def link(self, lab: Any) -> None:
        """Make "Open in lab" put the selected trial's line into ``lab`` (an ``OverfitLab``; None: unlink)."""
        if lab is not None and not callable(getattr(lab, "use_line", None)):
            raise TypeError(
                "The 'lab' parameter of TrialLines.link must be an OverfitLab (something with use_line). "
                f"Got {type(lab).__name__} instead."
            )
        self.lab = lab
        self._show_selected()

    def show(self, outcomes: list[TrialOutcome]) -> None:
        """List ``outcomes`` (completed ones best first, then the rest) and select the best, or the trial the
        user picked if it is still listed."""
        order = ranked(outcomes)
        order += [o for o in outcomes if o not in order]
        self.outcomes = {o.number: o for o in order}
        self._listing = True
        try:
            self.trial.options = [(_label(o), o.number) for o in order]
            best = order[0].number if order else None
            self.trial.value = self._chosen if self._chosen in self.outcomes else best
        finally:
            self._listing = False
        self._show_selected()

    def _on_pick(self, change: dict) -> None:
        if not self._listing:
            self._chosen = change["new"]
        self._show_selected()

    @property
    def selected(self) -> TrialOutcome | None:
        return self.outcomes.get(self.trial.value) if self.trial.value is not None else None

    def open_in_lab(self) -> None:
        """Put the selected trial's line into the linked lab (its controls change; a running run restarts)."""
        o = self.selected
        if self.lab is None or o is None or not o.line:
            return
        try:
            settings = self.lab.use_line(o.line)
        except ValueError as err:
            self.note.value = status_markup(f"the lab cannot take trial #{o.number}'s line: {err}", True)
            return
        self.note.value = status_markup(f"trial #{o.number} is in the lab: {settings.name()}; press Run")

    def _show_selected(self) -> None:
        o = self.selected
        self.line.value = o.line if o is not None else ""
        self.open_button.disabled = self.lab is None or o is None or not o.line
        if o is None:
            self.note.value = ""
        elif not o.line:
            why = o.line_note or "it ran before trials recorded a run line"
            self.note.value = status_markup(f"trial #{o.number} has no run line: {why}", True)
        else:
            self.note.value = (
                f"<span style='color:#555'>trial #{o.number}: paste this line into the overfit lab "
                f"(Use line) to train it again, same data and seed, same curve"
                f"{html.escape(_partial(o))}</span>"
            )


def _label(o: TrialOutcome) -> str:
    acc = f"{o.value:.1%}" if o.value is not None else o.status
    return f"#{o.number}: {acc}, lr {o.params.get('lr', float('nan')):.1e}"


def _partial(o: TrialOutcome) -> str:
    return " (it was pruned: the line trains every epoch)" if o.status == "pruned" else ""
