"""The one training loop and what it needs (pure: no widgets): config, batches, callbacks, history,
optimizers, seeding, state snapshots, and the run store that records runs."""

from .batches import Epochs, epoch_batches
from .callbacks import Callback, FitState, StopTraining
from .config import TrainConfig
from .history import EPOCH_METRICS, History, HistorySnapshot, in_epochs
from .loop import Evaluation, TrainingError, evaluate, fit, resolve_device
from .optimizers import OPTIMIZERS, LiveLR, make_optimizer, set_lr
from .runs import DEFAULT_STORE, RunRecorder, RunStore, StoredRun
from .seeding import seed_everything, seed_worker
from .state import Snapshot, preserved, restore, snapshot

__all__ = [
    "DEFAULT_STORE",
    "EPOCH_METRICS",
    "OPTIMIZERS",
    "Callback",
    "Epochs",
    "Evaluation",
    "FitState",
    "History",
    "HistorySnapshot",
    "LiveLR",
    "RunRecorder",
    "RunStore",
    "Snapshot",
    "StopTraining",
    "StoredRun",
    "TrainConfig",
    "TrainingError",
    "epoch_batches",
    "evaluate",
    "fit",
    "in_epochs",
    "make_optimizer",
    "preserved",
    "resolve_device",
    "restore",
    "seed_everything",
    "seed_worker",
    "set_lr",
    "snapshot",
]
