"""The overfit lab's settings and how they become a run: pure, so the widget only wires controls."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from torch import nn

from .._validation import check_choice, check_int, check_real
from ..data.dataset import ImageDataset
from ..models import INIT_SCHEMES, MODEL_KINDS, build_model, init_weights
from ..train.config import TrainConfig
from ..train.optimizers import OPTIMIZERS

__all__ = ["LIVE_SETTINGS", "LabSettings", "prepare_run"]

#: Settings a running lab applies at the next step; every other change restarts the run.
LIVE_SETTINGS = ("lr",)


@dataclass(frozen=True)
class LabSettings:
    """Everything the overfit lab lets you change. Regularisation is off by default: first overfit."""

    model: str = "mlp"
    width: int = 64  # MLP width, or CNN channels
    depth: int = 2
    init: str = "default"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    subset: int = 32  # training samples used: one batch ... the whole split
    epochs: int = 50

    def __post_init__(self) -> None:
        w = "LabSettings"
        check_choice(self.model, "model", w, MODEL_KINDS)
        check_int(self.width, "width", w, low=1, high=4096)
        check_int(self.depth, "depth", w, low=1, high=16)
        check_choice(self.init, "init", w, INIT_SCHEMES)
        check_choice(self.optimizer, "optimizer", w, OPTIMIZERS)
        check_real(self.lr, "lr", w, low=0.0, high=10.0, low_open=True)
        check_int(self.batch_size, "batch_size", w, low=1)
        check_real(self.weight_decay, "weight_decay", w, low=0.0, high=1.0)
        check_real(self.dropout, "dropout", w, low=0.0, high=0.95)
        check_int(self.seed, "seed", w, low=0)
        check_int(self.subset, "subset", w, low=1)
        check_int(self.epochs, "epochs", w, low=1)

    def replace(self, **changes) -> LabSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def name(self) -> str:
        cap = "" if self.model == "linear" else f" w{self.width} d{self.depth}"
        return f"{self.model}{cap} {self.optimizer} lr {self.lr:.0e} {self.init} n={self.subset}"


def prepare_run(settings: LabSettings, train: ImageDataset) -> tuple[nn.Module, ImageDataset, TrainConfig]:
    """The model (built and initialised from the seed), the training subset and the loop's config."""
    n = min(settings.subset, len(train))
    order = np.random.default_rng(settings.seed).permutation(len(train))[:n]
    part = train.subset(np.sort(order), name=f"{train.name}[{n}]")
    knobs: dict = {}
    if settings.model == "mlp":
        knobs = {"width": settings.width, "depth": settings.depth, "dropout": settings.dropout}
    elif settings.model == "cnn":
        knobs = {"channels": settings.width, "depth": settings.depth, "dropout": settings.dropout}
    model = build_model(settings.model, train, seed=settings.seed, **knobs)
    init_weights(model, settings.init, seed=settings.seed)
    config = TrainConfig(
        epochs=settings.epochs,
        batch_size=min(settings.batch_size, n),
        lr=settings.lr,
        optimizer=settings.optimizer,
        weight_decay=settings.weight_decay,
        seed=settings.seed,
    )
    return model, part, config
