"""The lab's own training callbacks: the diagnosis re-read at epoch ends, and the probes kept to a budget.

Both run in the training thread and take a bounded share of it (``OverfitLab``'s ``VIEW_BUDGET``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from ..background import Throttle
from ..diagnose.probes import Probes
from ..train.callbacks import Callback, FitState
from ..train.history import History

__all__ = ["ProbeBudget", "Verdicts"]


class Verdicts(Callback):
    """At epoch ends, at most ``hz`` times a second, ``show(history)`` (a stall shows while the run goes on).

    ``show`` is looked up at each call through ``get_show`` (a test may replace the lab's method)."""

    def __init__(self, get_show: Callable[[], Callable[[History], None]], hz: float, budget: float) -> None:
        self.get_show = get_show
        self.throttle = Throttle(hz, budget)  # tiny subsets run hundreds of epochs a second

    def on_epoch_end(self, state: FitState) -> None:
        self.throttle.call(self.get_show(), state.history)


class ProbeBudget(Callback):
    """Keep ``probes``' sampling to ``budget`` of the training thread's wall time: put it after them.

    A sample costs the step before it (the weights copied) and its own step (hooks on every layer, the
    histograms, one host copy): the two steps' time above the median of recent plain steps. After each
    sample, ``probes.max_hz`` is set so that this cost is at most ``budget`` of the time between samples,
    never above ``hz``. On the MNIST CNN of ``benchmarks/lab_overhead.py`` (1 CPU thread, a loaded machine)
    a sample took ~55 ms, more than a step: every 25 steps that was 5 % of the run.
    """

    def __init__(self, probes: Probes, budget: float, hz: float) -> None:
        self.probes, self.budget, self.hz = probes, budget, hz
        self._plain: deque[float] = deque(maxlen=25)  # recent step times without a sample
        self._last = self._before = float("nan")  # when the previous step ended; the step time before it
        self._seen = 0

    def on_fit_start(self, state: FitState) -> None:
        self._last = time.monotonic()
        self._seen = len(self.probes.samples)

    def on_step_end(self, state: FitState) -> None:
        now = time.monotonic()
        dt, self._last = now - self._last, now
        n = len(self.probes.samples)
        if n == self._seen:
            if np.isfinite(self._before):
                self._plain.append(self._before)  # the step before this one was plain (no sample came)
            self._before = dt
            return
        self._seen = n
        if len(self._plain) >= 3 and np.isfinite(self._before):
            extra = self._before + dt - 2 * float(np.median(self._plain))
            self.probes.max_hz = min(self.hz, self.budget / max(extra, 1e-6))
        self._before = float("nan")  # the arming step of the next sample is not a plain one either
