"""Axis and scale helpers the views share (plain numpy; no widgets)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LOG_PAD", "epoch_ticks", "log_limits"]

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
