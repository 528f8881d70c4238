"""What the views draw, prepared in numpy: axis limits and ticks, smoothing, bands, downsampling, run labels.

Plain numpy (no widgets), kept beside the views that use them rather than in the training core."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "LOG_PAD",
    "config_diff",
    "downsample",
    "ema",
    "epoch_ticks",
    "log_limits",
    "log_ticks",
    "spread_band",
]

#: Padding of a log scale, as a fraction of the data's span in decades (half a decade for one point): a
#: marker is ~10 px wide, about 3% of the plot, so points at the edge of the data sit wholly inside the frame.
LOG_PAD = 0.1


def log_limits(values: np.ndarray, pad: float = LOG_PAD) -> tuple[float, float] | None:
    """(min, max) of a log scale that shows every value with ``pad`` of the span (in decades) either side."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return None
    lo, hi = math.log10(v.min()), math.log10(v.max())
    margin = pad * (hi - lo) if hi > lo else 0.5
    return 10 ** (lo - margin), 10 ** (hi + margin)


def epoch_ticks(last: int, most: int = 10) -> np.ndarray:
    """Whole-epoch ticks 1 .. ``last``, every k-th epoch so that there are at most ``most``."""
    step = max(1, math.ceil(last / most))
    return np.arange(1, max(1, last) + 1, step, dtype=float)


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: consecutive bins averaged (x and y), so a view sends little data.

    Averaging (not striding) keeps the curve honest: a spike still moves its bin's mean.
    """
    n = len(x)
    if n <= max_points:
        return x.astype(np.float64), y.astype(np.float64)
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    counts = np.diff(edges)
    xs = np.add.reduceat(x.astype(np.float64), edges[:-1]) / counts
    ys = np.add.reduceat(y.astype(np.float64), edges[:-1]) / counts
    return xs, ys


def log_ticks(low: float, high: float, max_ticks: int = 8) -> np.ndarray:
    """Readable ticks for a log axis over ``[low, high]``: 1-2-5 per decade, fewer when the range is wide."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 or high <= 0:
        return np.zeros(0)
    low, high = min(low, high), max(low, high)
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        decades = np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
        ticks = np.array([m * 10.0**d for d in decades for m in mantissas])
        ticks = ticks[(ticks >= low * 0.999) & (ticks <= high * 1.001)]
        if len(ticks) <= max_ticks:
            break
    if len(ticks) > max_ticks:  # many decades: every k-th power of ten
        ticks = ticks[:: int(np.ceil(len(ticks) / max_ticks))]
    if len(ticks) < 2:  # a narrow range inside one decade: its ends
        ticks = np.array([low, high])
    return ticks


def ema(y: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (the first points are not pulled towards 0).

    Vectorised: a Python loop over every step, at each redraw, grew to most of a redraw on long runs.
    The recursion ``avg = beta * avg + (1 - beta) * v`` is summed in closed form over chunks short enough
    that ``beta ** -k`` stays below 1e100 (scipy's ``lfilter`` does it too, but importing scipy.signal
    took seconds in the training thread at a view's first redraw).
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n == 0 or beta == 0:
        return y.copy()
    out = np.empty(n, dtype=np.float64)
    chunk = max(1, min(n, int(100 * np.log(10) / -np.log(beta))))
    carry = 0.0
    for start in range(0, n, chunk):
        seg = y[start : start + chunk]
        k = np.arange(len(seg), dtype=np.float64)
        # avg[start + k] = beta**(k+1) * carry + (1 - beta) * sum_{j<=k} beta**(k-j) * seg[j]
        avg = beta**k * (beta * carry + (1 - beta) * np.cumsum(seg * beta**-k))
        out[start : start + len(seg)] = avg
        carry = avg[-1]
    return out / (1.0 - beta ** np.arange(1, n + 1, dtype=np.float64))


def spread_band(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin of consecutive points: centre x, mean - std and mean + std (the recipe's mean +- spread plot).

    Vectorised (``np.add.reduceat``): the lab redraws it a few times a second from the training thread,
    and a Python loop over the bins was two thirds of a redraw.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    bins = max(1, min(bins, n))
    starts = np.unique(np.linspace(0, n, bins + 1).astype(np.int64)[:-1])  # bins <= n: none is empty
    counts = np.diff(np.append(starts, n))
    xf, yf = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xs = np.add.reduceat(xf, starts) / counts
    mean = np.add.reduceat(yf, starts) / counts
    dev = yf - np.repeat(mean, counts)  # two passes, as np.std does
    sd = np.sqrt(np.add.reduceat(dev * dev, starts) / counts)
    return xs, mean - sd, mean + sd


def config_diff(old: dict, new: dict, keys: tuple[str, ...] | None = None) -> str:
    """What differs between two run configs, as "lr 3e-3 → 1e-2, init xavier → kaiming"."""

    def fmt(v):  # two significant digits: 0.003 -> 3e-3, 0.00316 -> 3.2e-3
        if isinstance(v, float) and v and (abs(v) < 0.1 or abs(v) >= 1e4):
            mantissa, exp = f"{v:.1e}".split("e")
            return f"{mantissa.removesuffix('.0')}e{int(exp)}"
        return f"{v:.2g}" if isinstance(v, float) else str(v)

    names = keys or tuple(k for k in new if k in old)
    parts = [
        f"{k} {fmt(old[k])} → {fmt(new[k])}"
        for k in names
        if k in old and k in new and fmt(old[k]) != fmt(new[k])
    ]  # only differences one can see
    return ", ".join(parts) or "same settings"
