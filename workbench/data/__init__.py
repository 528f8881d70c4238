"""Data sources (pure: no widgets). Every source returns an ``ImageDataset``."""

from .dataset import DataSplits, ImageDataset, TensorImageDataset, UnreadableFile, split
from .sources import (
    IMAGE_EXTENSIONS,
    FolderImageDataset,
    TorchImageDataset,
    from_arrays,
    from_folder,
    from_idx,
    from_torch,
    load_digits,
    load_mnist_test,
    mnist_test_set,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataSplits",
    "FolderImageDataset",
    "ImageDataset",
    "TensorImageDataset",
    "TorchImageDataset",
    "UnreadableFile",
    "from_arrays",
    "from_folder",
    "from_idx",
    "from_torch",
    "load_digits",
    "load_mnist_test",
    "mnist_test_set",
    "split",
]

from .inspection import ISSUES, DataReport, SplitSummary, inspect
from .labels import LABEL_MODELS, LabelModelStopped, LabelScores, rank_labels

__all__ += ["ISSUES", "DataReport", "SplitSummary", "inspect"]
__all__ += ["LABEL_MODELS", "LabelModelStopped", "LabelScores", "rank_labels"]
