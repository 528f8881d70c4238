"""``ImageDataset``: the one dataset type every source returns.

A map-style torch ``Dataset`` of ``(image, label)`` pairs that also knows its class names, every
sample's label without decoding it (``targets``) and, where it has them, each sample's file path.
Subsets are views (``subset``) that keep all of that, so a split is still an ``ImageDataset``.
Images come out as float32 tensors shaped ``(C, H, W)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["DataSplits", "ImageDataset", "TensorImageDataset", "UnreadableFile", "split"]


@dataclass(frozen=True)
class UnreadableFile:
    """A file a source could not decode, and why."""

    path: str
    reason: str


class ImageDataset(Dataset):
    """Base class: images with integer labels, class names and optional file paths.

    Subclasses implement ``_load(j)`` for a *base* index ``j``; this class maps view indices to base
    indices, so ``subset`` works the same for every source.
    """

    def __init__(
        self,
        classes: Sequence[str],
        targets: np.ndarray,
        paths: Sequence[str | None] | None = None,
        name: str = "data",
    ) -> None:
        self.classes: tuple[str, ...] = tuple(str(c) for c in classes)
        self._targets = np.asarray(targets, dtype=np.int64)
        self._paths = list(paths) if paths is not None else None
        self._indices = np.arange(len(self._targets))
        self.name = name
        self.unreadable: list[UnreadableFile] = []
        self._shape: tuple[int, ...] | None = None

    # -- subclasses ---------------------------------------------------------------------------------
    def _load(self, j: int) -> torch.Tensor:
        raise NotImplementedError

    # -- the Dataset protocol -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        j = int(self._indices[i])
        return self._load(j), int(self._targets[j])

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.input_shape) if len(self) else "-"
        return (
            f"{type(self).__name__}(name={self.name!r}, n={len(self)}, shape={shape}, "
            f"classes={len(self.classes)})"
        )

    # -- what the workbench needs to know without decoding -----------------------------------------
    @property
    def targets(self) -> np.ndarray:
        """Labels of the samples in this view, shape ``(N,)``, int64."""
        return self._targets[self._indices]

    @property
    def paths(self) -> list[str | None]:
        """File path of each sample in this view, ``None`` where the source has none."""
        if self._paths is None:
            return [None] * len(self)
        return [self._paths[j] for j in self._indices]

    @property
    def base_indices(self) -> np.ndarray:
        """Index of each sample of this view in the source it came from."""
        return self._indices.copy()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one image, ``(C, H, W)``; read from the first sample once."""
        if self._shape is None:
            if len(self._targets) == 0:
                raise ValueError(f"Dataset {self.name!r} is empty: it has no input shape.")
            self._shape = tuple(self._load(int(self._indices[0]) if len(self) else 0).shape)
        return self._shape

    def class_counts(self) -> dict[str, int]:
        """Number of samples per class name, every class listed (zero where missing)."""
        counts = np.bincount(self.targets, minlength=self.num_classes)
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def first_of_each_class(self) -> dict[int, int]:
        """Class index -> position of its first sample in this view (classes with no sample left out)."""
        targets = self.targets
        present, first = np.unique(targets, return_index=True)
        return {int(c): int(i) for c, i in zip(present, first)}

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> ImageDataset:
        """A view on some samples of this dataset (indices are positions in this view)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(
                f"subset of {self.name!r}: indices must be in [0, {len(self) - 1}]; "
                f"got values from {idx.min()} to {idx.max()}."
            )
        view = copy.copy(self)
        view._indices = self._indices[idx]
        view.name = name or f"{self.name}[subset {len(idx)}]"
        return view


class TensorImageDataset(ImageDataset):
    """Images held in memory as one float32 tensor ``(N, C, H, W)``.

    The training loop recognises this type and slices batches straight from the tensor (on the
    training device), which is much faster than a per-sample ``DataLoader`` for small images.
    """

    def __init__(
        self,
        images: torch.Tensor,
        targets: np.ndarray,
        classes: Sequence[str],
        paths: Sequence[str | None] | None = None,
        name: str = "arrays",
    ) -> None:
        super().__init__(classes, targets, paths, name)
        self._images = images

    def _load(self, j: int) -> torch.Tensor:
        return self._images[j]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images and labels of this view: ``(N, C, H, W)`` float32 and ``(N,)`` int64."""
        idx = torch.from_numpy(self._indices)
        return self._images[idx], torch.from_numpy(self.targets)


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test views of one source."""

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes

    def __iter__(self):
        yield from (s for s in (self.train, self.val, self.test) if s is not None)


def split(
    dataset: ImageDataset,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> DataSplits:
    """Stratified, seeded train/val/test split: every class keeps its proportion in every split.

    Classes with very few samples still put at least one sample in train. The same seed always gives
    the same split.
    """
    from .._validation import check_int, check_real

    val_fraction = check_real(val_fraction, "val_fraction", "split", low=0.0, high=0.9)
    test_fraction = check_real(test_fraction, "test_fraction", "split", low=0.0, high=0.9)
    seed = check_int(seed, "seed", "split", low=0)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "split: val_fraction + test_fraction must be below 1 so that train keeps samples. "
            f"Got {val_fraction} + {test_fraction}."
        )
    rng = np.random.default_rng(seed)
    targets = dataset.targets
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in range(dataset.num_classes):
        idx = np.flatnonzero(targets == c)
        rng.shuffle(idx)
        n = len(idx)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n_test + n_val >= n:  # tiny class: keep one for training
            n_test = min(n_test, max(n - 1, 0))
            n_val = min(n_val, max(n - 1 - n_test, 0))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    views = {k: np.sort(np.concatenate(v)) if v else np.array([], dtype=np.int64) for k, v in parts.items()}
    test = dataset.subset(views["test"], f"{dataset.name}/test") if test_fraction > 0 else None
    return DataSplits(
        train=dataset.subset(views["train"], f"{dataset.name}/train"),
        val=dataset.subset(views["val"], f"{dataset.name}/val"),
        test=test,
    )
