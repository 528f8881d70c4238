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
writer correlate up to ~0.996 (sklearn's digits, measured over all pairs and shifts): at the shift the
hashes matched at, the window the two images share (a 6x8 overlap for a 2-pixel shift of an 8x8 image,
less half a pixel at its edges, where resampling blurs the cut) must correlate at least
``1 - (1 - min_corr) / STRICT`` (0.998 for the default 0.99), and hold enough ink in both images
(``MIN_OVERLAP_INK``) so blank-ish images do not match. Measured: every 1- and 2-pixel shifted or rolled
copy of MNIST digits downscaled to 8x8 scores 1.0; no pair of the 1,797 sklearn digits, nor of the 10,000
MNIST test digits downscaled to 8x8, passes. Everything runs on the 32x32 thumbnails: one image pixel
is ``32 / side`` thumbnail pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from .fingerprints import DCT_LOW, INK, hash_bands, hash_of_coefficients

__all__ = ["MAX_SHIFT", "MIN_OVERLAP_INK", "STRICT", "overlap_corr", "shifted_candidates", "shifted_pairs"]

MAX_SHIFT = 2  # image pixels, on each axis
STRICT = 5.0  # the overlap must miss perfect correlation by 5x less than min_corr allows
#: Ink inside the overlap, as a share of the whole thumbnail, in both images. Measured: a lit pixel of an
#: 8x8 image is 0.043 of its 32x32 thumbnail (resampling spreads it), two are 0.074; digits of sklearn
#: are at least 0.34, MNIST digits downscaled to 8x8 at least 0.12 (0.15 for 999 in 1,000).
MIN_OVERLAP_INK = 0.1
_BLOCK = 1 << 20  # hash comparisons held at once

_SHIFTS = [
    (dy, dx) for dy in range(-MAX_SHIFT, MAX_SHIFT + 1) for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
]  # (0, 0) too: overlap_corr tries it; the variants leave it out


def _steps(side: int, thumb_side: int) -> list[tuple[int, int, int, int]]:
    """``(dy, dx, ty, tx)``: each image-pixel shift and its thumbnail-pixel shift."""
    scale = thumb_side / side
    return [(dy, dx, round(dy * scale), round(dx * scale)) for dy, dx in _SHIFTS]


def _variant_hashes(thumb: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 36)`` uint64: hashes of each ``(N, S, S)`` thumbnail moved by every non-zero shift and
    filled with its median (24), and rolled by the 12 shifts ``(dy, dx) > (0, 0)``; ``(36,)`` the move
    of each (its index in ``_SHIFTS``).

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
    coeffs, moves = [], []
    for dy, dx, ty, tx in steps:
        # a roll by (dy, dx) undoes the roll by (-dy, -dx): the copy's own variants cover the other half
        for fill in (False, True) if (dy, dx) > (0, 0) else (True,):
            (rows, r), (_, c) = ops[ty, fill], ops[tx, fill]
            low = rows @ right[tx, fill]  # (N, 8, 8)
            if fill:
                low = low + med * (flat - torch.outer(DCT_LOW @ r, DCT_LOW @ c))
            coeffs.append(low.reshape(n, 64))
            moves.append(_SHIFTS.index((dy, dx)))
    hashes = hash_of_coefficients(torch.stack(coeffs, dim=1).reshape(-1, 64)).reshape(n, -1)
    return hashes, np.array(moves, dtype=np.int64)


def _cross_matches(
    query: np.ndarray, owner: np.ndarray, move: np.ndarray, base: np.ndarray, max_bits: int
) -> np.ndarray:
    """Keys ``(i * n + j) * len(_SHIFTS) + m`` (``n = len(base)``): ``query[q]``, the hash of image
    ``owner[q]`` moved by ``_SHIFTS[move[q]]``, is within ``max_bits`` bits of ``base[k]``; ``i < j`` are
    ``owner[q]`` and ``k``, and ``m`` is the move that takes image ``i`` to image ``j``.

    Pigeonhole bands as in ``duplicates``: per band, each bucket's queries against its base hashes.
    """
    n, k_moves = len(base), len(_SHIFTS)
    chunks = [np.zeros(0, dtype=np.int64)]
    for offset, width in hash_bands(max_bits):
        mask = np.uint64((1 << width) - 1)
        key_b = ((base >> np.uint64(offset)) & mask).astype(np.int64)  # a band is at most 8 bits wide
        key_q = ((query >> np.uint64(offset)) & mask).astype(np.int64)
        order_b, order_q = np.argsort(key_b, kind="stable"), np.argsort(key_q, kind="stable")
        start_b = np.r_[0, np.cumsum(np.bincount(key_b, minlength=1 << width))]
        start_q = np.r_[0, np.cumsum(np.bincount(key_q, minlength=1 << width))]
        shared = (np.diff(start_b) > 0) & (np.diff(start_q) > 0)
        for key in np.flatnonzero(shared).tolist():
            js = order_b[start_b[key] : start_b[key + 1]]
            qs = order_q[start_q[key] : start_q[key + 1]]
            step = max(1, _BLOCK // len(js))  # query rows at a time: bounds the (rows x bucket) matrix
            for r0 in range(0, len(qs), step):
                q = qs[r0 : r0 + step]
                rows, cols = np.nonzero(np.bitwise_count(query[q][:, None] ^ base[js][None, :]) <= max_bits)
                a, b, m = owner[q[rows]], js[cols], move[q[rows]]
                keep = a != b
                m = np.where(a < b, m, k_moves - 1 - m)  # _SHIFTS is symmetric: index -> opposite move
                pair = np.minimum(a, b) * n + np.maximum(a, b)
                chunks.append((pair * k_moves + m)[keep])
    return np.concatenate(chunks)


def shifted_candidates(
    phash: np.ndarray, thumb: np.ndarray, small: np.ndarray, side: np.ndarray, max_bits: int
) -> np.ndarray:
    """``(C, 3)`` rows ``(i, j, m)``, ``i < j`` positions in ``phash``: a ``small`` image moved by the
    shift ``_SHIFTS[m]`` (rolled or filled) hashes within ``max_bits`` bits of the other, so image ``j``
    may be image ``i`` moved by that shift. ``side`` is each image's smaller side in pixels."""
    n, k_moves = len(phash), len(_SHIFTS)
    chunks = [np.zeros(0, dtype=np.int64)]
    for value in np.unique(side[small]).tolist():
        members = np.flatnonzero(small & (side == value))
        hashes, moves = _variant_hashes(thumb[members], int(value))  # (M, V), (V,)
        owner = np.repeat(members, hashes.shape[1])
        chunks.append(
            _cross_matches(hashes.reshape(-1), owner, np.tile(moves, len(members)), phash, max_bits)
        )
    keys = np.unique(np.concatenate(chunks))
    pair, m = keys // k_moves, keys % k_moves
    return np.stack([pair // n, pair % n, m], axis=1)


def overlap_corr(
    a: np.ndarray, b: np.ndarray, side: int, shifts: list[tuple[int, int]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best correlation ``(P,)`` of the windows that ``a[i]`` and ``b[i]`` (``(P, S, S)`` thumbnails of
    ``side``-pixel images) share when ``b`` is ``a`` moved by one of ``shifts`` (default: every shift
    within ``MAX_SHIFT`` image pixels on each axis), and that shift ``(P, 2)`` as ``(dy, dx)`` image
    pixels (``b[y, x] ~ a[y - dy, x - dx]``).

    Each window loses half an image pixel at every edge (resampling blurs the cut). A shift whose windows
    hold less ink than ``MIN_OVERLAP_INK`` of a whole image (in either image) scores -1; so does an
    image without contrast.
    """
    p, s, _ = a.shape
    at = torch.from_numpy(np.asarray(a, dtype=np.float32))
    bt = torch.from_numpy(np.asarray(b, dtype=np.float32))
    ink_a = (at - at.reshape(p, -1).median(1).values[:, None, None]).abs() > INK
    ink_b = (bt - bt.reshape(p, -1).median(1).values[:, None, None]).abs() > INK
    margin = max(1, round(s / side / 2))
    best = torch.full((p,), -1.0)
    shift = np.zeros((p, 2), dtype=np.int64)
    scale = s / side
    for dy, dx in _SHIFTS if shifts is None else shifts:
        ty, tx = round(dy * scale), round(dx * scale)
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
        inked = (ink_a[:, ya, xa].float().sum((1, 2)) >= MIN_OVERLAP_INK * s * s) & (
            ink_b[:, ys, xs].float().sum((1, 2)) >= MIN_OVERLAP_INK * s * s
        )
        corr = torch.where(inked & (na > 1e-6) & (nb > 1e-6), corr, -1.0)
        better = corr > best
        best = torch.where(better, corr, best)
        shift[better.numpy()] = (dy, dx)
    return best.numpy(), shift


def shifted_pairs(
    phash: np.ndarray, thumb: np.ndarray, side: np.ndarray, small: np.ndarray, max_bits: int, min_corr: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(P, 2)`` pairs ``i < j`` where image ``j`` is image ``i`` (one of them ``small``) shifted or
    rolled by up to ``MAX_SHIFT`` pixels, and that shift ``(P, 2)`` as ``(dy, dx)`` image pixels.

    Each candidate of ``shifted_candidates`` is verified at the shift its hashes matched at: kept when
    ``overlap_corr`` reaches ``1 - (1 - min_corr) / STRICT``. ``side``: each image's smaller side.
    """
    cand = shifted_candidates(phash, thumb, small, side, max_bits)
    strict = 1.0 - (1.0 - min_corr) / STRICT
    corr = np.full(len(cand), -1.0)
    pair_side = np.minimum(side[cand[:, 0]], side[cand[:, 1]])
    for value, m in {(int(v), int(m)) for v, m in zip(pair_side.tolist(), cand[:, 2].tolist())}:
        rows = np.flatnonzero((pair_side == value) & (cand[:, 2] == m))
        for r in np.array_split(rows, -(-len(rows) // 1024)):
            corr[r] = overlap_corr(thumb[cand[r, 0]], thumb[cand[r, 1]], value, [_SHIFTS[m]])[0]
    ok, best = cand[corr >= strict], corr[corr >= strict]
    ok = ok[np.lexsort((-best, ok[:, 1], ok[:, 0]))]  # by pair, its best-correlated shift first
    ok = ok[np.r_[True, np.any(ok[1:, :2] != ok[:-1, :2], axis=1)][: len(ok)]]
    return ok[:, :2], np.array([_SHIFTS[m] for m in ok[:, 2].tolist()], dtype=np.int64).reshape(-1, 2)
