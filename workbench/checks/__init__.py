"""The recipe's pipeline sanity checks (pure: no widgets). Each returns a ``CheckResult`` and leaves the
model, its dtype, the optimizer and the RNG state exactly as it found them."""

from .dependency import batch_dependency, causality
from .gradcheck import gradient_check
from .loss import init_last_layer_bias, initial_loss, regularization_raises_loss
from .result import CheckResult, Checklist
from .runner import CHECKS, first_batch, run_all
from .training import capacity_check, input_independent_baseline, overfit_batch

__all__ = [
    "CHECKS",
    "CheckResult",
    "Checklist",
    "batch_dependency",
    "capacity_check",
    "causality",
    "first_batch",
    "gradient_check",
    "init_last_layer_bias",
    "initial_loss",
    "input_independent_baseline",
    "overfit_batch",
    "regularization_raises_loss",
    "run_all",
]

from .batch import CapturedBatch, PipelineStep, capture_batch, describe_pipeline  # noqa: E402

__all__ += ["CapturedBatch", "PipelineStep", "capture_batch", "describe_pipeline"]
