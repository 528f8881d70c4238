"""``fit_ddp``: the one loop on several processes, with torch's ``DistributedDataParallel``.

Locally, ``fit_ddp`` starts ``world_size`` processes with ``torch.multiprocessing`` (spawn), each joins a
process group (gloo on CPU, NCCL when every rank has a GPU), wraps ``make_model()`` in DDP and runs
``fit``; rank 0 streams its history into the ``History`` you passed (live views draw it) and saves the
trained weights, which come back as ``result.model``. ``make_model``, the data and ``loss_fn`` travel to
the processes with cloudpickle, so functions defined in a notebook work.

Across machines, start the **same script** with torchrun; ``fit_ddp`` sees torchrun's environment, joins
its group (``env://``) and trains as that rank (``world_size`` is then torchrun's)::

    torchrun --nnodes=2 --nproc_per_node=2 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train.py

Per-group LRs and frozen layers (transfer learning) work the same: ``optimizer=lambda model:
transfer_optimizer(model, config, body_lr_factor=0.1)`` is called in every process on its own model,
before the DDP wrap, so frozen parameters stay out of the gradient all-reduce and do not move.

A rank that fails stops the others (torch's process context terminates them) and ``fit_ddp`` raises
``DistributedError`` with that rank's message; collectives time out after ``timeout_s``, so nothing hangs.
"""

from __future__ import annotations

import math
import os
import queue as queue_mod
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cloudpickle
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import Dataset

from .._validation import check_int, check_real
from ..train.config import TrainConfig
from ..train.history import History
from .rank import run_rank, spawned_rank

__all__ = ["DDPResult", "DistributedError", "fit_ddp", "linear_scaling"]


class DistributedError(RuntimeError):
    """A rank of a ``fit_ddp`` run failed; the message is that rank's error, ``details`` its traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass
class DDPResult:
    """``history`` (rank 0's, with the epoch metrics agreed by every rank) and ``model`` (the trained
    weights, on the CPU). ``lr`` and ``global_batch`` are what the run used; ``seconds`` is rank 0's
    training time (its ``fit``; not starting the processes, building the model or the DDP wrap).
    ``group_lrs``: the LR of each of rank 0's optimizer parameter groups at the start (with
    ``optimizer=``: head first for ``transfer_optimizer``; else the one LR)."""

    history: History
    model: nn.Module
    world_size: int
    backend: str
    lr: float
    global_batch: int
    seconds: float
    group_lrs: tuple[float, ...] = ()


def linear_scaling(config: TrainConfig, world_size: int, steps_per_epoch: int) -> TrainConfig:
    """The linear scaling rule for a ``world_size`` times larger batch (Goyal et al. 2017, "Accurate, Large
    Minibatch SGD"): the LR times ``world_size``, with a linear warmup of at least one epoch."""
    return config.replace(
        lr=min(config.lr * world_size, 10.0), warmup_steps=max(config.warmup_steps, steps_per_epoch)
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _under_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def _backend(backend: str | None, world_size: int, device: str) -> str:
    if backend is not None:
        if backend not in ("gloo", "nccl"):
            raise ValueError(
                f"The 'backend' parameter of fit_ddp must be 'gloo' or 'nccl'. Got {backend!r} instead."
            )
        if backend == "nccl" and not torch.cuda.is_available():
            raise ValueError("fit_ddp: backend 'nccl' needs CUDA GPUs and this machine has none; use 'gloo'.")
        return backend
    usable = device != "cpu" and torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    return "nccl" if usable else "gloo"


def fit_ddp(
    make_model: Callable[[], nn.Module],
    train: Dataset,
    val: Dataset | None = None,
    *,
    config: TrainConfig | None = None,
    world_size: int = 2,
    backend: str | None = None,
    loss_fn: Callable | None = None,
    optimizer: Callable[[nn.Module], torch.optim.Optimizer | list[dict]] | None = None,
    scale_lr: bool = False,
    history: History | None = None,
    stop_event: threading.Event | None = None,
    threads: int | None = None,
    timeout_s: float = 120.0,
) -> DDPResult:
    """Train ``make_model()`` data-parallel on ``world_size`` processes with the one loop.

    Parameters
    ----------
    make_model : callable
        Returns a fresh model (called in every process; DDP then copies rank 0's weights to all).
    train, val : Dataset
        Each rank trains on its ``DistributedSampler`` part of every epoch (seeded with
        ``config.seed``); ``val`` is evaluated once per epoch, every sample exactly once across ranks.
    config : TrainConfig
        ``batch_size`` is **per rank**: the global batch is ``world_size * batch_size``.
    world_size : int
        Processes to start (ignored under torchrun, which sets it).
    backend : {"gloo", "nccl"}, optional
        Default: NCCL when there is a GPU for every rank, else gloo.
    optimizer : callable, optional
        ``optimizer(model)`` returns the optimizer of a rank, over that rank's model (``lambda m:
        transfer_optimizer(m, config, body_lr_factor=0.1)``), or its parameter groups (``lambda m:
        param_groups(m, config.lr)``) for ``config.optimizer``. Called in every process before the DDP wrap:
        it may freeze layers too. Default: ``config.optimizer`` over every parameter.
    scale_lr : bool
        Apply the linear scaling rule (``linear_scaling``); the history's message says so. With
        ``optimizer``, every group's LR is multiplied by ``world_size`` (the ratios stay).
    history : History, optional
        Rank 0's steps and epochs arrive here while the run trains (give it to a live view).
    stop_event : threading.Event, optional
        Set it to stop every rank within a few steps (status "stopped").
    threads : int, optional
        torch threads per process (default: the cores divided among the processes).
    timeout_s : float
        How long a collective may wait for a rank before the run fails instead of hanging.
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"The 'config' parameter of fit_ddp must be a TrainConfig. Got {type(config).__name__} instead."
        )
    if not callable(make_model) or isinstance(make_model, nn.Module):
        raise TypeError(
            "The 'make_model' parameter of fit_ddp must be a function that returns a new model (every "
            f"process builds its own), e.g. lambda: build_model('cnn', train). "
            f"Got {type(make_model).__name__} "
            "instead."
        )
    if optimizer is not None and (not callable(optimizer) or isinstance(optimizer, torch.optim.Optimizer)):
        raise TypeError(
            "The 'optimizer' parameter of fit_ddp must be a function model -> optimizer (every process "
            "builds its own over its own model), e.g. lambda model: transfer_optimizer(model, config). Got "
            f"{type(optimizer).__name__} instead."
        )
    timeout_s = check_real(timeout_s, "timeout_s", "fit_ddp", low=1.0)
    torchrun = _under_torchrun()
    world_size = (
        int(os.environ["WORLD_SIZE"])
        if torchrun
        else check_int(world_size, "world_size", "fit_ddp", low=1, high=256)
    )
    n = len(train)  # type: ignore[arg-type]  # map-style datasets have __len__; the stub does not
    steps_per_epoch = math.ceil(math.ceil(n / world_size) / config.batch_size)
    note, lr_factor = "", 1.0
    if scale_lr:
        scaled = linear_scaling(config, world_size, steps_per_epoch)
        what = (
            f"lr {config.lr:.3g} x {world_size} ranks = {scaled.lr:.3g}"
            if optimizer is None
            else f"every parameter group's LR x {world_size} ranks"
        )
        note = (
            f"linear LR scaling: {what} for a global batch of {world_size * config.batch_size}, warmup "
            f"{scaled.warmup_steps} steps. "
        )
        config, lr_factor = scaled, float(world_size) if optimizer is not None else 1.0
    backend = _backend(backend, world_size, config.device)
    job = {
        "make_model": make_model,
        "train": train,
        "val": val,
        "config": config,
        "loss_fn": loss_fn,
        "optimizer": optimizer,
        "lr_factor": lr_factor,
    }
    history = history if history is not None else History()
    if torchrun:
        return _as_torchrun_rank(job, backend, timeout_s, history, note, world_size)
    try:
        spec = cloudpickle.dumps(job)
    except Exception as err:
        raise TypeError(
            f"fit_ddp could not send the model function, data or loss to the worker processes: {err}. Pass "
            "plain functions and datasets (no open files, locks or generators)."
        ) from err
    threads = threads or max(1, (os.cpu_count() or 1) // world_size)
    ctx = mp.get_context("spawn")
    events, stop = ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="wb-ddp-") as tmp:
        out_path = str(Path(tmp) / "rank0.pt")
        args = (
            spec,
            world_size,
            f"tcp://127.0.0.1:{_free_port()}",
            backend,
            timeout_s,
            threads,
            events,
            stop,
            out_path,
        )
        history.set_status("running", f"starting {world_size} processes ({backend})")
        procs = mp.start_processes(
            spawned_rank, args=args, nprocs=world_size, join=False, start_method="spawn"
        )
        end = _follow(procs, events, stop, stop_event, history)
        status, message, best, stopped, seconds, lrs = end
        history.best_epoch, history.stopped_epoch = best, stopped
        history.set_status(status, note + message)
        model = make_model()
        model.load_state_dict(torch.load(out_path, weights_only=True, map_location="cpu"))
    global_batch = world_size * config.batch_size
    return DDPResult(history, model, world_size, backend, config.lr, global_batch, seconds, lrs)


def _follow(procs, events, stop, stop_event, history: History) -> tuple:
    """Until every process has ended: apply rank 0's events to ``history``, pass on a stop request."""
    end = None

    def drain() -> None:
        nonlocal end
        while True:
            try:
                ev = events.get_nowait()
            except queue_mod.Empty:
                return
            if ev[0] == "start":
                history.steps_per_epoch = ev[1]
            elif ev[0] == "steps":
                history.append_steps(ev[1], ev[2], ev[3])
            elif ev[0] == "epoch":
                history.append_epoch(ev[1], ev[2], ev[3])
            elif ev[0] == "end":
                end = ev[1:]

    try:
        while True:
            drain()
            if stop_event is not None and stop_event.is_set():
                stop.set()
            try:
                if procs.join(timeout=0.1):
                    break
            except mp.ProcessRaisedException as err:
                drain()
                if end is not None:  # rank 0 had finished (e.g. diverged); the others lost their peer
                    break
                last = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
                message = f"rank {err.error_index} of the data-parallel run failed: {last}"
                history.set_status("failed", message)
                raise DistributedError(message, str(err)) from None
            except mp.ProcessExitedException as err:
                drain()
                if end is not None:
                    break
                message = f"rank {err.error_index} of the data-parallel run died (exit code {err.exit_code})"
                history.set_status("failed", message)
                raise DistributedError(message) from None
    finally:
        for p in procs.processes:  # never leave a rank behind (an interrupted notebook cell, an error)
            if p.is_alive():
                p.terminate()
                p.join(5)
            if p.is_alive():  # SIGTERM not handled in time (a rank busy in C++, a loaded machine)
                p.kill()
                p.join()
    drain()
    if end is None:
        raise DistributedError("the data-parallel run ended without a result from rank 0")
    return end


def _as_torchrun_rank(
    job: dict, backend: str, timeout_s: float, history: History, note: str, world: int
) -> DDPResult:
    """This process is one rank of a torchrun job: join its group and train as that rank.

    A group this call started is also ended here (after a barrier, so no rank tears its end down while
    another still talks to it): a process that exits with a live gloo group can abort in the group's
    destructor ("terminate called without an active exception"), which torchrun reports as a failed
    rank. A group the caller started is left to the caller."""
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend, init_method="env://", timeout=timedelta(seconds=timeout_s))
    local_rank = int(os.environ["LOCAL_RANK"])
    try:
        rank_history, model, lrs, seconds = run_rank(job, dist.get_rank(), local_rank, backend, None, None)
        if owns_group:
            dist.barrier()
    finally:
        if owns_group:
            dist.destroy_process_group()
    rank_history.set_status(rank_history.status, note + rank_history.message)
    config = job["config"]
    global_batch = world * config.batch_size
    return DDPResult(rank_history, model.cpu(), world, backend, config.lr, global_batch, seconds, lrs)
