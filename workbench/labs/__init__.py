"""Teaching labs' checkers (pure: no widgets): each takes the student's objects and returns a
``Feedback`` (pass / not yet, what was measured, a hint at the symptom) built on the workbench's own
checks — ``inspect`` for the data, ``workbench.checks`` for the pipeline and the gradients, the run
store for overfitting and the LR, ``workbench.diagnose`` for reading the curves.

The labs themselves are notebooks in ``notebooks/labs/`` (``tools/make_labs.py`` builds student and
solution versions from one source).
"""

from .data_lab import PlantedDigits, check_data_fixed, planted_digits
from .feedback import Feedback, FeedbackList
from .gradient_lab import check_backward
from .pipeline_lab import (
    PIPELINE_CHECKS,
    check_gradients_reset,
    check_model,
    check_normalisation,
    check_pairs_kept,
    check_pipeline,
    check_validation_pipeline,
)
from .training_lab import check_diagnosis, check_lr, check_overfit

__all__ = [
    "PIPELINE_CHECKS",
    "Feedback",
    "FeedbackList",
    "PlantedDigits",
    "check_backward",
    "check_data_fixed",
    "check_diagnosis",
    "check_gradients_reset",
    "check_lr",
    "check_model",
    "check_normalisation",
    "check_overfit",
    "check_pairs_kept",
    "check_pipeline",
    "check_validation_pipeline",
    "planted_digits",
]
