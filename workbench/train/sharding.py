"""What ``fit`` does differently when its model is wrapped in ``DistributedDataParallel``.

Each rank trains on its ``DistributedSampler`` part of every epoch (``epoch_batches(shard=...)``) and DDP
averages the gradients, so ``world_size`` ranks at batch ``B`` take the steps one process takes at batch
``world_size * B``. The epoch's metrics are agreed by all ranks: the training loss and accuracy are
averaged over them (``DistributedSampler`` gives every rank the same number of samples), and the
validation split is cut into disjoint strided parts, **without** the sampler's padding, so each
sample is evaluated exactly once and the sums are all-reduced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, Subset

__all__ = ["all_mean", "ddp_shard", "evaluate_sharded", "unwrap"]


def ddp_shard(model: nn.Module) -> tuple[int, int] | None:
    """``(rank, world_size)`` when ``model`` is a DDP model in an initialised process group, else None."""
    if (
        isinstance(model, nn.parallel.DistributedDataParallel)
        and dist.is_available()
        and dist.is_initialized()
    ):
        return dist.get_rank(), dist.get_world_size()
    return None


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def all_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """The mean of each value over the ranks (one all-reduce; every rank calls it at the same point)."""
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))


def evaluate_sharded(
    evaluate: Callable,
    model: nn.Module,
    data: Dataset,
    shard: tuple[int, int],
    *,
    loss_fn: Callable,
    batch_size: int,
    device: torch.device,
    stop_event: threading.Event | None,
) -> tuple[float, float, int]:
    """``evaluate`` on this rank's strided part of ``data`` (rank, rank + world, ...), summed over ranks:
    every sample once, none twice. Returns the whole split's (loss, accuracy, samples)."""
    rank, world = shard
    n = len(data)  # type: ignore[arg-type]  # map-style datasets have __len__; the stub does not
    idx = list(range(rank, n, world))
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, samples
    if idx:  # a split smaller than the world leaves some ranks nothing to evaluate
        part = data.subset(idx) if hasattr(data, "subset") else Subset(data, idx)
        ev = evaluate(
            unwrap(model), part, loss_fn=loss_fn, batch_size=batch_size, device=device, stop_event=stop_event
        )
        sums += torch.tensor([ev.loss * ev.n, ev.accuracy * ev.n, ev.n], dtype=torch.float64, device=device)
    dist.all_reduce(sums)
    total, correct, count = sums.tolist()
    return total / count, correct / count, int(count)
