"""Labs 4 and 5: overfit a tiny subset and pick an LR (graded from the run store), read the curves
(graded by ``workbench.diagnose``).

``check_overfit`` and ``check_lr`` read what the student's runs left in the run store (``RunStore``), not
variables in the notebook: the store is what the lab and the tuning tools write, so what passes is what
was really trained. ``check_diagnosis`` compares the student's answer with what ``diagnose`` reads in the
same run's curves.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..diagnose import KINDS, diagnose
from ..train import History, RunStore, StoredRun
from ..tune.lr_range import LRRangeResult
from .feedback import Feedback

__all__ = ["check_diagnosis", "check_lr", "check_overfit"]


def _latest(store_path: str | Path, name: str, check: str) -> StoredRun | Feedback:
    path = Path(store_path)
    if not path.exists():
        return Feedback(
            False, f"there is no run store at {path}", "train with a RunStore recorder first", check
        )
    store = RunStore(path)
    runs = store.list()
    mine = runs[runs["name"] == name] if len(runs) else runs
    if not len(mine):
        return Feedback(
            False, f"the run store has no run named {name!r}", "record the run under that name", check
        )
    return store.load(int(mine["id"].iloc[0]))  # newest first


def _final(run: StoredRun, metric: str) -> float:
    return float(run.history.last(metric))


def check_overfit(store_path: str | Path, name: str = "overfit", target: float = 0.99) -> Feedback:
    """The newest run called ``name`` in the store reached ``target`` training accuracy (a tiny subset,
    memorised: the recipe's proof that model, loss and optimizer can learn at all)."""
    run = _latest(store_path, name, "overfit")
    if isinstance(run, Feedback):
        return run
    acc, loss = _final(run, "train_acc"), _final(run, "train_loss")
    return Feedback(
        acc >= target,
        f"run {name!r} ({run.status}) ends at training accuracy {acc:.1%}, training loss {loss:.3g}",
        "a model this size should memorise a few dozen images: does the training loss still fall at the "
        "end, and does it fall fast enough?",
        "overfit",
    )


def check_lr(
    store_path: str | Path, result: LRRangeResult, name: str = "chosen_lr", min_val_acc: float = 0.9
) -> Feedback:
    """The newest run called ``name`` used an LR within 3x of what the range test ``result`` recommends
    and reached ``min_val_acc`` validation accuracy."""
    if not isinstance(result, LRRangeResult):
        raise TypeError(
            "The 'result' parameter of check_lr must be the LRRangeResult of lr_range_test. Got "
            f"{type(result).__name__} instead."
        )
    run = _latest(store_path, name, "lr")
    if isinstance(run, Feedback):
        return run
    lrs = run.history.snapshot().lr  # what the optimizer really used, whatever the config says
    lr = float(lrs.max()) if len(lrs) else math.nan
    acc = _final(run, "val_acc")
    near = result.lr is not None and result.lr / 3 <= lr <= result.lr * 3
    return Feedback(
        bool(near and acc >= min_val_acc),
        f"run {name!r} trained at LR {lr:.2g} and ends at validation accuracy {acc:.1%}",
        "read the range test's curve: where does the loss fall fastest, and where does it blow up?",
        "lr",
    )


def check_diagnosis(
    answer: str, history: History, human_accuracy: float | None = None, *, name: str = "diagnosis"
) -> Feedback:
    """The student's ``answer`` (one of ``workbench.diagnose.KINDS``) is among what ``diagnose`` finds in
    ``history`` (the curves, and the human baseline for underfitting); ``name`` names the feedback."""
    if not isinstance(history, History):
        raise TypeError(
            f"The 'history' parameter of check_diagnosis must be the History of a run. Got "
            f"{type(history).__name__} instead."
        )
    if answer not in KINDS:
        return Feedback(
            False,
            f"{answer!r} is not a name the diagnosis uses",
            f"answer with one of: {', '.join(KINDS)}",
            name,
        )
    found = diagnose(history, human_accuracy=human_accuracy)
    return Feedback(
        answer in found.kinds,
        f"you said {answer!r}" + ("; the curves agree" if answer in found.kinds else ""),
        "look again at the training and validation curves side by side: where do they part, rise or flatten?",
        name,
    )
