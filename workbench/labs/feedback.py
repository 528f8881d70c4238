"""``Feedback``: what a lab checker tells the student — pass or not yet, and a hint that points at the
symptom (what the checks saw), never at the line to change."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..data import ImageDataset, TensorImageDataset

__all__ = ["Feedback", "FeedbackList"]


@dataclass(frozen=True)
class Feedback:
    """One lab check's verdict.

    Attributes
    ----------
    passed : bool
        Whether the student's work passes this check.
    message : str
        What was measured (counts, errors, accuracies), in words.
    hint : str
        Where to look next, as a symptom ("two samples of the batch influence each other"); empty on a pass.
    name : str
        The check's name, as the lab's text calls it.
    """

    passed: bool
    message: str
    hint: str = ""
    name: str = ""

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "not yet"

    def __str__(self) -> str:
        head = f"{self.name}: " if self.name else ""
        text = f"{head}{self.verdict} — {self.message}"
        return text if self.passed or not self.hint else f"{text}\n  hint: {self.hint}"

    def _repr_html_(self) -> str:
        colour = "#2e7d32" if self.passed else "#c62828"
        head = f"<b>{html.escape(self.name)}</b>: " if self.name else ""
        hint = "" if self.passed or not self.hint else f"<br><i>hint:</i> {html.escape(self.hint)}"
        return (
            f'<div class="wb-feedback">{head}<span style="color:{colour};font-weight:bold">'
            f"{self.verdict}</span> — {html.escape(self.message)}{hint}</div>"
        )


@dataclass(frozen=True)
class FeedbackList:
    """Several checks of one lab, in the order the lab names them; passes when every one passes."""

    items: tuple[Feedback, ...]

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.items)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "not yet"

    def __getitem__(self, name: str) -> Feedback:
        for f in self.items:
            if f.name == name:
                return f
        raise KeyError(f"No check named {name!r}; the checks are {[f.name for f in self.items]}.")

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __str__(self) -> str:
        done = sum(f.passed for f in self.items)
        lines = [f"{self.verdict} — {done} of {len(self.items)} checks pass"]
        return "\n".join(lines + [str(f) for f in self.items])

    def _repr_html_(self) -> str:
        done = sum(f.passed for f in self.items)
        head = f"<p><b>{self.verdict}</b> — {done} of {len(self.items)} checks pass</p>"
        return head + "".join(f._repr_html_() for f in self.items)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run a lab's checks on one intra-op thread, then restore the setting. Their tensors are tiny (8x8
    digits, batches of 32): a second thread only adds synchronisation, and on a busy 2-core laptop
    spinning threads made ``check_pipeline`` 40x slower (43 s instead of 1 s, measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tensors_of(data: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images ``(N, C, H, W)`` and labels ``(N,)`` of a dataset (in-memory ones without a copy loop)."""
    if isinstance(data, TensorImageDataset):
        return data.tensors()
    return torch.stack([data[i][0] for i in range(len(data))]), torch.from_numpy(data.targets)
