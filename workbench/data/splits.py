"""Named splits: the one way every part of the package turns "the data" into ``{name: ImageDataset}``."""

from __future__ import annotations

from typing import Any

from .dataset import DataSplits, ImageDataset

__all__ = ["named_splits"]


def named_splits(
    data: Any = None, where: str = "named_splits", **more: ImageDataset | None
) -> dict[str, ImageDataset]:
    """``{name: ImageDataset}`` in the order given, from a ``DataSplits`` (train, val, test), one
    ``ImageDataset`` (called "train"), a dict of them, and/or splits by keyword (``None`` ones dropped).

    Names are kept as given: ``{"val": a, "test": b}`` stays val and test (nothing is renamed "train").
    Raises a ``TypeError`` naming ``where`` and the split when something is not an ``ImageDataset``,
    and a ``ValueError`` when no split is given or a name is given twice.
    """
    out: dict[str, ImageDataset] = {}
    if isinstance(data, DataSplits):
        out = {"train": data.train, "val": data.val}
        if data.test is not None:
            out["test"] = data.test
    elif isinstance(data, ImageDataset):
        out = {"train": data}
    elif isinstance(data, dict):
        out = dict(data)
    elif data is not None:
        raise TypeError(
            f"The 'data' parameter of {where} must be an ImageDataset, DataSplits or a dict of name -> "
            "ImageDataset. "
            f"Got {type(data).__name__} instead."
        )
    for name, ds in more.items():
        if ds is None:
            continue
        if name in out:
            raise ValueError(f"{where}: the split {name!r} is given twice.")
        out[name] = ds
    if not out:
        raise ValueError(f"{where}: give at least one split (an ImageDataset).")
    for name, ds in out.items():
        if not isinstance(ds, ImageDataset):
            raise TypeError(
                f"The {name!r} split of {where} must be an ImageDataset (from workbench.data: load_digits, "
                f"from_folder, from_arrays, from_torch). Got {type(ds).__name__} instead."
            )
    return out
