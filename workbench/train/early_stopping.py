"""Early stopping: end a run when its validation metric stops improving, and keep its best weights.

A ``Callback`` the loop adds itself when ``TrainConfig.patience`` is set (or pass one yourself). At every
epoch end it reads the monitored metric from the history; an improvement by more than ``min_delta``
makes that epoch the best and copies the weights (on the device: one ``clone`` per improvement, no
host transfer). After ``patience`` epochs without one the run ends; at the end of the run, however it
ended, the best epoch's weights go back into the model, so what ``fit`` returns is the best model.
``History.best_epoch`` and ``History.stopped_epoch`` say which.

Lightning's ``EarlyStopping`` and Keras' work the same way; neither runs inside our loop, and torch
has no early stopping, so this is written here (45 lines).
"""

from __future__ import annotations

import math

import torch

from .._validation import check_choice, check_int, check_real
from .callbacks import Callback, EarlyStopped, FitState

__all__ = ["EarlyStopping"]

_HIGHER_IS_BETTER = ("val_acc", "train_acc")


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs in which ``monitor`` did not improve by more than ``min_delta``.

    Parameters
    ----------
    monitor : str
        "val_loss" (lower is better), "val_acc" (higher), "train_loss" or "train_acc".
    patience : int
    min_delta : float
        An epoch must beat the best by more than this to count as an improvement.
    restore_best : bool
        Put the best epoch's weights back into the model at the end of the run.
    """

    def __init__(
        self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, restore_best: bool = True
    ) -> None:
        check_choice(monitor, "monitor", "EarlyStopping", ("val_loss", "val_acc", "train_loss", "train_acc"))
        self.monitor = monitor
        self.patience = check_int(patience, "patience", "EarlyStopping", low=1)
        self.min_delta = check_real(min_delta, "min_delta", "EarlyStopping", low=0.0)
        self.restore_best = restore_best
        self.sign = 1.0 if monitor in _HIGHER_IS_BETTER else -1.0

    def on_fit_start(self, state: FitState) -> None:
        self.best_ = -math.inf  # sign * metric: higher is better here
        self.best_epoch_: int | None = None
        self.best_state_: dict[str, torch.Tensor] | None = None
        self.wait_ = 0

    def on_epoch_end(self, state: FitState) -> None:
        value = state.history.last(self.monitor)
        if math.isnan(value):
            raise ValueError(
                f"early stopping watches {self.monitor!r}, but the run does not record it: give fit a val "
                "split, or set TrainConfig(monitor='train_loss')."
            )
        if self.sign * value > self.best_ + self.min_delta:
            self.best_, self.best_epoch_, self.wait_ = self.sign * value, state.epoch, 0
            self.best_state_ = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
            state.history.best_epoch = state.epoch
            return
        self.wait_ += 1
        if self.wait_ >= self.patience:
            state.history.stopped_epoch = state.epoch
            raise EarlyStopped(
                f"early stopping at epoch {state.epoch}: {self.monitor} has not improved by more than "
                f"{self.min_delta:g} for {self.patience} epochs; best epoch {self.best_epoch_} "
                f"({self.monitor} {self.sign * self.best_:.4g})"
                + (", its weights restored" if self.restore_best else "")
            )

    def on_fit_end(self, state: FitState) -> None:
        if self.restore_best and self.best_state_ is not None and self.best_epoch_ != state.epoch:
            state.model.load_state_dict(self.best_state_)
