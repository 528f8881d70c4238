"""The one training loop and what it records (pure: no widgets)."""

from .callbacks import Callback, FitState, StopTraining
from .config import TrainConfig
from .history import EPOCH_METRICS, History, HistorySnapshot, downsample
from .loop import Evaluation, TrainingError, evaluate, fit, resolve_device
from .optimizers import OPTIMIZERS, make_optimizer, set_lr
from .seeding import seed_everything, seed_worker

__all__ = [
    "EPOCH_METRICS",
    "OPTIMIZERS",
    "Callback",
    "Evaluation",
    "FitState",
    "History",
    "HistorySnapshot",
    "StopTraining",
    "TrainConfig",
    "TrainingError",
    "downsample",
    "evaluate",
    "fit",
    "make_optimizer",
    "resolve_device",
    "seed_everything",
    "seed_worker",
    "set_lr",
]

from .state import Snapshot, preserved, restore, snapshot  # noqa: E402

__all__ += ["Snapshot", "preserved", "restore", "snapshot"]
