"""``from_pretrained``: a network with weights from a local file, a new head sized from the data, and the
input adapted to what the weights expect. Nothing is downloaded.

torchvision architectures (``PRETRAINED``) are built with ``weights=None`` and filled from the file; your
own ``nn.Module`` is filled the same way. The old head's entries in the file are ignored (they belong to
the old task); everything else must match name for name and shape for shape, or the error lists the
layers that differ. The result is a ``TransferModel``: ``adapter`` (channels, resize, normalisation, on
the device) then ``network``, with named layer groups for ``freeze`` and ``param_groups``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .._validation import check_choice, check_int
from ..train.state import preserved
from .adapter import InputAdapter
from .groups import LayerGroup, _generic_groups
from .layers import output_layer
from .weights import how_to_get, load_matching, read_weights

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "PRETRAINED", "TransferModel", "from_pretrained"]

#: torchvision architectures ``from_pretrained`` knows by name.
PRETRAINED = ("resnet18", "mobilenet_v3_small")
#: The normalisation torchvision's ImageNet weights were trained with (inputs in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> (head module path, [(group name, module paths)] from input to output); the weights' input size
_Groups = list[tuple[str, tuple[str, ...]]]
_RESNET: _Groups = [
    ("stem", ("conv1", "bn1")),
    *((f"layer{i}", (f"layer{i}",)) for i in range(1, 5)),
    ("head", ("fc",)),
]
_MOBILENET: _Groups = [
    ("stem", ("features.0",)),
    *((f"block{i}", (f"features.{i}",)) for i in range(1, 12)),
    ("top", ("features.12", "classifier.0")),  # the last conv and the hidden linear layer before the head
    ("head", ("classifier.3",)),
]
_ARCHS: dict[str, tuple[str, _Groups, int]] = {
    "resnet18": ("fc", _RESNET, 224),
    "mobilenet_v3_small": ("classifier.3", _MOBILENET, 224),
}


class TransferModel(nn.Module):
    """``network(adapter(x))``: a pretrained network behind the input adaptation its weights need.

    Attributes
    ----------
    adapter : InputAdapter
    network : nn.Module
        The pretrained network with its new head (``network.<head_path>``).
    layer_groups : tuple of LayerGroup
        Input to output; the last is ``"head"``. ``freeze`` / ``param_groups`` use them.
    source : str
        Where the weights came from.
    """

    def __init__(
        self,
        adapter: InputAdapter,
        network: nn.Module,
        head_path: str,
        groups: Sequence[tuple[str, tuple[str, ...]]],
        source: str = "",
    ) -> None:
        super().__init__()
        self.adapter, self.network, self.head_path, self.source = adapter, network, head_path, source
        self.layer_groups = tuple(LayerGroup(n, tuple(f"network.{m}" for m in mods)) for n, mods in groups)

    @property
    def head(self) -> nn.Module:
        return self.network.get_submodule(self.head_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, classes)
        return self.network(self.adapter(x))

    def train(self, mode: bool = True) -> TransferModel:
        """Like ``nn.Module.train``, but batch-norm layers whose parameters are frozen stay in eval mode:
        a frozen layer keeps its running statistics too, not only its weights."""
        super().train(mode)
        if mode:
            for m in self.network.modules():
                params = list(m.parameters(recurse=False))
                if (
                    isinstance(m, nn.modules.batchnorm._BatchNorm)
                    and params
                    and not any(p.requires_grad for p in params)
                ):
                    m.eval()
        return self


def _data_shape(data, num_classes, where: str) -> tuple[tuple[int, ...] | None, int]:
    shape = None
    if isinstance(data, tuple) and len(data) == 2:
        shape, classes = tuple(int(s) for s in data[0]), data[1]
    elif hasattr(data, "input_shape") and hasattr(data, "num_classes"):
        shape, classes = tuple(data.input_shape), data.num_classes
    elif data is None:
        classes = None
    else:
        raise TypeError(
            f"The 'data' parameter of {where} must be an ImageDataset or an (input_shape, num_classes) "
            f"tuple. Got {type(data).__name__} instead."
        )
    classes = num_classes if num_classes is not None else classes
    if classes is None:
        raise ValueError(
            f"{where} needs the number of classes: pass data=<the training split> or num_classes=N."
        )
    return shape, check_int(classes, "num_classes", where, low=2)


def _first_conv_channels(net: nn.Module) -> int | None:
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else None


def _groups_around(net: nn.Module, head: str) -> list[tuple[str, tuple[str, ...]]]:
    """The generic groups of ``net`` with ``head`` as the last group (a head nested in a block is split
    off it: the longest module path owns a parameter)."""
    groups = [(g.name, g.modules) for g in _generic_groups(net)]
    if groups and groups[-1][1] != (head,):
        last = groups.pop()
        groups += [(last[1][0], last[1]), ("head", (head,))]
    return [(n, mods) for n, mods in groups if mods != (head,)] + [("head", (head,))]


def _find_head(net: nn.Module, adapter: InputAdapter, shape: tuple[int, ...] | None) -> str:
    if shape is not None:
        with preserved(net):  # one probe forward: batch-norm statistics, modes and RNG stay as they were
            net.eval()
            found = output_layer(net, adapter(torch.rand(2, *shape)))
        name = found[0] if found is not None else ""
    else:
        name = next((n for n, m in reversed(list(net.named_modules())) if isinstance(m, nn.Linear)), "")
    if not name or not isinstance(net.get_submodule(name), nn.Linear):
        raise ValueError(
            "from_pretrained: the network's output layer must be an nn.Linear to be replaced by a head for "
            f"the new classes; found {name or 'none'!r}. Give the module a final nn.Linear."
        )
    return name


def _size(size, where: str) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, (tuple, list)) else ()
    if len(pair) != 2:
        raise TypeError(
            f"The 'input_size' parameter of {where} must be an int or (H, W). Got {size!r} instead."
        )
    return check_int(pair[0], "input_size", where, low=1), check_int(pair[1], "input_size", where, low=1)


def _normalization(normalize, default, where: str) -> tuple[Sequence[float], Sequence[float]] | None:
    if normalize == "auto":
        return default
    if normalize is None:
        return None
    if isinstance(normalize, (tuple, list)) and len(normalize) == 2:
        return normalize[0], normalize[1]
    raise ValueError(
        f"The 'normalize' parameter of {where} must be 'auto', None or a (mean, std) pair. Got {normalize!r} "
        "instead."
    )


def from_pretrained(
    name_or_module: str | nn.Module,
    weights: str | Path | None = None,
    *,
    num_classes: int | None = None,
    data=None,
    input_size: int | tuple[int, int] | None = None,
    normalize: str | tuple[Sequence[float], Sequence[float]] | None = "auto",
    seed: int = 0,
) -> TransferModel:
    """A pretrained network from a local weights file, with a new head for ``data``'s classes.

    Parameters
    ----------
    name_or_module : str or nn.Module
        One of ``PRETRAINED`` (torchvision, built with ``weights=None``) or your own module, built as it
        was when the weights were saved (it is copied, not changed).
    weights : path
        A state_dict saved with ``torch.save(model.state_dict(), path)``, read with
        ``torch.load(weights_only=True)``. Required for a torchvision name; for a module, None keeps the
        weights it has. A missing file's error says how to get one onto this machine.
    num_classes : int, optional
        Size of the new head; by default ``data.num_classes``.
    data : ImageDataset or (input_shape, num_classes), optional
        The data to train on: its channels and size set the input adaptation.
    input_size : int or (int, int), optional
        Resize images to this on the device. Default: the weights' own size for a torchvision name (224),
        the data's size for a module. Smaller is much faster on a CPU (e.g. 32 or 64).
    normalize : "auto", None or (mean, std)
        ``"auto"``: ImageNet's statistics for torchvision names, none for a module.
    seed : int
        Initialises the new head without touching the global RNG.

    Returns
    -------
    TransferModel
        ``adapter`` -> ``network``; grayscale data is repeated to 3 channels where the weights expect RGB.
    """
    where = "from_pretrained"
    shape, classes = _data_shape(data, num_classes, where)
    seed = check_int(seed, "seed", where, low=0)
    arch: str | None = None
    if isinstance(name_or_module, str):
        arch = check_choice(name_or_module, "name_or_module", where, PRETRAINED)
        if weights is None:
            raise ValueError(
                f"The 'weights' parameter of {where} must be a file path for {arch!r}. Got None instead. "
                + how_to_get(Path(torch.hub.get_dir()) / "checkpoints" / f"{arch}.pth", arch)
            )
        import torchvision  # type: ignore[import-untyped]  # only here: torchvision is slow to import

        head, groups, native = _ARCHS[arch]
        net: nn.Module = getattr(torchvision.models, arch)(weights=None)
        expects: int | None = 3
        size = _size(input_size if input_size is not None else native, where)
        mean_std = _normalization(normalize, (IMAGENET_MEAN, IMAGENET_STD), where)
    elif isinstance(name_or_module, nn.Module):
        net = copy.deepcopy(name_or_module)
        expects = _first_conv_channels(net)
        size = _size(input_size, where)
        mean_std = _normalization(normalize, None, where)
    else:
        raise TypeError(
            f"The 'name_or_module' parameter of {where} must be one of {', '.join(map(repr, PRETRAINED))} "
            f"or an nn.Module. Got {type(name_or_module).__name__} instead."
        )
    in_channels = shape[0] if shape is not None else (expects or 1)
    mean, std = mean_std if mean_std is not None else (None, None)
    adapter = InputAdapter(in_channels, expects, size, mean, std)
    if arch is None:
        head = _find_head(net, adapter, shape)
        groups = _groups_around(net, head)
    if weights is not None:
        state = read_weights(weights, where, arch)
        load_matching(net, state, skip=head, source=str(weights))
    old = net.get_submodule(head)
    assert isinstance(old, nn.Linear)  # both tables and _find_head name a Linear
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = nn.Linear(old.in_features, classes)
    parent, _, leaf = head.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, new)
    n_params = sum(p.numel() for p in net.parameters())
    label = arch or type(name_or_module).__name__
    source = f"{label} ({n_params / 1e6:.2f} M parameters) with weights from {weights}" if weights else label
    return TransferModel(adapter, net, head, groups, source)
