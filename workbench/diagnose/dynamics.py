"""Prediction dynamics: a fixed test batch, its class probabilities over training, and their "wiggle".

The recipe: watch the predictions on a fixed batch move as the model learns; predictions that keep
jumping between updates (a large wiggle) mean an LR that is too high or a batch that is too small.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import torch

from ..train.callbacks import Callback, FitState

__all__ = ["PredictionTracker", "fixed_batch"]


def fixed_batch(data, n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``n`` samples of ``data`` chosen by ``seed`` (the same ones every time): inputs, labels, indices."""
    if not 1 <= n <= len(data):
        raise ValueError(f"fixed_batch: n must be in [1, {len(data)}]. Got {n} instead.")
    idx = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    xs, ys = zip(*(data[int(i)] for i in idx))
    return torch.stack(xs), torch.tensor(ys), idx


class PredictionTracker(Callback):
    """Class probabilities of a fixed batch, recorded a few times a second while training.

    ``wiggle`` at an update is the mean (over samples) total-variation distance between the
    probabilities now and at the previous update: 0 = nothing moved, 1 = every prediction flipped.
    ``budget`` (a fraction, e.g. 0.01): the records may take at most that share of the training
    thread's wall time; when they get slow (a big model, a loaded machine) the next waits longer (by the
    least of the last three costs, at most ``MAX_WAIT_S``), as ``workbench.background.Throttle`` does.
    """

    MAX_WAIT_S = 10.0

    def __init__(
        self, inputs: torch.Tensor, targets: torch.Tensor, hz: float = 4.0, budget: float | None = None
    ) -> None:
        if budget is not None and not 0 < budget <= 1:
            raise ValueError(
                f"The 'budget' parameter of PredictionTracker must be a fraction in (0, 1] or None. "
                f"Got {budget!r} instead."
            )
        self.inputs, self.targets = inputs, targets
        self.period = 1.0 / hz
        self.budget = budget
        self._last = float("-inf")
        self._next = float("-inf")
        self._costs: deque[float] = deque(maxlen=3)
        self._lock = threading.Lock()
        self.steps: list[int] = []
        self.probs: list[np.ndarray] = []  # each (n, C)
        self.wiggle: list[float] = []
        self.version = 0

    def _record(self, state: FitState) -> None:
        model = state.model
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                p = torch.softmax(model(self.inputs.to(state.device)).float(), dim=1).cpu().numpy()
        finally:
            model.train(was)
        with self._lock:
            w = float(0.5 * np.abs(p - self.probs[-1]).sum(axis=1).mean()) if self.probs else 0.0
            self.steps.append(state.step)
            self.probs.append(p)
            self.wiggle.append(w)
            self.version += 1

    def on_fit_start(self, state: FitState) -> None:
        self._record(state)
        self._last = time.monotonic()

    def on_step_end(self, state: FitState) -> None:
        now = time.monotonic()
        if now - self._last >= self.period and now >= self._next:
            self._last = now
            self._record(state)
            if self.budget is not None:
                self._costs.append(time.monotonic() - now)
                self._next = now + min(min(self._costs) / self.budget, self.MAX_WAIT_S)

    def on_fit_end(self, state: FitState) -> None:
        if not self.steps or self.steps[-1] != state.step:
            self._record(state)

    def latest(self) -> tuple[int, np.ndarray | None, np.ndarray, np.ndarray]:
        """(version, latest probabilities, steps, wiggle) — copies, safe to read from another thread."""
        with self._lock:
            return (
                self.version,
                self.probs[-1].copy() if self.probs else None,
                np.array(self.steps),
                np.array(self.wiggle),
            )
