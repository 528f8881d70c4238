"""The one training loop. Everything that trains in the workbench goes through ``fit``.

Per step it does what a bare PyTorch loop does (forward, loss, backward, step) plus three cheap
things: keep the detached loss tensor, count correct predictions on the device, and check a stop
event. Losses reach the host only every ``flush_every_s`` seconds (one sync for many steps), which is
also when a non-finite loss is noticed: the run then stops as "diverged" and the weights go back to
the last flush at which loss and parameters were all finite; ``divergence.explain_divergence`` then
says why (a corrupted sample in the failing batch, exploding gradients) and what to do.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler

from ..data.dataset import ImageDataset, TensorImageDataset
from .callbacks import Callback, FitState, StopTraining
from .config import TrainConfig
from .divergence import explain_divergence
from .history import History
from .optimizers import make_optimizer
from .seeding import seed_everything, seed_worker

__all__ = ["Evaluation", "TrainingError", "evaluate", "fit", "resolve_device"]


class TrainingError(ValueError):
    """The model and the data do not fit together (shapes, classes, dtypes); says which and what to do."""


class _Diverged(Exception):
    pass


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
        raise RuntimeError(f"device {str(device)!r} was asked for, but this machine has no CUDA device. Use 'auto' or 'cpu'.")
    return dev


# -- batches ----------------------------------------------------------------------------------------------
class _Epochs:
    """Calling it yields one epoch of device batches; it also remembers the epoch's sample order, so a
    diverged run can name the samples of its failing batch (``batch_indices``) at no per-step cost."""

    def __init__(self, run: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]], order: Callable[[], object],
                 batch_size: int) -> None:
        self._run, self._order, self.batch_size = run, order, batch_size

    def __call__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._run()

    def batch_indices(self, k: int) -> list[int] | None:
        """Dataset indices of the ``k``-th batch (0-based) of the latest epoch; None when unknown."""
        order = self._order()
        if order is None:
            return None
        part = order[k * self.batch_size : (k + 1) * self.batch_size]
        return part.tolist() if isinstance(part, torch.Tensor) else [int(i) for i in part]


class _RecordingSampler(Sampler):
    """Yields what ``inner`` yields and keeps this epoch's order (a list append per sample, in the main
    process: nothing next to a DataLoader's per-sample work)."""

    def __init__(self, inner: Sampler) -> None:
        self.inner, self.order = inner, []

    def __iter__(self):
        self.order = []
        for i in self.inner:
            self.order.append(i)
            yield i

    def __len__(self) -> int:
        return len(self.inner)


def _batches(
    dataset: Dataset, batch_size: int, device: torch.device, generator: torch.Generator | None, num_workers: int = 0
) -> _Epochs:
    """A callable that yields one epoch of device batches (shuffled when ``generator`` is given)."""
    if isinstance(dataset, TensorImageDataset) and num_workers == 0:
        # In memory: move the whole split to the device once, then slice. No per-sample Python.
        x_all, y_all = dataset.tensors()
        x_all, y_all = x_all.to(device), y_all.to(device)
        n = len(y_all)
        seen: dict[str, torch.Tensor | range] = {}

        def epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            order = torch.randperm(n, generator=generator).to(device) if generator is not None else None
            seen["order"] = order if order is not None else range(n)
            for start in range(0, n, batch_size):
                if order is None:
                    yield x_all[start : start + batch_size], y_all[start : start + batch_size]
                else:
                    idx = order[start : start + batch_size]
                    yield x_all[idx], y_all[idx]

        return _Epochs(epoch, lambda: seen.get("order"), batch_size)

    # the same sampler DataLoader(shuffle=...) would build, same generator: the same order as before
    inner = RandomSampler(dataset, generator=generator) if generator is not None else SequentialSampler(dataset)
    sampler = _RecordingSampler(inner)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        generator=generator,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
    )

    def epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    return _Epochs(epoch, lambda: sampler.order or None, batch_size)


def _check_dataset(data: Dataset, name: str) -> None:
    if not isinstance(data, Dataset) and not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(
            f"The {name!r} parameter of fit must be a map-style Dataset (e.g. from workbench.data). "
            f"Got {type(data).__name__} instead."
        )
    if len(data) == 0:
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
        for x, y in _batches(data, batch_size, dev, None)():
            if stop_event is not None and stop_event.is_set():
                raise _Stopped
            out = model(x)
            total += loss_fn(out, y).double() * len(y)
            if out.ndim == 2 and not y.dtype.is_floating_point:
                correct += (out.argmax(dim=1) == y).sum()
    finally:
        model.train(was_training)
    n = len(data)
    return Evaluation(loss=total.item() / n, accuracy=correct.item() / n, n=n)  # one sync


# -- the loop -------------------------------------------------------------------------------------------------
class _StepLog:
    """Device-side step losses, copied to the history in chunks; keeps the last known-good weights."""

    def __init__(self, model: nn.Module, history: History, interval_s: float,
                 explain: Callable[[int], str] | None = None) -> None:
        self.model = model
        self.explain = explain  # failing step -> why, after the weights are back
        self.history = history
        self.interval_s = interval_s
        self.losses: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.lrs: list[float] = []
        self.sizes: list[int] = []
        self.last_flush = time.perf_counter()
        self.epoch_loss_sum = 0.0
        self.epoch_n = 0
        self.good_state = self._clone_state()
        self.good_step = 0

    def _clone_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def add(self, loss: torch.Tensor, step: int, lr: float, size: int) -> None:
        self.losses.append(loss)
        self.steps.append(step)
        self.lrs.append(lr)
        self.sizes.append(size)

    def due(self) -> bool:
        return time.perf_counter() - self.last_flush >= self.interval_s

    def flush(self) -> None:
        self.last_flush = time.perf_counter()
        if not self.losses:
            return
        values = torch.stack(self.losses).tolist()  # the host sync: once per flush, not per step
        steps, lrs, sizes = self.steps, self.lrs, self.sizes
        self.losses, self.steps, self.lrs, self.sizes = [], [], [], []
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        keep = len(values) if bad is None else bad
        self.history.append_steps(steps[:keep], values[:keep], lrs[:keep])
        self.epoch_loss_sum += sum(v * s for v, s in zip(values[:keep], sizes[:keep]))
        self.epoch_n += sum(sizes[:keep])
        if bad is not None:
            self.model.load_state_dict(self.good_state)
            raise _Diverged(
                f"diverged: the loss became {values[bad]} at step {steps[bad]} (lr {lrs[bad]:.3g}). "
                f"The weights were restored to step {self.good_step}, the last check with a finite loss "
                f"and finite weights. {self._why(steps[bad])}"
            )
        params = [p.detach() for p in self.model.parameters()]
        if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            self.model.load_state_dict(self.good_state)
            raise _Diverged(
                f"diverged: some weights became NaN/Inf by step {steps[-1]}. The weights were restored to "
                f"step {self.good_step}. {self._why(steps[-1])}"
            )
        self.good_state = self._clone_state()
        self.good_step = steps[-1]

    def _why(self, step: int) -> str:
        """Only ever called after a divergence was seen: never on the training hot path."""
        if self.explain is None:
            return "Lower the learning rate (try 3-10x lower), or clip gradients (grad_clip)."
        return self.explain(step)

    def end_epoch(self) -> float:
        mean = self.epoch_loss_sum / self.epoch_n if self.epoch_n else float("nan")
        self.epoch_loss_sum, self.epoch_n = 0.0, 0
        return mean


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

    Returns
    -------
    History
        With ``status`` "finished", "stopped" or "diverged" and a ``message`` saying what happened.
        Errors (bad shapes, a failing callback) are raised after the status is set to "failed".
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"The 'config' parameter of fit must be a TrainConfig. Got {type(config).__name__} instead.")
    if not isinstance(model, nn.Module):
        raise TypeError(f"The 'model' parameter of fit must be a torch.nn.Module. Got {type(model).__name__} instead.")
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
    epoch_batches = _batches(train, config.batch_size, device, generator, config.num_workers)
    state = FitState(model=model, optimizer=optimizer, history=history, config=config, device=device)
    epoch_start = [0]  # step count when the current epoch began: step s is batch s - start - 1 of it

    def explain(step: int) -> str:  # the finite losses before the failure are in the history already
        return explain_divergence(model, train, epoch_batches.batch_indices(step - epoch_start[0] - 1), loss_fn,
                                  device, history.snapshot().loss, log.good_state)

    log = _StepLog(model, history, config.flush_every_s, explain)
    history.steps_per_epoch = math.ceil(len(train) / config.batch_size)  # for curves drawn per epoch
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
            for x, y in epoch_batches():
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
                optimizer.step()
                state.step += 1
                state.loss = loss.detach()
                log.add(state.loss, state.step, optimizer.param_groups[0]["lr"], len(y))
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
            if val is not None:
                ev = evaluate(model, val, loss_fn=loss_fn, batch_size=config.eval_batch_size, stop_event=stop_event)
                metrics["val_loss"], metrics["val_acc"] = ev.loss, ev.accuracy
            history.append_epoch(epoch, state.step, metrics)
            for cb in callbacks:
                cb.on_epoch_end(state)
            if config.max_steps is not None and state.step >= config.max_steps:
                message = f"reached max_steps={config.max_steps}"
                break
    except (_Stopped, StopTraining) as stop:
        _flush_quietly(log)
        status = "stopped"
        message = f"stopped at step {state.step} (epoch {state.epoch})" + (f": {stop}" if str(stop) else " by request")
    except _Diverged as div:
        status, message = "diverged", str(div)
    except BaseException as err:
        history.set_status("failed", f"{type(err).__name__}: {err}")
        _end(callbacks, state)
        raise
    seconds = time.perf_counter() - started
    if status == "finished":
        summary = _summary(history)
        message = f"finished {state.epoch} epochs ({state.step} steps) in {seconds:.1f} s" + (
            f", {message}" if message else ""
        ) + (f": {summary}" if summary else "")
    history.set_status(status, message)
    _end(callbacks, state)
    return history


def _check_outputs(out: torch.Tensor, y: torch.Tensor, num_classes: int | None) -> None:
    if num_classes is not None and not y.dtype.is_floating_point and (out.ndim != 2 or out.shape[1] != num_classes):
        raise ValueError(
            f"the model outputs shape {tuple(out.shape)} but the data has {num_classes} classes: "
            f"the last layer must give (batch, {num_classes}) logits"
        )


def _flush_quietly(log: _StepLog) -> None:
    try:
        log.flush()
    except _Diverged:
        pass


def _end(callbacks: Sequence[Callback], state: FitState) -> None:
    for cb in callbacks:
        cb.on_fit_end(state)


def _summary(history: History) -> str:
    parts = []
    for name, label, pct in (("train_loss", "train loss", False), ("val_loss", "val loss", False), ("val_acc", "val acc", True)):
        v = history.last(name)
        if math.isfinite(v):
            parts.append(f"{label} {v * 100:.1f} %" if pct else f"{label} {v:.4f}")
    return ", ".join(parts)
