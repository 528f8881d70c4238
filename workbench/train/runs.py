"""The run store: every run (config, seed, curves, final metrics, human baseline, times) in one SQLite file.

Runs are written *while they train*, in batches (at most every ``flush_every_s`` seconds, never per
step), so a kernel restart loses at most the last second. The file is in WAL mode with a busy timeout,
and each writer uses its own connection inside one short transaction per flush, so two runs (or two
processes) can write at once. Commits do not wait for the disk (``synchronous=NORMAL``, safe in WAL mode:
a crashed kernel loses nothing committed, only a power cut may lose the last flushes); waiting for an
fsync at every flush cost the training thread time on a busy disk. The same file can hold an Optuna
study (issue: tune), next to these tables.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .callbacks import Callback, FitState
from .history import History

__all__ = ["DEFAULT_STORE", "RunRecorder", "RunStore", "StoredRun"]

#: Default file, in the working directory.
DEFAULT_STORE = "workbench_runs.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wb_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'train',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    seed INTEGER,
    human_baseline REAL,
    final TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS wb_steps (
    run_id INTEGER NOT NULL REFERENCES wb_runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    loss REAL NOT NULL,
    lr REAL NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wb_epochs (
    run_id INTEGER NOT NULL REFERENCES wb_runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass
class StoredRun:
    """A run read back from the store, with its curves as a ``History``."""

    id: int
    name: str
    kind: str
    created: float
    updated: float
    status: str
    message: str
    config: dict
    seed: int | None
    human_baseline: float | None
    final: dict
    history: History


class RunStore:
    """One SQLite file of runs. ``path`` defaults to ``workbench_runs.sqlite`` in the working directory."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(
                f"RunStore: the folder {self.path.parent} does not exist; create it or pick another path."
            )
        with self._session() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the same file (for Optuna's RDB storage / optuna-dashboard)."""
        return f"sqlite:///{self.path.resolve()}"

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        con = self.connect()
        try:
            yield con
        finally:
            con.close()

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None
        )  # autocommit; explicit BEGIN below
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per commit; still consistent after any crash
        return con

    # -- writing ---------------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        config: dict,
        *,
        kind: str = "train",
        seed: int | None = None,
        human_baseline: float | None = None,
        con: sqlite3.Connection | None = None,
    ) -> int:
        own = con is None
        con = con or self.connect()
        try:
            now = time.time()
            cur = con.execute(
                "INSERT INTO wb_runs (name, kind, created, updated, status, config, seed, human_baseline) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                (name, kind, now, now, json.dumps(_jsonable(config)), seed, human_baseline),
            )
            assert cur.lastrowid is not None  # set by the INSERT
            return int(cur.lastrowid)
        finally:
            if own:
                con.close()

    def save(
        self,
        name: str,
        config: dict,
        steps,
        losses,
        lrs,
        epochs: list[dict],
        *,
        status: str,
        message: str = "",
        kind: str = "train",
        seed: int | None = None,
    ) -> int:
        """Write a finished run in one transaction (a trial trained elsewhere); returns its id.

        ``epochs`` holds one dict per epoch with "epoch", "step" and the metrics.
        """
        with self._session() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                run_id = self.create(name, config, kind=kind, seed=seed, con=con)
                con.executemany(
                    "INSERT INTO wb_steps VALUES (?, ?, ?, ?)",
                    [(run_id, int(s), float(loss), float(r)) for s, loss, r in zip(steps, losses, lrs)],
                )
                con.executemany(
                    "INSERT INTO wb_epochs VALUES (?, ?, ?, ?)",
                    [
                        (
                            run_id,
                            int(e["epoch"]),
                            int(e["step"]),
                            json.dumps(_jsonable({k: v for k, v in e.items() if k not in ("epoch", "step")})),
                        )
                        for e in epochs
                    ],
                )
                final = {
                    k: v for k, v in (epochs[-1].items() if epochs else []) if k not in ("epoch", "step")
                }
                con.execute(
                    "UPDATE wb_runs SET status = ?, message = ?, final = ? WHERE id = ?",
                    (status, message, json.dumps(_jsonable(final)), run_id),
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run_id

    def delete(self, run_id: int) -> None:
        with self._session() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM wb_steps WHERE run_id = ?", (run_id,))
            con.execute("DELETE FROM wb_epochs WHERE run_id = ?", (run_id,))
            n = con.execute("DELETE FROM wb_runs WHERE id = ?", (run_id,)).rowcount
            con.execute("COMMIT")
        if n == 0:
            raise KeyError(f"RunStore: no run with id {run_id} in {self.path}.")

    def recorder(
        self,
        name: str,
        config: dict,
        *,
        seed: int | None = None,
        human_baseline: float | None = None,
        flush_every_s: float = 1.0,
    ) -> RunRecorder:
        """A training callback that writes this run as it trains."""
        return RunRecorder(
            self, name, config, seed=seed, human_baseline=human_baseline, flush_every_s=flush_every_s
        )

    # -- reading ---------------------------------------------------------------------------------------
    def list(self):
        """All runs, newest first, as a pandas DataFrame (one row per run; config and final metrics
        flattened)."""
        import pandas as pd

        with self._session() as con:
            rows = con.execute(
                "SELECT id, name, kind, created, updated, status, message, config, seed, human_baseline, "
                "final FROM wb_runs ORDER BY id DESC"
            ).fetchall()
        records = []
        for r in rows:
            rec = {
                "id": r[0],
                "name": r[1],
                "kind": r[2],
                "created": pd.to_datetime(r[3], unit="s"),
                "status": r[5],
                "seed": r[8],
                "human_baseline": r[9],
                "message": r[6],
            }
            rec.update({f"final_{k}": v for k, v in json.loads(r[10]).items()})
            cfg = json.loads(r[7])
            rec.update(
                {
                    k: cfg[k]
                    for k in ("lr", "optimizer", "init", "model", "width", "depth", "subset")
                    if k in cfg
                }
            )
            records.append(rec)
        return pd.DataFrame(records)

    def load(self, run_id: int) -> StoredRun:
        """One run with its curves."""
        with self._session() as con:
            r = con.execute(
                "SELECT id, name, kind, created, updated, status, message, config, seed, human_baseline, "
                "final FROM wb_runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if r is None:
                raise KeyError(f"RunStore: no run with id {run_id} in {self.path}.")
            steps = con.execute(
                "SELECT step, loss, lr FROM wb_steps WHERE run_id = ? ORDER BY step", (run_id,)
            ).fetchall()
            epochs = con.execute(
                "SELECT epoch, step, metrics FROM wb_epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        history = History()
        if steps:
            s, loss, lr = zip(*steps)
            history.append_steps(list(s), list(loss), list(lr))
        for epoch, step, metrics in epochs:
            history.append_epoch(
                epoch, step, {k: (float("nan") if v is None else v) for k, v in json.loads(metrics).items()}
            )
        history.set_status(
            r[5] if r[5] in ("running", "finished", "stopped", "diverged", "failed") else "finished", r[6]
        )
        return StoredRun(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], r[9], json.loads(r[10]), history
        )


class RunRecorder(Callback):
    """Writes a run to a ``RunStore`` while it trains: batched, from the training thread's own connection."""

    def __init__(
        self,
        store: RunStore,
        name: str,
        config: dict,
        *,
        seed: int | None = None,
        human_baseline: float | None = None,
        flush_every_s: float = 1.0,
    ) -> None:
        self.store, self.name, self.config = store, name, config
        self.seed, self.human_baseline, self.flush_every_s = seed, human_baseline, flush_every_s
        self.run_id: int | None = None
        self._con: sqlite3.Connection | None = None
        self._written_steps = 0
        self._written_epochs = 0
        self._last = 0.0
        self._lock = threading.Lock()
        self.final: dict = {}

    def on_fit_start(self, state: FitState) -> None:
        self._con = self.store.connect()
        self.run_id = self.store.create(
            self.name, self.config, seed=self.seed, human_baseline=self.human_baseline, con=self._con
        )
        self._last = time.monotonic()

    def on_step_end(self, state: FitState) -> None:
        if time.monotonic() - self._last >= self.flush_every_s:
            self.flush(state.history)

    def on_epoch_end(self, state: FitState) -> None:
        if time.monotonic() - self._last >= self.flush_every_s:
            self.flush(state.history)

    def on_fit_end(self, state: FitState) -> None:
        snap = state.history.snapshot()
        self.final = {k: float(v[-1]) for k, v in snap.metrics.items() if len(v)}
        self.final["steps"] = int(snap.step[-1]) if len(snap.step) else 0
        self.flush(state.history, status=snap.status, message=snap.message)
        if self._con is not None:
            self._con.close()
            self._con = None

    def flush(self, history: History, status: str | None = None, message: str | None = None) -> None:
        """Write what is new since the last flush, in one transaction."""
        if self._con is None or self.run_id is None:
            return
        with self._lock:
            snap = history.snapshot()
            steps = [
                (self.run_id, int(s), float(loss), float(r))
                for s, loss, r in zip(
                    snap.step[self._written_steps :],
                    snap.loss[self._written_steps :],
                    snap.lr[self._written_steps :],
                )
            ]
            epochs = [
                (
                    self.run_id,
                    int(e),
                    int(st),
                    json.dumps(_jsonable({k: float(v[i]) for k, v in snap.metrics.items()})),
                )
                for i, (e, st) in enumerate(zip(snap.epoch, snap.epoch_step))
                if i >= self._written_epochs
            ]
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT OR REPLACE INTO wb_steps VALUES (?, ?, ?, ?)", steps)
                con.executemany("INSERT OR REPLACE INTO wb_epochs VALUES (?, ?, ?, ?)", epochs)
                if status is not None:
                    con.execute(
                        "UPDATE wb_runs SET updated = ?, status = ?, message = ?, final = ? WHERE id = ?",
                        (time.time(), status, message or "", json.dumps(_jsonable(self.final)), self.run_id),
                    )
                else:
                    con.execute("UPDATE wb_runs SET updated = ? WHERE id = ?", (time.time(), self.run_id))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._written_steps += len(steps)
            self._written_epochs += len(epochs)
            self._last = time.monotonic()
