"""``RecipePanel``: the recipe as a checklist, with the evidence of each done step and what to do next.

A view over ``Recipe.steps()`` and ``Recipe.next_step()``: it computes nothing. ``refresh()`` reads the
recipe again (the ``App`` calls it after each record; the refresh button picks up what another notebook
recorded into the same store); ``record(result, ...)`` records through the recipe and refreshes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

from ..recipe import Recipe, RecipeStep, Suggestion

__all__ = ["RecipePanel"]

#: step state -> (mark, colour)
_MARKS = {"done": ("✔", "#1a7f37"), "not yet": ("○", "#57606a"), "problem": ("⚠", "#b00020")}


def step_state(step: RecipeStep) -> str:
    """'problem' when something is still wrong, else 'done' or 'not yet'."""
    if step.problem:
        return "problem"
    return "done" if step.done else "not yet"


def _known(value: Any) -> bool:
    """Not None and not NaN (the evidence of a run that ended early may hold NaN accuracies)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.3f}".rstrip("0")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def evidence_lines(step: RecipeStep) -> list[str]:
    """What was found, in words (plain text, one item a line) for a recorded step."""
    ev = dict(step.evidence)
    if step.updated is None:
        return []
    lines: list[str] = []
    if step.name == "data":
        found = ev.pop("found", {})
        lines.append(
            "found: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in found.items())
            if found
            else "no leakage, conflicting labels, exact duplicates or unreadable files"
        )
        rows = ev.pop("rows", None)
        if rows:
            lines.append(f"{rows} (sample, finding) rows to look at in the data browser")
    elif step.name == "checks":
        passed, failed = ev.pop("passed", []), ev.pop("failed", [])
        lines.append(f"passed: {_fmt(passed)}")
        if failed:
            lines.append(f"failed: {_fmt(failed)}")
    elif step.name in ("overfit", "regularize", "squeeze") and "train_acc" in ev:
        acc, val = ev.pop("train_acc"), ev.pop("val_acc", None)
        if _known(acc):
            lines.append(f"train accuracy {acc:.1%}" + (f", val {val:.1%}" if _known(val) else ""))
    elif step.name == "lr" and "lr" in ev:
        lr, reason = ev.pop("lr"), ev.pop("reason", "")
        lines.append(f"LR found: {_fmt(lr)}" if lr is not None else "no LR found")
        if reason:
            lines.append(str(reason))
    elif step.name == "search" and "trials" in ev:
        trials, best, acc = ev.pop("trials"), ev.pop("best", None), ev.pop("val_acc", None)
        lines.append(f"{trials} trials" + (f"; best {_fmt(best)}" if best else ""))
        if acc is not None:
            lines.append(f"best val accuracy {acc:.1%}")
    lines += [f"{k.replace('_', ' ')}: {_fmt(v)}" for k, v in ev.items() if _known(v)]
    return lines


class RecipePanel(widgets.VBox):
    """Where the user is in the recipe: what to do next (and why) on top, then every step as a checklist.

    Parameters
    ----------
    recipe : Recipe
        The progress to show (read again by ``refresh()``).
    on_go : callable, optional
        ``on_go(step_name)``: called by the "go" button next to the suggestion (the ``App`` opens the
        step's tab); the button is hidden without it.
    """

    states = traitlets.Dict(help="step name -> 'done' | 'not yet' | 'problem'")
    next_step = traitlets.Unicode(None, allow_none=True, help="The suggested step (None: all done).")
    message = traitlets.Unicode("", help="The suggestion and why, in one line.")

    def __init__(self, recipe: Recipe, *, on_go: Callable[[str], None] | None = None, **kwargs) -> None:
        if not isinstance(recipe, Recipe):
            raise TypeError(
                "The 'recipe' parameter of RecipePanel must be a workbench.Recipe (Recipe(data, store)). "
                f"Got {type(recipe).__name__} instead."
            )
        self.recipe, self.on_go = recipe, on_go
        self.suggestion_html = widgets.HTML()
        self.suggestion_html.add_class("wb-next-step")
        self.go_button = widgets.Button(description="go", icon="arrow-right", layout={"width": "70px"})
        self.go_button.on_click(lambda _: self.go())
        self.go_button.layout.display = None if on_go is not None else "none"
        self.refresh_button = widgets.Button(description="refresh", icon="refresh", layout={"width": "90px"})
        self.refresh_button.on_click(lambda _: self.refresh())
        self.checklist = widgets.HTML()
        self.checklist.add_class("wb-recipe-steps")
        super().__init__(
            children=[
                widgets.HTML("<b>Recipe progress</b>"),
                self.suggestion_html,
                widgets.HBox([self.go_button, self.refresh_button]),
                self.checklist,
            ],
            **kwargs,
        )
        self.add_class("wb-recipe-panel")
        self.refresh()

    def record(self, result: Any, **kwargs: Any) -> RecipeStep:
        """``Recipe.record(result, **kwargs)``, then redraw."""
        step = self.recipe.record(result, **kwargs)
        self.refresh()
        return step

    def go(self) -> None:
        """Hand the suggested step to ``on_go``."""
        if self.on_go is not None and self.next_step is not None:
            self.on_go(self.next_step)

    def refresh(self) -> None:
        """Read the recipe again and redraw the checklist and the suggestion."""
        steps, suggestion = self.recipe.steps(), self.recipe.next_step()
        self.checklist.value = "".join(self._row(s) for s in steps)
        self.suggestion_html.value = self._suggestion(suggestion)
        self.states = {s.name: step_state(s) for s in steps}
        self.message = f"{suggestion.message} ({suggestion.why})"
        self.next_step = suggestion.step
        self.go_button.disabled = suggestion.step is None

    @staticmethod
    def _suggestion(s: Suggestion) -> str:
        color = "#1a7f37" if s.step is None else "#0969da"
        return (
            f"<div style='border-left:4px solid {color};padding:4px 8px;margin:4px 0'>"
            f"<b>Next:</b> {html.escape(s.message)}<br><small>why: {html.escape(s.why)}</small></div>"
        )

    @staticmethod
    def _row(step: RecipeStep) -> str:
        state = step_state(step)
        mark, color = _MARKS[state]
        lines = ([step.problem] if step.problem else []) + evidence_lines(step)
        details = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        if details:
            details = f"<ul style='margin:2px 0 0;padding-left:22px;font-size:12px'>{details}</ul>"
        return (
            f"<div class='wb-recipe-step wb-step-{step.name}' data-state='{state}' style='margin:4px 0'>"
            f"<span style='color:{color};font-weight:bold'>{mark}</span> <b>{html.escape(step.title)}</b>"
            f" <small style='color:{color}'>{state}</small>"
            f"{details}</div>"
        )
