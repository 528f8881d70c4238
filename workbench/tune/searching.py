"""Coarse-to-fine hyperparameter search: random (or grid) over LR x weight decay, then refine the best.

Optuna is the engine and its study lives in the run store's SQLite file (RDB storage), so a search
survives a kernel restart, can be resumed, and opens in optuna-dashboard. The parent process asks
Optuna for parameters and tells it the results; the trials themselves train in worker processes (a
local pool by default) or on a Dask distributed cluster, through the one training loop. Every trial's
curves go to the run store. A trial that fails (a diverging LR, an error) is recorded as failed with
its reason and the search goes on.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .._platform import relax_malloc_trim
from .._validation import check_choice, check_int
from ..data.dataset import DataSplits, ImageDataset
from ..train.runs import DEFAULT_STORE, RunStore

__all__ = ["ModelSpec", "SearchResult", "SearchSpace", "TrialOutcome", "TrialTask", "ranked", "refine", "run_trial", "search"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Which baseline each trial builds (picklable, so it can travel to worker processes)."""

    kind: str = "mlp"
    width: int = 64
    depth: int = 2
    seed: int = 0

    def build(self, data: ImageDataset):
        from ..models import build_model

        knobs = {} if self.kind == "linear" else ({"width": self.width, "depth": self.depth} if self.kind == "mlp"
                                                    else {"channels": self.width, "depth": self.depth})
        return build_model(self.kind, data, seed=self.seed, **knobs)


@dataclass(frozen=True)
class SearchSpace:
    """LR log-uniform in ``lr``; weight decay from ``weight_decay`` choices, or log-uniform in ``weight_decay_range``."""

    lr: tuple[float, float] = (1e-4, 1e-1)
    weight_decay: tuple[float, ...] = (1e-4, 1e-5, 0.0)
    weight_decay_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        lo, hi = self.lr
        if not 0 < lo < hi <= 10:
            raise ValueError(f"SearchSpace: lr must be (low, high) with 0 < low < high <= 10. Got {self.lr} instead.")
        if self.weight_decay_range is not None and not 0 < self.weight_decay_range[0] < self.weight_decay_range[1]:
            raise ValueError(f"SearchSpace: weight_decay_range must be (low, high) with 0 < low < high. Got {self.weight_decay_range}.")
        if self.weight_decay_range is None and (not self.weight_decay or min(self.weight_decay) < 0):
            raise ValueError(f"SearchSpace: weight_decay needs non-negative choices. Got {self.weight_decay}.")

    def distributions(self) -> dict:
        import optuna

        wd = (optuna.distributions.FloatDistribution(*self.weight_decay_range, log=True) if self.weight_decay_range
              else optuna.distributions.CategoricalDistribution(list(self.weight_decay)))
        return {"lr": optuna.distributions.FloatDistribution(*self.lr, log=True), "weight_decay": wd}

    def grid(self, n_trials: int) -> dict[str, list[float]]:
        wds = list(self.weight_decay) if self.weight_decay_range is None else \
            list(np.geomspace(*self.weight_decay_range, 3))
        k = max(2, math.ceil(n_trials / len(wds)))
        return {"lr": [float(v) for v in np.geomspace(*self.lr, k)], "weight_decay": [float(w) for w in wds]}


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs to train one trial (picklable)."""

    number: int
    trial_id: int
    params: dict
    epochs: int
    batch_size: int
    seed: int
    model: ModelSpec
    optimizer: str = "adam"
    storage_url: str | None = None
    study_name: str | None = None
    pruning: bool = False
    threads: int = 1


@dataclass
class TrialOutcome:
    number: int
    params: dict
    status: str  # "complete" | "fail" | "pruned"
    value: float | None  # final validation accuracy
    val_loss: float | None
    reason: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)  # per epoch: {"epoch", "step", metric...}
    seconds: float = 0.0
    run_id: int | None = None
    worker: str = ""


def run_trial(task: TrialTask, train: ImageDataset, val: ImageDataset) -> TrialOutcome:
    """Train one trial through the one loop (runs in a worker process, a Dask worker or in-process)."""
    from ..train.callbacks import Callback, FitState, StopTraining
    from ..train.config import TrainConfig
    from ..train.loop import fit

    t0 = time.perf_counter()
    callbacks = []
    if task.pruning and task.storage_url:
        import optuna

        study = optuna.load_study(study_name=task.study_name, storage=task.storage_url, pruner=_pruner(True))
        trial = optuna.trial.Trial(study, task.trial_id)

        class _Prune(Callback):
            def on_epoch_end(self, state: FitState) -> None:
                acc = state.history.last("val_acc")
                if math.isfinite(acc):
                    trial.report(acc, state.epoch)
                    if trial.should_prune():
                        raise StopTraining(f"pruned after epoch {state.epoch} (val acc {acc:.1%})")

        callbacks.append(_Prune())
    outcome = TrialOutcome(task.number, dict(task.params), "fail", None, None, "", worker=f"pid {os.getpid()}")
    try:
        model = task.model.build(train)
        config = TrainConfig(epochs=task.epochs, batch_size=task.batch_size, lr=task.params["lr"],
                             weight_decay=task.params["weight_decay"], seed=task.seed, optimizer=task.optimizer)
        history = fit(model, train, val, config=config, callbacks=callbacks)
        snap = history.snapshot()
        outcome.steps, outcome.losses, outcome.lrs = snap.step.tolist(), snap.loss.tolist(), snap.lr.tolist()
        outcome.epochs = [{"epoch": int(e), "step": int(s), **{k: float(v[i]) for k, v in snap.metrics.items()}}
                          for i, (e, s) in enumerate(zip(snap.epoch, snap.epoch_step))]
        acc, vloss = history.last("val_acc"), history.last("val_loss")
        if history.status == "finished" and math.isfinite(acc):
            outcome.status, outcome.value, outcome.val_loss = "complete", float(acc), float(vloss)
            outcome.reason = history.message
        elif history.status == "stopped" and "pruned" in history.message:
            outcome.status, outcome.reason = "pruned", history.message
            outcome.value = float(acc) if math.isfinite(acc) else None
        else:
            outcome.reason = history.message or history.status
    except Exception as err:  # recorded as a failed trial; the search goes on
        outcome.reason = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _pruner(on: bool):
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1) if on else optuna.pruners.NopPruner()


# -- where trials run ------------------------------------------------------------------------------------
_WORKER_DATA: dict = {}


def _init_worker(barrier, environ: dict[str, str]) -> None:
    # a process that only trains: keep freed activations instead of faulting them in again every step (and
    # undo the setting a Dask cluster started earlier in the parent leaves, which slowed training 3x)
    relax_malloc_trim(always=True)
    # a fork server's children inherit the server's environment, from when it started: use the parent's now
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    _WORKER_DATA["barrier"] = barrier


def _warm_up(train, val, threads: int, model: ModelSpec, batch_size: int) -> int:
    """Receive the data, then pay torch's first-call costs (thread pools, the model's kernels) before the first trial.

    Every worker takes exactly one of these tasks: each waits at a barrier for the others, so none can
    take a second one. Runs a few steps of the search's model on the worker's real data, in every
    worker at once.
    """
    import threading

    import torch

    from ..train.config import TrainConfig
    from ..train.loop import fit
    from ..train.state import preserved

    _WORKER_DATA["train"], _WORKER_DATA["val"] = train, val
    try:
        _WORKER_DATA["barrier"].wait(timeout=300)
    except threading.BrokenBarrierError:  # another worker died starting; the pool reports that
        pass
    torch.set_num_threads(max(1, threads))
    net = model.build(train)
    with preserved(net):
        fit(net, train, config=TrainConfig(epochs=1, max_steps=3, batch_size=batch_size))
    return os.getpid()


def _run_in_worker(task: TrialTask) -> TrialOutcome:
    import torch

    torch.set_num_threads(max(1, task.threads))  # a worker's own process: share the cores between workers
    if "train" not in _WORKER_DATA:
        raise RuntimeError("this search worker never received the data (another worker failed to start)")
    return run_trial(task, _WORKER_DATA["train"], _WORKER_DATA["val"])


class _Shipment:
    """The (train, val) pair as it travels to Dask workers, in one piece.

    Dask pickles what it scatters, and a torch tensor pickles through ``torch.save`` into in-band bytes
    (copied on each side; measured 0.65-1.0 s for MNIST's 31 MB to two workers), with train and val each
    carrying the images they share. Here in-memory images travel once, as NumPy arrays, which Dask sends
    as zero-copy frames (0.05-0.1 s). The local pool does not need this: it passes tensors through shared memory.
    """

    def __init__(self, train, val) -> None:
        self.train, self.val = train, val

    def __reduce__(self):
        import torch

        from ..data.dataset import TensorImageDataset

        arrays: dict[int, np.ndarray] = {}
        parts = []
        for ds in (self.train, self.val):
            images = getattr(ds, "_images", None)
            if isinstance(ds, TensorImageDataset) and isinstance(images, torch.Tensor) and images.device.type == "cpu" \
                    and not images.requires_grad:
                shell = copy.copy(ds)
                shell._images = None
                if id(images) not in arrays:
                    arrays[id(images)] = images.numpy()
                parts.append((shell, arrays[id(images)]))
            else:
                parts.append((ds, None))
        return _unship, (parts,)


def _unship(parts) -> _Shipment:
    import torch

    tensors: dict[int, torch.Tensor] = {}
    datasets = []
    for ds, array in parts:
        if array is not None:
            if id(array) not in tensors:  # train and val share their images
                tensors[id(array)] = torch.from_numpy(array if array.flags.writeable else array.copy())
            ds._images = tensors[id(array)]
        datasets.append(ds)
    return _Shipment(*datasets)


def _run_on_dask(task: TrialTask, data: _Shipment) -> TrialOutcome:
    import torch

    relax_malloc_trim()
    torch.set_num_threads(max(1, task.threads))
    return run_trial(task, data.train, data.val)


class _InProcess:
    slots = 1

    def __init__(self, train, val) -> None:
        self.train, self.val = train, val

    def submit(self, task):
        from concurrent.futures import Future

        f: Future = Future()
        f.set_result(run_trial(task, self.train, self.val))
        return f

    def close(self) -> None:
        pass


# imported once by the fork server, so that workers start with them loaded (torch._dynamo: the first
# optimizer imports it, 1.1 s). None of them touches CUDA, so the workers can still use it.
_PRELOAD = ("torch", "torch._dynamo", __name__, "workbench.train.loop")


def _worker_context():
    """Where worker processes come from: a fork server with torch loaded (POSIX), else spawn.

    Never a plain fork of this process: forking a process that has started torch's thread pools (or a
    Jupyter kernel's threads) can deadlock. The fork server is a separate, single-threaded process that
    only imported ``_PRELOAD``; it starts with the first search (~2 s) and stays up for later ones, whose
    workers then start in ~0.1 s instead of ~2 s each. Python keeps one fork server per process.
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    preload = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    ctx.set_forkserver_preload(preload + [m for m in _PRELOAD if m not in preload])  # takes effect if not yet running
    return ctx


class _LocalProcesses:
    """A pool of worker processes that receive the data once, at start."""

    def __init__(self, workers: int, train, val, threads: int = 1, model: ModelSpec = ModelSpec(), batch_size: int = 64) -> None:
        from concurrent.futures import ProcessPoolExecutor

        # The data travels with the warm-up task, not as initargs: a spawned process reads its start-up
        # arguments while importing torch, and the parent waits for that before starting the next one
        # (measured: two workers started one after the other, 3.2 s instead of 2.0 s).
        ctx = _worker_context()
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                        initargs=(ctx.Barrier(workers), dict(os.environ)))
        self.slots = workers
        # start every worker now, side by side, and warm it up (else they start one by one, lazily)
        for f in [self.pool.submit(_warm_up, train, val, threads, model, batch_size) for _ in range(workers)]:
            f.result()

    def submit(self, task):
        return self.pool.submit(_run_in_worker, task)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)  # idle workers exit on their own


class _Dask:
    """Trials as tasks on a Dask distributed cluster; the data is scattered to every worker once."""

    def __init__(self, client, train, val) -> None:
        from distributed import Client

        self.own = not isinstance(client, Client)
        self.client = Client(client) if self.own else client
        self.slots = max(1, sum(self.client.nthreads().values()))  # one trial per worker thread
        [self.data] = self.client.scatter([_Shipment(train, val)], broadcast=True)

    def submit(self, task):
        return self.client.submit(_run_on_dask, task, self.data, pure=False)

    def close(self) -> None:
        if self.own:
            self.client.close()


@contextmanager
def _quiet_optuna():
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


# -- results -------------------------------------------------------------------------------------------------
@dataclass
class SearchResult:
    study_name: str
    storage_url: str
    outcomes: list[TrialOutcome]
    mode: str
    seconds: float = 0.0

    def to_frame(self):
        """One row per trial of the study (this call's and earlier ones), best first."""
        import pandas as pd

        rows = [{"trial": o.number, "lr": o.params.get("lr"), "weight_decay": o.params.get("weight_decay"),
                 "val_acc": o.value, "val_loss": o.val_loss, "status": o.status, "seconds": round(o.seconds, 2),
                 "run_id": o.run_id, "reason": o.reason.splitlines()[0] if o.reason else ""} for o in self.outcomes]
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
    return sorted((o for o in outcomes if o.status == "complete" and o.value is not None), key=lambda o: -o.value)


def _splits(data) -> tuple[ImageDataset, ImageDataset]:
    if isinstance(data, DataSplits):
        return data.train, data.val
    if isinstance(data, tuple) and len(data) == 2:
        return data
    raise TypeError(f"The 'data' parameter of search must be DataSplits or a (train, val) pair. Got {type(data).__name__} instead.")


def _outcome_from_trial(t) -> TrialOutcome:
    import optuna

    state = {optuna.trial.TrialState.COMPLETE: "complete", optuna.trial.TrialState.PRUNED: "pruned"}.get(t.state, "fail")
    return TrialOutcome(t.number, dict(t.params), state, t.value if state == "complete" else None,
                        t.user_attrs.get("val_loss"), t.user_attrs.get("reason", ""), seconds=t.user_attrs.get("seconds", 0.0),
                        run_id=t.user_attrs.get("run_id"))


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
    with _quiet_optuna():
        study = optuna.create_study(study_name=study_name, storage=url, sampler=sampler, direction="maximize",
                                    pruner=_pruner(pruning), load_if_exists=True)
        if grid is not None:
            for lr in grid["lr"]:
                for wd in grid["weight_decay"]:
                    study.enqueue_trial({"lr": lr, "weight_decay": wd}, skip_if_exists=True)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            # left RUNNING by a process that stopped: record why, then mark it failed (finished trials are read-only)
            study._storage.set_trial_user_attr(t._trial_id, "reason", "interrupted: the process running it stopped")
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        finished = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                               optuna.trial.TrialState.PRUNED,
                                                               optuna.trial.TrialState.FAIL)))
        todo = max(0, n_trials - finished)
        local_threads = threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, workers))
        runner = (_Dask(client, train, val) if client is not None else
                  _LocalProcesses(workers, train, val, local_threads, model, batch_size) if workers > 0
                  else _InProcess(train, val))
        slots = runner.slots
        threads = local_threads if client is None else (threads_per_worker or 1)
        running: dict = {}
        try:
            while todo or running:
                while todo and len(running) < slots and not (stop_event and stop_event.is_set()):
                    trial = study.ask(space.distributions())
                    task = TrialTask(trial.number, trial._trial_id, dict(trial.params), epochs, batch_size, seed, model,
                                     optimizer, url, study_name, pruning, threads)
                    running[runner.submit(task)] = trial
                    todo -= 1
                if stop_event and stop_event.is_set():
                    todo = 0
                done = [f for f in running if f.done()]
                if not done:
                    time.sleep(0.05)
                    continue
                for f in done:
                    trial = running.pop(f)
                    try:
                        outcome = f.result()
                    except Exception as err:  # the worker itself died
                        outcome = TrialOutcome(trial.number, dict(trial.params), "fail", None, None,
                                               f"worker failed: {type(err).__name__}: {err}")
                    _record(study, trial, outcome, store, study_name)
                    if on_trial is not None:
                        on_trial(outcome)
        finally:
            runner.close()
        outcomes = [_outcome_from_trial(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(study_name, url or "", outcomes, mode, time.perf_counter() - t_start)


def _record(study, trial, outcome: TrialOutcome, store: RunStore | None, study_name: str) -> None:
    import optuna

    if store is not None and outcome.steps:
        outcome.run_id = store.save(
            f"{study_name} #{outcome.number}", {**outcome.params, "study": study_name, "trial": outcome.number},
            outcome.steps, outcome.losses, outcome.lrs, outcome.epochs,
            status={"complete": "finished", "pruned": "stopped"}.get(outcome.status, "failed"),
            message=outcome.reason.splitlines()[0] if outcome.reason else "", kind="trial")
    trial.set_user_attr("reason", outcome.reason.splitlines()[0] if outcome.reason else "")
    trial.set_user_attr("seconds", outcome.seconds)
    if outcome.val_loss is not None:
        trial.set_user_attr("val_loss", outcome.val_loss)
    if outcome.run_id is not None:
        trial.set_user_attr("run_id", outcome.run_id)
    state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}.get(
        outcome.status, optuna.trial.TrialState.FAIL)
    study.tell(trial, outcome.value if state == optuna.trial.TrialState.COMPLETE else None, state=state)


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
        raise ValueError(f"refine: the coarse study {coarse.study_name!r} has no completed trial to refine around.")
    lrs = [o.params["lr"] for o in top]
    space = SearchSpace(lr=(min(lrs) / factor, min(10.0, max(lrs) * factor)),
                        weight_decay=tuple(sorted({float(o.params["weight_decay"]) for o in top})))
    return search(data, space=space, n_trials=n_trials, epochs=epochs, study_name=study_name or f"{coarse.study_name}-refine",
                  **kwargs)
