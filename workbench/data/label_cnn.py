"""The out-of-fold CNN behind ``label_model="cnn"``: every sample's class probabilities from a small
CNN that never trained on it.

k stratified folds; for each, a ``TinyCNN`` trains through the one training loop
(``workbench.train.fit``: seeded, progress per epoch, stoppable) on the other folds and predicts the
held-out one. The folds are assigned here rather than with scikit-learn's ``StratifiedKFold`` (which
warns, and pytest makes warnings errors, whenever a class has fewer members than folds) and the fits go
through ``fit`` rather than cleanlab's ``estimate_cv_predicted_probabilities`` (which wants a
scikit-learn estimator), so progress and Stop work as in every other training of the workbench.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import threading

    import torch

    from .dataset import ImageDataset

__all__ = [
    "CNN_CHANNELS",
    "CNN_EPOCHS",
    "CNN_FOLDS",
    "CNN_MIN_STEPS",
    "LabelModelStopped",
    "cnn_out_of_fold_probs",
]

#: Out-of-fold CNN settings, picked by measurement on the MNIST test set (benchmarks/label_errors.py).
CNN_FOLDS, CNN_EPOCHS, CNN_CHANNELS, CNN_MAX_SIDE = 5, 4, 16, 32
#: ...and at least this many optimizer steps per fold: small splits get more epochs (8x8 digits, 1k
#: samples: 4 epochs are 32 steps, out-of-fold accuracy 88 %; 13 epochs, 94 %, and twice the flips found).
CNN_MIN_STEPS, CNN_BATCH = 100, 128

ProgressFn = Callable[[str, int, int], None]


class LabelModelStopped(RuntimeError):
    """The out-of-fold CNN was stopped (its ``stop_event`` was set) before it finished; nothing changed."""


def _folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each sample: every class spread evenly over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (
            np.arange(len(members)) + offset
        ) % folds  # offset: small classes do not all start at fold 0
        offset += len(members)
    return fold


def _images(data: ImageDataset) -> torch.Tensor:
    """All images of a split as one float tensor ``(N, C, H, W)``, at most ``CNN_MAX_SIDE`` px a side."""
    import torch
    import torch.nn.functional as F

    from .dataset import TensorImageDataset

    if isinstance(data, TensorImageDataset):
        x = data.tensors()[0]
    else:
        items = [data[i][0] for i in range(len(data))]
        if len({tuple(t.shape) for t in items}) > 1:
            raise ValueError(
                f"label_model='cnn' needs images of one size in split {data.name!r}; found shapes "
                f"{sorted({tuple(t.shape) for t in items})[:3]}. Load the folder with a fixed size "
                "(from_folder(..., size=...)) or use label_model='knn'."
            )
        x = torch.stack(items)
    x = x.float()
    side = max(x.shape[-2:])
    if side > CNN_MAX_SIDE:  # a small model on small images: the label check needs shapes, not fine texture
        scale = CNN_MAX_SIDE / side
        x = F.interpolate(
            x,
            size=(max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale))),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
    return (x - x.mean()) / x.std().clamp_min(1e-6)  # one scale for all: no labels involved


def cnn_out_of_fold_probs(
    images: torch.Tensor,
    labels: np.ndarray,
    num_classes: int,
    *,
    folds: int = CNN_FOLDS,
    epochs: int = CNN_EPOCHS,
    channels: int = CNN_CHANNELS,
    seed: int = 0,
    progress: ProgressFn | None = None,
    stop_event: threading.Event | None = None,
    stage: str = "label model (cnn)",
) -> np.ndarray:
    """``(N, num_classes)`` probabilities of each sample from a small CNN that never trained on it.

    ``folds`` stratified folds (fewer when the largest class has fewer samples); for each, a
    ``TinyCNN`` (``channels``, depth 2) seeded with ``seed + fold`` trains ``epochs`` epochs (more when
    that is under ``CNN_MIN_STEPS`` steps) through ``fit`` on the other folds and predicts the held-out
    one. ``progress(stage, done, total)`` is called after every epoch (``total = folds * epochs``). Setting
    ``stop_event`` stops after the current step
    and raises ``LabelModelStopped``.
    """
    import torch

    from ..models import build_model
    from ..train.callbacks import Callback
    from ..train.config import TrainConfig
    from ..train.loop import fit
    from .dataset import TensorImageDataset

    labels = np.asarray(labels, dtype=np.int64)
    folds = max(2, min(folds, int(np.bincount(labels).max())))
    fold_of = _folds(labels, folds, seed)
    steps_per_epoch = -(-int(np.sum(fold_of != 0)) // CNN_BATCH)
    epochs = max(epochs, min(50, -(-CNN_MIN_STEPS // steps_per_epoch)))
    total, done = folds * epochs, [0]

    class _Progress(Callback):
        def on_epoch_end(self, state) -> None:
            done[0] += 1
            if progress:
                progress(stage, done[0], total)

    if progress:
        progress(stage, 0, total)
    probs = np.zeros((len(labels), num_classes))
    classes = [str(c) for c in range(num_classes)]
    for f in range(folds):
        train_idx, held = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
        model = build_model(
            "cnn", (tuple(images.shape[1:]), num_classes), seed=seed + f, channels=channels, depth=2
        )
        part = TensorImageDataset(
            images[torch.from_numpy(train_idx)], labels[train_idx], classes, name=f"fold {f}"
        )
        config = TrainConfig(epochs=epochs, batch_size=CNN_BATCH, lr=3e-3, seed=seed + f)
        history = fit(model, part, config=config, callbacks=[_Progress()], stop_event=stop_event)
        if history.status == "stopped":
            raise LabelModelStopped(
                f"the label model was stopped in fold {f + 1} of {folds}; the ranking is unchanged."
            )
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            for s in range(0, len(held), 1024):
                idx = torch.from_numpy(held[s : s + 1024])
                probs[held[s : s + 1024]] = (
                    torch.softmax(model(images[idx].to(device)).double(), 1).cpu().numpy()
                )
    return probs
