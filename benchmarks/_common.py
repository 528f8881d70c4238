"""Shared by the benchmarks: the data they train on and the bare PyTorch loop they compare against."""

from __future__ import annotations

import time

import torch
from torch import nn

from workbench.data import load_digits, mnist_test_set


def load(name: str):
    """``digits`` (embedded, the train split) or ``mnist`` (the embedded MNIST test set, 10k 28x28, file order)."""
    if name == "digits":
        return load_digits(seed=0).train
    return mnist_test_set()


def bare_loop(model: nn.Module, x_all: torch.Tensor, y_all: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """The reference: a plain PyTorch loop over shuffled in-memory batches. Returns seconds for ``steps`` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n, done = len(y_all), 0
    model.train()
    t0 = time.perf_counter()
    while done < steps:
        order = torch.randperm(n, generator=gen).to(x_all.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    if x_all.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0
