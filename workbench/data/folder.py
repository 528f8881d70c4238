"""An ImageFolder tree (``root/<class>/<image>``) as an ``ImageDataset``: unreadable files are recorded with
their path and reason instead of failing an epoch, and decoded pixels are kept within a memory budget so
nothing decodes twice."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .._validation import check_int
from .dataset import ImageDataset, UnreadableFile
from .sources import _pil_to_tensor

__all__ = ["IMAGE_EXTENSIONS", "FolderImageDataset", "from_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")


class FolderImageDataset(ImageDataset):
    """Image files on disk, converted on access to ``mode`` and ``size``.

    ``decoded`` holds each file's pixels as decoded by ``from_folder`` (native mode, uint8) while they
    fit its memory budget, so a file is decoded once: inspection and training reuse them.
    """

    def __init__(
        self, files, targets, classes, size, mode, transform=None, name="folder", decoded=None
    ) -> None:
        super().__init__(classes, targets, files, name)
        self.size = size  # (H, W)
        self.mode = mode
        self.transform = transform
        self.decoded: list[tuple[str, np.ndarray] | None] = decoded or [None] * len(files)

    def raw(self, j: int) -> tuple[Image.Image, str]:
        """The image at base index ``j`` as stored (no resize, native mode) and its mode."""
        cached = self.decoded[j]
        if cached is not None:
            mode, arr = cached
            return Image.fromarray(arr, mode=mode), mode
        with Image.open(self._file(j)) as img:
            img.load()
            return img.copy(), img.mode

    def _file(self, j: int) -> str:
        path = self._paths[j] if self._paths is not None else None
        assert path is not None  # from_folder gives every sample its file
        return path

    def _load(self, j: int) -> torch.Tensor:
        path = self._file(j)
        try:
            img = self.raw(j)[0].convert(self.mode)
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
            raise OSError(
                f"{path}: could not be read any more ({err}). It decoded when the dataset was built; "
                "has it changed on disk? Rebuild the dataset with from_folder()."
            ) from err
        if self.transform is not None:
            out = self.transform(img)
            return out if isinstance(out, torch.Tensor) else _pil_to_tensor(out)
        if (img.height, img.width) != tuple(self.size):
            img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        return _pil_to_tensor(img)


def _decode_check(path: Path, keep: bool) -> tuple[tuple[int, int], str, np.ndarray | None] | str:
    """``((H, W), mode, pixels or None)`` of a readable image, or the reason it cannot be read."""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as img:
            img.load()  # full decode: catches truncated files that a header read would pass
            arr = None
            if keep and img.mode in ("L", "LA", "RGB", "RGBA"):
                arr = np.asarray(img).copy()
            return (img.height, img.width), img.mode, arr
    except UnidentifiedImageError:
        return "not an image (PIL cannot identify the format)"
    except (OSError, SyntaxError, ValueError) as err:
        return f"truncated or corrupt: {err}"


def from_folder(
    path: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    mode: str | None = None,
    transform: Any = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    name: str | None = None,
    cache_mb: float = 1024.0,
) -> FolderImageDataset:
    """An ImageFolder tree: ``path/<class name>/**/<image file>``.

    Every file is decoded once here, so a file that cannot be read is recorded in
    ``dataset.unreadable`` (path and reason) and left out, never raised in the middle of an epoch.
    Images of another size are resized to ``size`` (default: the most common size) and converted to
    ``mode`` (default: ``"L"`` when every image is grayscale, else ``"RGB"``). Decoded pixels are
    kept in memory up to ``cache_mb`` megabytes, so that nothing decodes a file twice.
    """
    root = Path(path)
    where = f"from_folder({str(root)!r})"
    if not root.exists():
        raise FileNotFoundError(f"{where}: the folder does not exist. Check the path.")
    if not root.is_dir():
        raise NotADirectoryError(f"{where}: this is a file, not a folder of class folders.")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ValueError(
            f"{where}: no class folders found. Expected the ImageFolder layout "
            "path/<class name>/<image files>, e.g. path/cat/001.png."
        )
    exts = {e.lower() for e in extensions}
    files: list[str] = []
    targets: list[int] = []
    shapes: Counter = Counter()
    modes: Counter = Counter()
    unreadable: list[UnreadableFile] = []
    decoded: list[tuple[str, np.ndarray] | None] = []
    budget = float(cache_mb) * 2**20
    for label, cdir in enumerate(class_dirs):
        for f in sorted(p for p in cdir.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if f.suffix.lower() not in exts:
                unreadable.append(
                    UnreadableFile(str(f), f"extension {f.suffix or '(none)'} is not an image type")
                )
                continue
            got = _decode_check(f, keep=budget > 0)
            if isinstance(got, str):
                unreadable.append(UnreadableFile(str(f), got))
                continue
            shapes[got[0]] += 1
            modes[got[1]] += 1
            arr = got[2]
            if arr is not None and arr.nbytes <= budget:
                budget -= arr.nbytes
                decoded.append((got[1], arr))
            else:
                decoded.append(None)
            files.append(str(f))
            targets.append(label)
    if not files:
        detail = "; ".join(f"{u.path}: {u.reason}" for u in unreadable[:3])
        raise ValueError(
            f"{where}: the dataset is empty: no readable image in {len(class_dirs)} class folders"
            + (f" ({len(unreadable)} unreadable files, e.g. {detail})." if unreadable else ".")
        )
    if mode is None:  # grayscale stays one channel; anything with colour (or a palette) becomes RGB
        mode = "L" if set(modes) <= {"1", "L", "LA", "I", "I;16", "F"} else "RGB"
    if size is None:
        size = shapes.most_common(1)[0][0]
    else:
        size = (
            check_int(size[0], "size[0]", "from_folder", low=1),
            check_int(size[1], "size[1]", "from_folder", low=1),
        )
    ds = FolderImageDataset(
        files,
        np.array(targets),
        [d.name for d in class_dirs],
        size,
        mode,
        transform,
        name=name or root.name,
        decoded=decoded,
    )
    ds.unreadable = unreadable
    return ds
