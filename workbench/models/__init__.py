"""Models (pure: no widgets): small baselines with capacity knobs, sized from the data, and init schemes."""

from .baselines import MLP, MODEL_KINDS, LinearClassifier, TinyCNN, build_model, count_parameters
from .init import INIT_SCHEMES, init_weights

__all__ = [
    "INIT_SCHEMES",
    "MLP",
    "MODEL_KINDS",
    "LinearClassifier",
    "TinyCNN",
    "build_model",
    "count_parameters",
    "init_weights",
]
