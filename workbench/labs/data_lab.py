"""Lab 1, the data: digits with planted problems, and the checker that counts what is still wrong.

``planted_digits`` takes scikit-learn's 8x8 digits (``load_digits``) and plants, deterministically from a
seed: test images copied into train (leakage), slightly noisy copies of train images (near duplicates),
flipped labels, and one class cut down to a handful of images (the rest held back in ``extra``).
``check_data_fixed`` recognises the planted samples by their exact pixels, so any subset, reordering or
relabelling the student makes is judged on what is really left.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ..data import ImageDataset, from_arrays, inspect, load_digits
from .feedback import Feedback, FeedbackList, one_thread, tensors_of

__all__ = ["PlantedDigits", "check_data_fixed", "planted_digits"]

LEAKED = 15  # test images copied into train
NEAR = 15  # noisy copies of train images
FLIPPED = 20  # train labels changed to another class
TINY_CLASS = "7"  # the class cut down
TINY_KEEP = 8  # images of it left in train
FLIPS_ALLOWED = 2  # label-noise finders are not perfect: this many planted flips may stay


@dataclass(frozen=True)
class PlantedDigits:
    """The lab's data: ``train`` with the planted problems, the clean ``test`` split, and ``extra`` (the
    images of the small class held back, to add to train)."""

    train: ImageDataset
    test: ImageDataset
    extra: ImageDataset


@dataclass(frozen=True)
class _Truth:
    near: dict[str, str]  # hash of a noisy copy -> hash of its original
    flipped: dict[str, int]  # hash of a flipped image -> the wrong label it was given
    clean_size: int


def _key(image: torch.Tensor) -> str:
    return hashlib.sha1(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


@functools.lru_cache(maxsize=4)
def _build(seed: int) -> tuple[PlantedDigits, _Truth]:
    splits = load_digits(seed=seed)
    x, y = (t.clone() for t in tensors_of(splits.train))  # (N, 1, 8, 8), (N,)
    xt, yt = tensors_of(splits.test if splits.test is not None else splits.val)  # it always has one
    rng = np.random.default_rng(seed)
    tiny = splits.classes.index(TINY_CLASS)
    tiny_idx = np.flatnonzero(y.numpy() == tiny)
    held = rng.permutation(tiny_idx)[TINY_KEEP:]
    keep = np.setdiff1d(np.arange(len(y)), held)
    extra = from_arrays(x[held], y[held].numpy(), splits.classes, name="extra")
    x, y = x[keep], y[keep]
    clean_size = len(y) + len(held)

    others = rng.permutation(np.flatnonzero(y.numpy() != tiny))
    flip_idx, near_idx = others[:FLIPPED], others[FLIPPED : FLIPPED + NEAR]
    wrong = (y[flip_idx] + torch.from_numpy(rng.integers(1, 10, FLIPPED))) % 10
    wrong[wrong == tiny] = (tiny + 1) % 10  # keep the small class small
    y[flip_idx] = wrong
    g = torch.Generator().manual_seed(seed)
    noisy = (x[near_idx] + 0.03 * torch.randn(x[near_idx].shape, generator=g)).clamp(0, 1)
    leak_idx = rng.permutation(len(yt))[:LEAKED]
    images = torch.cat([x, noisy, xt[leak_idx]])
    labels = torch.cat([y, y[near_idx], yt[leak_idx]])
    order = torch.from_numpy(rng.permutation(len(labels)))
    train = from_arrays(images[order], labels[order].numpy(), splits.classes, name="train (planted)")
    test = from_arrays(xt, yt.numpy(), splits.classes, name="test")
    truth = _Truth(
        near={_key(c): _key(x[i]) for c, i in zip(noisy, near_idx)},
        flipped={_key(x[i]): int(y[i]) for i in flip_idx},
        clean_size=clean_size,
    )
    return PlantedDigits(train, test, extra), truth


def planted_digits(seed: int = 0) -> PlantedDigits:
    """The digits with problems planted for lab 1 (deterministic: the same seed, the same problems).

    Train holds test images (leakage), near duplicates of its own images, flipped labels, and a class
    ("7") cut down to a few images; ``extra`` holds that class's other images.
    """
    return _build(int(seed))[0]


def _check_split(data, name: str) -> ImageDataset:
    if not isinstance(data, ImageDataset):
        raise TypeError(
            f"The '{name}' parameter of check_data_fixed must be an ImageDataset (a view of the lab's data: "
            f"data.train.subset(...), from_arrays(...)). Got {type(data).__name__} instead."
        )
    return data


def check_data_fixed(train: ImageDataset, test: ImageDataset, seed: int = 0) -> FeedbackList:
    """Count what is still wrong with the student's ``train`` / ``test`` of :func:`planted_digits`.

    Five checks: ``leakage`` (``inspect`` still finds test images in train), ``near_duplicates`` (a noisy
    copy and its original both still in train), ``flipped_labels`` (planted wrong labels still there; up
    to ``FLIPS_ALLOWED`` may stay), ``smallest_class`` (the smallest class has at least half the images of
    the median class) and ``kept_data`` (at least 85 % of the clean training images are still there).
    """
    train, test = _check_split(train, "train"), _check_split(test, "test")
    truth = _build(int(seed))[1]
    with one_thread():
        report = inspect(train, test, suspicious=False, progress=None)
    leaked = len(report.flagged("leakage", "train"))
    images, labels = tensors_of(train)
    keys = [_key(im) for im in images]
    present = set(keys)
    near = sum(1 for k in keys if k in truth.near and truth.near[k] in present)
    flipped = sum(1 for k, lab in zip(keys, labels.tolist()) if truth.flipped.get(k) == lab)
    counts = train.class_counts()
    smallest = min(counts, key=lambda c: counts[c])
    median = float(np.median(list(counts.values())))
    kept = len(train) / truth.clean_size
    return FeedbackList(
        (
            Feedback(
                leaked == 0,
                f"{leaked} training images are also in the test split",
                "the test score would be measured partly on images the model trained on: "
                "look at what inspect calls leakage",
                "leakage",
            ),
            Feedback(
                near == 0,
                f"{near} near-duplicate pairs left in train",
                "some training images are almost pixel-for-pixel copies of others: the data browser "
                "groups them",
                "near_duplicates",
            ),
            Feedback(
                flipped <= FLIPS_ALLOWED,
                f"{flipped} of the {FLIPPED} flipped labels are still there ({FLIPS_ALLOWED} may stay)",
                "some images carry a label that does not match what they show: rank the labels by quality",
                "flipped_labels",
            ),
            Feedback(
                counts[smallest] >= 0.5 * median,
                f"the smallest class, {smallest!r}, has {counts[smallest]} images "
                f"(median class: {median:.0f})",
                "one class is far rarer than the others: the model will hardly learn it; is there more data?",
                "smallest_class",
            ),
            Feedback(
                kept >= 0.85,
                f"train keeps {len(train)} images, {kept:.0%} of the clean set",
                "too much was thrown away: remove the flagged samples, not whole classes or splits",
                "kept_data",
            ),
        )
    )
