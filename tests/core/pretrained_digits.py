"""Pretrained weights for the transfer tests, made here (nothing is downloaded): a TinyCNN (8 channels,
depth 2: layer groups body.0, body.3, head) trained on the digits 0-4 and saved as a state_dict; the
lab's own ``model="cnn", width=8, depth=2`` is the same network, so the lab loads the file."""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.data import from_arrays
from workbench.lab import LabSettings
from workbench.models import TinyCNN
from workbench.train import TrainConfig, fit

#: The lab settings whose model the file fits.
CNN8 = LabSettings(model="cnn", width=8, depth=2, epochs=3, subset=64, batch_size=16, lr=3e-3)


def classes(data, lo: int):
    """The samples of classes lo..lo+4, relabelled 0..4."""
    x, y = data.tensors()
    keep = (y >= lo) & (y < lo + 5)
    return from_arrays(x[keep], (y[keep] - lo).numpy(), [str(c) for c in range(lo, lo + 5)])


def pretrain(digits, folder: Path) -> tuple[Path, TinyCNN]:
    """Train on 0-4, save to ``folder/digits04.pt``; returns the path and the trained model."""
    model = TinyCNN((1, 8, 8), 5, channels=8)
    torch.manual_seed(0)
    history = fit(
        model, classes(digits.train, 0), config=TrainConfig(epochs=15, lr=3e-3, seed=0, device="cpu")
    )
    assert history.last("train_acc") > 0.95
    path = folder / "digits04.pt"
    torch.save(model.state_dict(), path)
    return path, model
