"""Labels a model doubts: confident learning (cleanlab) on out-of-fold predicted probabilities.

When the user has no probabilities of their own, a quick model scores every sample without having
seen it: leave-one-out k-nearest neighbours on PCA-reduced 16x16 thumbnails (blocked matrix products,
so memory stays linear). On image data of this kind k-NN is far stronger than a linear model and
needs no training; a weak model would make cleanlab flag many correct labels. cleanlab then flags
samples whose given label is unlikely under those probabilities.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["out_of_fold_probs", "suspicious_labels"]


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


def suspicious_labels(
    targets: np.ndarray,
    num_classes: int,
    thumb: np.ndarray,
    *,
    pred_probs: np.ndarray | None = None,
    seed: int = 0,
) -> list[tuple[int, int, float]]:
    """``(index, suggested class, label quality)`` for each sample whose label looks wrong, worst first.

    Needs at least two classes with two samples each (and 20 samples in all); returns ``[]`` otherwise.
    """
    import cleanlab

    targets = np.asarray(targets, dtype=np.int64)
    if pred_probs is not None:
        probs = np.asarray(pred_probs, dtype=np.float64)
        if probs.shape != (len(targets), num_classes):
            raise ValueError(
                f"pred_probs must have shape (n_samples, n_classes) = {(len(targets), num_classes)}; got {probs.shape}."
            )
        present = np.arange(num_classes)
        local = targets
    else:
        counts = np.bincount(targets, minlength=num_classes)
        present = np.flatnonzero(counts >= 2)
        if len(targets) < 20 or len(present) < 2:
            return []
        keep = np.isin(targets, present)
        remap = np.full(num_classes, -1)
        remap[present] = np.arange(len(present))
        local_all = remap[targets]
        probs = np.zeros((len(targets), len(present)))
        probs[keep] = out_of_fold_probs(local_all[keep], thumb[keep])
        probs[~keep] = 1.0 / len(present)
        local = np.where(keep, local_all, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        issues = cleanlab.filter.find_label_issues(local, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
        quality = cleanlab.rank.get_label_quality_scores(local, probs)
    suggested = present[probs.argmax(axis=1)]
    return [(int(i), int(suggested[i]), float(quality[i])) for i in issues]
