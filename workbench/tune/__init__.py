"""Tune: the LR range test, the quick probe, coarse-to-fine search (Optuna; local processes or Dask). Pure."""

from .lr_range import LRRangeResult, lr_range_test, suggest_lrs
from .probe import ProbeResult, quick_probe
from .searching import (
    ModelSpec,
    SearchResult,
    SearchSpace,
    TrialOutcome,
    TrialTask,
    refine,
    run_trial,
    search,
)
from .trial_line import trial_line, trial_settings

__all__ = [
    "LRRangeResult",
    "ModelSpec",
    "ProbeResult",
    "SearchResult",
    "SearchSpace",
    "TrialOutcome",
    "TrialTask",
    "lr_range_test",
    "quick_probe",
    "refine",
    "run_trial",
    "search",
    "suggest_lrs",
    "trial_line",
    "trial_settings",
]
