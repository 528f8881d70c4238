"""``inspect``: become one with the data. One decode per image, every check from that pass.

Finds exact duplicates (storage-independent), near duplicates (re-encoded, darker/brighter, noisy,
shifted by a pixel), duplicate groups whose labels disagree, groups that span splits (leakage),
unreadable files, odd sizes and modes, low-information and unusually dark/bright images, class
imbalance and missing classes, and labels that an out-of-fold model doubts (cleanlab on a k-NN's or a
small CNN's probabilities, see ``labels``).
Results come back as a ``DataReport``; nothing here draws.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from .._progress import StageProgress
from .._validation import check_int, check_real
from .dataset import ImageDataset
from .duplicates import CENTRE_MIN_SIDE, UnionFind, exact_groups, near_pairs
from .fingerprints import Fingerprints, fingerprint
from .labels import LABEL_MODELS, label_rows, score_labels
from .report import DataReport, SplitSummary
from .splits import named_splits
from .stats import channel_stats, image_statistics, split_shifts

__all__ = ["inspect"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
_Add = Callable[..., None]  # add(split, index, issue, detail, group='') appends one report row

#: With progress="auto", a progress bar is shown from this many images on (about a second of work).
AUTO_PROGRESS_MIN = 4000


def _robust_outliers(values: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    med = np.median(values)
    mad = np.median(np.abs(values - med)) * 1.4826
    if mad < 1e-6:
        return np.zeros(len(values), bool), np.zeros(len(values), bool)
    score = (values - med) / mad
    return score < -z, score > z


def _split_statistics(
    report: DataReport, prints: dict[str, Fingerprints], classes: tuple[str, ...], add
) -> None:
    """Per-channel statistics, split-vs-split shift and labels outside the class list (``stats``)."""
    names = list(prints)
    fps = [prints[n] for n in names]
    report.channel_stats = channel_stats(
        names,
        [f.channel_mean for f in fps],
        [f.channel_std for f in fps],
        [f.mean for f in fps],
        [f.std for f in fps],
    )
    report.split_shifts = split_shifts(
        {n: image_statistics(f.mean, f.std, f.height, f.width) for n, f in zip(names, fps)}
    )
    for name, fp in zip(names, fps):
        for i, label in enumerate(fp.item_labels or []):
            if isinstance(label, str):
                value = classes.index(label) if label in classes else None
            else:
                try:
                    value = int(label)
                except (TypeError, ValueError, RuntimeError):
                    value = None
            if value is None or not 0 <= value < len(classes):
                add(
                    name,
                    i,
                    "label_out_of_range",
                    f"the dataset returns label {label!r} for this sample; labels must be "
                    f"0..{len(classes) - 1} ({len(classes)} classes)",
                )


def _oddities(
    report: DataReport,
    splits: dict[str, ImageDataset],
    prints: dict[str, Fingerprints],
    brightness_z: float,
    add: _Add,
) -> None:
    """Stage 2: per-split oddities (size, mode, low information, too dark / bright) and split summaries."""
    for name, ds in splits.items():
        fp = prints[name]
        sizes = Counter(zip(fp.height.tolist(), fp.width.tolist()))
        common = sizes.most_common(1)[0][0] if sizes else (0, 0)
        modes = Counter(fp.mode)
        common_mode = modes.most_common(1)[0][0] if modes else ""
        for i in range(len(ds)):
            h, w = int(fp.height[i]), int(fp.width[i])
            if (h, w) != common:
                detail = f"{h}x{w} (most are {common[0]}x{common[1]})"
                if abs(np.log((w / h) / (common[1] / common[0]))) > 0.2:
                    detail += f", aspect {w / h:.2f} vs {common[1] / common[0]:.2f}"
                add(name, i, "odd_size", detail)
            if fp.mode[i] != common_mode:
                add(name, i, "odd_mode", f"mode {fp.mode[i]} (most are {common_mode})")
        low = fp.ink < 0.005
        for i in np.flatnonzero(low).tolist():
            what = "constant image" if fp.vmax[i] - fp.vmin[i] < 1e-6 else "almost no detail"
            add(
                name,
                int(i),
                "low_information",
                f"{what}: {fp.ink[i]:.1%} of pixels differ from the background (std {fp.std[i]:.3f})",
            )
        dark, bright = _robust_outliers(fp.mean, brightness_z)
        for i in np.flatnonzero(dark & ~low).tolist():
            add(name, int(i), "too_dark", f"mean {fp.mean[i]:.3f} (median {np.median(fp.mean):.3f})")
        for i in np.flatnonzero(bright & ~low).tolist():
            add(name, int(i), "too_bright", f"mean {fp.mean[i]:.3f} (median {np.median(fp.mean):.3f})")
        counts = ds.class_counts()
        nonzero = [v for v in counts.values() if v]
        report.splits[name] = SplitSummary(
            name=name,
            n=len(ds),
            class_counts=counts,
            imbalance_ratio=(max(nonzero) / min(nonzero)) if nonzero else float("nan"),
            missing_classes=tuple(c for c, v in counts.items() if v == 0),
            common_size=common,
            channel_mean=tuple(float(v) for v in fp.channel_mean),
            channel_std=tuple(float(v) for v in fp.channel_std),
            unreadable=len(ds.unreadable),
        )


def _duplicates(
    report: DataReport,
    splits: dict[str, ImageDataset],
    prints: dict[str, Fingerprints],
    near_bits: int,
    near_corr: float,
    classes: tuple[str, ...],
    progress,
    add: _Add,
) -> None:
    """Stage 3: exact and near duplicates across all splits at once; label conflicts and leakage from
    the groups."""
    owners = [(name, i) for name in splits for i in range(len(splits[name]))]
    digests = [d for name in splits for d in prints[name].exact]
    phash = np.concatenate([prints[n].phash for n in splits])
    thumb = np.concatenate([prints[n].thumb for n in splits])
    low_all = np.concatenate([prints[n].ink < 0.005 for n in splits])
    labels_all = np.concatenate([splits[n].targets for n in splits])
    if progress:
        progress("duplicates", 0, 1)
    uf = UnionFind(len(owners))
    exact = exact_groups(digests)
    exact_id = {}
    for gid, members in enumerate(exact):
        for m in members:
            exact_id[m] = gid
            uf.union(members[0], m)
    side = np.concatenate([np.minimum(prints[n].height, prints[n].width) for n in splits])
    near = near_pairs(
        phash, thumb, near_bits, near_corr, skip=low_all, centre=side >= CENTRE_MIN_SIDE, side=side
    )
    for a, b in near.tolist():
        uf.union(a, b)
    if progress:
        progress("duplicates", 1, 1)
    for gid, members in enumerate(exact):
        key = f"x{gid}"
        report.groups[key] = [owners[m] for m in members]
        for m in members:
            add(*owners[m], "exact_duplicate", f"identical pixels to {len(members) - 1} other image(s)", key)
    for gid, members in enumerate(sorted(uf.groups(), key=min)):
        key = f"g{gid}"
        report.groups[key] = [owners[m] for m in members]
        if len({exact_id.get(m, -1 - m) for m in members}) > 1:  # not just one exact group
            for m in members:
                add(*owners[m], "near_duplicate", f"near-identical to {len(members) - 1} other image(s)", key)
        member_labels = {classes[int(labels_all[m])] for m in members}
        if len(member_labels) > 1:
            for m in members:
                add(*owners[m], "label_conflict", f"duplicates labelled {sorted(member_labels)}", key)
        present = {owners[m][0] for m in members}
        member_splits = [name for name in splits if name in present]  # in the order the splits were given
        if len(member_splits) > 1:
            for m in members:
                add(*owners[m], "leakage", f"the same image is in {' and '.join(member_splits)}", key)


def _labels(
    report: DataReport,
    splits: dict[str, ImageDataset],
    prints: dict[str, Fingerprints],
    classes: tuple[str, ...],
    label_model: str,
    pred_probs,
    seed: int,
    progress,
) -> None:
    """Stage 4: every label scored by an out-of-fold model; rows for the ones it doubts."""
    for name, ds in splits.items():
        given = (pred_probs or {}).get(name)
        if progress:
            progress(f"label check {name}", 0, 1)
        scores = score_labels(
            ds.targets,
            len(classes),
            thumb=prints[name].thumb,
            data=ds,
            label_model=label_model,
            pred_probs=given,
            seed=seed,
            progress=progress,
            stage=f"label model ({label_model}) {name}",
        )
        report.label_scores[name] = scores
        report.rows.extend(label_rows(name, report.paths[name], ds.targets, classes, scores))
        if progress:
            progress(f"label check {name}", 1, 1)


def inspect(
    train: ImageDataset | None = None,
    test: ImageDataset | None = None,
    *,
    near_bits: int = 8,
    near_corr: float = 0.99,
    brightness_z: float = 6.0,
    suspicious: bool = True,
    label_model: str = "knn",
    pred_probs: dict[str, np.ndarray] | None = None,
    progress: ProgressFn | str | None = "auto",
    seed: int = 0,
    **more_splits: ImageDataset,
) -> DataReport:
    """Inspect one or more splits of a dataset.

    Parameters
    ----------
    train, test, **more_splits : ImageDataset
        The splits, by name (``val=...`` and any other name work too; none of them is required, at least one
        is). They must share the class list; the report keeps their names (in the order train, test, others).
    near_bits : int
        Near duplicates: perceptual hashes (64 bits) may differ in at most this many bits. Default 8,
        measured: every planted JPEG-70 / brightness / noise / 1-px-shift copy of 64x64 MNIST digits is
        found at 8; 28x28 shifts need ~12 (a one-pixel shift is a larger change in a small image).
    near_corr : float
        ...and their 32x32 thumbnails must correlate at least this much at the best alignment within
        one pixel. Default 0.99: planted copies score >= 0.992, distinct MNIST digits of the same
        class at most ~0.99.
    brightness_z : float
        Robust z-score (median / MAD of image means) beyond which an image is too dark / too bright.
    suspicious : bool
        Score every label with cleanlab on out-of-fold probabilities (from ``label_model`` or
        ``pred_probs``): ``suspicious_label`` rows for the flagged ones, ``report.label_ranking(split)``
        for all of them.
    label_model : {"knn", "cnn"}
        ``"knn"`` (default, about a second for 10k images): leave-one-out k-nearest neighbours in torch
        on PCA-reduced thumbnails, no training. ``"cnn"``: a small CNN trained out-of-fold (5 folds, 4
        epochs, through ``workbench.train.fit``), ~20 s for 10k 28x28 images on 2 CPU cores; on the real
        MNIST test set it ranks 10 of the 15 human-confirmed label errors in its first 200, the k-NN 6
        (benchmarks/label_errors.py). The CNN reads the images again (at most 32 px a side);
        ``rank_labels(report, data, "cnn")`` upgrades an existing report instead.
    pred_probs : dict of split name -> (N, C) array, optional
        Out-of-fold predicted probabilities from your own model, used instead of ``label_model``.
    progress : "auto", callable(stage, done, total) or None
        "auto" shows a progress bar (tqdm: a widget in a notebook, text in a terminal) when there are
        at least ``AUTO_PROGRESS_MIN`` images, i.e. when the work takes more than about a second; when
        stderr is a pipe or a log file it logs one summary line instead (``workbench._progress``); a
        callable is called while work goes on; None is silent.
    seed : int
        Seeds the CNN label model (folds, initial weights, batch order); the k-NN is deterministic.
    """
    started = time.perf_counter()
    near_bits = check_int(near_bits, "near_bits", "inspect", low=0, high=32)
    near_corr = check_real(near_corr, "near_corr", "inspect", low=-1.0, high=1.0)
    brightness_z = check_real(brightness_z, "brightness_z", "inspect", low=0.0, low_open=True)
    if label_model not in LABEL_MODELS:
        raise ValueError(
            f"The 'label_model' parameter of inspect must be one of {LABEL_MODELS} ('knn': instant k-NN; "
            "'cnn': "
            f"a small CNN trained out-of-fold, better, slower). Got {label_model!r} instead."
        )
    splits = named_splits(where="inspect", train=train, test=test, **more_splits)
    if progress == "auto":
        progress = (
            StageProgress("inspect") if sum(len(d) for d in splits.values()) >= AUTO_PROGRESS_MIN else None
        )
    elif progress is not None and not callable(progress):
        raise TypeError(
            f"The 'progress' parameter of inspect must be 'auto', a callable or None. Got {progress!r} "
            "instead."
        )
    first = next(iter(splits))
    classes = splits[first].classes
    for name, ds in splits.items():
        if ds.classes != classes:
            raise ValueError(
                f"inspect: split {name!r} has classes {list(ds.classes)[:5]}... but {first} has "
                f"{list(classes)[:5]}...; "
                "all splits must share one class list (build them from the same source)."
            )
    report = DataReport(
        classes=classes,
        splits={},
        settings={"near_bits": near_bits, "near_corr": near_corr},
        targets={name: ds.targets for name, ds in splits.items()},
    )
    if suspicious:
        report.settings["label_model"] = label_model
    rows = report.rows

    paths = {
        name: ds.paths for name, ds in splits.items()
    }  # built once: a view builds the list on every access
    report.paths = paths
    targets = {name: ds.targets for name, ds in splits.items()}

    def add(split: str, index: int, issue: str, detail: str, group: str = "") -> None:
        rows.append(
            {
                "split": split,
                "index": int(index),
                "path": paths[split][index] if index >= 0 else None,
                "label": classes[int(targets[split][index])] if index >= 0 else "",
                "issue": issue,
                "group": group,
                "detail": detail,
            }
        )

    # 1. one pass per split
    prints: dict[str, Fingerprints] = {}
    for name, ds in splits.items():
        cb = (lambda d, t, name=name: progress(f"decoding {name}", d, t)) if progress else None
        prints[name] = fingerprint(ds, cb)
        for u in ds.unreadable:
            rows.append(
                {
                    "split": name,
                    "index": -1,
                    "path": u.path,
                    "label": "",
                    "issue": "unreadable",
                    "group": "",
                    "detail": u.reason,
                }
            )

    # 2. per-split oddities and summaries
    _oddities(report, splits, prints, brightness_z, add)
    _split_statistics(report, prints, classes, add)

    # 3. duplicates across all splits at once (this is where leakage shows)
    _duplicates(report, splits, prints, near_bits, near_corr, classes, progress, add)

    # 4. labels a model doubts
    if suspicious:
        _labels(report, splits, prints, classes, label_model, pred_probs, seed, progress)
    if isinstance(progress, StageProgress):
        progress.close()
    report.seconds = time.perf_counter() - started
    log.info("inspect: %d rows in %.1f s", len(rows), report.seconds)
    return report
