"""What every rank of a ``fit_ddp`` run does: join the group, wrap the model, run ``fit``; rank 0 streams
its history to the notebook process and saves the trained weights.

Two callbacks keep the ranks in step. ``_Agree`` makes every rank decide together, every few steps, whether
to stop (a Stop click reaches only some ranks at a given step; a rank leaving alone would leave the
others waiting in their next all-reduce) and whether the loss went non-finite. ``_Stream`` sends rank 0's
new steps and epochs to the parent a few times a second, so live views there draw the run.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import cloudpickle
import torch
import torch.distributed as dist
from torch import nn

from ..train.callbacks import Callback, FitState, StopTraining
from ..train.loop import fit
from ..train.optimizers import make_optimizer
from ..train.sharding import unwrap
from ..train.steplog import Diverged

#: Ranks agree on stop / divergence every this many steps: one all-reduce of two numbers, next to DDP's
#: all-reduce of every gradient at every step.
AGREE_EVERY = 10
#: How often rank 0 sends its new steps to the notebook process (wall clock).
STREAM_HZ = 4.0


class _Agree(Callback):
    def __init__(self, stop_event: Any, every: int = AGREE_EVERY) -> None:
        self.stop_event, self.every = stop_event, every

    def on_step_end(self, state: FitState) -> None:
        if state.step % self.every:
            return
        stop = float(self.stop_event is not None and self.stop_event.is_set())
        bad = float(state.loss is not None and not bool(torch.isfinite(state.loss)))  # a sync every K steps
        flags = torch.tensor([stop, bad], device=state.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        if flags[1] > 0:
            raise Diverged(
                f"diverged: the loss became non-finite on a rank by step {state.step} (lr "
                f"{state.optimizer.param_groups[0]['lr']:.3g}). Lower the learning rate (try 3-10x lower), "
                "or clip gradients (grad_clip)."
            )
        if flags[0] > 0:
            raise StopTraining("by request")


class _Stream(Callback):
    """Rank 0: new steps / epochs / status to the parent through a queue."""

    def __init__(self, queue: Any) -> None:
        self.queue, self.sent_steps, self.sent_epochs, self.last = queue, 0, 0, 0.0

    def send(self, state: FitState) -> None:
        snap = state.history.snapshot()
        if len(snap.step) > self.sent_steps:
            s = slice(self.sent_steps, None)
            self.queue.put(("steps", snap.step[s].tolist(), snap.loss[s].tolist(), snap.lr[s].tolist()))
            self.sent_steps = len(snap.step)
        for i in range(self.sent_epochs, len(snap.epoch)):
            metrics = {k: float(v[i]) for k, v in snap.metrics.items() if not math.isnan(v[i])}
            self.queue.put(("epoch", int(snap.epoch[i]), int(snap.epoch_step[i]), metrics))
        self.sent_epochs = len(snap.epoch)
        self.last = time.monotonic()

    def on_fit_start(self, state: FitState) -> None:
        self.queue.put(("start", state.history.steps_per_epoch))

    def on_step_end(self, state: FitState) -> None:
        if time.monotonic() - self.last >= 1.0 / STREAM_HZ:
            self.send(state)

    def on_epoch_end(self, state: FitState) -> None:
        self.send(state)

    def on_fit_end(self, state: FitState) -> None:
        self.send(state)


def rank_device(backend: str, local_rank: int, config_device: str) -> torch.device:
    if backend == "nccl":
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu") if config_device == "auto" else torch.device(config_device)


def rank_optimizer(job: dict, model: nn.Module, config: Any) -> torch.optim.Optimizer | None:
    """This rank's optimizer from ``fit_ddp(..., optimizer=make)``: ``make(model)`` returns an optimizer over
    ``model``'s parameters, or parameter groups (dicts) for ``config.optimizer``. Called before the DDP
    wrap, so parameters it freezes are left out of DDP's gradient all-reduce. With ``scale_lr`` every
    group's LR is multiplied by the world size (the ratios stay)."""
    make = job.get("optimizer")
    if make is None:
        return None
    made = make(model)
    if isinstance(made, (list, tuple)) and made and all(isinstance(g, dict) for g in made):
        made = make_optimizer(config.optimizer, made, config.lr, config.weight_decay, config.momentum)
    if not isinstance(made, torch.optim.Optimizer):
        raise TypeError(
            "The 'optimizer' function of fit_ddp must return a torch.optim.Optimizer over the model it is "
            f"given, or a list of parameter-group dicts (param_groups(model, lr)). Got {type(made).__name__} "
            "instead."
        )
    own = {id(p) for p in model.parameters()}
    if not all(id(p) in own for g in made.param_groups for p in g["params"]):
        raise ValueError(
            "The optimizer returned by fit_ddp's 'optimizer' function holds parameters of another model: "
            "build it over the model it receives (lambda model: transfer_optimizer(model, config)), not a "
            "model of the notebook process."
        )
    for g in made.param_groups:
        g["lr"] *= job.get("lr_factor", 1.0)
    return made


def run_rank(job: dict, rank: int, local_rank: int, backend: str, queue: Any, stop_event: Any) -> tuple:
    """Train this rank's part; returns (history, the unwrapped model, the optimizer's group LRs at the
    start, the seconds ``fit`` took). The process group is up.

    The seconds are ``fit``'s alone: building the model and the DDP wrap are part of starting a rank (the
    wrap's first use imports ``torch._dynamo``, about 1.8 s of one CPU here, once per process)."""
    device = rank_device(backend, local_rank, job["config"].device)
    config = job["config"].replace(device=str(device))
    model: nn.Module = job["make_model"]().to(device)
    optimizer = rank_optimizer(job, model, config)
    lrs = tuple(float(g["lr"]) for g in optimizer.param_groups) if optimizer is not None else (config.lr,)
    ddp = nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )
    callbacks: list[Callback] = [_Agree(stop_event)]
    if rank == 0 and queue is not None:
        callbacks.append(_Stream(queue))
    started = time.perf_counter()
    history = fit(
        ddp,
        job["train"],
        job["val"],
        config=config,
        optimizer=optimizer,
        loss_fn=job["loss_fn"],
        callbacks=callbacks,
    )
    return history, unwrap(ddp), lrs, time.perf_counter() - started


def spawned_rank(
    rank: int,
    spec: bytes,
    world_size: int,
    init_method: str,
    backend: str,
    timeout_s: float,
    threads: int,
    queue: Any,
    stop_event: Any,
    out_path: str,
) -> None:
    """Entry point of a process started by ``fit_ddp`` (``torch.multiprocessing.start_processes``)."""
    torch.set_num_threads(threads)
    job = cloudpickle.loads(spec)
    dist.init_process_group(
        backend,
        init_method=init_method,
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        history, model, lrs, seconds = run_rank(job, rank, rank, backend, queue, stop_event)
        if rank == 0:
            torch.save(model.state_dict(), out_path)
            end = (history.status, history.message, history.best_epoch, history.stopped_epoch, seconds, lrs)
            queue.put(("end", *end))
    finally:
        dist.destroy_process_group()
