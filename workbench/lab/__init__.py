"""The overfit lab as plain code (pure: no widgets): its settings, how a run is prepared (from scratch or
from pretrained weights: ``prepare_run`` then ``run_optimizer``), the human baseline.
``workbench.ui.OverfitLab`` is the view over it."""

from .human import HumanBaselineResult, human_accuracy
from .session import Lab
from .settings import LIVE_SETTINGS, LabSettings, lr_preview, prepare_run, run_config
from .transfer import run_optimizer

__all__ = [
    "LIVE_SETTINGS",
    "HumanBaselineResult",
    "Lab",
    "LabSettings",
    "human_accuracy",
    "lr_preview",
    "prepare_run",
    "run_config",
    "run_optimizer",
]
