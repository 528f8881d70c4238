"""One seed everywhere: python, numpy, torch (CPU and CUDA) and DataLoader workers."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "seed_worker"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed every global RNG and return a fresh CPU generator for shuffling (seeded too)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: derive numpy/python seeds from torch's per-worker seed."""
    from .._platform import relax_malloc_trim

    relax_malloc_trim()  # see there: a setting inherited from Dask would make every batch fault pages
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
