"""Data sources (pure: no widgets). Every source returns an ``ImageDataset``."""

from .augment import AUGMENT_STEPS, Augmentation, AugmentedDataset, AugmentStep, augment, resize
from .dataset import DataSplits, ImageDataset, TensorImageDataset, UnreadableFile, split
from .folder import IMAGE_EXTENSIONS, FolderImageDataset, from_folder
from .inspection import inspect
from .labels import LABEL_MODELS, LabelModelStopped, LabelScores, rank_labels
from .report import ISSUES, DataReport, SplitSummary
from .sources import from_arrays, from_idx, load_digits, load_mnist_test, mnist_test_set
from .splits import named_splits
from .torchdata import TorchImageDataset, from_torch

__all__ = [
    "AUGMENT_STEPS",
    "IMAGE_EXTENSIONS",
    "ISSUES",
    "LABEL_MODELS",
    "AugmentStep",
    "Augmentation",
    "AugmentedDataset",
    "DataReport",
    "DataSplits",
    "FolderImageDataset",
    "ImageDataset",
    "LabelModelStopped",
    "LabelScores",
    "SplitSummary",
    "TensorImageDataset",
    "TorchImageDataset",
    "UnreadableFile",
    "augment",
    "from_arrays",
    "from_folder",
    "from_idx",
    "from_torch",
    "inspect",
    "load_digits",
    "load_mnist_test",
    "mnist_test_set",
    "named_splits",
    "rank_labels",
    "resize",
    "split",
]
