"""Copies shifted or rolled by one or two pixels, for images too small to centre on their ink.

On an 8x8 image a 2-pixel shift moves a quarter of the picture out of the frame (or, rolled, round to
the other side), so neither the perceptual hash nor the ink-centred hash of ``duplicates`` stays close.
Here each small image is also hashed moved by every shift within ``MAX_SHIFT`` pixels on each axis
(24 shifts), filled with its median (its background), and rolled (half of the shifts: a roll is undone
by the opposite one, so the copy's variants find the other half): a shifted copy of image ``a`` has
nearly the hash of one of ``a``'s variants, or ``a`` of one of the copy's. Variants
are looked up among the original hashes only (the same pigeonhole bands as ``duplicates``), so the work
is about (N x variants) x (bucket size).

Those candidates are verified more strictly than the unshifted ones, because distinct 8x8 digits of one
writer correlate up to ~0.996 (sklearn's digits, measured over all pairs and shifts): at the best of
the same shifts, the window the two images share (a 6x8 overlap for a 2-pixel shift of an 8x8 image,
less half a pixel at its edges, where resampling blurs the cut) must correlate at least
``1 - (1 - min_corr) / STRICT`` (0.998 for the default 0.99), and hold enough ink in both images
(``MIN_OVERLAP_INK``) so blank-ish images do not match. Everything runs on the 32x32 thumbnails: one
image pixel is ``32 / side`` thumbnail pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from .fingerprints import DCT_LOW, INK, hash_bands, hash_of_coefficients

__all__ = ["MAX_SHIFT", "MIN_OVERLAP_INK", "STRICT", "overlap_corr", "shifted_candidates"]

MAX_SHIFT = 2  # image pixels, on each axis
STRICT = 5.0  # the overlap must miss perfect correlation by 5x less than min_corr allows
MIN_OVERLAP_INK = 0.05  # share of the overlap's pixels that must be ink, in both images
_QUERY_CHUNK = 8192  # variant hashes looked up at once (bounds the query x bucket arrays)

_SHIFTS = [
    (dy, dx) for dy in range(-MAX_SHIFT, MAX_SHIFT + 1) for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
]  # (0, 0) included: the overlap test also accepts an unshifted copy


def _steps(side: int, thumb_side: int) -> list[tuple[int, int, int, int]]:
    """``(dy, dx, ty, tx)``: each image-pixel shift and its thumbnail-pixel shift."""
    scale = thumb_side / side
    return [(dy, dx, round(dy * scale), round(dx * scale)) for dy, dx in _SHIFTS]


def _variant_hashes(thumb: np.ndarray, side: int) -> np.ndarray:
    """``(N, 36)`` uint64: hashes of each ``(N, S, S)`` thumbnail moved by every non-zero shift and
    filled with its median (24), and rolled by the 12 shifts ``(dy, dx) > (0, 0)``.

    The DCT is linear, so no moved copy is made: rolling by ``t`` rows is a permutation ``P``; filling
    also blanks the wrapped rows (``diag(r) P``, ``r`` 0 there) and adds the median there. With ``D`` the
    DCT's 8 lowest rows and ``Q``, ``c`` the same for the columns, a variant's coefficients are
    ``(D diag(r) P) X (D diag(c) Q)^T + med ((D 1)(D 1)^T - (D r)(D c)^T)``; the products
    ``X (D diag(c) Q)^T`` (``(N, S, 8)``) are shared by every variant with that column move.
    """
    t = torch.from_numpy(np.asarray(thumb, dtype=np.float32))
    n, s = t.shape[0], t.shape[1]
    med = t.reshape(n, -1).median(dim=1).values[:, None, None]
    ones = torch.ones(s)
    steps = [step for step in _steps(side, s) if step[:2] != (0, 0)]
    ops: dict[tuple[int, bool], tuple[torch.Tensor, torch.Tensor]] = {}  # (offset, fill): (D op, kept)
    for off in {v for _, _, ty, tx in steps for v in (ty, tx)}:
        perm = torch.roll(torch.eye(s), off, dims=0)  # (perm @ X)[i] = X[i - off], as torch.roll
        kept = ones.clone()
        kept[slice(0, off) if off > 0 else slice(s + off, s)] = 0.0
        ops[off, False] = DCT_LOW @ perm, ones
        ops[off, True] = DCT_LOW @ (kept[:, None] * perm), kept
    right = {key: t @ op.T for key, (op, _) in ops.items()}  # (N, S, 8) per column move
    flat = torch.outer(DCT_LOW @ ones, DCT_LOW @ ones)
    coeffs = []
    for dy, dx, ty, tx in steps:
        # a roll by (dy, dx) undoes the roll by (-dy, -dx): the copy's own variants cover the other half
        for fill in (False, True) if (dy, dx) > (0, 0) else (True,):
            (rows, r), (_, c) = ops[ty, fill], ops[tx, fill]
            low = rows @ right[tx, fill]  # (N, 8, 8)
            if fill:
                low = low + med * (flat - torch.outer(DCT_LOW @ r, DCT_LOW @ c))
            coeffs.append(low.reshape(n, 64))
    return hash_of_coefficients(torch.stack(coeffs, dim=1).reshape(-1, 64)).reshape(n, -1)


def _cross_codes(query: np.ndarray, owner: np.ndarray, base: np.ndarray, max_bits: int) -> np.ndarray:
    """Pair codes ``i * n + j`` (``i < j``, ``n = len(base)``) of ``owner[q]`` and base positions whose
    hashes ``query[q]`` and ``base[j]`` are within ``max_bits`` bits (pigeonhole bands, as in
    ``duplicates``)."""
    n = len(base)
    chunks = [np.zeros(0, dtype=np.int64)]
    for offset, width in hash_bands(max_bits):
        mask = np.uint64((1 << width) - 1)
        key_b = (base >> np.uint64(offset)) & mask
        order = np.argsort(key_b, kind="stable")  # base positions bucket by bucket
        size = np.bincount(key_b.astype(np.int64), minlength=1 << width)  # a band is at most 8 bits wide
        key_q = ((query >> np.uint64(offset)) & mask).astype(np.int64)
        counts = size[key_q]  # bucket size of each query
        lo = (np.cumsum(size) - size)[key_q]  # where its bucket starts in ``order``
        for q0 in range(0, len(query), _QUERY_CHUNK):
            qs = slice(q0, q0 + _QUERY_CHUNK)
            q = np.repeat(np.arange(q0, q0 + len(counts[qs])), counts[qs])  # each query once per member
            within = np.arange(len(q)) - np.repeat(np.cumsum(counts[qs]) - counts[qs], counts[qs])
            j = order[np.repeat(lo[qs], counts[qs]) + within]
            close = np.bitwise_count(query[q] ^ base[j]) <= max_bits
            a, b = owner[q[close]], j[close]
            keep = a != b
            chunks.append(np.minimum(a, b)[keep] * n + np.maximum(a, b)[keep])
    return np.concatenate(chunks)


def shifted_candidates(
    phash: np.ndarray, thumb: np.ndarray, small: np.ndarray, side: np.ndarray, max_bits: int
) -> np.ndarray:
    """``(P, 2)`` pairs ``i < j`` (positions in ``phash``) where a shifted or rolled variant of a ``small``
    image hashes within ``max_bits`` bits of the other image's hash; ``side`` is each image's smaller
    side in pixels."""
    n = len(phash)
    chunks = [np.zeros(0, dtype=np.int64)]
    for value in np.unique(side[small]).tolist():
        members = np.flatnonzero(small & (side == value))
        variants = _variant_hashes(thumb[members], int(value))  # (M, V)
        owner = np.repeat(members, variants.shape[1])
        chunks.append(_cross_codes(variants.reshape(-1), owner, phash, max_bits))
    codes = np.unique(np.concatenate(chunks))
    return np.stack([codes // n, codes % n], axis=1)


def overlap_corr(a: np.ndarray, b: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Best correlation ``(P,)`` of the windows that ``a[i]`` and ``b[i]`` (``(P, S, S)`` thumbnails of
    ``side``-pixel images) share when ``b`` is ``a`` moved by one of the shifts within ``MAX_SHIFT``
    image pixels, and that shift ``(P, 2)`` as ``(dy, dx)`` image pixels (``b[y, x] ~ a[y - dy, x - dx]``).

    Each window loses half an image pixel at every edge (resampling blurs the cut). A shift whose windows
    hold less than ``MIN_OVERLAP_INK`` ink (in either image) scores -1; so does an image without contrast.
    """
    p, s, _ = a.shape
    at = torch.from_numpy(np.asarray(a, dtype=np.float32))
    bt = torch.from_numpy(np.asarray(b, dtype=np.float32))
    ink_a = (at - at.reshape(p, -1).median(1).values[:, None, None]).abs() > INK
    ink_b = (bt - bt.reshape(p, -1).median(1).values[:, None, None]).abs() > INK
    margin = max(1, round(s / side / 2))
    best = torch.full((p,), -1.0)
    shift = np.zeros((p, 2), dtype=np.int64)
    for dy, dx, ty, tx in _steps(side, s):
        # b[y, x] against a[y - ty, x - tx] over the rows/columns where both exist, less the margin
        ys, xs = (
            slice(max(ty, 0) + margin, s + min(ty, 0) - margin),
            slice(max(tx, 0) + margin, s + min(tx, 0) - margin),
        )
        ya, xa = slice(ys.start - ty, ys.stop - ty), slice(xs.start - tx, xs.stop - tx)
        wa, wb = at[:, ya, xa].reshape(p, -1), bt[:, ys, xs].reshape(p, -1)
        wa, wb = wa - wa.mean(1, keepdim=True), wb - wb.mean(1, keepdim=True)
        na, nb = wa.norm(dim=1), wb.norm(dim=1)
        corr = (wa * wb).sum(1) / (na * nb).clamp_min(1e-12)
        inked = (ink_a[:, ya, xa].float().mean((1, 2)) >= MIN_OVERLAP_INK) & (
            ink_b[:, ys, xs].float().mean((1, 2)) >= MIN_OVERLAP_INK
        )
        corr = torch.where(inked & (na > 1e-6) & (nb > 1e-6), corr, -1.0)
        better = corr > best
        best = torch.where(better, corr, best)
        shift[better.numpy()] = (dy, dx)
    return best.numpy(), shift


def shifted_pairs(
    phash: np.ndarray, thumb: np.ndarray, side: np.ndarray, small: np.ndarray, max_bits: int, min_corr: float
) -> np.ndarray:
    """``(P, 2)`` pairs ``i < j`` of images where one is a ``small`` image shifted or rolled by up to
    ``MAX_SHIFT`` pixels (candidates from ``shifted_candidates``, kept when ``overlap_corr`` reaches
    ``1 - (1 - min_corr) / STRICT``); ``side`` is each image's smaller side in pixels."""
    pairs = shifted_candidates(phash, thumb, small, side, max_bits)
    if not len(pairs):
        return pairs
    strict = 1.0 - (1.0 - min_corr) / STRICT
    pair_side = np.minimum(side[pairs[:, 0]], side[pairs[:, 1]])
    keep = np.zeros(len(pairs), dtype=bool)
    for value in np.unique(pair_side).tolist():
        rows = np.flatnonzero(pair_side == value)
        for s in range(0, len(rows), 1024):
            r = rows[s : s + 1024]
            corr, _ = overlap_corr(thumb[pairs[r, 0]], thumb[pairs[r, 1]], int(value))
            keep[r] = corr >= strict
    return pairs[keep]
