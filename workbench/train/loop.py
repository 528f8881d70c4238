"""The one training loop. Everything that trains in the workbench goes through ``fit``.

Per step it does what a bare PyTorch loop does (forward, loss, backward, step) plus three cheap
things: keep the detached loss tensor, count correct predictions on the device, and check a stop
event. Losses reach the host only every ``flush_every_s`` seconds (one sync for many steps), which is
also when a non-finite loss is noticed: the run then stops as "diverged" and the weights go back to
the last flush at which loss and parameters were all finite; ``divergence.explain_divergence`` then
says why (a corrupted sample in the failing batch, exploding gradients) and what to do.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.dataset import ImageDataset
from .batches import epoch_batches
from .callbacks import Callback, EarlyStopped, FitState, StopTraining
from .config import TrainConfig
from .divergence import explain_divergence
from .early_stopping import EarlyStopping
from .history import History
from .optimizers import LiveLR, make_optimizer
from .schedules import make_scheduler, scale_schedule
from .seeding import seed_everything
from .sharding import all_mean, ddp_shard, evaluate_sharded
from .steplog import Diverged, StepLog

__all__ = ["Evaluation", "TrainingError", "evaluate", "fit", "resolve_device"]


class TrainingError(ValueError):
    """The model and the data do not fit together (shapes, classes, dtypes); says which and what to do."""


class _Stopped(Exception):
    pass


@dataclass(frozen=True)
class Evaluation:
    """Loss and accuracy over a whole split."""

    loss: float
    accuracy: float
    n: int


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {str(device)!r} was asked for, but this machine has no CUDA device. Use 'auto' or 'cpu'."
        )
    return dev


def _check_dataset(data: Dataset, name: str) -> None:
    if not isinstance(data, Dataset) and not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(
            f"The {name!r} parameter of fit must be a map-style Dataset (e.g. from workbench.data). "
            f"Got {type(data).__name__} instead."
        )
    if len(data) == 0:  # type: ignore[arg-type]  # map-style datasets have __len__; the stub does not
        raise ValueError(f"The {name!r} split is empty: fit needs at least one sample.")


def _explain(err: Exception, x: torch.Tensor, y: torch.Tensor, data: Dataset, step: int) -> TrainingError:
    sizes = ""
    if isinstance(data, ImageDataset):
        sizes = f" This data is {data.input_shape} with {data.num_classes} classes;"
    return TrainingError(
        f"model(x) or the loss failed at step {step + 1} on inputs of shape {tuple(x.shape)} ({x.dtype}) "
        f"and targets {tuple(y.shape)}: {err}.{sizes} build the model for it, e.g. "
        "workbench.models.build_model('mlp', train_data)."
    )


# -- evaluation ---------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset,
    *,
    loss_fn: Callable | None = None,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
    stop_event: threading.Event | None = None,
) -> Evaluation:
    """Mean loss and accuracy over **every** sample of ``data`` (never a few batches).

    The model is put in eval mode for the pass and returned to the mode it was in.
    """
    _check_dataset(data, "data")
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    loss_fn = loss_fn or nn.functional.cross_entropy
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    try:
        for x, y in epoch_batches(data, batch_size, dev, None)():
            if stop_event is not None and stop_event.is_set():
                raise _Stopped
            out = model(x)
            total += loss_fn(out, y).double() * len(y)
            if out.ndim == 2 and not y.dtype.is_floating_point:
                correct += (out.argmax(dim=1) == y).sum()
    finally:
        model.train(was_training)
    n = len(data)  # type: ignore[arg-type]  # map-style datasets have __len__; the stub does not
    return Evaluation(loss=total.item() / n, accuracy=correct.item() / n, n=n)  # one sync


# -- the loop ------------------------------------------------------------------------------------------------
def fit(
    model: nn.Module,
    train: Dataset,
    val: Dataset | None = None,
    *,
    config: TrainConfig | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: Callable | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    history: History | None = None,
    live_lr: LiveLR | None = None,
) -> History:
    """Train ``model`` on ``train``; evaluate on the whole ``val`` split after each epoch.

    Parameters
    ----------
    model : nn.Module
        Moved to the config's device (CUDA when present with ``device="auto"``).
    train, val : Dataset
        Usually ``ImageDataset`` views (in-memory ones train fastest).
    config : TrainConfig
        Epochs, batch size, optimizer, LR, seed...
    optimizer : torch.optim.Optimizer, optional
        Use this one instead of building ``config.optimizer``; its LR is then yours.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``, mean-reduced; cross-entropy by default.
    callbacks : sequence of Callback
    stop_event : threading.Event, optional
        Set it from any thread to stop after the current step (status "stopped").
    history : History, optional
        Record into this one (a view may already watch it); a new one by default.
    live_lr : LiveLR, optional
        The LR the loop reads at each step, set from any thread (a slider): the loop owns the LR and
        applies a new value itself before the next step (groups keep their ratios). Under a schedule
        it sets the schedule's peak: the schedule keeps its shape.

    Returns
    -------
    History
        With ``status`` "finished", "stopped" or "diverged" and a ``message`` saying what happened.
        Errors (bad shapes, a failing callback) are raised after the status is set to "failed".
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"The 'config' parameter of fit must be a TrainConfig. Got {type(config).__name__} instead."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"The 'model' parameter of fit must be a torch.nn.Module. Got {type(model).__name__} instead."
        )
    _check_dataset(train, "train")
    if val is not None:
        _check_dataset(val, "val")
    history = history if history is not None else History()
    stop_event = stop_event if stop_event is not None else threading.Event()
    device = resolve_device(config.device)
    generator = seed_everything(config.seed)
    model.to(device)
    if optimizer is None:
        optimizer = make_optimizer(
            config.optimizer, model.parameters(), config.lr, config.weight_decay, config.momentum
        )
    loss_fn = loss_fn or nn.functional.cross_entropy
    num_classes = train.num_classes if isinstance(train, ImageDataset) else None
    shard = ddp_shard(model)  # (rank, world_size) of a DistributedDataParallel run; None otherwise
    batches = epoch_batches(
        train, config.batch_size, device, generator, config.num_workers, shard=shard, seed=config.seed
    )
    n_train = len(train)  # type: ignore[arg-type]  # map-style datasets have __len__; the stub does not
    if shard is not None:
        n_train = math.ceil(n_train / shard[1])  # this rank's part (DistributedSampler pads to equal parts)
    history.steps_per_epoch = math.ceil(n_train / config.batch_size)  # for curves drawn per epoch
    scheduler = make_scheduler(optimizer, config, history.steps_per_epoch)
    if config.patience is not None:  # last, so the other callbacks see the epoch it stops at
        stopper = EarlyStopping(config.monitor, config.patience, config.min_delta, config.restore_best)
        callbacks = [*callbacks, stopper]

    def set_peak(lr: float) -> None:  # a slider moves the schedule's peak; the schedule keeps its shape
        scale_schedule(optimizer, scheduler, lr)

    state = FitState(model=model, optimizer=optimizer, history=history, config=config, device=device)
    lr_seen = -1  # the LiveLR version applied so far (-1: apply its value before the first step)
    epoch_start = [0]  # step count when the current epoch began: step s is batch s - start - 1 of it

    def explain(step: int) -> str:  # the finite losses before the failure are in the history already
        return explain_divergence(
            model,
            train,
            batches.batch_indices(step - epoch_start[0] - 1),
            loss_fn,
            device,
            history.snapshot().loss,
            log.good_state,
        )

    log = StepLog(model, history, config.flush_every_s, explain)
    started = time.perf_counter()
    history.set_status("running", "training")
    status, message = "finished", ""
    try:
        for cb in callbacks:
            cb.on_fit_start(state)
        for epoch in range(1, config.epochs + 1):
            state.epoch = epoch
            epoch_start[0] = state.step
            model.train()
            corrects: list[torch.Tensor] = []
            seen = 0
            for x, y in batches():
                try:
                    out = model(x)  # (B, classes)
                    if state.step == 0:
                        _check_outputs(out, y, num_classes)
                    loss = loss_fn(out, y)
                except (RuntimeError, IndexError, ValueError) as err:
                    raise _explain(err, x, y, train, state.step) from err
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                if live_lr is not None and live_lr.version != lr_seen:  # an int comparison per step
                    lr_seen = live_lr.apply(optimizer, lr_seen, set_peak)
                optimizer.step()
                state.step += 1
                state.loss = loss.detach()
                log.add(state.loss, state.step, optimizer.param_groups[0]["lr"], len(y))  # the LR just used
                if scheduler is not None:
                    scheduler.step()
                if out.ndim == 2 and not y.dtype.is_floating_point:
                    corrects.append((out.detach().argmax(dim=1) == y).sum())
                seen += len(y)
                if log.due():
                    log.flush()
                for cb in callbacks:
                    cb.on_step_end(state)
                if stop_event.is_set():
                    raise _Stopped
                if config.max_steps is not None and state.step >= config.max_steps:
                    break
            log.flush()
            metrics = {"train_loss": log.end_epoch()}
            if corrects:
                metrics["train_acc"] = torch.stack(corrects).sum().item() / seen
            if shard is not None:  # every rank has the same number of samples: the mean over ranks
                metrics = all_mean(metrics, device)
            if val is not None and shard is not None:
                metrics["val_loss"], metrics["val_acc"], _ = evaluate_sharded(
                    evaluate, model, val, shard, loss_fn=loss_fn, batch_size=config.eval_batch_size,
                    device=device, stop_event=stop_event,
                )
            elif val is not None:
                ev = evaluate(
                    model, val, loss_fn=loss_fn, batch_size=config.eval_batch_size, stop_event=stop_event
                )
                metrics["val_loss"], metrics["val_acc"] = ev.loss, ev.accuracy
            history.append_epoch(epoch, state.step, metrics)
            for cb in callbacks:
                cb.on_epoch_end(state)
            if config.max_steps is not None and state.step >= config.max_steps:
                message = f"reached max_steps={config.max_steps}"
                break
    except EarlyStopped as stop:
        message = f"{stop}."  # says the best epoch; the summary below is of the last one
    except (_Stopped, StopTraining) as stop:
        _flush_quietly(log)
        status = "stopped"
        message = f"stopped at step {state.step} (epoch {state.epoch})" + (
            f": {stop}" if str(stop) else " by request"
        )
    except Diverged as div:
        status, message = "diverged", str(div)
    except BaseException as err:
        history.set_status("failed", f"{type(err).__name__}: {err}")
        _end(callbacks, state)
        raise
    seconds = time.perf_counter() - started
    if status == "finished" and history.stopped_epoch is not None:
        message = f"finished {state.epoch} epochs ({state.step} steps) in {seconds:.1f} s, {message}"
    elif status == "finished":
        summary = _summary(history)
        message = (
            f"finished {state.epoch} epochs ({state.step} steps) in {seconds:.1f} s"
            + (f", {message}" if message else "")
            + (f": {summary}" if summary else "")
        )
    history.set_status(status, message)
    _end(callbacks, state)
    return history


def _check_outputs(out: torch.Tensor, y: torch.Tensor, num_classes: int | None) -> None:
    if (
        num_classes is not None
        and not y.dtype.is_floating_point
        and (out.ndim != 2 or out.shape[1] != num_classes)
    ):
        raise ValueError(
            f"the model outputs shape {tuple(out.shape)} but the data has {num_classes} classes: "
            f"the last layer must give (batch, {num_classes}) logits"
        )


def _flush_quietly(log: StepLog) -> None:
    with contextlib.suppress(Diverged):
        log.flush()


def _end(callbacks: Sequence[Callback], state: FitState) -> None:
    for cb in callbacks:
        cb.on_fit_end(state)


def _summary(history: History) -> str:
    parts = []
    for name, label, pct in (
        ("train_loss", "train loss", False),
        ("val_loss", "val loss", False),
        ("val_acc", "val acc", True),
    ):
        v = history.last(name)
        if math.isfinite(v):
            parts.append(f"{label} {v * 100:.1f} %" if pct else f"{label} {v:.4f}")
    return ", ".join(parts)
