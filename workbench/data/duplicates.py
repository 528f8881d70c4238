"""Exact and near-duplicate groups without an N x N matrix.

Near duplicates: two images whose 64-bit perceptual hashes differ in at most ``max_bits`` bits *and*
whose 32x32 thumbnails correlate at least ``min_corr`` at their best alignment, so re-encoding,
brightness, light noise and small shifts all pass while different images of the same class (measured on
MNIST) do not. Alignments tried: whole and half thumbnail pixels within one, of the thumbnails as they
are and of the thumbnails centred on their ink (below), which lines up a copy shifted by more (a pixel
of a 28x28 image is 1.14 thumbnail pixels; of an 8x8 one, 4).

Candidates come from the pigeonhole principle: split the hash into ``max_bits + 1`` bands; two hashes
within ``max_bits`` bits agree exactly on at least one band. Only images sharing a band value are
compared, so the work is about N x (bucket size) rather than N^2, and memory stays linear. A shift
changes the perceptual hash of a small image by more than ``max_bits`` bits (a 1-px roll of a 28x28
digit: ~12), so each image is hashed twice: as it is and centred on its ink (the centroid of its
pixels' distance from the median, moved to the middle by bilinear resampling). A shifted or rolled copy
has the same centred picture, hence nearly the same second hash. Images under ``CENTRE_MIN_SIDE``
pixels are hashed moved by every shift of up to 2 pixels instead, and those candidates are verified on
the overlap at that shift, more strictly (``shifted``). Groups are transitive (union-find).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from .fingerprints import INK, hash_bands, perceptual_hash
from .shifted import shifted_pairs

__all__ = ["CENTRE_MIN_SIDE", "UnionFind", "centre_on_ink", "exact_groups", "near_pairs", "shift_corr"]

#: Images smaller than this (either side) are not centred: on 8x8 digits the centred comparison matched
#: distinct images (two new train/test "leaks" in the digits split) while 2-px shifts stay out of reach.
#: ``near_pairs(..., side=...)`` gives them the stricter shifted-variant search of ``shifted`` instead.
CENTRE_MIN_SIDE = 16


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return [g for g in out.values() if len(g) > 1]


def exact_groups(digests: Iterable[bytes]) -> list[list[int]]:
    """Indices that share a digest, groups of two or more."""
    by: dict[bytes, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        by[d].append(i)
    return [g for g in by.values() if len(g) > 1]


def _band_codes(h: np.ndarray, max_bits: int, block: int, n: int) -> list[np.ndarray]:
    """Pair codes ``i * n + j`` (``i < j``, positions in ``h``) of hashes within ``max_bits`` bits."""
    chunks: list[np.ndarray] = []
    for offset, width in hash_bands(max_bits):
        key = (h >> np.uint64(offset)) & np.uint64((1 << width) - 1)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        for s, k in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
            members = order[s : s + k]
            step = max(1, block // k)  # row blocks bound the (rows x k) comparison
            for r0 in range(0, k - 1, step):
                rows = members[r0 : r0 + step]
                close = np.bitwise_count(h[rows][:, None] ^ h[members][None, :]) <= max_bits
                ri, ci = np.nonzero(close)
                a, b = rows[ri], members[ci]
                keep = a < b
                if keep.any():
                    chunks.append(a[keep] * n + b[keep])
    return chunks


def centre_on_ink(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each ``(N, S, S)`` image moved so the centroid of its ink sits in the middle; and which have ink.

    Ink weights are ``max(|x - median| - INK, 0)`` (noise and a brightness change barely move them);
    the outside is filled with the median. Images without ink come back unchanged, flagged False.
    """
    t = torch.from_numpy(np.asarray(thumb, dtype=np.float32))
    n, side = t.shape[0], t.shape[1]
    med = t.reshape(n, -1).median(dim=1).values[:, None, None]
    w = ((t - med).abs() - INK).clamp_min(0)
    mass = w.sum(dim=(1, 2))
    has_ink = mass > 1e-6
    coords = torch.arange(side, dtype=torch.float32)
    cy = (w.sum(2) * coords).sum(1) / mass.clamp_min(1e-6)
    cx = (w.sum(1) * coords).sum(1) / mass.clamp_min(1e-6)
    centre = (side - 1) / 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = torch.where(has_ink, (cx - centre) * 2 / side, 0.0)  # normalised coordinates
    theta[:, 1, 2] = torch.where(has_ink, (cy - centre) * 2 / side, 0.0)
    grid = F.affine_grid(theta, [n, 1, side, side], align_corners=False)
    moved = F.grid_sample(
        (t - med)[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return (moved[:, 0] + med).numpy(), has_ink.numpy()


def _pooled(thumb: np.ndarray) -> np.ndarray:
    """8x8 average-pooled, centred, unit-norm rows ``(N, 64)``: a cheap first look at two images."""
    t = np.asarray(thumb, dtype=np.float32)
    pooled = t.reshape(len(t), 8, t.shape[1] // 8, 8, t.shape[2] // 8).mean(axis=(2, 4)).reshape(len(t), -1)
    pooled = pooled - pooled.mean(axis=1, keepdims=True)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-6)
    return pooled


def near_pairs(
    phash: np.ndarray,
    thumb: np.ndarray,
    max_bits: int,
    min_corr: float,
    skip: np.ndarray | None = None,
    block: int = 4096,
    centre: bool | np.ndarray = True,
    side: np.ndarray | None = None,
) -> np.ndarray:
    """``(P, 2)`` index pairs ``i < j`` that are near duplicates (see the module docstring).

    ``centre``: also look for copies shifted by more than a thumbnail pixel (hash and compare the
    images centred on their ink); False gives the older, shift-intolerant candidates; an ``(N,)`` bool
    array chooses per image (``inspect`` leaves out images under ``CENTRE_MIN_SIDE`` pixels).
    ``side``: ``(N,)`` each image's smaller side in pixels; images under ``CENTRE_MIN_SIDE`` are also
    searched for copies shifted or rolled by up to ``shifted.MAX_SHIFT`` pixels, verified more
    strictly (``shifted``). None: no such search.
    """
    n = len(phash)
    active = np.arange(n) if skip is None else np.flatnonzero(~skip)
    if len(active) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    found = [_unshifted_pairs(phash, thumb, active, max_bits, min_corr, block, centre)]
    if side is not None:
        sides = np.asarray(side, dtype=np.int64)[active]
        small = sides < CENTRE_MIN_SIDE
        if small.any():
            local, _ = shifted_pairs(phash[active], thumb[active], sides, small, max_bits, min_corr)
            found.append(active[local])
    return np.unique(np.concatenate(found).astype(np.int64).reshape(-1, 2), axis=0)


def _unshifted_pairs(
    phash: np.ndarray,
    thumb: np.ndarray,
    active: np.ndarray,
    max_bits: int,
    min_corr: float,
    block: int,
    centre: bool | np.ndarray,
) -> np.ndarray:
    """The pairs of ``near_pairs`` found by the image's hash and its ink-centred hash."""
    n = len(phash)
    chunks = _band_codes(phash[active], max_bits, block, n)
    want = np.broadcast_to(np.asarray(centre, dtype=bool), (n,))[active]
    if want.any():
        centred, has_ink = centre_on_ink(thumb[active])
        centred[~want], has_ink = thumb[active][~want], has_ink & want
    else:
        centred, has_ink = thumb[active].astype(np.float32), np.zeros(len(active), bool)
    inked = np.flatnonzero(has_ink)  # positions in active
    if len(inked) > 1:
        centred_hash = perceptual_hash(torch.from_numpy(centred[inked]))
        for codes in _band_codes(centred_hash, max_bits, block, n):
            chunks.append(inked[codes // n] * n + inked[codes % n])
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(chunks))  # the same pair may come from several bands and both hashes
    local = np.stack([codes // n, codes % n], axis=1)
    pairs = np.stack([active[local[:, 0]], active[local[:, 1]]], axis=1).astype(np.int64)
    # cheap prefilter: correlation of 8x8 pooled thumbnails, as they are or centred (a 1 px shift barely moves
    # it)
    pooled, pooled_c = _pooled(thumb[active]), _pooled(centred)
    rough = np.maximum(
        np.einsum("ij,ij->i", pooled[local[:, 0]], pooled[local[:, 1]]),
        np.einsum("ij,ij->i", pooled_c[local[:, 0]], pooled_c[local[:, 1]]),
    )
    flat = (np.abs(pooled[local[:, 0]]).sum(1) < 1e-3) | (np.abs(pooled[local[:, 1]]).sum(1) < 1e-3)
    pairs = pairs[(rough >= min_corr - 0.08) | flat]
    if not len(pairs):
        return pairs
    centred_all = np.empty_like(thumb, dtype=np.float32)
    centred_all[active] = centred
    corr = np.concatenate(
        [
            np.maximum(
                shift_corr(thumb[pairs[s : s + 1024, 0]], thumb[pairs[s : s + 1024, 1]]),
                shift_corr(centred_all[pairs[s : s + 1024, 0]], centred_all[pairs[s : s + 1024, 1]]),
            )
            for s in range(0, len(pairs), 1024)
        ]
    )
    return pairs[corr >= min_corr]


def _shift_weights() -> np.ndarray:
    """``(25, 9)``: each shift in {-1, -0.5, 0, 0.5, 1}^2 as a mix of the nine whole-pixel crops."""
    one_d = {-1.0: {-1: 1.0}, -0.5: {-1: 0.5, 0: 0.5}, 0.0: {0: 1.0}, 0.5: {0: 0.5, 1: 0.5}, 1.0: {1: 1.0}}
    rows = []
    for wy in one_d.values():
        for wx in one_d.values():
            w = np.zeros((3, 3))
            for dy, a in wy.items():
                for dx, b in wx.items():
                    w[dy + 1, dx + 1] = a * b
            rows.append(w.reshape(9))
    return np.array(rows, dtype=np.float64)


_W = _shift_weights()


def shift_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Best Pearson correlation of ``a[i]`` and ``b[i]`` (``(P, S, S)``) over shifts within one pixel,
    ``(P,)``.

    Shifts are whole and half pixels in each axis (a half shift averages two neighbours). Every shifted
    inner crop of ``a`` is a weighted mix of its nine whole-pixel crops, so one batched Gram matrix of
    those crops gives all 25 correlations: num = W d, mean = W m, sum of squares = W G W^T.
    Two constant images correlate 1 when they are equal and 0 otherwise.
    """
    p, s, _ = a.shape
    at = torch.from_numpy(a.astype(np.float32))
    at = at - at.mean(dim=(1, 2), keepdim=True)  # centred first: float32 sums of squares stay accurate
    inner_b = torch.from_numpy(b[:, 1:-1, 1:-1].astype(np.float32)).reshape(p, -1)
    inner_b = inner_b - inner_b.mean(1, keepdim=True)
    nb = inner_b.norm(dim=1)
    b_hat = inner_b / nb.clamp_min(1e-12)[:, None]
    crops = torch.stack(
        [
            at[:, 1 + dy : s - 1 + dy, 1 + dx : s - 1 + dx].reshape(p, -1)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ],
        dim=1,
    )  # (P, 9, n)
    n = crops.shape[2]
    d = torch.bmm(crops, b_hat[:, :, None])[:, :, 0]  # (P, 9)
    m = crops.mean(2)  # (P, 9)
    gram = torch.bmm(crops, crops.transpose(1, 2))  # (P, 9, 9)
    w = torch.from_numpy(_W).float()  # (25, 9)
    num = d @ w.T  # (P, 25)
    mean = m @ w.T
    sq = torch.einsum("sk,pkl,sl->ps", w, gram, w)
    var = (sq - n * mean**2).clamp_min(0)
    corr = num / var.sqrt().clamp_min(1e-9)
    flat_a = var.max(1).values < 1e-9
    flat = flat_a | (nb < 1e-6)
    best = corr.max(1).values.numpy()
    if flat.any():
        fa = flat.numpy()
        same = np.abs(a[fa].astype(np.float32).mean((1, 2)) - b[fa].astype(np.float32).mean((1, 2))) < 1e-3
        both_flat = (flat_a & (nb < 1e-6)).numpy()[fa]
        best[fa] = np.where(both_flat & same, 1.0, 0.0)
    return best
