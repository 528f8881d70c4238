"""A few no-op hooks, and stopping by exception.

The loop calls, in order: ``on_fit_start`` once, ``on_step_end`` after every optimizer step,
``on_epoch_end`` after each epoch's evaluation, and ``on_fit_end`` once, whatever happened (also
after a stop, a divergence or an error). A callback ends a run cleanly by raising ``StopTraining``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .config import TrainConfig
    from .history import History

__all__ = ["Callback", "EarlyStopped", "FitState", "StopTraining"]


class StopTraining(Exception):
    """Raise from a callback to end the run now; the run's status becomes "stopped"."""


class EarlyStopped(StopTraining):
    """The run ended because its metric stopped improving: the run's status is "finished"."""


@dataclass
class FitState:
    """What a callback may look at (and the optimizer's LR it may change)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    history: History
    config: TrainConfig
    device: torch.device
    step: int = 0
    epoch: int = 0
    loss: torch.Tensor | None = None  # this step's loss, detached, on the device (reading it is a host sync)
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Subclass and override the hooks you need; every hook is a no-op here."""

    def on_fit_start(self, state: FitState) -> None:
        pass

    def on_step_end(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState) -> None:
        pass

    def on_fit_end(self, state: FitState) -> None:
        pass
