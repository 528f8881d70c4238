"""Squeeze out the juice (pure: no widgets): weight averaging (EMA, SWA), ensembles of seeds, of a
search's best trials (``ensemble_from_search``) and of snapshots, distillation into one network, and
``compare``, which scores them all on the whole test split with intervals and costs. Everything trains
through ``fit``; ``retrain`` runs a stored run's recipe again with EMA, SWA, snapshots or distillation."""

from .averaging import EMA, SWA, WeightAveraging, has_batchnorm
from .compare import Comparison, Gain, ModelScore, compare, mcnemar, wilson_interval
from .distill import (
    Distillation,
    SoftTargets,
    TeacherView,
    distill,
    distillation_loss,
    soft_targets,
    teacher_kl,
)
from .ensemble import Ensemble, SnapshotEnsemble, frozen_copy
from .members import Member, ModelSpec, load_member, save_member, train_members
from .retrain import ema_decay_for, load_snapshots, train_averaged, train_distilled, train_snapshots
from .stored import (
    check_same_task,
    ensemble_from_search,
    has_weights,
    load_members,
    search_members,
    stored_config,
)

__all__ = [
    "EMA",
    "SWA",
    "Comparison",
    "Distillation",
    "Ensemble",
    "Gain",
    "Member",
    "ModelScore",
    "ModelSpec",
    "SnapshotEnsemble",
    "SoftTargets",
    "TeacherView",
    "WeightAveraging",
    "check_same_task",
    "compare",
    "distill",
    "distillation_loss",
    "ema_decay_for",
    "ensemble_from_search",
    "frozen_copy",
    "has_batchnorm",
    "has_weights",
    "load_member",
    "load_members",
    "load_snapshots",
    "mcnemar",
    "save_member",
    "search_members",
    "soft_targets",
    "stored_config",
    "teacher_kl",
    "train_averaged",
    "train_distilled",
    "train_members",
    "train_snapshots",
    "wilson_interval",
]
