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
  predicting the held-out one (``label_cnn``). Slower (seconds to tens of seconds), much better ranking.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .label_cnn import CNN_CHANNELS, CNN_EPOCHS, CNN_FOLDS, LabelModelStopped, _images, cnn_out_of_fold_probs

if TYPE_CHECKING:
    import threading

    from .dataset import ImageDataset
    from .report import DataReport

__all__ = [
    "CNN_CHANNELS",
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
ProgressFn = Callable[[str, int, int], None]


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


def out_of_fold_probs(
    labels: np.ndarray, thumb: np.ndarray, k: int = 10, dims: int = 40, block: int = 1024
) -> np.ndarray:
    """``(N, K)`` class probabilities of each sample from its ``k`` nearest *other* samples (leave-one-out).

    K is ``labels.max() + 1``. Votes are weighted by closeness and smoothed so no class gets exactly 0.
    """
    import torch

    x = torch.from_numpy(_features(thumb))
    n = len(x)
    num_classes = int(labels.max()) + 1
    if (
        x.shape[1] > dims and n > dims
    ):  # PCA by eigendecomposition of the (256, 256) covariance: deterministic
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
        raise ValueError(
            f"The 'label_model' parameter must be one of {LABEL_MODELS}. Got {label_model!r} instead."
        )
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
            return LabelScores(
                model,
                np.full(n, np.nan),
                targets.copy(),
                np.zeros(0, np.int64),
                time.perf_counter() - started,
            )
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
            probs[keep] = cnn_out_of_fold_probs(
                images,
                local_all[keep],
                len(present),
                seed=seed,
                progress=progress,
                stop_event=stop_event,
                stage=stage,
            )
        else:
            if thumb is None:
                raise ValueError("label_model='knn' needs the split's thumbnails (thumb=...).")
            probs[keep] = out_of_fold_probs(local_all[keep], thumb[keep])
        probs[~keep] = 1.0 / len(present)
        local = np.where(keep, local_all, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        issues = cleanlab.filter.find_label_issues(
            local, probs, return_indices_ranked_by="self_confidence", n_jobs=1
        )
        quality = cleanlab.rank.get_label_quality_scores(local, probs)
    if pred_probs is None:
        quality = np.where(keep, quality, np.nan)  # classes with one sample: no model can judge them
    suggested = present[probs.argmax(axis=1)]
    return LabelScores(
        model,
        np.asarray(quality, float),
        suggested.astype(np.int64),
        np.asarray(issues, np.int64),
        time.perf_counter() - started,
    )


def suspicious_labels(
    targets: np.ndarray, num_classes: int, thumb: np.ndarray, *, pred_probs: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """``(index, suggested class, label quality)`` for each sample the k-NN (or ``pred_probs``) doubts, worst
    first.

    Needs at least two classes with two samples each (and 20 samples in all); returns ``[]`` otherwise.
    """
    s = score_labels(targets, num_classes, thumb=thumb, pred_probs=pred_probs)
    return [(int(i), int(s.suggested[i]), float(s.quality[i])) for i in s.flagged]


def label_rows(
    split: str, paths: list, targets: np.ndarray, classes: tuple[str, ...], scores: LabelScores
) -> list[dict]:
    """The report rows (issue ``suspicious_label``) of one split's flagged samples, worst first."""
    rows = []
    for i in scores.flagged.tolist():
        q, given, sug = float(scores.quality[i]), classes[int(targets[i])], classes[int(scores.suggested[i])]
        rows.append(
            {
                "split": split,
                "index": int(i),
                "path": paths[i],
                "label": given,
                "issue": "suspicious_label",
                "group": "",
                "detail": f"labelled {given!r}, looks like {sug!r} (label quality {q:.2f}, {scores.model})",
                "quality": q,
            }
        )
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
        raise ValueError(
            f"The 'label_model' parameter of rank_labels must be one of {LABEL_MODELS}. Got {label_model!r} "
            "instead."
        )
    missing = [s for s in report.splits if s not in data]
    if missing:
        raise ValueError(
            f"rank_labels: the report covers splits {missing} that are not in data ({sorted(data)}); pass "
            "the inspected splits."
        )
    for name in report.splits:
        if len(data[name]) != report.splits[name].n:
            raise ValueError(
                f"rank_labels: split {name!r} has {len(data[name])} samples but the report has "
                f"{report.splits[name].n}; pass the inspected splits."
            )
    scores, rows = {}, [r for r in report.rows if r["issue"] != "suspicious_label"]
    for name in report.splits:
        ds = data[name]
        thumb = fingerprint(ds).thumb if label_model == "knn" else None
        scores[name] = score_labels(
            ds.targets,
            len(report.classes),
            thumb=thumb,
            data=ds,
            label_model=label_model,
            seed=seed,
            progress=progress,
            stop_event=stop_event,
            stage=f"label model ({label_model}) {name}",
        )
    for name, s in scores.items():
        rows += label_rows(name, data[name].paths, data[name].targets, report.classes, s)
    settings = {**report.settings, "label_model": label_model}
    return dataclasses.replace(report, rows=rows, label_scores=scores, settings=settings)
