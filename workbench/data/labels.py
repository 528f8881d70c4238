"""Labels a model doubts: confident learning (cleanlab) on out-of-fold predicted probabilities.

cleanlab needs, for every sample, class probabilities from a model that did not see that sample.
Two models give them here (``label_model``):

- ``"knn"`` (the instant default): leave-one-out k-nearest neighbours in torch on PCA-reduced 16x16
  thumbnails (blocked matrix products, so memory stays linear). No training, deterministic, about a
  second for 10k images; far stronger than a linear model on small images, but it ranks few of the
  real MNIST label errors near the top (benchmarks/label_errors.py: 6 of the 15 confirmed in its
  first 200).
- ``"cnn"``: a small CNN (``TinyCNN``) trained out-of-fold: k stratified folds, each trained through
  the one training loop (``workbench.train.fit``: seeded, stoppable) on the other folds and
  predicting the held-out one. Slower (seconds to tens of seconds), much better ranking.

The folds are assigned here rather than with scikit-learn's ``StratifiedKFold`` (which warns, and
pytest makes warnings errors, whenever a class has fewer members than folds) and the fits go through
``fit`` rather than cleanlab's ``estimate_cv_predicted_probabilities`` (which wants a scikit-learn
estimator), so progress and Stop work as in every other training of the workbench.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import threading

    import torch

    from .dataset import ImageDataset
    from .inspection import DataReport

__all__ = [
    "CNN_EPOCHS",
    "CNN_FOLDS",
    "LABEL_MODELS",
    "LabelModelStopped",
    "LabelScores",
    "cnn_out_of_fold_probs",
    "out_of_fold_probs",
    "rank_labels",
    "score_labels",
    "suspicious_labels",
]

#: The models that can score labels when the user brings no probabilities of their own.
LABEL_MODELS = ("knn", "cnn")
#: Out-of-fold CNN settings, picked by measurement on the MNIST test set (benchmarks/label_errors.py).
CNN_FOLDS, CNN_EPOCHS, CNN_CHANNELS, CNN_MAX_SIDE = 5, 4, 16, 32
#: ...and at least this many optimizer steps per fold: small splits get more epochs (8x8 digits, 1k
#: samples: 4 epochs are 32 steps, out-of-fold accuracy 88 %; 13 epochs, 94 %, and twice the flips found).
CNN_MIN_STEPS, CNN_BATCH = 100, 128

ProgressFn = Callable[[str, int, int], None]


class LabelModelStopped(RuntimeError):
    """The out-of-fold CNN was stopped (its ``stop_event`` was set) before it finished; nothing changed."""


@dataclass(frozen=True)
class LabelScores:
    """How far a model trusts every label of one split.

    ``quality`` is cleanlab's label quality (self-confidence: the out-of-fold probability of the given
    label, in [0, 1], low = doubtful; NaN where no score could be made), ``suggested`` the class the
    model prefers, ``flagged`` the indices cleanlab calls label issues (worst first), ``model`` one of
    ``LABEL_MODELS`` or ``"given"`` (the user's ``pred_probs``).
    """

    model: str
    quality: np.ndarray  # (N,) float
    suggested: np.ndarray  # (N,) int class index
    flagged: np.ndarray  # (F,) int, worst first
    seconds: float = 0.0

    def order(self) -> np.ndarray:
        """Every index, most doubtful label first (ties and NaN keep file order; NaN last)."""
        return np.argsort(np.nan_to_num(self.quality, nan=np.inf), kind="stable")


def _features(thumb: np.ndarray) -> np.ndarray:
    n, s, _ = thumb.shape
    x = thumb.astype(np.float32).reshape(n, 16, s // 16, 16, s // 16).mean(axis=(2, 4)).reshape(n, -1)
    x = x - x.mean(axis=0)
    return x / np.maximum(x.std(axis=0), 1e-3)


def out_of_fold_probs(labels: np.ndarray, thumb: np.ndarray, k: int = 10, dims: int = 40, block: int = 1024) -> np.ndarray:
    """``(N, K)`` class probabilities of each sample from its ``k`` nearest *other* samples (leave-one-out).

    K is ``labels.max() + 1``. Votes are weighted by closeness and smoothed so no class gets exactly 0.
    """
    import torch

    x = torch.from_numpy(_features(thumb))
    n = len(x)
    num_classes = int(labels.max()) + 1
    if x.shape[1] > dims and n > dims:  # PCA by eigendecomposition of the (256, 256) covariance: deterministic
        _, vecs = torch.linalg.eigh((x.T @ x).double())
        x = x @ vecs[:, -dims:].float()  # (N, dims), the top components
    sq = (x * x).sum(1)
    k = min(k, n - 1)
    y = torch.from_numpy(labels)
    probs = torch.zeros(n, num_classes, dtype=torch.float64)
    for s in range(0, n, block):
        d = sq[s : s + block, None] - 2 * x[s : s + block] @ x.T + sq[None, :]  # (B, N) squared distances
        d[torch.arange(len(d)), torch.arange(s, s + len(d))] = float("inf")  # never your own neighbour
        dist, idx = d.topk(k, dim=1, largest=False)
        w = 1.0 / (dist.clamp_min(0).sqrt() + 1e-3)
        probs[s : s + len(d)].scatter_add_(1, y[idx], w.double())
    probs += 0.01 * probs.sum(1, keepdim=True) / num_classes
    return (probs / probs.sum(1, keepdim=True)).numpy()


def _folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each sample: every class spread evenly over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (np.arange(len(members)) + offset) % folds  # offset: small classes do not all start at fold 0
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
        x = F.interpolate(x, size=(max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale))),
                          mode="bilinear", antialias=True, align_corners=False)
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
    one. ``progress(stage, done, total)`` is called after every epoch (``total = folds * epochs``). Setting ``stop_event`` stops after the current step
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
        model = build_model("cnn", (tuple(images.shape[1:]), num_classes), seed=seed + f, channels=channels, depth=2)
        part = TensorImageDataset(images[torch.from_numpy(train_idx)], labels[train_idx], classes, name=f"fold {f}")
        config = TrainConfig(epochs=epochs, batch_size=CNN_BATCH, lr=3e-3, seed=seed + f)
        history = fit(model, part, config=config, callbacks=[_Progress()], stop_event=stop_event)
        if history.status == "stopped":
            raise LabelModelStopped(f"the label model was stopped in fold {f + 1} of {folds}; the ranking is unchanged.")
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            for s in range(0, len(held), 1024):
                idx = torch.from_numpy(held[s : s + 1024])
                probs[held[s : s + 1024]] = torch.softmax(model(images[idx].to(device)).double(), 1).cpu().numpy()
    return probs


def score_labels(
    targets: np.ndarray,
    num_classes: int,
    *,
    thumb: np.ndarray | None = None,
    data: ImageDataset | None = None,
    label_model: str = "knn",
    pred_probs: np.ndarray | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    stop_event: threading.Event | None = None,
    stage: str = "label model (cnn)",
) -> LabelScores:
    """Score every label of one split with cleanlab (see the module docstring for the models).

    ``thumb`` ((N, 32, 32) gray, from the fingerprints) feeds the k-NN, ``data`` the CNN; ``pred_probs``
    (N, num_classes), if given, replaces both. ``seed`` seeds the CNN's folds, weights and batch order;
    the k-NN is deterministic and has no seed. Needs at least two classes with two samples each (and 20
    samples in all) for a model of ours; otherwise every quality is NaN and nothing is flagged.
    """
    import cleanlab

    if label_model not in LABEL_MODELS:
        raise ValueError(f"The 'label_model' parameter must be one of {LABEL_MODELS}. Got {label_model!r} instead.")
    started = time.perf_counter()
    targets = np.asarray(targets, dtype=np.int64)
    n = len(targets)
    if pred_probs is not None:
        probs = np.asarray(pred_probs, dtype=np.float64)
        if probs.shape != (n, num_classes):
            raise ValueError(
                f"pred_probs must have shape (n_samples, n_classes) = {(n, num_classes)}; got {probs.shape}."
            )
        present, local, model = np.arange(num_classes), targets, "given"
    else:
        model = label_model
        counts = np.bincount(targets, minlength=num_classes)
        present = np.flatnonzero(counts >= 2)
        if n < 20 or len(present) < 2:
            return LabelScores(model, np.full(n, np.nan), targets.copy(), np.zeros(0, np.int64), time.perf_counter() - started)
        keep = np.isin(targets, present)
        remap = np.full(num_classes, -1)
        remap[present] = np.arange(len(present))
        local_all = remap[targets]
        probs = np.zeros((n, len(present)))
        if label_model == "cnn":
            if data is None:
                raise ValueError("label_model='cnn' needs the split's images (data=...).")
            import torch

            images = _images(data)[torch.from_numpy(np.flatnonzero(keep))]
            probs[keep] = cnn_out_of_fold_probs(images, local_all[keep], len(present), seed=seed,
                                                progress=progress, stop_event=stop_event, stage=stage)
        else:
            if thumb is None:
                raise ValueError("label_model='knn' needs the split's thumbnails (thumb=...).")
            probs[keep] = out_of_fold_probs(local_all[keep], thumb[keep])
        probs[~keep] = 1.0 / len(present)
        local = np.where(keep, local_all, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        issues = cleanlab.filter.find_label_issues(local, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
        quality = cleanlab.rank.get_label_quality_scores(local, probs)
    if pred_probs is None:
        quality = np.where(keep, quality, np.nan)  # classes with one sample: no model can judge them
    suggested = present[probs.argmax(axis=1)]
    return LabelScores(model, np.asarray(quality, float), suggested.astype(np.int64),
                       np.asarray(issues, np.int64), time.perf_counter() - started)


def suspicious_labels(
    targets: np.ndarray, num_classes: int, thumb: np.ndarray, *, pred_probs: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """``(index, suggested class, label quality)`` for each sample the k-NN (or ``pred_probs``) doubts, worst first.

    Needs at least two classes with two samples each (and 20 samples in all); returns ``[]`` otherwise.
    """
    s = score_labels(targets, num_classes, thumb=thumb, pred_probs=pred_probs)
    return [(int(i), int(s.suggested[i]), float(s.quality[i])) for i in s.flagged]


def label_rows(split: str, paths: list, targets: np.ndarray, classes: tuple[str, ...], scores: LabelScores) -> list[dict]:
    """The report rows (issue ``suspicious_label``) of one split's flagged samples, worst first."""
    rows = []
    for i in scores.flagged.tolist():
        q, given, sug = float(scores.quality[i]), classes[int(targets[i])], classes[int(scores.suggested[i])]
        rows.append({
            "split": split, "index": int(i), "path": paths[i], "label": given, "issue": "suspicious_label",
            "group": "", "detail": f"labelled {given!r}, looks like {sug!r} (label quality {q:.2f}, {scores.model})",
            "quality": q,
        })
    return rows


def rank_labels(
    report: DataReport,
    data: dict[str, ImageDataset],
    label_model: str = "cnn",
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
    stop_event: threading.Event | None = None,
) -> DataReport:
    """A copy of ``report`` whose label scores and ``suspicious_label`` rows come from ``label_model``.

    Parameters
    ----------
    report : DataReport
        From ``inspect``; its other findings are kept as they are.
    data : dict of split name -> ImageDataset
        The splits that were inspected (same names, same samples).
    label_model : {"cnn", "knn"}
        ``"cnn"`` upgrades the instant k-NN ranking to the cross-validated CNN.
    seed : int
        Seeds the CNN's folds, initial weights and batch order.
    progress : callable(stage, done, total), optional
        Called after every CNN epoch.
    stop_event : threading.Event, optional
        Set it from any thread to stop; ``LabelModelStopped`` is raised and ``report`` is unchanged.
    """
    from .fingerprints import fingerprint

    if label_model not in LABEL_MODELS:
        raise ValueError(f"The 'label_model' parameter of rank_labels must be one of {LABEL_MODELS}. Got {label_model!r} instead.")
    missing = [s for s in report.splits if s not in data]
    if missing:
        raise ValueError(f"rank_labels: the report covers splits {missing} that are not in data ({sorted(data)}); pass the inspected splits.")
    for name in report.splits:
        if len(data[name]) != report.splits[name].n:
            raise ValueError(f"rank_labels: split {name!r} has {len(data[name])} samples but the report has {report.splits[name].n}; pass the inspected splits.")
    scores, rows = {}, [r for r in report.rows if r["issue"] != "suspicious_label"]
    for name in report.splits:
        ds = data[name]
        thumb = fingerprint(ds).thumb if label_model == "knn" else None
        scores[name] = score_labels(ds.targets, len(report.classes), thumb=thumb, data=ds, label_model=label_model,
                                    seed=seed, progress=progress, stop_event=stop_event, stage=f"label model ({label_model}) {name}")
    for name, s in scores.items():
        rows += label_rows(name, data[name].paths, data[name].targets, report.classes, s)
    settings = {**report.settings, "label_model": label_model}
    return dataclasses.replace(report, rows=rows, label_scores=scores, settings=settings)
