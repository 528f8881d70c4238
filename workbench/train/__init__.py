"""The one training loop and what it needs (pure: no widgets): config, batches, callbacks, history,
optimizers, LR schedules, early stopping, seeding, state snapshots, and the run store that records runs."""

from .batches import Epochs, epoch_batches
from .callbacks import Callback, EarlyStopped, FitState, StopTraining
from .config import TrainConfig
from .early_stopping import EarlyStopping
from .history import EPOCH_METRICS, History, HistorySnapshot, in_epochs
from .loop import Evaluation, TrainingError, evaluate, fit, resolve_device
from .optimizers import OPTIMIZERS, LiveLR, make_optimizer, set_lr
from .runs import DEFAULT_STORE, RunRecorder, RunStore, StoredRun
from .schedules import SCHEDULES, make_scheduler, scale_schedule, schedule_preview, total_steps
from .seeding import seed_everything, seed_worker
from .state import Snapshot, preserved, restore, snapshot

__all__ = [
    "DEFAULT_STORE",
    "EPOCH_METRICS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "EarlyStopped",
    "EarlyStopping",
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
    "make_scheduler",
    "preserved",
    "resolve_device",
    "restore",
    "scale_schedule",
    "schedule_preview",
    "seed_everything",
    "seed_worker",
    "set_lr",
    "snapshot",
    "total_steps",
]
