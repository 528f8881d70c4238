"""One epoch of device batches, the way the loop (and the checks) draw them, remembering the order.

In-memory data moves to the device once and is sliced (no per-sample Python); any other dataset goes
through a ``DataLoader`` whose sampler records the epoch's order, so a diverged run can name the samples
of its failing batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from ..data.dataset import TensorImageDataset
from .seeding import seed_worker

__all__ = ["Epochs", "epoch_batches"]


class Epochs:
    """Calling it yields one epoch of device batches; it also remembers the epoch's sample order, so a
    diverged run can name the samples of its failing batch (``batch_indices``) at no per-step cost."""

    def __init__(
        self,
        run: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]],
        order: Callable[[], torch.Tensor | range | list[int] | None],
        batch_size: int,
    ) -> None:
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

    def __init__(self, inner: RandomSampler | SequentialSampler | DistributedSampler) -> None:
        self.inner = inner
        self.order: list[int] = []

    def __iter__(self):
        self.order = []
        for i in self.inner:
            self.order.append(i)
            yield i

    def __len__(self) -> int:
        return len(self.inner)


def epoch_batches(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator | None,
    num_workers: int = 0,
    *,
    shard: tuple[int, int] | None = None,
    seed: int = 0,
) -> Epochs:
    """A callable that yields one epoch of device batches (shuffled by ``generator`` when given).

    ``epoch_batches(data, 64, device, generator)()`` iterates one epoch; ``.batch_indices(k)`` names the
    dataset indices of the latest epoch's ``k``-th batch. Seeded like ``fit``: the same generator state
    gives the same order.

    ``shard=(rank, world_size)`` (data-parallel runs): this rank's part of each epoch, drawn by torch's
    ``DistributedSampler`` with ``seed`` (every rank shuffles the same way and takes every
    ``world_size``-th sample; ``set_epoch`` reshuffles per epoch). The ranks' batches ``k`` together are
    batch ``k`` of one process with ``world_size`` times the batch size.
    """
    if shard is not None:
        return _sharded(dataset, batch_size, device, generator is not None, num_workers, shard, seed)
    if isinstance(dataset, TensorImageDataset) and num_workers == 0:
        # In memory: move the whole split to the device once, then slice. No per-sample Python.
        x_all, y_all = dataset.tensors()
        x_all, y_all = x_all.to(device), y_all.to(device)
        n = len(y_all)
        seen: dict[str, torch.Tensor | range] = {}

        def in_memory_epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            order = torch.randperm(n, generator=generator).to(device) if generator is not None else None
            seen["order"] = order if order is not None else range(n)
            for start in range(0, n, batch_size):
                if order is None:
                    yield x_all[start : start + batch_size], y_all[start : start + batch_size]
                else:
                    idx = order[start : start + batch_size]
                    yield x_all[idx], y_all[idx]

        return Epochs(in_memory_epoch, lambda: seen.get("order"), batch_size)

    # the same sampler DataLoader(shuffle=...) would build, same generator: the same order as before
    inner = (
        RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]  # map-style: has __len__
        if generator is not None
        else SequentialSampler(dataset)  # type: ignore[arg-type]
    )
    return _loader_epochs(dataset, batch_size, device, inner, num_workers, generator=generator)


def _loader_epochs(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    sampler: RandomSampler | SequentialSampler | DistributedSampler,
    num_workers: int,
    *,
    generator: torch.Generator | None = None,
    before_epoch: Callable[[], None] | None = None,
) -> Epochs:
    """Epochs through a ``DataLoader`` drawing with ``sampler`` (its order recorded for ``batch_indices``);
    ``before_epoch`` runs as each epoch starts (``DistributedSampler.set_epoch``)."""
    recording = _RecordingSampler(sampler)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=recording,
        generator=generator,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
    )

    def epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if before_epoch is not None:
            before_epoch()
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    return Epochs(epoch, lambda: recording.order or None, batch_size)


def _sharded(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    shuffle: bool,
    num_workers: int,
    shard: tuple[int, int],
    seed: int,
) -> Epochs:
    rank, world = shard
    sampler: DistributedSampler = DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed
    )
    epochs = [0]
    if isinstance(dataset, TensorImageDataset) and num_workers == 0:
        x_all, y_all = (t.to(device) for t in dataset.tensors())
        seen: dict[str, torch.Tensor] = {}

        def in_memory_epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            sampler.set_epoch(epochs[0])
            epochs[0] += 1
            order = torch.tensor(list(sampler), dtype=torch.long, device=device)  # n / world ints per epoch
            seen["order"] = order
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                yield x_all[idx], y_all[idx]

        return Epochs(in_memory_epoch, lambda: seen.get("order"), batch_size)

    def next_epoch() -> None:
        sampler.set_epoch(epochs[0])
        epochs[0] += 1

    return _loader_epochs(dataset, batch_size, device, sampler, num_workers, before_epoch=next_epoch)
