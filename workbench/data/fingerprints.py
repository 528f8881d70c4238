"""One decode per image -> every fingerprint the inspection needs.

For each image: a storage-independent exact hash, a 64-bit perceptual hash (DCT of a 32x32 gray
version), a 32x32 gray thumbnail (the near-duplicate check and the quick label model's features) and a few
pixel statistics. Memory is linear in N: 1,024 float16 + a few scalars per image.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import ImageDataset
from .folder import FolderImageDataset
from .torchdata import TorchImageDataset, _sample_to_tensor

__all__ = [
    "DCT_LOW",
    "INK",
    "Fingerprints",
    "canonical",
    "fingerprint",
    "hash_bands",
    "hash_of_coefficients",
    "perceptual_hash",
]

THUMB = 32  # thumbnail side
PHASH_SIDE = 32  # the DCT input side; the hash keeps its 8x8 lowest frequencies
_CHUNK = 512
INK = 0.1  # a pixel is ink when it is this far from its image's median


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


DCT_LOW = torch.from_numpy(_dct_matrix(PHASH_SIDE)[:8])  # (8, 32): the 8 lowest frequencies


def perceptual_hash(big: torch.Tensor) -> np.ndarray:
    """64-bit hashes ``(B,)`` uint64 of ``(B, 32, 32)`` gray images: the signs of their 8x8 lowest DCT
    frequencies against the median (the DC term left out of the median)."""
    return hash_of_coefficients((DCT_LOW @ big @ DCT_LOW.T).reshape(len(big), 64))


def hash_of_coefficients(coeffs: torch.Tensor) -> np.ndarray:
    """The hashes ``(B,)`` of ``(B, 64)`` lowest DCT coefficients ``DCT_LOW @ image @ DCT_LOW.T``."""
    c = coeffs.numpy()
    median = np.partition(c[:, 1:], 31, axis=1)[:, 31:32]  # of the 63 AC terms; ~6x faster than torch's
    packed = np.packbits(c > median, axis=1, bitorder="little")  # (B, 8) bytes: bit k is coefficient k
    return np.ascontiguousarray(packed).view("<u8")[:, 0].astype(np.uint64)


def hash_bands(max_bits: int) -> list[tuple[int, int]]:
    """``(offset, width)`` of ``max_bits + 1`` bands that cover the 64 bits: two hashes within ``max_bits``
    bits agree exactly on at least one band (the pigeonhole principle), so only images that share a band
    value need comparing."""
    k = max_bits + 1
    edges = np.linspace(0, 64, k + 1).astype(int)
    return [(int(a), int(b - a)) for a, b in itertools.pairwise(edges) if b > a]


@dataclass
class Fingerprints:
    """Per-image fingerprints of one split, aligned with the split's positions."""

    exact: list[bytes]  # (N,) 16-byte digests of the canonical pixels
    phash: np.ndarray  # (N,) uint64
    thumb: np.ndarray  # (N, 32, 32) float16 gray in [0, 1] (as stored: not normalised)
    height: np.ndarray  # (N,) original height
    width: np.ndarray  # (N,)
    channels: np.ndarray  # (N,) channels after canonicalisation (1 gray, 3 colour)
    mode: list[str]  # (N,) PIL mode for files, "tensor" for in-memory data
    mean: np.ndarray  # (N,) gray mean
    std: np.ndarray  # (N,)
    vmin: np.ndarray
    vmax: np.ndarray
    ink: np.ndarray  # (N,) fraction of pixels more than 0.1 away from the image's median (information)
    channel_mean: np.ndarray  # (C,) over the split (before canonicalisation)
    channel_std: np.ndarray  # (C,)
    item_labels: list | None = None  # (N,) the label each item of a wrapped torch dataset returns, else None


def canonical(x: torch.Tensor) -> torch.Tensor:
    """The same picture gives the same tensor however it was stored.

    An opaque alpha channel is dropped; three equal channels become one (mode L and an RGB copy with
    equal channels are the same picture).
    """
    if x.shape[0] == 4 and bool((x[3] == x[3].max()).all()):
        x = x[:3]
    elif x.shape[0] == 2:  # LA
        x = x[:1]
    if x.shape[0] == 3 and bool((x[0] == x[1]).all() and (x[1] == x[2]).all()):
        x = x[:1]
    return x


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[0] == 1:
        return x[0]
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype)
    return (x[:3] * w[:, None, None]).sum(0)


def _raw_samples(data: ImageDataset) -> Iterator[tuple[torch.Tensor, str, object]]:
    """Each image once, as stored (files: no resize, native channels), with its mode and, for a wrapped
    torch dataset, the label its item returns (``None`` otherwise)."""
    if isinstance(data, FolderImageDataset):
        for j in data.base_indices:
            img, mode = data.raw(int(j))
            if img.mode not in ("L", "RGB", "RGBA", "LA"):
                img = img.convert("RGBA" if "A" in img.getbands() or img.mode == "P" else "RGB")
            arr = np.array(img, dtype=np.uint8)
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
            yield torch.from_numpy(arr).float().div_(255.0), mode, None
    elif isinstance(data, TorchImageDataset):  # read the item once: its image and the label it really returns
        for j in data.base_indices:
            item = data.base[int(j)]
            try:
                x = _sample_to_tensor(item[0])
            except (TypeError, ValueError) as err:
                raise type(err)(f"{data.name}: sample {int(j)}: {err}.") from None
            yield x, "tensor", item[1]
    else:
        for i in range(len(data)):
            yield data[i][0], "tensor", None


def fingerprint(data: ImageDataset, progress: Callable[[int, int], None] | None = None) -> Fingerprints:
    """Decode every image of ``data`` once and compute its fingerprints."""
    n = len(data)
    exact: list[bytes] = []
    modes: list[str] = []
    stats = np.zeros((n, 7), dtype=np.float64)  # h, w, c, mean, std, min, max
    ink = np.zeros(n, dtype=np.float64)
    phash = np.zeros(n, dtype=np.uint64)
    thumb = np.zeros((n, THUMB, THUMB), dtype=np.float16)
    ch_sum: torch.Tensor | None = None
    ch_sq: torch.Tensor | None = None
    ch_count = 0
    pending: list[
        tuple[int, torch.Tensor, torch.Tensor]
    ] = []  # (position, gray, as stored), batched by shape

    def drain() -> None:
        nonlocal ch_sum, ch_sq, ch_count
        by_shape: dict[tuple[int, ...], list[tuple[int, torch.Tensor, torch.Tensor]]] = {}
        for item in pending:
            by_shape.setdefault(tuple(item[2].shape), []).append(item)
        for items in by_shape.values():
            idx = np.array([i for i, _, _ in items])
            gray = torch.stack([g for _, g, _ in items])  # (B, H, W)
            raw = torch.stack([x for _, _, x in items])  # (B, C, H, W)
            flat = gray.reshape(len(idx), -1)
            med = flat.median(dim=1, keepdim=True).values
            stats[idx, 0], stats[idx, 1] = raw.shape[2], raw.shape[3]
            stats[idx, 3] = flat.mean(1).numpy()
            stats[idx, 4] = flat.std(1, unbiased=False).numpy()
            stats[idx, 5] = flat.min(1).values.numpy()
            stats[idx, 6] = flat.max(1).values.numpy()
            ink[idx] = ((flat - med).abs() > INK).float().mean(1).numpy()
            # per-channel statistics over the images with the first batch's channel count
            if ch_sum is None or ch_sq is None:
                ch_sum = torch.zeros(raw.shape[1], dtype=torch.float64)
                ch_sq = torch.zeros(raw.shape[1], dtype=torch.float64)
            if raw.shape[1] == len(ch_sum):
                per = raw.transpose(0, 1).reshape(raw.shape[1], -1).double()
                ch_sum += per.sum(1)
                ch_sq += (per**2).sum(1)
                ch_count += per.shape[1]
            big = F.interpolate(
                gray[:, None],
                size=(PHASH_SIDE, PHASH_SIDE),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )[:, 0]
            thumb[idx] = big.clamp(-60000, 60000).numpy().astype(np.float16)  # THUMB == PHASH_SIDE
            phash[idx] = perceptual_hash(big)
        pending.clear()

    item_labels: list = []
    for i, (raw, mode, label) in enumerate(_raw_samples(data)):
        item_labels.append(label)
        x = raw.float()
        c = canonical(x)
        exact.append(
            hashlib.blake2b(
                str(tuple(c.shape)).encode() + c.contiguous().numpy().tobytes(), digest_size=16
            ).digest()
        )
        stats[i, 2] = c.shape[0]
        modes.append(mode)
        pending.append((i, _gray(c), x))
        if len(pending) >= _CHUNK:
            drain()
            if progress is not None:
                progress(i + 1, n)
    drain()
    if progress is not None:
        progress(n, n)
    mean = (ch_sum / max(ch_count, 1)).numpy() if ch_sum is not None else np.zeros(0)
    var = (ch_sq / max(ch_count, 1)).numpy() - mean**2 if ch_sq is not None else np.zeros(0)
    return Fingerprints(
        exact=exact,
        phash=phash,
        thumb=thumb,
        height=stats[:, 0].astype(np.int64),
        width=stats[:, 1].astype(np.int64),
        channels=stats[:, 2].astype(np.int64),
        mode=modes,
        mean=stats[:, 3],
        std=stats[:, 4],
        vmin=stats[:, 5],
        vmax=stats[:, 6],
        ink=ink,
        channel_mean=mean,
        channel_std=np.sqrt(np.maximum(var, 0.0)),
        item_labels=item_labels if isinstance(data, TorchImageDataset) else None,
    )
