"""Augmentation as data: named, parameterised ``torchvision.transforms.v2`` steps, applied on the fly to the
training split only.

``augment(splits, Augmentation.of("shift", "rotate"))`` returns the same splits with the training view
wrapped in an ``AugmentedDataset``; val and test are the very same objects as before. The wrapper needs
no change to the loop: ``fit`` draws its batches through a ``DataLoader``, which hands the whole batch's
indices to ``__getitems__``; there the images are sliced from memory in one go and each step runs on the
batch. A v2 transform draws one set of random parameters per call, so a call on a whole batch would move
every image the same way: each step runs once per group of ``group`` images (1 by default: every image
its own draw; 8 is ~8x cheaper and gives each image the same distribution, only correlated within the
group). The randomness is torch's global RNG, which ``fit`` seeds: the same seed gives the same batches.

``resize(splits, 16)`` is the "smaller input" step: deterministic, so it applies to every split (batched,
once), and the model built from the result is sized for the new shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_choice, check_int, check_real
from .dataset import DataSplits, ImageDataset, TensorImageDataset

__all__ = ["AUGMENT_STEPS", "AugmentStep", "Augmentation", "AugmentedDataset", "augment", "resize"]

#: Step name -> its parameters and their defaults. "flip" mirrors left-right: off for digits (a mirrored
#: 2 is not a 2); "color" needs RGB for saturation and hue; "erase" blanks a random rectangle.
AUGMENT_STEPS: dict[str, dict[str, float]] = {
    "shift": {"pad": 2},  # random crop of the image padded by `pad` px: a shift of up to `pad` px
    "flip": {"p": 0.5},
    "rotate": {"degrees": 10.0},
    "affine": {"degrees": 10.0, "translate": 0.1, "scale": 0.1, "shear": 0.0},
    "color": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.0},
    "erase": {"p": 0.5, "area": 0.15},  # blank a rectangle of 2 %..`area` of the image, with probability p
}


def _v2():  # imported when first used: torchvision.transforms.v2 takes seconds to import
    from torchvision.transforms import v2  # type: ignore[import-untyped]

    return v2


@dataclass(frozen=True)
class AugmentStep:
    """One named step and its parameters (the defaults of ``AUGMENT_STEPS`` filled in)."""

    name: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.name, "name", "AugmentStep", tuple(AUGMENT_STEPS))
        known = AUGMENT_STEPS[self.name]
        unknown = sorted(set(self.params) - set(known))
        if unknown:
            raise ValueError(
                f"The {self.name!r} step of AugmentStep takes {sorted(known)}. Got {unknown} instead."
            )
        params = {**known, **self.params}
        where = f"AugmentStep({self.name!r})"
        for key, value in params.items():
            if key == "pad":
                check_int(value, key, where, low=1, high=64)
            elif key == "degrees":
                check_real(value, key, where, low=0.0, high=180.0)
            else:
                check_real(value, key, where, low=0.0, high=1.0)
        object.__setattr__(self, "params", params)

    def transform(self) -> Any:
        """The ``torchvision.transforms.v2`` transform of this step, for images of any size."""
        v2, p = _v2(), self.params
        if self.name == "shift":
            return _Shift(int(p["pad"]))
        if self.name == "flip":
            return v2.RandomHorizontalFlip(p=p["p"])
        if self.name == "rotate":
            return v2.RandomRotation(p["degrees"])
        if self.name == "affine":
            shear = p["shear"] * 45.0 or None  # a fraction of 45 degrees
            scale = (1.0 - p["scale"], 1.0 + p["scale"]) if p["scale"] else None
            return v2.RandomAffine(p["degrees"], (p["translate"], p["translate"]), scale, shear)
        if self.name == "color":
            return v2.ColorJitter(p["brightness"], p["contrast"], p["saturation"], p["hue"] / 2)
        return v2.RandomErasing(p=p["p"], scale=(min(0.02, p["area"]), p["area"]), value=0.0)

    def __str__(self) -> str:
        return f"{self.name}(" + ", ".join(f"{k}={v:g}" for k, v in self.params.items()) + ")"


class _Shift:
    """``v2.RandomCrop`` back to the input's own size from the input padded by ``pad`` px (zeros)."""

    def __init__(self, pad: int) -> None:
        self.pad = pad

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _v2().RandomCrop(tuple(x.shape[-2:]), padding=self.pad)(x)

    def __repr__(self) -> str:
        return f"RandomCrop(size=<input size>, padding={self.pad})"


@dataclass(frozen=True)
class Augmentation:
    """Steps applied in order, each with its own random draw per group of ``group`` images.

    Build it from names (defaults) or name -> parameters: ``Augmentation.of("shift", rotate={"degrees":
    15})``. ``aug(x, seed=3)`` augments a batch ``(B, C, H, W)`` (same seed, same result).
    """

    steps: tuple[AugmentStep, ...] = ()
    group: int = 1

    def __post_init__(self) -> None:
        if not all(isinstance(s, AugmentStep) for s in self.steps):
            raise TypeError(
                "The 'steps' parameter of Augmentation must be AugmentStep objects; use "
                f"Augmentation.of('shift', ...) to build them from names. Got {self.steps!r} instead."
            )
        object.__setattr__(self, "steps", tuple(self.steps))
        check_int(self.group, "group", "Augmentation", low=1, high=1_000_000)

    @classmethod
    def of(cls, *names: str, group: int = 1, **steps: Mapping[str, float]) -> Augmentation:
        """Steps by name with their defaults (``*names``), or with parameters (``shift={"pad": 3}``)."""
        return cls(
            tuple(AugmentStep(n) for n in names) + tuple(AugmentStep(n, p) for n, p in steps.items()), group
        )

    def check(self, input_shape: Sequence[int]) -> None:
        """Raise if a step does not make sense for images of ``input_shape`` ``(C, H, W)``."""
        for s in self.steps:
            if s.name == "color" and input_shape[0] != 3 and (s.params["saturation"] or s.params["hue"]):
                raise ValueError(
                    f"The 'color' step changes saturation and hue, which need RGB images; these have "
                    f"{input_shape[0]} channel(s). Use AugmentStep('color', {{'saturation': 0, 'hue': 0}})."
                )

    def __call__(self, x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """Augment a batch ``(B, C, H, W)``; from ``seed`` without touching the global RNG when given."""
        if x.ndim != 4:
            raise ValueError(
                f"Augmentation expects a batch (B, C, H, W). Got shape {tuple(x.shape)} instead."
            )
        if seed is None:
            return self._apply(x)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._apply(x)

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        for s in self.steps:
            t = s.transform()
            x = torch.cat([t(part) for part in x.split(self.group)])  # one random draw per group
        return x

    def __str__(self) -> str:
        return " -> ".join(str(s) for s in self.steps) or "no augmentation"


class AugmentedDataset(ImageDataset):
    """A training view whose batches are augmented on the fly; ``dataset[i]`` stays the stored sample.

    Not a ``TensorImageDataset`` on purpose: ``fit`` then draws batches through a ``DataLoader``, which
    calls ``__getitems__`` with a whole batch of indices (one slice, the steps run on the batch).
    """

    def __init__(self, base: ImageDataset, augmentation: Augmentation) -> None:
        if not isinstance(base, ImageDataset):
            raise TypeError(
                "The 'base' parameter of AugmentedDataset must be an ImageDataset (e.g. splits.train). "
                f"Got {type(base).__name__} instead."
            )
        if not isinstance(augmentation, Augmentation):
            raise TypeError(
                "The 'augmentation' parameter of AugmentedDataset must be an Augmentation, e.g. "
                f"Augmentation.of('shift'). Got {type(augmentation).__name__} instead."
            )
        super().__init__(base.classes, base.targets, base.paths, name=f"{base.name}+augmented")
        augmentation.check(base.input_shape)
        self.base, self.augmentation = base, augmentation
        self._images = base.tensors()[0] if isinstance(base, TensorImageDataset) else None  # (N, C, H, W)

    def _load(self, j: int) -> torch.Tensor:
        return self.base[j][0]

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented images ``(B, C, H, W)`` and their labels ``(B,)`` for positions ``indices``."""
        base = self._indices[np.asarray(indices, dtype=np.int64)]
        if self._images is not None:
            x = self._images[torch.from_numpy(base)]
        else:
            x = torch.stack([self.base[int(j)][0] for j in base])
        return self.augmentation(x), torch.from_numpy(self._targets[base])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, Any]]:
        x, y = self.batch(indices)
        return list(zip(x, y.tolist()))  # the DataLoader's collate stacks them back

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, augmentation={self.augmentation})"


def augment(data: DataSplits | ImageDataset, augmentation: Augmentation) -> Any:
    """Augment the training split only: ``DataSplits`` -> the same splits with ``train`` wrapped (val and
    test untouched, the same objects); an ``ImageDataset`` -> its ``AugmentedDataset``."""
    if isinstance(data, DataSplits):
        return DataSplits(AugmentedDataset(data.train, augmentation), data.val, data.test)
    return AugmentedDataset(data, augmentation)


def resize(data: DataSplits | ImageDataset, size: int | tuple[int, int]) -> Any:
    """Smaller (or larger) input: every split resized once (``v2.Resize``, antialiased, batched).

    Returns in-memory ``TensorImageDataset`` views of the same samples and labels (``DataSplits`` in,
    ``DataSplits`` out); build the model from the result so it is sized for the new shape.
    """
    if isinstance(data, DataSplits):
        test = resize(data.test, size) if data.test is not None else None
        return DataSplits(resize(data.train, size), resize(data.val, size), test)
    if not isinstance(data, ImageDataset):
        raise TypeError(
            f"The 'data' parameter of resize must be DataSplits or an ImageDataset. Got "
            f"{type(data).__name__} instead."
        )
    hw = (size, size) if isinstance(size, int) else tuple(size)
    for s in hw:
        check_int(s, "size", "resize", low=1, high=4096)
    if isinstance(data, TensorImageDataset):
        x = data.tensors()[0]
    else:  # decodes every sample once
        x = torch.stack([data[i][0] for i in range(len(data))])
    small = _v2().Resize(list(hw), antialias=True)(x) if tuple(x.shape[-2:]) != hw else x.clone()
    name = f"{data.name}@{hw[0]}x{hw[1]}"
    return TensorImageDataset(small.contiguous(), data.targets, data.classes, data.paths, name=name)
