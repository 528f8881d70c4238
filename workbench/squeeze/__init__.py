"""Squeeze out the juice (pure: no widgets): weight averaging (EMA, SWA), ensembles of seeds and of
snapshots, distillation into one network, and ``compare``, which scores them all on the whole test split
with intervals and costs. Everything trains through ``fit``."""

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
    "compare",
    "distill",
    "distillation_loss",
    "frozen_copy",
    "has_batchnorm",
    "load_member",
    "mcnemar",
    "save_member",
    "soft_targets",
    "teacher_kl",
    "train_members",
    "wilson_interval",
]
