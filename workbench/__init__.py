"""workbench: the neural-net training recipe as live notebook tools.

The core (``workbench.data``, ``.models``, ``.train``) is plain Python + torch and never imports
widgets; ``workbench.ui`` holds the views (import it explicitly).
"""

from . import data, models, train
from .data import DataSplits, ImageDataset, from_arrays, from_folder, from_torch, load_digits, load_mnist_test, split
from .models import build_model, count_parameters
from .train import Callback, History, StopTraining, TrainConfig, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "DataSplits",
    "History",
    "ImageDataset",
    "StopTraining",
    "TrainConfig",
    "__version__",
    "build_model",
    "count_parameters",
    "data",
    "evaluate",
    "fit",
    "from_arrays",
    "from_folder",
    "from_torch",
    "load_digits",
    "load_mnist_test",
    "models",
    "split",
    "train",
]
