"""The one training loop and what it records (pure: no widgets)."""

from .callbacks import Callback, FitState, StopTraining
from .config import TrainConfig
from .history import EPOCH_METRICS, History, HistorySnapshot, in_epochs
from .batches import Epochs, epoch_batches
from .loop import Evaluation, TrainingError, evaluate, fit, resolve_device
from .optimizers import OPTIMIZERS, make_optimizer, set_lr
from .seeding import seed_everything, seed_worker

__all__ = [
    "EPOCH_METRICS",
    "OPTIMIZERS",
    "Callback",
    "Epochs",
    "Evaluation",
    "FitState",
    "History",
    "HistorySnapshot",
    "StopTraining",
    "TrainConfig",
    "TrainingError",
    "in_epochs",
    "epoch_batches",
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

from .dynamics import PredictionTracker, fixed_batch  # noqa: E402
from .runs import DEFAULT_STORE, RunRecorder, RunStore, StoredRun  # noqa: E402

__all__ += [
    "DEFAULT_STORE", "PredictionTracker", "RunRecorder", "RunStore", "StoredRun", "fixed_batch",
]

