"""The overfit lab's controls: one widget per ``LabSettings`` field, built from the starting settings.

Kept apart from ``lab.py`` (which wires them to runs and views): what each control offers and how it is
labelled.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..lab import LabSettings
from ..models import INIT_SCHEMES, MODEL_KINDS
from ..train.optimizers import OPTIMIZERS
from ..train.schedules import SCHEDULES

__all__ = ["OPT_LABELS", "control_value", "make_controls", "offer_value", "setting_value"]

#: Settings whose None is shown as "" by their control (a text field, or a Dropdown: it reads None as
#: "nothing selected").
_EMPTY_IS_NONE = ("weights", "freeze_upto")

OPT_LABELS = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
}


def make_controls(s: LabSettings, n_train: int) -> dict[str, widgets.ValueWidget]:
    """The controls, keyed by ``LabSettings`` field, set to ``s``; ``n_train``: size of the training split.
    Read them with ``setting_value``."""
    subset_options = (
        [("one batch", s.batch_size)]
        + [(str(k), k) for k in (64, 128, 256, 512, 1024) if k < n_train]
        + [(f"all {n_train}", n_train)]
    )
    if s.subset not in [v for _, v in subset_options]:
        subset_options.append((str(s.subset), s.subset))
    # "off" is 0 here (a Dropdown reads the value None as "nothing selected"); the lab reads 0 as None
    patience_options = [("off", 0)] + [(str(k), k) for k in (1, 2, 3, 5, 10, 20)]
    if (s.patience or 0) not in [v for _, v in patience_options]:
        patience_options.append((str(s.patience), s.patience or 0))
    style = {"description_width": "90px"}
    lr = widgets.FloatLogSlider(
        value=s.lr,
        base=10,
        min=-5,
        max=0,
        step=0.05,
        description="LR",
        readout_format=".1e",
        continuous_update=True,
        style=style,
    )
    lr.add_class("wb-lr")
    return {
        "lr": lr,
        "optimizer": widgets.Dropdown(
            options=[(OPT_LABELS[o], o) for o in OPTIMIZERS],
            value=s.optimizer,
            description="optimizer",
            style=style,
        ),
        "init": widgets.Dropdown(options=list(INIT_SCHEMES), value=s.init, description="init", style=style),
        "model": widgets.Dropdown(options=list(MODEL_KINDS), value=s.model, description="model", style=style),
        "width": widgets.IntSlider(
            value=s.width, min=1, max=512, description="width/chan.", continuous_update=False, style=style
        ),
        "depth": widgets.IntSlider(
            value=s.depth, min=1, max=6, description="depth", continuous_update=False, style=style
        ),
        "seed": widgets.BoundedIntText(value=s.seed, min=0, max=2**31 - 1, description="seed", style=style),
        "subset": widgets.SelectionSlider(
            options=subset_options, value=s.subset, description="subset", continuous_update=False, style=style
        ),
        "batch_size": widgets.Dropdown(
            options=[8, 16, 32, 64, 128, 256], value=s.batch_size, description="batch size", style=style
        ),
        "weight_decay": widgets.Dropdown(
            options=[0.0, 1e-5, 1e-4, 1e-3, 1e-2],
            value=s.weight_decay,
            description="weight decay",
            style=style,
        ),
        "dropout": widgets.FloatSlider(
            value=s.dropout,
            min=0.0,
            max=0.8,
            step=0.05,
            description="dropout",
            continuous_update=False,
            style=style,
        ),
        "epochs": widgets.BoundedIntText(
            value=s.epochs, min=1, max=100_000, description="epochs", style=style
        ),
        # the LR slider sets the schedule's peak; early stopping watches the val loss
        "schedule": widgets.Dropdown(
            options=list(SCHEDULES), value=s.schedule, description="LR schedule", style=style
        ),
        "warmup_steps": widgets.BoundedIntText(
            value=s.warmup_steps, min=0, max=1_000_000, description="warmup", style=style
        ),
        "patience": widgets.Dropdown(
            options=patience_options, value=s.patience or 0, description="early stop", style=style
        ),
    }


#: Settings whose None ("off", "native") is 0 in their control (a Dropdown reads None as "nothing selected").
ZERO_IS_NONE = ("patience", "input_size", "ema")


def setting_value(key: str, value):
    """The ``LabSettings`` value of a control's value (the early-stop, input-size and EMA controls' "off" is
    0: None; an empty weights file or "freeze up to" is None)."""
    if (key in ZERO_IS_NONE and value == 0) or (key in _EMPTY_IS_NONE and value == ""):
        return None
    return value


def control_value(key: str, value):
    """The control's value of a ``LabSettings`` value: ``setting_value`` the other way round."""
    if value is None and key in ZERO_IS_NONE:
        return 0
    if value is None and key in _EMPTY_IS_NONE:
        return ""
    return value


def offer_value(w: widgets.Widget, value) -> None:
    """Make ``value`` one of a selection control's options (kept in order for numbers: sliders)."""
    options = list(w.options)
    values = [o[1] if isinstance(o, tuple) else o for o in options]
    if value in values:
        return
    new = (str(value), value) if options and isinstance(options[0], tuple) else value
    at = len(options)
    if isinstance(value, int | float) and all(isinstance(v, int | float) for v in values):
        at = sum(v < value for v in values)
    current = w.value
    w.options = [*options[:at], new, *options[at:]]
    w.value = current
