"""Layer groups of a network, input to output: freeze the lower ones, give each its own learning rate.

A pretrained body learns slowly (or not at all) while a new head learns fast. ``layer_groups`` names
the groups (a ``TransferModel`` carries its own, e.g. ``stem, layer1..layer4, head`` for a ResNet;
any other module gets one group per top-level layer, the last one being ``head``); ``freeze(model,
upto="layer3")`` stops gradients up to a group; ``param_groups`` turns the groups into torch optimizer
parameter groups with per-group LRs, **head first**: ``set_lr``, ``LiveLR`` and the schedules scale
every group from the first one, so the run's LR is the head's and the ratios stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from .._validation import check_real
from ..train.optimizers import make_optimizer

__all__ = [
    "LayerGroup",
    "freeze",
    "frozen_groups",
    "group_parameters",
    "layer_groups",
    "param_groups",
    "transfer_optimizer",
    "unfreeze",
]

#: Layers that only rescale the layer before them: grouped with it, not on their own.
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)


@dataclass(frozen=True)
class LayerGroup:
    """A named run of layers: ``modules`` are module paths inside the model (``"network.layer1"``)."""

    name: str
    modules: tuple[str, ...]


def _owns(path: str, name: str) -> bool:
    return name == path or name.startswith(path + ".")


def _has_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters())


def _generic_groups(model: nn.Module) -> tuple[LayerGroup, ...]:
    """One group per top-level layer with parameters; a Sequential of plain layers is opened one level
    (``body.0``, ``body.3``), a norm layer joins the layer before it; the last group is called ``head``."""
    units: list[list[str]] = []
    for name, child in model.named_children():
        if not _has_params(child):
            continue
        leaves = list(child.named_children())
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and all(
            not list(c.children()) for _, c in leaves
        ):
            for sub, leaf in leaves:
                if not _has_params(leaf):
                    continue
                if isinstance(leaf, _NORMS) and units:
                    units[-1].append(f"{name}.{sub}")
                else:
                    units.append([f"{name}.{sub}"])
        elif isinstance(child, _NORMS) and units:
            units[-1].append(name)
        else:
            units.append([name])
    if any(True for _ in model.parameters(recurse=False)):  # parameters held by the model itself
        units.insert(0, [n for n, _ in model.named_parameters(recurse=False)])
    if not units:
        return ()
    groups = [LayerGroup(".".join(u[0].split(".")[:2]), tuple(u)) for u in units[:-1]]
    return (*groups, LayerGroup("head", tuple(units[-1])))


def layer_groups(model: nn.Module) -> tuple[LayerGroup, ...]:
    """The model's layer groups, from the input to the output; the last one is the head.

    A ``TransferModel`` (``from_pretrained``) has named groups of its architecture; any other module
    gets one group per top-level layer that has parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"The 'model' parameter of layer_groups must be a torch.nn.Module. Got {type(model).__name__} "
            "instead."
        )
    own = getattr(model, "layer_groups", None)
    if isinstance(own, tuple) and own and all(isinstance(g, LayerGroup) for g in own):
        return own
    return _generic_groups(model)


def _owner(groups: Sequence[LayerGroup], name: str) -> int | None:
    """Index of the group owning parameter ``name``: the longest matching module path wins, so a head
    nested in a larger block (``classifier.3`` in ``classifier``) belongs to the head."""
    best, length = None, -1
    for i, g in enumerate(groups):
        for path in g.modules:
            if _owns(path, name) and len(path) > length:
                best, length = i, len(path)
    return best


def group_parameters(model: nn.Module, group: LayerGroup | str) -> list[nn.Parameter]:
    """The parameters of one group (by name or ``LayerGroup``)."""
    g = _find(model, group, "group_parameters") if isinstance(group, str) else group
    groups = layer_groups(model)
    i = groups.index(g) if g in groups else None
    if i is None:
        return [p for n, p in model.named_parameters() if any(_owns(path, n) for path in g.modules)]
    return [p for n, p in model.named_parameters() if _owner(groups, n) == i]


def _find(model: nn.Module, name: str, where: str, param: str = "group") -> LayerGroup:
    groups = layer_groups(model)
    for g in groups:
        if g.name == name:
            return g
    names = ", ".join(repr(g.name) for g in groups)
    raise ValueError(
        f"The {param!r} parameter of {where} must be one of the model's layer groups: {names}. Got {name!r} "
        "instead. layer_groups(model) lists them."
    )


def freeze(model: nn.Module, upto: str = "body") -> tuple[str, ...]:
    """Freeze the groups from the input up to and including ``upto``; every later group trains.

    ``upto="body"`` freezes everything but the head (a frozen feature extractor); a group name
    (``"layer3"``) freezes the lower layers only. Frozen parameters get ``requires_grad=False``: no
    gradient, so no optimizer moves them (bit for bit); a ``TransferModel`` also keeps the batch-norm
    layers of frozen groups in eval mode, so their running statistics stay too. Returns the frozen
    groups' names.
    """
    groups = layer_groups(model)
    if upto == "body":
        stop = len(groups) - 2
    else:
        stop = groups.index(_find(model, upto, "freeze", "upto"))
        if stop == len(groups) - 1:
            raise ValueError(
                "The 'upto' parameter of freeze names the head: nothing would be left to train. Use "
                f"upto='body' or a group before {groups[-1].name!r}."
            )
    for i, g in enumerate(groups):
        for p in group_parameters(model, g):
            p.requires_grad_(i > stop)
    return tuple(g.name for g in groups[: stop + 1])


def unfreeze(model: nn.Module) -> None:
    """Let every parameter train again."""
    for p in model.parameters():
        p.requires_grad_(True)


def frozen_groups(model: nn.Module) -> tuple[str, ...]:
    """Names of the groups whose parameters are all frozen."""
    out = []
    for g in layer_groups(model):
        params = group_parameters(model, g)
        if params and not any(p.requires_grad for p in params):
            out.append(g.name)
    return tuple(out)


def param_groups(
    model: nn.Module, lr: float, *, body_lr_factor: float = 1.0, layer_decay: float = 1.0
) -> list[dict]:
    """Torch optimizer parameter groups with one LR per layer group, the head first.

    Parameters
    ----------
    model : nn.Module
    lr : float
        The head's LR.
    body_lr_factor : float
        The group just below the head trains at ``lr * body_lr_factor`` (0.1: the head at 10x the body).
    layer_decay : float
        Discriminative LRs: each group further down is multiplied by this again (0.5: the group below
        at half, the one below that at a quarter...). 1 keeps the whole body at one LR.

    Returns
    -------
    list of dict
        ``{"params": [...], "lr": float, "name": str}`` from the head down to the input; frozen
        parameters and empty groups are left out. ``make_optimizer(name, groups, lr)`` (or any torch
        optimizer) takes it as is; ``set_lr`` / ``LiveLR`` / the schedules then move the head's LR and
        keep the ratios.
    """
    lr = check_real(lr, "lr", "param_groups", low=0.0, high=10.0, low_open=True)
    body_lr_factor = check_real(
        body_lr_factor, "body_lr_factor", "param_groups", low=0.0, high=100.0, low_open=True
    )
    layer_decay = check_real(layer_decay, "layer_decay", "param_groups", low=0.0, high=1.0, low_open=True)
    out = []
    for depth, g in enumerate(reversed(layer_groups(model))):  # depth 0: the head
        params = [p for p in group_parameters(model, g) if p.requires_grad]
        if not params:
            continue
        group_lr = lr if depth == 0 else lr * body_lr_factor * layer_decay ** (depth - 1)
        out.append({"params": params, "lr": group_lr, "name": g.name})
    if not out:
        raise ValueError(
            "param_groups: every parameter of the model is frozen. unfreeze(model) or freeze less."
        )
    return out


def transfer_optimizer(
    model: nn.Module, config, *, body_lr_factor: float = 1.0, layer_decay: float = 1.0
) -> torch.optim.Optimizer:
    """``config.optimizer`` over ``param_groups(model, config.lr, ...)``: pass it to ``fit(...,
    optimizer=...)``; the head trains at ``config.lr``, the body at ``body_lr_factor`` times that."""
    groups = param_groups(model, config.lr, body_lr_factor=body_lr_factor, layer_decay=layer_decay)
    params = cast(Sequence[nn.Parameter], groups)  # torch optimizers take parameter-group dicts as well
    return make_optimizer(config.optimizer, params, config.lr, config.weight_decay, config.momentum)
