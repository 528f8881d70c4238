"""Parameter checks that produce errors a person can act on.

Messages follow one shape: *The 'lr' parameter of fit must be a float in (0, 10]. Got -1 instead.*
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["check_choice", "check_int", "check_real"]


def _got(value: Any) -> str:
    return f"Got {value!r} instead."


def check_int(value: Any, name: str, where: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]``; raise a named error otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"The {name!r} parameter of {where} must be an int. {_got(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"The {name!r} parameter of {where} must be an int in [{lo}, {hi}]. {_got(value)}")
    return value


def check_real(
    value: Any,
    name: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the given interval; raise a named error otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The {name!r} parameter of {where} must be a float. {_got(value)}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value > high
    if bad:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(
            f"The {name!r} parameter of {where} must be a float in {left}{lo}, {hi}]. {_got(value)}"
        )
    return value


def check_choice(value: Any, name: str, where: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; raise a named error otherwise."""
    choices = tuple(choices)
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"The {name!r} parameter of {where} must be one of {options}. {_got(value)}")
    return value
