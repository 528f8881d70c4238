"""The overfit lab's transfer row: the weights file a run starts from, "freeze up to" a layer group, and
the body's LR factor. A view over ``workbench.lab.Lab`` (its ``pretrained``, ``freeze_choices`` and
settings); the lab wires the three controls like its others (a change restarts a running run).

The row shows only when the lab starts from pretrained weights (``OverfitLab(..., pretrained=...)``, or
a run line with ``weights=``): freezing randomly initialised layers is not a step of the recipe, and the
plain lab of the first notebooks stays as it was. Its "freeze up to" options are the layer groups of the
model a run builds, so they follow the model's depth.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..lab import Lab
from .lab_controls import offer_value

__all__ = ["BODY_LR_FACTORS", "TransferRow"]

#: The body-LR factors offered (body LR = LR x factor; the head trains at the LR).
BODY_LR_FACTORS = (0.001, 0.01, 0.03, 0.1, 0.3, 1.0)
_NOTHING = ("nothing", "")  # a Dropdown reads the value None as "nothing selected": "" stands for None


class TransferRow(widgets.HBox):
    """Weights file, "freeze up to", body-LR factor, and a line saying what trains at which LR.

    Parameters
    ----------
    core : Lab
        The lab core whose settings the controls start from and whose model's groups they offer.

    Attributes
    ----------
    controls : dict
        ``{"weights": Text, "freeze_upto": Dropdown, "body_lr": Dropdown}``, keyed by ``LabSettings``
        field ("" is None for the first two).
    """

    def __init__(self, core: Lab, **kwargs) -> None:
        self.core = core
        s = core.settings
        style = {"description_width": "90px"}
        self.weights = widgets.Text(
            value=s.weights or "",
            description="weights",
            placeholder="a weights file (empty: from scratch)",
            continuous_update=False,
            style=style,
            layout=widgets.Layout(width="330px"),
        )
        self.freeze_upto = widgets.Dropdown(
            options=[_NOTHING], value="", description="freeze up to", style=style
        )
        self.body_lr = widgets.Dropdown(
            options=[(f"x{f:g}" + (" (as the head)" if f == 1 else ""), f) for f in BODY_LR_FACTORS],
            value=1.0,
            description="body LR",
            tooltip="the body trains at the LR times this; the head at the LR",
            style=style,
        )
        offer_value(self.body_lr, s.body_lr)  # a factor from a run line or the settings
        self.body_lr.value = s.body_lr
        self.summary = widgets.HTML("")
        self.controls: dict[str, widgets.ValueWidget] = {
            "weights": self.weights,
            "freeze_upto": self.freeze_upto,
            "body_lr": self.body_lr,
        }
        super().__init__(
            [self.weights, self.freeze_upto, self.body_lr, self.summary],
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="2px 8px"),
            **kwargs,
        )
        self.add_class("wb-transfer-row")
        self.refresh()

    @property
    def shown(self) -> bool:
        """Whether the row is visible: runs start from pretrained weights (or a line set transfer fields)."""
        return self.layout.display != "none"

    def refresh(self) -> None:
        """Follow the core: show or hide the row, offer the current model's groups, say what trains."""
        core, s = self.core, self.core.settings
        show = core.pretrained or s.freeze_upto is not None or s.body_lr != 1.0
        self.layout.display = None if show else "none"
        choices: tuple[str, ...] = ()
        if show:
            try:
                choices = core.freeze_choices()
            except ValueError as err:  # weights that do not fit the model: the lab's status says why
                first = html.escape(str(err).splitlines()[0])
                self.summary.value = f"<span style='color:#b00020'>{first}</span>"
                return
        options = [_NOTHING, *((g, g) for g in choices), ("all but the head", "body")]
        if [o[1] for o in self.freeze_upto.options] != [o[1] for o in options]:
            self.freeze_upto.options = options
        self.freeze_upto.value = s.freeze_upto or ""  # the core drops a group the model no longer has
        self.summary.value = _summary(choices, s.freeze_upto, s.body_lr, s.lr) if show else ""


def _summary(choices: tuple[str, ...], upto: str | None, body_lr: float, lr: float) -> str:
    """``frozen: body.0 · body.3 at 1.0e-04 (x0.1) · head at 1.0e-03``."""
    stop = -1 if upto is None else len(choices) - 1 if upto == "body" else choices.index(upto)
    frozen, trains = choices[: stop + 1], choices[stop + 1 :]
    parts = [f"frozen: {', '.join(frozen)}"] if frozen else []
    if trains:
        parts.append(f"{', '.join(trains)} at {lr * body_lr:.1e} (x{body_lr:g})")
    parts.append(f"head at {lr:.1e}")
    return f"<small>{html.escape(' · '.join(parts))}</small>"
