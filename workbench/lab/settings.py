"""The overfit lab's settings and how they become a run: pure, so the widget only wires controls."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
from torch import nn

from .._validation import check_choice, check_int, check_real
from ..data.dataset import ImageDataset
from ..models import INIT_SCHEMES, MODEL_KINDS, build_model, init_weights
from ..squeeze.averaging import EMA
from ..train.callbacks import Callback
from ..train.config import TrainConfig
from ..train.optimizers import OPTIMIZERS
from ..train.schedules import SCHEDULES, schedule_preview
from .regularize import augmentation_from_text, augmentation_text, regularized_run
from .transfer import check_transfer_fields, transfer_model, transfer_name

__all__ = ["LIVE_SETTINGS", "LabSettings", "PreparedRun", "lr_preview", "prepare_run", "run_config"]

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
    schedule: str = "constant"  # the LR slider sets the schedule's peak
    warmup_steps: int = 0
    patience: int | None = None  # early stopping on val loss (restores the best epoch); None: off
    augment: str = ""  # training augmentation, e.g. "shift:2,rotate:10" (see lab.regularize); "": off
    input_size: int | None = None  # resize every split to this side (the model follows); None: native
    ema: float | None = None  # decay of an EMA of the weights scored beside them, e.g. 0.99; None: off
    weights: str | None = None  # a weights file to start from (the lab's model, a new head); None: scratch
    freeze_upto: str | None = None  # freeze the layer groups up to this one ("body": all but the head)
    body_lr: float = 1.0  # the body trains at lr * body_lr, the head at lr

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
        check_choice(self.schedule, "schedule", w, SCHEDULES)
        check_int(self.warmup_steps, "warmup_steps", w, low=0)
        if self.patience is not None:
            check_int(self.patience, "patience", w, low=1)
        object.__setattr__(self, "augment", augmentation_text(augmentation_from_text(self.augment)))
        if self.input_size is not None:
            check_int(self.input_size, "input_size", w, low=2, high=1024)
        if self.ema is not None:
            check_real(self.ema, "ema", w, low=0.0, high=0.9999, low_open=True)
        check_transfer_fields(self)

    def replace(self, **changes) -> LabSettings:
        return replace(self, **changes)

    def to_line(self) -> str:
        """Every setting as one copyable line (``wb1:model=mlp;width=64;...``): see ``from_line``."""
        from .line import to_line

        return to_line(self)

    @classmethod
    def from_line(cls, line: str) -> LabSettings:
        """The settings a ``to_line`` line carries; a bad line raises ``ValueError`` naming its field."""
        from .line import from_line

        return from_line(line)

    def to_dict(self) -> dict:
        return asdict(self)

    def name(self) -> str:
        cap = "" if self.model == "linear" else f" w{self.width} d{self.depth}"
        sched = "" if self.schedule == "constant" else f" {self.schedule}"
        warm = f" warmup {self.warmup_steps}" if self.warmup_steps else ""
        stop = f" patience {self.patience}" if self.patience is not None else ""
        lr = f"lr {self.lr:.0e}{sched}{warm}"
        reg = f" aug {self.augment}" if self.augment else ""
        reg += f" @{self.input_size}px" if self.input_size else ""
        reg += f" ema {self.ema:g}" if self.ema is not None else ""
        transfer = transfer_name(self)
        return f"{self.model}{cap} {self.optimizer} {lr} {self.init} n={self.subset}{stop}{reg}{transfer}"


@dataclass(frozen=True)
class PreparedRun:
    """What ``prepare_run`` builds: the model, the training data, the loop's config, val as the run scores
    it (resized with ``input_size``) and the run's own callbacks (the ``EMA`` when ``ema`` is on).

    Unpacks as ``model, train, config = prepare_run(...)``, as before val and callbacks were part of it.
    """

    model: nn.Module
    train: ImageDataset
    config: TrainConfig
    val: ImageDataset | None = None
    callbacks: tuple[Callback, ...] = ()

    def __iter__(self) -> Iterator:
        return iter((self.model, self.train, self.config))

    @property
    def ema(self) -> EMA | None:
        """The run's ``EMA`` callback (its ``history_`` holds the averaged weights' val metrics), if on."""
        return next((c for c in self.callbacks if isinstance(c, EMA)), None)


def prepare_run(
    settings: LabSettings,
    train: ImageDataset,
    val: ImageDataset | None = None,
    *,
    arch: str | nn.Module | None = None,
) -> PreparedRun:
    """The model (built and initialised from the seed, sized for ``input_size``), the training subset
    (resized, then augmented on the fly: the training data only), val resized like it, the loop's config
    and the EMA callback (scoring the averaged weights on val).

    With ``settings.weights`` (or ``arch``: a torchvision name or your module) the model is
    ``from_pretrained`` (head new, sized from the data) and ``settings.freeze_upto`` is frozen; train it
    with ``run_optimizer(model, settings, config)`` so the body gets its LR factor."""
    n = min(settings.subset, len(train))
    order = np.random.default_rng(settings.seed).permutation(len(train))[:n]
    part = train.subset(np.sort(order), name=f"{train.name}[{n}]")
    part, val, callbacks = regularized_run(
        part, val, augment=settings.augment, input_size=settings.input_size, ema=settings.ema
    )
    knobs: dict = {}
    if settings.model == "mlp":
        knobs = {"width": settings.width, "depth": settings.depth, "dropout": settings.dropout}
    elif settings.model == "cnn":
        knobs = {"channels": settings.width, "depth": settings.depth, "dropout": settings.dropout}
    sized = train if settings.input_size is None else part  # the model follows the resized shape
    model = build_model(settings.model, sized, seed=settings.seed, **knobs)
    init_weights(model, settings.init, seed=settings.seed)
    model = transfer_model(model, settings, sized, arch)
    return PreparedRun(model, part, run_config(settings, n), val, tuple(callbacks))


def run_config(settings: LabSettings, n: int) -> TrainConfig:
    """The loop's config for a lab run on ``n`` training samples."""
    return TrainConfig(
        epochs=settings.epochs,
        batch_size=min(settings.batch_size, n),
        lr=settings.lr,
        optimizer=settings.optimizer,
        weight_decay=settings.weight_decay,
        seed=settings.seed,
        schedule=settings.schedule,
        warmup_steps=settings.warmup_steps,
        patience=settings.patience,
    )


def lr_preview(settings: LabSettings, n_train: int) -> np.ndarray:
    """The LR at every step of a lab run with ``settings`` on a training split of ``n_train`` samples
    (``schedule_preview`` of its config): what the lab draws before Run."""
    n = min(settings.subset, n_train)
    config = run_config(settings, n)
    return schedule_preview(config, math.ceil(n / config.batch_size))
