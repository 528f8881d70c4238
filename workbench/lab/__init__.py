"""The overfit lab as plain code (pure: no widgets): its settings, how a run is prepared (from scratch or
from pretrained weights: ``prepare_run`` then ``run_optimizer``), the human baseline, the regularize
settings (augmentation as text, input size, EMA). ``workbench.ui.OverfitLab`` is the view over it."""

from .human import HumanBaselineResult, human_accuracy
from .regularize import augment_preview, augmentation_from_text, augmentation_text, resize_images
from .session import Lab
from .settings import LIVE_SETTINGS, LabSettings, PreparedRun, lr_preview, prepare_run, run_config
from .transfer import run_optimizer

__all__ = [
    "LIVE_SETTINGS",
    "HumanBaselineResult",
    "Lab",
    "LabSettings",
    "PreparedRun",
    "augment_preview",
    "augmentation_from_text",
    "augmentation_text",
    "human_accuracy",
    "lr_preview",
    "prepare_run",
    "resize_images",
    "run_config",
    "run_optimizer",
]
