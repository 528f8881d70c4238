"""Models (pure: no widgets): small baselines with capacity knobs, sized from the data, and init schemes;
pretrained networks from a local weights file, with layer groups to freeze and train at their own LRs."""

from .adapter import InputAdapter
from .baselines import MLP, MODEL_KINDS, LinearClassifier, TinyCNN, build_model, count_parameters
from .groups import (
    LayerGroup,
    freeze,
    frozen_groups,
    group_parameters,
    layer_groups,
    param_groups,
    transfer_optimizer,
    unfreeze,
)
from .init import INIT_SCHEMES, init_last_layer_bias, init_weights
from .layers import model_device, output_layer
from .pretrained import IMAGENET_MEAN, IMAGENET_STD, PRETRAINED, TransferModel, from_pretrained
from .weights import read_weights

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INIT_SCHEMES",
    "MLP",
    "MODEL_KINDS",
    "PRETRAINED",
    "InputAdapter",
    "LayerGroup",
    "LinearClassifier",
    "TinyCNN",
    "TransferModel",
    "build_model",
    "count_parameters",
    "freeze",
    "from_pretrained",
    "frozen_groups",
    "group_parameters",
    "init_last_layer_bias",
    "init_weights",
    "layer_groups",
    "model_device",
    "output_layer",
    "param_groups",
    "read_weights",
    "transfer_optimizer",
    "unfreeze",
]
