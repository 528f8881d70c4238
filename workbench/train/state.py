"""Put everything back exactly: for probes that train or perturb a model (checks, LR range test).

``preserved(model, optimizer)`` snapshots the model's parameters and buffers (values, dtypes,
devices), its train/eval mode (every submodule), ``requires_grad`` and ``.grad`` of each parameter,
the optimizer's state, and the python / numpy / torch (CPU and CUDA) RNG states; on exit, however the
block ends, all of it is restored bit for bit. In memory only: no temporary files.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["Snapshot", "preserved", "restore", "snapshot"]


@dataclass
class Snapshot:
    tensors: dict[str, torch.Tensor]  # parameters and buffers, cloned
    devices: dict[str, torch.device]
    dtypes: dict[str, torch.dtype]
    modes: dict[str, bool]
    requires_grad: dict[str, bool]
    grads: dict[str, torch.Tensor | None]
    optimizer: dict | None
    rng: tuple


def _named_tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters(remove_duplicate=False)
    yield from model.named_buffers(remove_duplicate=False)


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> Snapshot:
    tensors, devices, dtypes = {}, {}, {}
    for name, t in _named_tensors(model):
        tensors[name] = t.detach().clone()
        devices[name], dtypes[name] = t.device, t.dtype
    params = dict(model.named_parameters(remove_duplicate=False))
    rng = (
        random.getstate(),
        np.random.get_state(),
        torch.get_rng_state(),
        torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    )
    return Snapshot(
        tensors=tensors,
        devices=devices,
        dtypes=dtypes,
        modes={name: m.training for name, m in model.named_modules()},
        requires_grad={n: p.requires_grad for n, p in params.items()},
        grads={n: None if p.grad is None else p.grad.detach().clone() for n, p in params.items()},
        optimizer=copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None,
        rng=rng,
    )


def restore(model: nn.Module, snap: Snapshot, optimizer: torch.optim.Optimizer | None = None) -> None:
    with torch.no_grad():
        for name, t in _named_tensors(model):
            saved = snap.tensors[name]
            if t.dtype != snap.dtypes[name] or t.device != snap.devices[name] or t.shape != saved.shape:
                t.data = saved.clone()  # a probe changed dtype/device: put the original tensor back
            else:
                t.copy_(saved)
    for name, m in model.named_modules():
        if name in snap.modes:
            m.training = snap.modes[name]
    for name, p in model.named_parameters(remove_duplicate=False):
        p.requires_grad_(snap.requires_grad[name])
        g = snap.grads[name]
        p.grad = None if g is None else g.clone()
    if optimizer is not None and snap.optimizer is not None:
        optimizer.load_state_dict(copy.deepcopy(snap.optimizer))
    py, np_state, torch_state, cuda_states = snap.rng
    random.setstate(py)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    if cuda_states is not None:
        torch.cuda.set_rng_state_all(cuda_states)


@contextmanager
def preserved(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> Iterator[Snapshot]:
    """Run a destructive probe, then put model, optimizer and RNGs back exactly as they were."""
    snap = snapshot(model, optimizer)
    try:
        yield snap
    finally:
        restore(model, snap, optimizer)
