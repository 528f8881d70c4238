"""workbench: the neural-net training recipe as live notebook tools.

The core is plain Python + torch and never imports widgets:

- ``workbench.data``: sources (embedded digits and MNIST test set, folders, arrays, torch datasets),
  ``inspect`` → ``DataReport`` (duplicates, leakage, label conflicts, suspicious labels, oddities);
- ``workbench.models``: small baselines sized from the data, init schemes;
- ``workbench.train``: ``fit``, the one training loop, with its config, callbacks, history and run store;
- ``workbench.checks``: the recipe's pipeline sanity checks (``run_all`` → ``Checklist``);
- ``workbench.lab``: the overfit lab as plain code (settings, run preparation, human baseline);
- ``workbench.tune``: the LR range test, the quick probe, coarse-to-fine search (Optuna; local or Dask);
- ``workbench.diagnose``: per-layer probes and the curves read back in words (``diagnose``);
- ``workbench.distributed``: ``fit_ddp``, the one loop data-parallel on ``torch.distributed``;
- ``workbench.recipe``: ``Recipe``, which steps of the recipe are done on this data and what to do next;
- ``workbench.squeeze``: EMA/SWA, ensembles (seeds, snapshots), distillation, ``compare`` on the test split;
- ``workbench.labs``: the teaching labs' checkers (pass / not yet with a hint, from the checks above).

``workbench.ui`` holds the views over those results (import it explicitly: it needs ipywidgets/bqplot).
"""

from . import checks, data, diagnose, distributed, lab, labs, models, squeeze, train, tune
from .checks import run_all
from .data import (
    DataSplits,
    ImageDataset,
    from_arrays,
    from_folder,
    from_torch,
    inspect,
    load_digits,
    load_mnist_test,
    split,
)
from .distributed import fit_ddp
from .models import build_model, count_parameters
from .recipe import Recipe
from .train import Callback, History, StopTraining, TrainConfig, evaluate, fit, schedule_preview
from .tune import lr_range_test, search

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "DataSplits",
    "History",
    "ImageDataset",
    "Recipe",
    "StopTraining",
    "TrainConfig",
    "__version__",
    "build_model",
    "checks",
    "count_parameters",
    "data",
    "diagnose",
    "distributed",
    "evaluate",
    "fit",
    "fit_ddp",
    "from_arrays",
    "from_folder",
    "from_torch",
    "inspect",
    "lab",
    "labs",
    "load_digits",
    "load_mnist_test",
    "lr_range_test",
    "models",
    "run_all",
    "schedule_preview",
    "search",
    "split",
    "squeeze",
    "train",
    "tune",
]
