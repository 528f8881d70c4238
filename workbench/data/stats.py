"""Split statistics: per-channel mean/std, the variance preprocessing can remove, and split-vs-split shift.

Everything here works on the fingerprints ``inspect`` already has (one decode per image), so it costs
no extra pass over the data.

Split shift. Each split is compared with the first split (train) on four per-image statistics:
brightness (gray mean), contrast (gray standard deviation), size (square root of height x width, in
pixels) and aspect (width / height). The test is the two-sample Kolmogorov-Smirnov test
(``scipy.stats.ks_2samp``): it makes no assumption about the shape of the distributions, and its
statistic D (the largest gap between the two cumulative distributions, 0..1) is itself an effect size,
readable as "at most D of the images would have to change side". A statistic is reported only when
both hold:

* ``D >= SHIFT_MIN_D`` (0.1): a difference big enough to matter. The p-value alone is not enough: on
  tens of thousands of images it flags differences nobody would act on.
* ``p < SHIFT_ALPHA / tests`` (0.001, Bonferroni over every statistic x split compared): a random split
  of the same data passes. The unit tests check that digits' and MNIST's own random splits raise nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

__all__ = ["SHIFT_ALPHA", "SHIFT_MIN_D", "ChannelStats", "SplitShift", "channel_stats", "split_shifts"]

SHIFT_ALPHA = 1e-3
SHIFT_MIN_D = 0.1
#: Share of the pixel variance between image means above which per-image normalisation is suggested.
BETWEEN_IMAGE_ADVICE = 0.1


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel pixel statistics of every split, and how much variance is per image.

    ``mean`` and ``std`` are ``(S, C)`` (splits x channels) over every pixel of the split, as stored
    ([0, 1]); use the train row for ``Normalize(mean, std)``. ``between_image`` is, per split, the
    share of the gray pixel variance that is the variance of the image means (brightness that changes
    from image to image: subtracting each image's mean removes it); ``contrast_spread`` is the
    coefficient of variation of the images' standard deviations (per-image standardisation evens it).
    """

    splits: tuple[str, ...]
    mean: np.ndarray  # (S, C)
    std: np.ndarray  # (S, C)
    between_image: np.ndarray  # (S,)
    contrast_spread: np.ndarray  # (S,)

    @property
    def channels(self) -> tuple[str, ...]:
        c = self.mean.shape[1]
        return (
            ("gray",) if c == 1 else ("R", "G", "B", "A")[:c] if c <= 4 else tuple(f"c{i}" for i in range(c))
        )

    def normalize_args(self, split: str | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, std)`` of ``split`` (default: the first, train) for ``transforms.Normalize``."""
        name = self.splits[0] if split is None else split
        if name not in self.splits:
            raise ValueError(
                f"normalize_args: split must be one of {list(self.splits)}. Got {name!r} instead."
            )
        k = self.splits.index(name)
        return tuple(float(v) for v in self.mean[k]), tuple(float(v) for v in self.std[k])

    def rows(self) -> list[dict]:
        """One row per (split, channel): split, channel, mean, std."""
        return [
            {"split": s, "channel": c, "mean": float(self.mean[k, j]), "std": float(self.std[k, j])}
            for k, s in enumerate(self.splits)
            for j, c in enumerate(self.channels)
        ]

    def advice(self) -> list[str]:
        """What preprocessing would take off the model's hands, in words."""
        out = []
        if len(self.splits) and self.mean.size:
            mean, std = self.normalize_args()
            out.append(
                f"normalise with the {self.splits[0]} statistics: mean {tuple(round(v, 4) for v in mean)}, "
                f"std {tuple(round(v, 4) for v in std)}"
            )
        for k, s in enumerate(self.splits):
            if self.between_image[k] >= BETWEEN_IMAGE_ADVICE:
                out.append(
                    f"{s}: {self.between_image[k]:.0%} of the pixel variance is brightness that differs "
                    "between images: subtracting each image's mean removes it"
                )
        return out


def channel_stats(
    names: list[str],
    channel_mean: list[np.ndarray],
    channel_std: list[np.ndarray],
    image_mean: list[np.ndarray],
    image_std: list[np.ndarray],
) -> ChannelStats:
    """Assemble :class:`ChannelStats` from per-split fingerprint statistics (lists aligned with ``names``)."""
    width = max((len(m) for m in channel_mean), default=0)

    def pad(v: np.ndarray) -> np.ndarray:
        return np.r_[np.asarray(v, dtype=np.float64), np.full(width - len(v), np.nan)]

    between, spread = [], []
    for m, s in zip(image_mean, image_std):
        within, across = float(np.mean(np.square(s))) if len(s) else 0.0, float(np.var(m)) if len(m) else 0.0
        between.append(across / (within + across) if within + across > 0 else 0.0)
        spread.append(float(np.std(s) / np.mean(s)) if len(s) and np.mean(s) > 0 else 0.0)
    return ChannelStats(
        splits=tuple(names),
        mean=np.array([pad(m) for m in channel_mean]).reshape(len(names), width),
        std=np.array([pad(s) for s in channel_std]).reshape(len(names), width),
        between_image=np.array(between),
        contrast_spread=np.array(spread),
    )


@dataclass(frozen=True)
class SplitShift:
    """One image statistic whose distribution differs between ``split`` and ``reference``."""

    statistic: str  # "brightness", "contrast", "size" or "aspect"
    split: str
    reference: str
    d: float  # Kolmogorov-Smirnov statistic, 0..1
    p_value: float
    median: float  # of the statistic in ``split``
    reference_median: float
    message: str


_UNITS = {
    "brightness": "mean gray level",
    "contrast": "gray std",
    "size": "px (sqrt of height x width)",
    "aspect": "width/height",
}


def image_statistics(
    mean: np.ndarray, std: np.ndarray, height: np.ndarray, width: np.ndarray
) -> dict[str, np.ndarray]:
    """The four per-image statistics compared between splits."""
    h, w = np.asarray(height, dtype=np.float64), np.asarray(width, dtype=np.float64)
    return {
        "brightness": np.asarray(mean, float),
        "contrast": np.asarray(std, float),
        "size": np.sqrt(h * w),
        "aspect": w / np.maximum(h, 1),
    }


def split_shifts(
    stats: dict[str, dict[str, np.ndarray]], min_d: float = SHIFT_MIN_D, alpha: float = SHIFT_ALPHA
) -> list[SplitShift]:
    """Statistics that differ between each split and the first one (see the module docstring).

    ``stats`` maps split name -> :func:`image_statistics`; the first split is the reference.
    """
    names = list(stats)
    if len(names) < 2:
        return []
    ref = names[0]
    tests = (len(names) - 1) * len(stats[ref])
    found = []
    for name in names[1:]:
        for key, values in stats[name].items():
            a, b = stats[ref][key], values
            if len(a) < 2 or len(b) < 2:
                continue
            res = ks_2samp(a, b)
            d, p = float(res.statistic), float(res.pvalue)
            if d >= min_d and p < alpha / tests:
                ma, mb = float(np.median(a)), float(np.median(b))
                direction = "higher" if mb > ma else "lower" if mb < ma else "distributed differently"
                found.append(
                    SplitShift(
                        statistic=key,
                        split=name,
                        reference=ref,
                        d=d,
                        p_value=p,
                        median=mb,
                        reference_median=ma,
                        message=(
                            f"{name} differs from {ref} in {key} ({_UNITS[key]}): median {mb:.3g} vs "
                            f"{ma:.3g} ({direction}); KS D = {d:.2f}, p = {p:.1e} over {len(b)} and {len(a)} "
                            "images"
                        ),
                    )
                )
    return found
