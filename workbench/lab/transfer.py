"""Transfer learning in the overfit lab (pure: no widgets): the network a run starts from, the groups it
freezes and the LR factor of its body, applied with ``from_pretrained``, ``freeze`` and
``transfer_optimizer`` (nothing here re-implements them).

Three settings carry it (``LabSettings.weights``, ``freeze_upto``, ``body_lr``), so a run line says
which file a run started from, what was frozen and how slowly the body learnt. The architecture is the
lab's own model (``model``, ``width``, ``depth``: the file must have been saved from the same one), or
the one the lab was given (``Lab(..., pretrained=("resnet18", path))``, your ``nn.Module``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .._validation import check_real
from ..models import (
    PRETRAINED,
    freeze,
    from_pretrained,
    group_parameters,
    layer_groups,
    transfer_optimizer,
)
from ..train.config import TrainConfig

if TYPE_CHECKING:
    from ..data.dataset import ImageDataset
    from .settings import LabSettings

__all__ = [
    "check_transfer_fields",
    "freeze_choices",
    "pretrained_source",
    "resolve_freeze",
    "run_optimizer",
    "trainable_groups",
    "transfer_model",
    "transfer_name",
]

#: The settings that decide which network (and so which layer groups) a run builds.
ARCH_SETTINGS = ("model", "width", "depth", "dropout", "weights")


def check_transfer_fields(s: LabSettings) -> None:
    """Validate ``weights``, ``freeze_upto`` and ``body_lr`` (a run line cannot carry ';' or a newline)."""
    for name in ("weights", "freeze_upto"):
        value = getattr(s, name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or any(c in value for c in ";\n\r"):
            what = "a file path" if name == "weights" else "a layer-group name (layer_groups(model))"
            raise ValueError(
                f"The {name!r} parameter of LabSettings must be {what} without ';' or line breaks, or None. "
                f"Got {value!r} instead."
            )
    check_real(s.body_lr, "body_lr", "LabSettings", low=0.0, high=100.0, low_open=True)


def transfer_name(s: LabSettings) -> str:
    """The transfer part of a run's name: `` from w.pt frozen to body.0 body lr x0.1`` (empty when off)."""
    out = f" from {Path(s.weights).name}" if s.weights is not None else ""
    out += f" frozen to {s.freeze_upto}" if s.freeze_upto is not None else ""
    return out + (f" body lr x{s.body_lr:g}" if s.body_lr != 1.0 else "")


def pretrained_source(pretrained, where: str = "Lab") -> tuple[str | nn.Module | None, str | None]:
    """``(arch, weights)`` from what a lab was given: a weights file (the lab's own model), an ``nn.Module``
    (its own weights) or ``(arch, file)`` with ``arch`` one of ``PRETRAINED`` or a module."""
    if pretrained is None:
        return None, None
    if isinstance(pretrained, (str, Path)) and str(pretrained) not in PRETRAINED:
        return None, str(pretrained)
    if isinstance(pretrained, nn.Module):
        return pretrained, None
    if (
        isinstance(pretrained, tuple)
        and len(pretrained) == 2
        and (pretrained[0] in PRETRAINED or isinstance(pretrained[0], nn.Module))
        and isinstance(pretrained[1], (str, Path))
    ):
        return pretrained[0], str(pretrained[1])
    raise TypeError(
        f"The 'pretrained' parameter of {where} must be a weights file path (for the lab's own model), an "
        f"nn.Module, or an (arch, path) pair with arch one of {', '.join(map(repr, PRETRAINED))} or an "
        f"nn.Module. Got {pretrained!r} instead."
    )


def transfer_model(
    model: nn.Module, settings: LabSettings, train: ImageDataset, arch: str | nn.Module | None = None
) -> nn.Module:
    """The run's model: ``model`` (the lab's own, built from the settings) as it is, or, with weights or
    an ``arch``, ``from_pretrained`` (head new and seeded, input adapted to ``train``); then
    ``freeze_upto`` frozen."""
    if arch is not None or settings.weights is not None:
        model = from_pretrained(
            model if arch is None else arch, settings.weights, data=train, seed=settings.seed
        )
    if settings.freeze_upto is not None:
        freeze(model, upto=settings.freeze_upto)
    return model


def run_optimizer(
    model: nn.Module, settings: LabSettings, config: TrainConfig
) -> torch.optim.Optimizer | None:
    """The optimizer of a lab run: ``transfer_optimizer`` (head at ``config.lr``, the body at ``body_lr``
    times that, frozen groups left out) when something is frozen or the body has its own LR; None
    otherwise (``fit`` builds ``config.optimizer`` over every parameter, as a plain lab run always did)."""
    if settings.freeze_upto is None and settings.body_lr == 1.0:
        return None
    return transfer_optimizer(model, config, body_lr_factor=settings.body_lr)


def freeze_choices(model: nn.Module) -> tuple[str, ...]:
    """The groups ``freeze_upto`` may name for ``model``: every group but the head, input first."""
    return tuple(g.name for g in layer_groups(model)[:-1])


def trainable_groups(model: nn.Module) -> tuple[str, ...]:
    """Names of the groups with a parameter that trains (the head alone when the whole body is frozen)."""
    groups = layer_groups(model)
    return tuple(g.name for g in groups if any(p.requires_grad for p in group_parameters(model, g)))


def resolve_freeze(value: str | int | None, choices: Sequence[str]) -> str | None:
    """``freeze_upto`` given as a group index (0: the input's group) becomes that group's name."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"The 'freeze_upto' parameter of Lab.update must be a str, an int or None. Got {value!r} instead."
        )
    if not 0 <= value < len(choices):
        raise ValueError(
            f"The 'freeze_upto' parameter of Lab.update must be a group name or an index in [0, "
            f"{len(choices) - 1}] (the head cannot be frozen). Got {value!r} instead. Groups: "
            f"{', '.join(choices)}."
        )
    return choices[value]
