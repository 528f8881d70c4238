"""The recipe's pipeline sanity checks (pure: no widgets). Each returns a ``CheckResult`` and leaves the
model, its dtype, the optimizer and the RNG state exactly as it found them; ``capture_batch`` shows the
batch exactly as ``model(x)`` gets it."""

from .batch import CapturedBatch, PipelineStep, capture_batch, describe_pipeline
from .dependency import batch_dependency, causality
from .gradcheck import TINY_GRADIENT, gradient_check, gradient_threshold
from .loss import initial_loss
from .regularization import regularization_raises_loss
from .result import Checklist, CheckResult
from .runner import CHECKS, GRADCHECK_SAMPLES, OVERFIT_BATCHES, first_batch, first_batches, run_all
from .training import capacity_check, input_independent_baseline, overfit_batch, overfit_batches

__all__ = [
    "CHECKS",
    "GRADCHECK_SAMPLES",
    "OVERFIT_BATCHES",
    "TINY_GRADIENT",
    "CapturedBatch",
    "CheckResult",
    "Checklist",
    "PipelineStep",
    "batch_dependency",
    "capacity_check",
    "capture_batch",
    "causality",
    "describe_pipeline",
    "first_batch",
    "first_batches",
    "gradient_check",
    "gradient_threshold",
    "initial_loss",
    "input_independent_baseline",
    "overfit_batch",
    "overfit_batches",
    "regularization_raises_loss",
    "run_all",
]
