"""Human baseline: your own accuracy on the task, with a confidence interval."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["HumanBaselineResult", "human_accuracy"]


@dataclass(frozen=True)
class HumanBaselineResult:
    accuracy: float
    low: float  # 95 % Wilson interval
    high: float
    answered: int
    skipped: int
    hard: list[int] = field(default_factory=list)  # dataset indices answered wrongly

    def __str__(self) -> str:
        return (
            f"human accuracy {self.accuracy:.1%} (95 % interval {self.low:.1%}-{self.high:.1%}) on "
            f"{self.answered} "
            f"samples, {self.skipped} skipped, {len(self.hard)} wrong"
        )


def human_accuracy(
    answers: dict[int, int | None], truth: dict[int, int], z: float = 1.96
) -> HumanBaselineResult:
    """Accuracy of ``answers`` (dataset index -> class, or None for skip) against ``truth``.

    The interval is Wilson's score interval, which stays inside [0, 1] and is honest for small n and
    for accuracies near 100 % (where the normal approximation is not).
    """
    unknown = set(answers) - set(truth)
    if unknown:
        raise ValueError(
            f"human_accuracy: answers for samples {sorted(unknown)[:5]} that have no true label."
        )
    given = {i: a for i, a in answers.items() if a is not None}
    n = len(given)
    wrong = sorted(i for i, a in given.items() if a != truth[i])
    skipped = len(answers) - n
    if n == 0:
        return HumanBaselineResult(float("nan"), 0.0, 1.0, 0, skipped, [])
    p = (n - len(wrong)) / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return HumanBaselineResult(p, max(0.0, centre - half), min(1.0, centre + half), n, skipped, wrong)
