"""Data sources: the embedded digits and MNIST test set, arrays, IDX files (folders: ``folder``; torch
datasets: ``torchdata``).

Every source returns an :class:`~workbench.data.dataset.ImageDataset` (or ``DataSplits`` of them).
Bad input is refused up front with an error that names the sample or file and says what to do, so
that nothing fails deep inside torch in the middle of an epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from .dataset import DataSplits, TensorImageDataset, split

__all__ = [
    "MNIST_ENV",
    "from_arrays",
    "from_idx",
    "load_digits",
    "load_mnist_test",
    "mnist_test_set",
]


# -- conversions ------------------------------------------------------------------------------------
def _pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image (mode L or RGB) -> float32 ``(C, H, W)`` in [0, 1]."""
    arr = np.array(img, dtype=np.uint8)  # a writable copy: torch refuses read-only buffers
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)


def _first_bad(mask: np.ndarray, limit: int = 5) -> str:
    bad = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in bad[:limit])
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    return f"{shown}{more}"


def _labels_to_ints(
    labels: Any, classes: Sequence[str] | None, n: int, where: str
) -> tuple[np.ndarray, list[str]]:
    """Integer labels in 0..C-1 and class names, from int or string labels."""
    lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D (one label per image); got shape {lab.shape}.")
    if len(lab) != n:
        raise ValueError(
            f"{where}: there are {n} images but {len(lab)} labels; the lengths must be equal "
            "(one label per image)."
        )
    if lab.dtype.kind in "USO":  # string labels -> indices into the class list
        names = [str(v) for v in lab]
        class_list = list(classes) if classes is not None else sorted(set(names))
        lookup = {c: i for i, c in enumerate(class_list)}
        unknown = [i for i, v in enumerate(names) if v not in lookup]
        if unknown:
            raise ValueError(
                f"{where}: labels of samples {', '.join(map(str, unknown[:5]))} "
                f"({names[unknown[0]]!r}, ...) are not in classes {class_list}. Add them to `classes` or "
                "fix the labels."
            )
        return np.array([lookup[v] for v in names], dtype=np.int64), class_list
    if lab.dtype.kind == "f":
        if not np.all(np.isfinite(lab)) or not np.all(lab == np.round(lab)):
            raise TypeError(
                f"{where}: labels must be integers (class indices) or class-name strings; "
                f"samples {_first_bad(~np.isfinite(lab) | (lab != np.round(lab)))} are not whole numbers."
            )
    elif lab.dtype.kind not in "iub":
        raise TypeError(f"{where}: labels must be integers or strings; got dtype {lab.dtype}.")
    lab = lab.astype(np.int64)
    num_classes = len(classes) if classes is not None else (int(lab.max()) + 1 if len(lab) else 0)
    bad = (lab < 0) | (lab >= num_classes)
    if bad.any():
        raise ValueError(
            f"{where}: labels must be in 0..{num_classes - 1} (there are {num_classes} classes); "
            f"samples {_first_bad(bad)} have labels {sorted(set(lab[bad].tolist()))[:5]}. "
            "Pass the full class list as `classes`, or fix those labels."
        )
    class_list = list(classes) if classes is not None else [str(i) for i in range(num_classes)]
    return lab, class_list


def _images_to_nchw(images: Any, channels_last: bool | None, where: str) -> torch.Tensor:
    """Array-like images -> float32 tensor ``(N, C, H, W)``; uint8 is scaled to [0, 1]."""
    if isinstance(images, torch.Tensor):
        arr = images.detach().cpu()
    else:
        try:
            np_images = np.asarray(images)
            if not np_images.flags.writeable:
                np_images = np_images.copy()
            arr = torch.from_numpy(np_images)
        except TypeError as err:
            raise TypeError(f"{where}: images must be a numeric array or tensor; {err}.") from None
    if arr.dtype.is_complex:
        raise TypeError(f"{where}: images must be real numbers; got dtype {arr.dtype}.")
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if channels_last is None:
            channels_last = arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4)
        if channels_last:
            arr = arr.permute(0, 3, 1, 2)
    else:
        hint = ""
        if arr.ndim == 2 and arr.shape[1] > 0:
            side = int(round(arr.shape[1] ** 0.5))
            if side * side == arr.shape[1]:
                hint = (
                    f" If these are flattened {side}x{side} images, pass images.reshape(-1, {side}, {side})."
                )
        raise ValueError(
            f"{where}: images must have 3 dims (N, H, W) or 4 dims (N, C, H, W) / (N, H, W, C); "
            f"got shape {tuple(arr.shape)}.{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{where}: the dataset is empty (0 images). Pass at least one image.")
    if arr.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"{where}: images must have 1, 3 or 4 channels; got shape {tuple(arr.shape)} read as (N, C, H, "
            "W). "
            "Pass channels_last=True if the channels are the last axis."
        )
    if arr.dtype == torch.uint8:
        out = arr.float().div_(255.0)
    else:
        out = arr.float()
    finite = torch.isfinite(out.reshape(len(out), -1)).all(dim=1)
    if not bool(finite.all()):
        raise ValueError(
            f"{where}: images contain NaN or Inf pixels in samples {_first_bad(~finite.numpy())}. "
            "Drop or repair those samples first."
        )
    return out.contiguous()


# -- the embedded default -----------------------------------------------------------------------------
def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> DataSplits:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), split for you.

    Images are ``(1, 8, 8)`` float32 in [0, 1] (the raw 0..16 values divided by 16). The split is
    stratified and fixed by ``seed``: the same seed gives the same three views on every machine.
    """
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    classes = [str(int(c)) for c in bunch.target_names]
    data = TensorImageDataset(images, bunch.target.astype(np.int64), classes, name="digits")
    return split(data, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)


MNIST_ENV = "WORKBENCH_MNIST"
_MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_EMBEDDED = Path(__file__).resolve().parent / "embedded" / "mnist"


def mnist_test_set() -> TensorImageDataset:
    """The whole MNIST test set (10,000 images, ``(1, 28, 28)`` in [0, 1]) in the files' own order.

    The two IDX files ship inside the package (``workbench/data/embedded/mnist``, CC BY-SA 3.0, see its
    README); nothing is downloaded. Set ``WORKBENCH_MNIST`` to a folder holding the same two
    ``t10k-*-ubyte.gz`` files to read them from there instead. Index ``i`` is the test set's sample ``i``,
    the numbering that published label-error studies use.
    """
    folder = Path(os.environ.get(MNIST_ENV) or _EMBEDDED)
    images, labels = (folder / f for f in _MNIST_FILES)
    if not images.exists() or not labels.exists():
        source = f"the folder in {MNIST_ENV}" if os.environ.get(MNIST_ENV) else "the package"
        raise FileNotFoundError(
            f"mnist_test_set: {images.name} and {labels.name} are not both in {folder} ({source}). "
            f"Put the two MNIST test files there, or unset {MNIST_ENV} to use the copy inside the package."
        )
    return from_idx(images, labels, name="mnist")


def load_mnist_test(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> DataSplits:
    """The real MNIST test set (10,000 28x28 digits, embedded), split for you like :func:`load_digits`.

    The second embedded dataset, for work beyond the 8x8 digits: stratified train/val/test views fixed
    by ``seed``. :func:`mnist_test_set` gives the 10,000 images unsplit, in file order.
    """
    return split(mnist_test_set(), val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)


# -- arrays -----------------------------------------------------------------------------------------------
def from_arrays(
    images: Any,
    labels: Any,
    classes: Sequence[str] | None = None,
    *,
    paths: Sequence[str | None] | None = None,
    channels_last: bool | None = None,
    name: str = "arrays",
) -> TensorImageDataset:
    """Images and labels already in memory.

    Parameters
    ----------
    images : array-like or Tensor
        ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)`` with C in {1, 3, 4}. uint8 is scaled to
        [0, 1]; other dtypes are converted to float32 as they are.
    labels : array-like
        ``(N,)`` integer class indices in ``0..C-1``, or class-name strings.
    classes : sequence of str, optional
        Class names; default ``"0".."C-1"`` (or the sorted distinct string labels).
    channels_last : bool, optional
        Force the channel axis for 4-D input; guessed from the shape by default.
    """
    where = "from_arrays"
    tensor = _images_to_nchw(images, channels_last, where)
    targets, class_list = _labels_to_ints(labels, classes, len(tensor), where)
    if paths is not None and len(paths) != len(tensor):
        raise ValueError(
            f"{where}: {len(paths)} paths for {len(tensor)} images; give one path per image or none."
        )
    return TensorImageDataset(tensor, targets, class_list, paths=paths, name=name)


# -- IDX files (MNIST and friends) ---------------------------------------------------------------------------
_IDX_DTYPES: dict[int, npt.DTypeLike] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    import gzip

    if not path.exists():
        raise FileNotFoundError(f"from_idx: {path} does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"from_idx: {path} could not be read ({err}); is it a complete IDX file?") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] != ndim:
        raise ValueError(
            f"from_idx: {path} is not an IDX file with {ndim} dimension(s) (its header is "
            f"{raw[:4].hex() or 'empty'}). "
            "Pass the images file (magic 2051) first and the labels file (magic 2049) second."
        )
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) < need:
        raise ValueError(
            f"from_idx: {path} is truncated: the header promises {need} bytes of data, the file has "
            f"{len(body)}."
        )
    return np.frombuffer(body, dtype=dtype, count=int(np.prod(dims))).reshape(dims)


def from_idx(
    images: str | os.PathLike,
    labels: str | os.PathLike,
    classes: Sequence[str] | None = None,
    *,
    name: str | None = None,
) -> TensorImageDataset:
    """Images and labels in IDX files (MNIST's format), raw or gzipped, read into memory.

    ``from_idx("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")`` gives the MNIST test set as
    ``(1, 28, 28)`` images in [0, 1].
    """
    arr = _read_idx(Path(images), 3)
    lab = _read_idx(Path(labels), 1)
    return from_arrays(
        arr.copy(), lab.astype(np.int64), classes, name=name or Path(images).name.split("-")[0]
    )
