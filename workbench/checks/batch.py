"""What the model really receives: capture a batch at ``model(x)`` with a forward pre-hook.

Nothing is re-run through the transforms: the tensors are taken from the model's own input, so what
is shown is exactly what it gets. The pipeline that produced them is described next to them, with
augmentations flagged (the recipe: no augmentation while building the pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.dataset import ImageDataset, TensorImageDataset
from ..data.folder import FolderImageDataset
from ..data.torchdata import TorchImageDataset
from ..models.adapter import InputAdapter
from ..train.loop import resolve_device
from ..train.state import preserved
from .runner import first_batch

__all__ = ["CapturedBatch", "PipelineStep", "capture_batch", "describe_pipeline"]

_AUGMENT = {
    "ColorJitter",
    "AutoAugment",
    "RandAugment",
    "TrivialAugmentWide",
    "AugMix",
    "GaussianBlur",
    "ElasticTransform",
    "RandomChoice",
    "RandomApply",
    "RandomOrder",
    "CutMix",
    "MixUp",
    "GaussianNoise",
}


@dataclass(frozen=True)
class PipelineStep:
    name: str
    detail: str
    augmentation: bool = False


@dataclass
class CapturedBatch:
    """A batch exactly as ``model(x)`` received it, with its labels, statistics and pipeline."""

    inputs: torch.Tensor  # (B, C, H, W), on the CPU, as the model got it
    targets: torch.Tensor  # (B,)
    classes: tuple[str, ...]
    pipeline: list[PipelineStep]
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None  # (mean, std) found in the transforms
    channel_stats: dict[str, list[float]] = field(default_factory=dict)  # mean/std/min/max per channel

    @property
    def augmented(self) -> bool:
        return any(s.augmentation for s in self.pipeline)

    def for_display(self) -> torch.Tensor:
        """The inputs made viewable: a Normalize undone when one is in the pipeline (display only)."""
        x = self.inputs.float()
        if self.normalize is not None and x.ndim == 4:
            mean, std = (torch.tensor(v, dtype=x.dtype)[None, :, None, None] for v in self.normalize)
            if mean.shape[1] in (1, x.shape[1]):
                x = x * std + mean
        return x


def _transform_steps(transform) -> list[PipelineStep]:
    if transform is None:
        return []
    inner = getattr(transform, "transforms", None)
    if isinstance(inner, (list, tuple)):
        return [s for t in inner for s in _transform_steps(t)]
    name = type(transform).__name__
    return [PipelineStep(name, repr(transform), name.startswith("Random") or name in _AUGMENT)]


def _find_normalize(steps_source) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    inner = getattr(steps_source, "transforms", None)
    for t in inner if isinstance(inner, (list, tuple)) else [steps_source]:
        if type(t).__name__ == "Normalize":
            mean = t.mean if isinstance(t.mean, (list, tuple)) else [float(t.mean)]
            std = t.std if isinstance(t.std, (list, tuple)) else [float(t.std)]
            return tuple(float(m) for m in mean), tuple(float(s) for s in std)
    return None


def describe_pipeline(data) -> tuple[list[PipelineStep], tuple | None]:
    """The steps that turn a stored sample into the model's input, and a Normalize's (mean, std) if any."""
    if isinstance(data, TensorImageDataset):
        return [PipelineStep("in-memory tensor", "images held as float32 (N, C, H, W); no transforms")], None
    if isinstance(data, FolderImageDataset):
        steps = [
            PipelineStep("decode", "PIL decodes the file (kept in memory after the first read)"),
            PipelineStep("convert", f"to mode {data.mode}"),
        ]
        if data.transform is not None:
            return steps + _transform_steps(data.transform), _find_normalize(data.transform)
        return [
            *steps,
            PipelineStep("resize", f"to {data.size[0]}x{data.size[1]} (only images of another size)"),
            PipelineStep("to tensor", "uint8 / 255 -> float32 in [0, 1]"),
        ], None
    if isinstance(data, TorchImageDataset):
        t = getattr(data.base, "transform", None)
        return [PipelineStep("dataset", type(data.base).__name__), *_transform_steps(t)], _find_normalize(t)
    return [PipelineStep("dataset", type(data).__name__)], None


def capture_batch(
    model: nn.Module, data: ImageDataset, *, batch_size: int = 32, seed: int = 0
) -> CapturedBatch:
    """Draw the batch the training loop would draw first (same seed) and capture it at ``model(x)``.

    For a pretrained model (``models.from_pretrained``) the batch is captured where it leaves the model's
    ``InputAdapter`` (resized, channels repeated, normalised), and the adapter's steps end the pipeline.
    """
    x, y = first_batch(data, batch_size, seed)
    got: dict[str, torch.Tensor] = {}
    # a pretrained network adapts its input on the device (models.InputAdapter): show what leaves the adapter
    adapter = next((m for m in model.modules() if isinstance(m, InputAdapter)), None)

    def grab(module, args, out=None):
        got.setdefault("x", (args[0] if out is None else out).detach().cpu().clone())

    with preserved(model):
        model.eval()
        if adapter is not None:
            handle = adapter.register_forward_hook(grab)
        else:
            handle = model.register_forward_pre_hook(grab)
        try:
            with torch.no_grad():
                dev = (
                    next(model.parameters()).device
                    if any(True for _ in model.parameters())
                    else resolve_device("auto")
                )
                model(x.to(dev))
        finally:
            handle.remove()
    inputs = got["x"]
    per_channel = (
        inputs.transpose(0, 1).reshape(inputs.shape[1], -1).float()
        if inputs.ndim == 4
        else inputs.reshape(1, -1).float()
    )
    stats = {
        "mean": per_channel.mean(1).tolist(),
        "std": per_channel.std(1).tolist(),
        "min": per_channel.min(1).values.tolist(),
        "max": per_channel.max(1).values.tolist(),
    }
    steps, norm = describe_pipeline(data)
    if adapter is not None:
        steps = steps + [PipelineStep(f"model: {name}", detail) for name, detail in adapter.steps()]
        norm = adapter.normalization or norm
    classes = (
        data.classes if isinstance(data, ImageDataset) else tuple(str(i) for i in range(int(y.max()) + 1))
    )
    return CapturedBatch(inputs, y.cpu(), classes, steps, norm, stats)
