"""Any map-style torch / torchvision dataset of ``(image, label)`` items as an ``ImageDataset``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, IterableDataset

from .dataset import ImageDataset
from .sources import _labels_to_ints, _pil_to_tensor

__all__ = ["TorchImageDataset", "from_torch"]


def _sample_to_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, Image.Image):
        return _pil_to_tensor(x.convert("RGB") if x.mode not in ("L", "RGB") else x)
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x if x.flags.writeable else x.copy())
        if x.ndim == 3 and x.shape[-1] in (1, 3, 4) and x.shape[0] not in (1, 3, 4):
            x = x.permute(2, 0, 1)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"an image must be a PIL image, numpy array or tensor; got {type(x).__name__}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"an image must have 2 dims (H, W) or 3 dims (C, H, W); got shape {tuple(x.shape)}")
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


class TorchImageDataset(ImageDataset):
    """A wrapped map-style torch dataset whose samples are ``(image, label)``."""

    def __init__(self, base: Dataset, targets, classes, paths, name) -> None:
        super().__init__(classes, targets, paths, name)
        self.base = base

    def _load(self, j: int) -> torch.Tensor:
        sample = self.base[j]
        try:
            return _sample_to_tensor(sample[0])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{self.name}: sample {j}: {err}.") from None


def from_torch(
    dataset: Dataset,
    classes: Sequence[str] | None = None,
    *,
    name: str | None = None,
) -> TorchImageDataset:
    """Any map-style torch / torchvision dataset whose items are ``(image, label)``.

    Labels come from ``dataset.targets`` when it has them (torchvision datasets do), else from one
    pass over the samples. Class names come from ``classes``, ``dataset.classes`` or the label range;
    file paths from ``dataset.samples`` / ``dataset.imgs`` (ImageFolder) when present.
    """
    where = f"from_torch({type(dataset).__name__})"
    if isinstance(dataset, IterableDataset) or not (
        hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
    ):
        raise TypeError(
            f"{where}: needs a map-style dataset (with __len__ and __getitem__); got "
            f"{type(dataset).__name__}. "
            "Wrap an iterable in a list, or use from_arrays()."
        )
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{where}: the dataset is empty (len 0).")
    first = dataset[0]
    if not isinstance(first, (tuple, list)) or len(first) < 2:
        raise TypeError(f"{where}: items must be (image, label) pairs; item 0 is {type(first).__name__}.")
    try:
        _sample_to_tensor(first[0])
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}: sample 0: {err}.") from None
    if hasattr(dataset, "targets"):
        raw = dataset.targets
    else:
        raw = [dataset[i][1] for i in range(n)]
    raw = [
        int(t) if isinstance(t, torch.Tensor) else t
        for t in (raw.tolist() if isinstance(raw, torch.Tensor) else raw)
    ]
    own_classes = getattr(dataset, "classes", None)
    if classes is None and own_classes is not None:
        classes = list(own_classes)
    targets, class_list = _labels_to_ints(np.asarray(raw), classes, n, where)
    paths = None
    samples = getattr(dataset, "samples", None) or getattr(dataset, "imgs", None)
    if isinstance(samples, (list, tuple)) and len(samples) == n and isinstance(samples[0], (tuple, list)):
        paths = [str(s[0]) for s in samples]
    return TorchImageDataset(dataset, targets, class_list, paths, name or type(dataset).__name__)
