"""Read a local weights file safely and load it into a network, with errors that name what is wrong.

``torch.load(path, weights_only=True)``: tensors and plain containers only, never arbitrary pickled
code, so a file from elsewhere cannot run anything. Nothing is downloaded, ever.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = ["TORCHVISION_FILES", "how_to_get", "load_matching", "read_weights"]

#: Keys under which checkpoints commonly keep the model's state_dict.
_NESTED = ("state_dict", "model_state_dict", "model", "net", "weights")

#: torchvision's file names (what ``weights="DEFAULT"`` would download into torch's hub cache).
TORCHVISION_FILES = {
    "resnet18": ("ResNet18_Weights", "resnet18-f37072fd.pth"),
    "mobilenet_v3_small": ("MobileNet_V3_Small_Weights", "mobilenet_v3_small-047dcff4.pth"),
}


def how_to_get(path: Path, arch: str | None) -> str:
    if arch in TORCHVISION_FILES:
        enum, file = TORCHVISION_FILES[arch]
        return (
            "Nothing is downloaded here. On a machine with internet access run\n"
            f'    python -c "import torch, torchvision; torch.save(torchvision.models.{arch}(weights='
            f"torchvision.models.{enum}.DEFAULT).state_dict(), '{arch}.pth')\"\n"
            f"(or take {file} from that machine's ~/.cache/torch/hub/checkpoints/), copy it here, e.g.\n"
            f"    scp {arch}.pth THIS_HOST:{path}\n"
            f"and pass weights='{path}'."
        )
    return (
        "Nothing is downloaded here. Save the weights where they were trained with "
        "torch.save(model.state_dict(), 'weights.pt'), copy the file to this machine (scp, a shared "
        f"folder), e.g. to {path}, and pass weights=<that path>."
    )


def read_weights(path: str | Path, where: str = "from_pretrained", arch: str | None = None) -> dict:
    """The state_dict in a local file: a mapping of names to tensors (checkpoint nesting and a DDP
    ``module.`` prefix are undone)."""
    if not isinstance(path, (str, Path)):
        raise TypeError(
            f"The 'weights' parameter of {where} must be a file path. Got {type(path).__name__} instead."
        )
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"No weights file at {str(p)!r}. {how_to_get(p.resolve(), arch)}")
    try:
        with warnings.catch_warnings():  # a plain pickle (protocol > 2) is fine to read under weights_only
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        detail = f" (it holds a pickled {found.group(1)})" if found else ""
        raise ValueError(
            f"{str(p)!r} is not a weights file: torch.load(weights_only=True) refused it{detail}. A weights "
            "file holds tensors only; a pickled model or other Python object could run code when loaded, so "
            "it is not read. Where the model was trained, save torch.save(model.state_dict(), path) and use "
            "that file."
        ) from err
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((obj[k] for k in _NESTED if isinstance(obj.get(k), Mapping)), None)
        obj = inner if inner is not None else obj
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else "a dict of other things than tensors"
        raise ValueError(
            f"{str(p)!r} is not a weights file: it holds {kind}, not a state_dict (names -> tensors). Save "
            "torch.save(model.state_dict(), path) instead."
        )
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):  # saved from a DistributedDataParallel wrapper
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _shape(t: torch.Tensor) -> str:
    return "x".join(str(s) for s in t.shape) or "scalar"


def load_matching(
    net: nn.Module, state: Mapping[str, torch.Tensor], skip: str = "", source: str = ""
) -> None:
    """Copy ``state`` into ``net``; every entry must match (names and shapes) except those under the
    module path ``skip`` (the old head). Raises ``ValueError`` naming each mismatched layer."""
    own = net.state_dict()

    def skipped(k: str) -> bool:
        return bool(skip) and (k == skip or k.startswith(skip + "."))

    shapes = [
        f"{k}: file {_shape(v)}, model {_shape(own[k])}"
        for k, v in state.items()
        if k in own and not skipped(k) and v.shape != own[k].shape
    ]
    missing = [k for k in own if k not in state and not skipped(k)]
    extra = [k for k in state if k not in own and not skipped(k)]
    if shapes or missing or extra:
        parts = []
        if shapes:
            parts.append(f"shapes differ in {len(shapes)} layers:\n  " + "\n  ".join(shapes[:12]))
        if missing:
            parts.append(f"the file has no weights for {len(missing)} entries: {', '.join(missing[:12])}")
        if extra:
            parts.append(f"the file has {len(extra)} entries the model lacks: {', '.join(extra[:12])}")
        raise ValueError(
            f"The weights in {source or 'the file'} do not fit this network: "
            + "; ".join(parts)
            + ".\nBuild the network exactly as it was when the weights were saved (same layers, channels and "
            "input channels); only the head may differ, it is replaced."
        )
    body = {k: v for k, v in state.items() if not skipped(k)}
    net.load_state_dict(body, strict=False)  # the head's own (new) entries are the only ones not given
