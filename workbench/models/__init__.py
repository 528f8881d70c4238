"""Models (pure: no widgets): small baselines with capacity knobs, sized from the data, and init schemes."""

from .baselines import MLP, MODEL_KINDS, LinearClassifier, TinyCNN, build_model, count_parameters
from .init import INIT_SCHEMES, init_last_layer_bias, init_weights
from .layers import model_device, output_layer

__all__ = [
    "INIT_SCHEMES",
    "MLP",
    "MODEL_KINDS",
    "LinearClassifier",
    "TinyCNN",
    "build_model",
    "count_parameters",
    "init_last_layer_bias",
    "init_weights",
    "model_device",
    "output_layer",
]
