"""``Recipe``: where a user is in the training recipe on one dataset, and what to do next.

Each step is recorded from the real result that shows it (a ``DataReport``, a ``Checklist``, a lab run's
``History``, an ``LRRangeResult``, a ``SearchResult``; any other result with ``step=`` and ``evidence=``),
kept in the run store's SQLite file (table ``wb_recipe``), keyed by the data (its name, size and a hash
of its labels), so a new process that opens the same store on the same data reads the same progress.
``next_step()`` reads the steps in recipe order and says what to do next and why: a problem found in an
earlier step (leakage, a failed check) comes before the next new step.

Written here because no tool keeps the recipe as a sequence; the storage is the run store's file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .train.history import History
from .train.runs import DEFAULT_STORE, RunStore

__all__ = ["STEPS", "Recipe", "RecipeStep", "Suggestion"]

#: The recipe's steps in order: (name, title, what to do when it is not done yet).
STEPS = (
    ("data", "Become one with the data", "inspect the data: workbench.inspect(train, test) and browse it"),
    ("checks", "Check the pipeline", "run the pipeline checks: workbench.run_all(model, data)"),
    ("overfit", "Overfit a tiny subset", "overfit a tiny subset in the lab (OverfitLab): reach ~100 % train"),
    ("lr", "Find the learning rate", "run the LR range test: workbench.lr_range_test(model, train)"),
    ("search", "Tune", "search LR x weight decay: workbench.search(...), then refine"),
    ("regularize", "Regularize", "add augmentation, dropout, weight decay or early stopping, one at a time"),
    ("squeeze", "Squeeze out the juice", "average weights (EMA/SWA), ensemble, distill"),
)
_NAMES = tuple(s[0] for s in STEPS)
#: Train accuracy at which a tiny subset counts as overfit (the recipe: ~100 %).
OVERFIT_ACC = 0.99

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wb_recipe (
    data_key TEXT NOT NULL,
    step TEXT NOT NULL,
    done INTEGER NOT NULL,
    problem TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL,
    PRIMARY KEY (data_key, step)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class RecipeStep:
    """One step: ``done`` (reached), ``problem`` (what is still wrong, "" when nothing), ``evidence``."""

    name: str
    title: str
    done: bool = False
    problem: str = ""
    evidence: dict = field(default_factory=dict)
    updated: float | None = None


@dataclass(frozen=True)
class Suggestion:
    """What to do next (``step``: which step it belongs to; ``None`` when the recipe is done) and why."""

    step: str | None
    message: str
    why: str


def data_key(data: Any) -> str:
    """The name, size and a hash of the labels of ``data`` (a ``DataSplits``: its train split)."""
    train = getattr(data, "train", data)
    targets = np.asarray(train.targets) if hasattr(train, "targets") else np.arange(len(train))
    digest = hashlib.sha1(np.ascontiguousarray(targets).tobytes()).hexdigest()[:12]
    return f"{getattr(train, 'name', type(train).__name__)}|n={len(train)}|{digest}"


class Recipe:
    """Progress through the recipe on ``data``, persisted in ``store`` (the run store's file).

    Parameters
    ----------
    data : DataSplits or ImageDataset
    store : path or RunStore
    """

    def __init__(self, data: Any, store: str | Path | RunStore = DEFAULT_STORE) -> None:
        self.path = Path(store.path if isinstance(store, RunStore) else store)
        self.key = data_key(data)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    # -- recording ---------------------------------------------------------------------------------------
    def record(self, result: Any, *, step: str | None = None, evidence: dict | None = None) -> RecipeStep:
        """Record what ``result`` shows; returns the step as stored (``step``/``evidence``: other results)."""
        if step is not None and step not in _NAMES:
            raise ValueError(
                f"The 'step' parameter of Recipe.record must be one of {_NAMES}. Got {step!r} instead."
            )
        name, done, problem, ev = self._read(result, step)
        ev.update(evidence or {})
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO wb_recipe (data_key, step, done, problem, evidence, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.key, name, int(done), problem, json.dumps(ev, default=str), time.time()),
            )
        return self.step(name)

    def _read(self, result: Any, step: str | None) -> tuple[str, bool, str, dict]:
        kind = type(result).__name__
        if kind == "DataReport":
            found = {
                i: result.count(i) for i in ("leakage", "label_conflict", "unreadable", "exact_duplicate")
            }
            found = {k: v for k, v in found.items() if v}
            problem = ""
            if found.get("leakage"):
                problem = (
                    f"leakage found: {found['leakage']} images in more than one split; fix before training"
                )
            elif found.get("label_conflict"):
                problem = (
                    f"{found['label_conflict']} duplicates with conflicting labels: fix the labels first"
                )
            elif found.get("unreadable"):
                problem = f"{found['unreadable']} files could not be read: fix or remove them"
            return "data", True, problem, {"found": found, "rows": len(result.rows)}
        if kind == "Checklist":
            failed = [r.name for r in result.failed]
            problem = ""
            if "initial_loss" in failed:
                problem = "initial loss off: fix the last-layer bias (workbench.models.init_last_layer_bias)"
            elif failed:
                first = result[failed[0]]
                problem = f"check {failed[0]} failed: {first.message}"
            passed = [r.name for r in result.results if r.passed]
            return "checks", not failed, problem, {"passed": passed, "failed": failed}
        if kind == "LRRangeResult":
            ev = {"lr": result.lr, "reason": result.reason}
            problem = "" if result.found else f"no good LR found: {result.reason}"
            return step or "lr", result.found, problem, ev
        if kind == "SearchResult":
            best = result.best()
            ev = {"trials": len(result.outcomes)}
            if best is not None:
                ev |= {"best": best.params, "val_acc": best.value}
            return step or "search", best is not None, "" if best is not None else "no trial completed", ev
        if isinstance(result, History):
            acc, loss = result.last("train_acc"), result.last("train_loss")
            ev = {
                "status": result.status,
                "train_acc": acc,
                "train_loss": loss,
                "val_acc": result.last("val_acc"),
            }
            name = step or "overfit"
            if name != "overfit":
                return name, result.status == "finished", "", ev
            reached = bool(np.isfinite(acc) and acc >= OVERFIT_ACC)
            problem = (
                ""
                if reached
                else (
                    f"train accuracy {acc:.1%} on the subset: not overfit yet; more capacity, more steps "
                    "or another LR"
                    if np.isfinite(acc)
                    else f"the run ended {result.status}: {result.message}"
                )
            )
            return name, reached, problem, ev
        if step is None:
            raise TypeError(
                f"Recipe.record does not know what a {kind} shows: pass step= (one of {_NAMES}) and "
                "evidence=."
            )
        return step, True, "", {}

    # -- reading -----------------------------------------------------------------------------------------
    def steps(self) -> list[RecipeStep]:
        """Every step in recipe order, done or not."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT step, done, problem, evidence, updated FROM wb_recipe WHERE data_key = ?", (self.key,)
            ).fetchall()
        stored = {r[0]: r for r in rows}
        out = []
        for name, title, _ in STEPS:
            r = stored.get(name)
            out.append(
                RecipeStep(name, title, bool(r[1]), r[2], json.loads(r[3]), r[4])
                if r
                else RecipeStep(name, title)
            )
        return out

    def step(self, name: str) -> RecipeStep:
        return next(s for s in self.steps() if s.name == name)

    def next_step(self) -> Suggestion:
        """The first problem to fix, or else the first step not done yet, with the reason."""
        steps = self.steps()
        for s in steps:
            if s.problem:
                return Suggestion(s.name, s.problem, f"found in step '{s.title}'; later steps build on it")
        todo = {name: advice for name, _, advice in STEPS}
        for s in steps:
            if not s.done:
                why = "the recipe's first step" if s.name == "data" else f"'{s.title}' is not done yet"
                return Suggestion(s.name, todo[s.name], why)
        return Suggestion(None, "every step of the recipe is done on this data", "all steps recorded")

    def reset(self) -> None:
        """Forget this data's progress."""
        with self._connect() as con:
            con.execute("DELETE FROM wb_recipe WHERE data_key = ?", (self.key,))

    def __repr__(self) -> str:
        done = sum(s.done for s in self.steps())
        return f"Recipe({self.key!r}, {done}/{len(STEPS)} steps done)"
