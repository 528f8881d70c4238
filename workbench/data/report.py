"""``DataReport``: what ``inspect`` found — one row per (sample, issue), the groups, per-split summaries.

Indexed by (split, index), so what one sample has (a tile of the browser) is a lookup, not a scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import LabelScores
from .stats import ChannelStats, SplitShift

__all__ = ["COLUMNS", "ISSUES", "DataReport", "SplitSummary"]

#: Every issue name a report row can carry.
ISSUES = (
    "unreadable",
    "exact_duplicate",
    "near_duplicate",
    "label_conflict",
    "leakage",
    "odd_size",
    "odd_mode",
    "low_information",
    "too_dark",
    "too_bright",
    "suspicious_label",
    "label_out_of_range",
)
COLUMNS = (
    "split",
    "index",
    "path",
    "label",
    "issue",
    "group",
    "detail",
    "quality",
)  # quality: suspicious_label rows


@dataclass(frozen=True)
class SplitSummary:
    """Counts and pixel statistics of one split."""

    name: str
    n: int
    class_counts: dict[str, int]
    imbalance_ratio: float  # largest class / smallest non-empty class
    missing_classes: tuple[str, ...]
    common_size: tuple[int, int]
    channel_mean: tuple[float, ...]
    channel_std: tuple[float, ...]
    unreadable: int


@dataclass
class DataReport:
    """What ``inspect`` found: one row per (sample, issue), groups, and per-split summaries."""

    classes: tuple[str, ...]
    splits: dict[str, SplitSummary]
    rows: list[dict] = field(default_factory=list)
    groups: dict[str, list[tuple[str, int]]] = field(
        default_factory=dict
    )  # group id -> (split, index) members
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    targets: dict[str, np.ndarray] = field(default_factory=dict)  # split -> labels, for selections
    label_scores: dict[str, LabelScores] = field(default_factory=dict)  # split -> every label's quality
    paths: dict[str, list] = field(default_factory=dict)  # split -> file paths (None in memory)
    channel_stats: ChannelStats | None = None  # per-channel mean/std per split (workbench.data.stats)
    split_shifts: list[SplitShift] = field(
        default_factory=list
    )  # image statistics that differ between splits
    _index: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _index_rows: int = field(default=-1, init=False, repr=False, compare=False)

    def issues_of(self, split: str, index: int) -> list[dict]:
        """Every row about one sample (a lookup in an index by (split, index), rebuilt when rows change)."""
        if self._index_rows != len(self.rows):
            index_: dict[tuple[str, int], list[dict]] = {}
            for r in self.rows:
                index_.setdefault((r["split"], r["index"]), []).append(r)
            self._index, self._index_rows = index_, len(self.rows)
        return list(self._index.get((split, int(index)), ()))

    def select(
        self, split: str = "all", class_name: str = "all", issue: str = "all"
    ) -> list[tuple[str, int]]:
        """``(split, index)`` of the samples that pass the filters, in browsing order.

        ``issue`` is "all" (every sample), "any" (samples with at least one issue) or an issue name;
        samples of one duplicate/leakage/conflict group come together. Unreadable files have no image
        and are never selected (see ``to_frame()``).
        """
        if split != "all" and split not in self.splits:
            raise ValueError(
                f"select: split must be 'all' or one of {list(self.splits)}. Got {split!r} instead."
            )
        if class_name != "all" and class_name not in self.classes:
            raise ValueError(
                f"select: class_name must be 'all' or one of the classes. Got {class_name!r} instead."
            )
        if issue not in ("all", "any", *ISSUES):
            raise ValueError(f"select: issue must be 'all', 'any' or one of {ISSUES}. Got {issue!r} instead.")
        names = list(self.splits) if split == "all" else [split]
        wanted_class = None if class_name == "all" else self.classes.index(class_name)

        def keep(name: str, i: int) -> bool:
            return wanted_class is None or int(self.targets[name][i]) == wanted_class

        if issue == "all":
            return [(n, i) for n in names for i in range(self.splits[n].n) if keep(n, i)]
        rows = [
            r
            for r in self.rows
            if r["index"] >= 0 and r["split"] in names and (issue == "any" or r["issue"] == issue)
        ]
        # group members together; other rows keep the engine's order (suspicious labels: worst first)
        rows.sort(key=lambda r: _group_key(r["group"]) if r["group"] else ("~", 0))
        seen, out = set(), []
        for r in rows:
            key = (r["split"], r["index"])
            if key not in seen and keep(*key):
                seen.add(key)
                out.append(key)
        return out

    def to_frame(self):
        """A pandas DataFrame, one row per (sample, issue): split, index, path, label, issue, group, detail,
        quality (the label quality on ``suspicious_label`` rows, NaN on the others)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def label_ranking(self, split: str = "train"):
        """Every sample of ``split``, most doubtful label first, as a pandas DataFrame.

        Columns: ``index``, ``label`` (given class name), ``suggested`` (the class the label model
        prefers), ``quality`` (cleanlab's label quality in [0, 1]; NaN where no model could judge) and
        ``path``. The model is ``settings["label_model"]``; ``rank_labels`` upgrades it to the CNN.
        """
        import pandas as pd

        if split not in self.splits:
            raise ValueError(
                f"label_ranking: split must be one of {list(self.splits)}. Got {split!r} instead."
            )
        if split not in self.label_scores:
            raise ValueError(
                f"label_ranking: split {split!r} has no label scores: inspect ran with suspicious=False. "
                "Run inspect(..., suspicious=True) or workbench.data.rank_labels(report, data)."
            )
        s, order = self.label_scores[split], self.label_scores[split].order()
        names = np.asarray(self.classes, dtype=object)
        paths = self.paths.get(split) or [None] * len(order)
        return pd.DataFrame(
            {
                "index": order,
                "label": names[self.targets[split][order]],
                "suggested": names[s.suggested[order]],
                "quality": s.quality[order],
                "path": [paths[i] for i in order],
            }
        )

    def count(self, issue: str) -> int:
        """Number of samples flagged with ``issue``."""
        return sum(1 for r in self.rows if r["issue"] == issue)

    def flagged(self, issue: str, split: str | None = None) -> list[int]:
        """Indices (in ``split``) flagged with ``issue``."""
        return sorted(
            {r["index"] for r in self.rows if r["issue"] == issue and (split is None or r["split"] == split)}
        )

    def groups_with(self, issue: str) -> list[str]:
        """Group ids that carry ``issue`` (exact/near duplicates, label conflicts, leakage)."""
        return sorted({r["group"] for r in self.rows if r["issue"] == issue and r["group"]}, key=_group_key)

    def summary(self) -> str:
        """A short human text: what was found and what to do about it."""
        lines = []
        for s in self.splits.values():
            worst = min((c for c in s.class_counts.items() if c[1] > 0), key=lambda c: c[1], default=("-", 0))
            best = max(s.class_counts.items(), key=lambda c: c[1], default=("-", 0))
            line = (
                f"{s.name}: {s.n} images, {sum(1 for v in s.class_counts.values() if v)} of "
                f"{len(self.classes)} classes, "
                f"largest {best[0]!r} ({best[1]}) / smallest {worst[0]!r} ({worst[1]}) = imbalance "
                f"{s.imbalance_ratio:.2f}"
            )
            if s.missing_classes:
                line += f"; MISSING classes {', '.join(repr(c) for c in s.missing_classes)}"
            lines.append(line)
        advice = {
            "unreadable": "files that could not be decoded: fix or delete them",
            "exact_duplicate": "identical images: keep one of each group",
            "near_duplicate": "near-identical images (re-encoded, brightness, noise, 1-px shift): keep one",
            "label_conflict": "duplicates with different labels: at least one label is wrong",
            "leakage": "the same image in more than one split: evaluation is optimistic; remove it from "
            "val/test",
            "odd_size": "sizes unlike the rest: they are resized for training; check they belong",
            "odd_mode": "colour mode unlike the rest",
            "low_information": "(nearly) constant images: blank scans, failed crops",
            "too_dark": "much darker than the rest",
            "too_bright": "much brighter than the rest",
            "suspicious_label": "a model trained on the other folds disagrees confidently: look at these "
            "first",
            "label_out_of_range": "the dataset returns a label outside the class list: fix its targets / "
            "target_transform",
        }
        for issue in ISSUES:
            n = self.count(issue)
            if n:
                groups = len(self.groups_with(issue))
                g = f" in {groups} groups" if groups else ""
                lines.append(f"{issue}: {n} samples{g}: {advice[issue]}")
        if not self.rows:
            lines.append("no per-sample issues found")
        lines += [f"split shift: {s.message}" for s in self.split_shifts]
        for s in self.splits.values():
            if s.imbalance_ratio >= 3:
                lines.append(
                    f"{s.name} is imbalanced ({s.imbalance_ratio:.1f}x): set the last layer's bias to the "
                    "class priors, weigh the loss, or resample"
                )
        lines.append(f"(inspected in {self.seconds:.1f} s)")
        return "\n".join(lines)


def _group_key(g: str) -> tuple[str, int]:
    return (g[0], int(g[1:]) if g[1:].isdigit() else 0)
