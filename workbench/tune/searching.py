"""Coarse-to-fine hyperparameter search: random (or grid) over LR x weight decay, then refine the best.

Optuna is the engine and its study lives in the run store's SQLite file (RDB storage), so a search
survives a kernel restart, can be resumed, and opens in optuna-dashboard. The parent process asks
Optuna for parameters and tells it the results; the trials themselves train in worker processes (a
local pool by default) or on a Dask distributed cluster, through the one training loop. Every trial's
curves go to the run store. A trial that fails (a diverging LR, an error) is recorded as failed with
its reason and the search goes on. Only Optuna's public API is used (``ask`` / ``tell``, trial attributes).

Here: the search (the loop of ask / run / tell) and its result. A trial: ``trial``. Where trials run:
``executors``.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .._validation import check_choice, check_int
from ..data.dataset import DataSplits, ImageDataset
from ..train.runs import DEFAULT_STORE, RunStore
from .executors import _Dask, _InProcess, _LocalProcesses
from .pruning import _pruner, _quiet_optuna
from .trial import (
    _INTERRUPTED,
    ModelSpec,
    TrialOutcome,
    TrialTask,
    _fail_interrupted,
    _outcome_from_trial,
    _record,
    _weights_dir,
    run_trial,
)

__all__ = [
    "ModelSpec", "SearchResult", "SearchSpace", "TrialOutcome", "TrialTask",
    "ranked", "refine", "run_trial", "search",
]


@dataclass(frozen=True)
class SearchSpace:
    """LR log-uniform in ``lr``; weight decay from ``weight_decay`` choices, or log-uniform in
    ``weight_decay_range``."""

    lr: tuple[float, float] = (1e-4, 1e-1)
    weight_decay: tuple[float, ...] = (1e-4, 1e-5, 0.0)
    weight_decay_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        lo, hi = self.lr
        if not 0 < lo < hi <= 10:
            raise ValueError(
                f"SearchSpace: lr must be (low, high) with 0 < low < high <= 10. Got {self.lr} instead."
            )
        wdr = self.weight_decay_range
        if wdr is not None and not 0 < wdr[0] < wdr[1]:
            raise ValueError(
                f"SearchSpace: weight_decay_range must be (low, high) with 0 < low < high. Got {wdr}."
            )
        if self.weight_decay_range is None and (not self.weight_decay or min(self.weight_decay) < 0):
            raise ValueError(
                f"SearchSpace: weight_decay needs non-negative choices. Got {self.weight_decay}."
            )

    def distributions(self) -> dict:
        import optuna

        dist = optuna.distributions
        wd = (dist.FloatDistribution(*self.weight_decay_range, log=True) if self.weight_decay_range
              else dist.CategoricalDistribution(list(self.weight_decay)))
        return {"lr": optuna.distributions.FloatDistribution(*self.lr, log=True), "weight_decay": wd}

    def grid(self, n_trials: int) -> dict[str, list[float]]:
        wds = list(self.weight_decay) if self.weight_decay_range is None else \
            list(np.geomspace(*self.weight_decay_range, 3))
        k = max(2, math.ceil(n_trials / len(wds)))
        return {"lr": [float(v) for v in np.geomspace(*self.lr, k)], "weight_decay": [float(w) for w in wds]}


# -- results -------------------------------------------------------------------------------------------------
@dataclass
class SearchResult:
    """Every trial of a study (this call's and earlier ones) as ``TrialOutcome`` objects, and where it is
    stored."""

    study_name: str
    storage_url: str
    outcomes: list[TrialOutcome]
    mode: str
    seconds: float = 0.0

    def to_frame(self):
        """One row per trial of the study (this call's and earlier ones), best first."""
        import pandas as pd

        rows = [{"trial": o.number, "lr": o.params.get("lr"), "weight_decay": o.params.get("weight_decay"),
                 "val_acc": o.value, "val_loss": o.val_loss, "status": o.status,
                 "seconds": round(o.seconds, 2), "run_id": o.run_id,
                 "reason": o.reason.splitlines()[0] if o.reason else ""} for o in self.outcomes]
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame = frame.sort_values("val_acc", ascending=False, na_position="last").reset_index(drop=True)
        return frame

    def top(self, k: int = 3) -> list[TrialOutcome]:
        return ranked(self.outcomes)[:k]

    @property
    def best(self) -> TrialOutcome | None:
        top = self.top(1)
        return top[0] if top else None


def ranked(outcomes: list[TrialOutcome]) -> list[TrialOutcome]:
    """The completed trials, best validation accuracy first."""
    done = [(o.value, o) for o in outcomes if o.status == "complete" and o.value is not None]
    return [o for _, o in sorted(done, key=lambda p: -p[0])]


def _splits(data) -> tuple[ImageDataset, ImageDataset]:
    if isinstance(data, DataSplits):
        return data.train, data.val
    if isinstance(data, tuple) and len(data) == 2:
        return data
    raise TypeError(
        "The 'data' parameter of search must be DataSplits or a (train, val) pair. Got "
        f"{type(data).__name__} instead."
    )


def search(
    data,
    *,
    model: ModelSpec = ModelSpec(),
    space: SearchSpace = SearchSpace(),
    n_trials: int = 8,
    mode: str = "random",
    epochs: int = 2,
    batch_size: int = 64,
    optimizer: str = "adam",
    seed: int = 0,
    store: RunStore | str | None = DEFAULT_STORE,
    study_name: str = "coarse",
    workers: int = 2,
    threads_per_worker: int | None = None,
    client=None,
    pruning: bool = False,
    on_trial: Callable[[TrialOutcome], None] | None = None,
    stop_event: threading.Event | None = None,
    keep_weights: bool = True,
) -> SearchResult:
    """Run (or resume) a search until the study holds ``n_trials`` finished trials.

    Parameters
    ----------
    data : DataSplits or (train, val)
    model : ModelSpec
        The baseline every trial trains.
    space : SearchSpace
        LR log-uniform; weight decay from choices ({1e-4, 1e-5, 0} by default) or a log range.
    mode : {"random", "grid"}
        Random search (the recipe's choice) or a grid over the same ranges, for comparison (every grid
        point runs: log-spaced LRs times the weight decay choices, at least ``n_trials`` of them).
    epochs : int
        Per trial (1-5 for the coarse stage).
    store : RunStore, path or None
        The SQLite file for the Optuna study and the trials' curves (None: an in-memory study, no curves).
    study_name : str
        Reusing a name resumes that study: trials left running by a process that died are marked failed
        ("interrupted") and the search continues until ``n_trials`` have finished.
    workers : int
        Local worker processes (0: train in this process). Ignored when ``client`` is given. On Linux and
        macOS they fork from a helper process with torch loaded (Python's fork server), which the first
        search starts (~2 s) and later searches reuse (their workers start in ~0.1 s); it holds about
        0.5 GB while idle and exits with this process. Workers see this process's environment as it is
        when the search starts.
    threads_per_worker : int, optional
        torch threads in each worker process; default: the machine's cores shared between the workers.
    client : distributed.Client or scheduler address, optional
        Run trials on a Dask cluster instead. The store must be reachable from its workers when pruning.
    pruning : bool
        Median pruning on the validation accuracy after each epoch.
    on_trial : callable(TrialOutcome), optional
        Called in this process as each trial finishes (a view draws it).
    stop_event : threading.Event, optional
        Stop handing out new trials; the ones running finish.
    keep_weights : bool
        With a store: save each completed (or pruned) trial's weights to ``<store>-weights/<study_name>/
        trial-<n>.pt``, its path in the trial's stored config, so ``workbench.squeeze.load_member`` reloads
        it (a Dask cluster's workers must see that folder).
    """
    import optuna

    check_choice(mode, "mode", "search", ("random", "grid"))
    from ..train.optimizers import OPTIMIZERS

    check_choice(optimizer, "optimizer", "search", OPTIMIZERS)
    n_trials = check_int(n_trials, "n_trials", "search", low=1)
    workers = check_int(workers, "workers", "search", low=0, high=64)
    train, val = _splits(data)
    store = store if isinstance(store, RunStore) or store is None else RunStore(store)
    url = store.url if store is not None else None
    # Grid mode enqueues the grid points (Optuna's GridSampler stops the study from inside ask(), which
    # only works under study.optimize, not with ask/tell); every grid point is run, so n_trials rounds up.
    sampler = optuna.samplers.RandomSampler(seed=seed)
    grid = space.grid(n_trials) if mode == "grid" else None
    if grid is not None:
        n_trials = len(grid["lr"]) * len(grid["weight_decay"])
    t_start = time.perf_counter()
    local_threads = threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, workers))
    # workers start (and warm up) while this process opens the study
    runner = (_Dask(client, train, val) if client is not None
              else _LocalProcesses(workers, train, val, local_threads, model, batch_size, wait=False)
              if workers > 0 else _InProcess(train, val, run_trial))
    threads = local_threads if client is None else (threads_per_worker or 1)
    try:
        with _quiet_optuna():
            study = optuna.create_study(study_name=study_name, storage=url, sampler=sampler,
                                        direction="maximize", pruner=_pruner(pruning), load_if_exists=True)
            for lr, wd in itertools.product(grid["lr"], grid["weight_decay"]) if grid is not None else ():
                study.enqueue_trial({"lr": lr, "weight_decay": wd}, skip_if_exists=True)
            _fail_interrupted(study)
            # complete, pruned, failed
            finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
            runner.ready()
            template = TrialTask(-1, {}, epochs, batch_size, seed, model, optimizer, url, study_name, pruning,
                                 threads, _weights_dir(store, study_name) if keep_weights else None)
            todo = max(0, n_trials - finished)
            _run_trials(study, runner, todo, space, stop_event, on_trial, store, template)
            interrupted = set(study.user_attrs.get(_INTERRUPTED, ()))
            outcomes = [_outcome_from_trial(t, t.number in interrupted)
                        for t in study.get_trials(deepcopy=False)]
    finally:
        runner.close()
    return SearchResult(study_name, url or "", outcomes, mode, time.perf_counter() - t_start)


def _run_trials(study, runner, todo: int, space: SearchSpace, stop_event, on_trial, store,
                template: TrialTask) -> None:
    """Ask Optuna for ``todo`` trials, run them ``runner.slots`` at a time, record and tell each as it
    ends."""
    wake = threading.Event()  # set as any trial ends
    running: dict = {}

    def fill() -> int:
        asked = 0
        while asked < todo and len(running) < runner.slots and not (stop_event and stop_event.is_set()):
            trial = study.ask(space.distributions())
            future = runner.submit(replace(template, number=trial.number, params=dict(trial.params)))
            future.add_done_callback(lambda _: wake.set())
            running[future] = trial
            asked += 1
        return asked

    while todo or running:
        todo -= fill()
        if stop_event and stop_event.is_set():
            todo = 0
        wake.clear()
        done = [f for f in running if f.done()]
        if not done:
            wake.wait(0.5)  # (the timeout only re-checks stop_event)
            continue
        ended = [(running.pop(f), f) for f in done]
        if not runner.inline:  # hand the free workers their next trials before recording (SQLite writes)
            todo -= fill()
        for trial, f in ended:
            try:
                outcome = f.result()
            except Exception as err:  # noqa: BLE001 (the worker itself died: recorded, the search goes on)
                outcome = TrialOutcome(trial.number, dict(trial.params), "fail", None, None,
                                       f"worker failed: {type(err).__name__}: {err}")
            _record(study, trial, outcome, store, template.study_name, template.pruning)
            if on_trial is not None:
                on_trial(outcome)


def refine(
    coarse: SearchResult,
    data,
    *,
    top_k: int = 3,
    factor: float = 2.0,
    n_trials: int = 6,
    epochs: int = 15,
    study_name: str | None = None,
    **kwargs,
) -> SearchResult:
    """The fine stage: shrink the ranges around the ``top_k`` coarse trials and train longer, no LR decay.

    The LR range becomes [min / factor, max * factor] of the top trials' LRs; the weight decay choices
    become the top trials' values. Same store, a new study (``<coarse>-refine``).
    """
    top = coarse.top(top_k)
    if not top:
        raise ValueError(
            f"refine: the coarse study {coarse.study_name!r} has no completed trial to refine around."
        )
    lrs = [o.params["lr"] for o in top]
    space = SearchSpace(lr=(min(lrs) / factor, min(10.0, max(lrs) * factor)),
                        weight_decay=tuple(sorted({float(o.params["weight_decay"]) for o in top})))
    return search(data, space=space, n_trials=n_trials, epochs=epochs,
                  study_name=study_name or f"{coarse.study_name}-refine", **kwargs)
