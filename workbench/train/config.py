"""``TrainConfig``: every setting of a run, frozen, validated once when it is made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .._validation import check_choice, check_int, check_real
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Parameters
    ----------
    epochs : int
        Passes over the training split.
    max_steps : int, optional
        Stop after this many optimizer steps even mid-epoch (e.g. "overfit for 200 steps").
    batch_size : int
    lr : float
        Learning rate, in (0, 10].
    optimizer : str
        One of ``OPTIMIZERS`` (``"adam"`` by default: first make it learn, then tune).
    weight_decay, momentum : float
    seed : int
        Seeds python, numpy, torch and DataLoader workers: same seed, same curve.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    num_workers : int
        DataLoader workers for datasets that decode files; in-memory data never needs them.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    flush_every_s : float
        How often (wall clock) step losses are copied from the device into the history. This is the
        loop's only host sync besides epoch ends, so a GPU never waits on the host each step.
    eval_batch_size : int
        Batch size of the full-split evaluation.
    schedule : str
        One of ``SCHEDULES``: "constant", "step", "cosine", "linear" or "inv_sqrt"; stepped every optimizer
        step, ``lr`` is its peak. ``schedule_preview(config, steps_per_epoch)`` draws it before training.
    warmup_steps : int
        Linear warmup from ``lr / warmup_steps`` to ``lr`` over this many steps first (0: none).
    milestones : tuple of int, optional
        "step" schedule: the epochs after which the LR is multiplied by ``lr_decay`` (default: at 50 % and
        75 % of the run).
    lr_decay : float
        "step" schedule: the factor at each milestone.
    patience : int, optional
        Early stopping: end the run when ``monitor`` has not improved by more than ``min_delta`` for this
        many epochs, and put back the weights of its best epoch (``restore_best``). Needs a val split for
        the val_* metrics. None: off.
    min_delta : float
    monitor : str
        "val_loss" (lower is better), "val_acc" (higher), or "train_loss" / "train_acc".
    restore_best : bool
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    grad_clip: float | None = None
    flush_every_s: float = 0.1
    eval_batch_size: int = 1024
    schedule: str = "constant"
    warmup_steps: int = 0
    milestones: tuple[int, ...] | None = None
    lr_decay: float = 0.1
    patience: int | None = None
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True

    def __post_init__(self) -> None:
        where = "TrainConfig"
        check_int(self.epochs, "epochs", where, low=1, high=1_000_000)
        if self.max_steps is not None:
            check_int(self.max_steps, "max_steps", where, low=1)
        check_int(self.batch_size, "batch_size", where, low=1)
        check_real(self.lr, "lr", where, low=0.0, high=10.0, low_open=True)
        check_choice(self.optimizer, "optimizer", where, OPTIMIZERS)
        check_real(self.weight_decay, "weight_decay", where, low=0.0, high=1.0)
        check_real(self.momentum, "momentum", where, low=0.0, high=0.999999)
        check_int(self.seed, "seed", where, low=0)
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu") or self.device.startswith("cuda")
        ):
            raise ValueError(
                f"The 'device' parameter of {where} must be 'auto', 'cpu' or 'cuda[:N]'. Got "
                f"{self.device!r} instead."
            )
        check_int(self.num_workers, "num_workers", where, low=0, high=64)
        if self.grad_clip is not None:
            check_real(self.grad_clip, "grad_clip", where, low=0.0, low_open=True)
        check_real(self.flush_every_s, "flush_every_s", where, low=0.0, high=60.0, low_open=True)
        check_int(self.eval_batch_size, "eval_batch_size", where, low=1)
        check_choice(self.schedule, "schedule", where, SCHEDULES)
        check_int(self.warmup_steps, "warmup_steps", where, low=0)
        if self.milestones is not None:
            if isinstance(self.milestones, list):  # from JSON (the run store)
                object.__setattr__(self, "milestones", tuple(self.milestones))
            if not isinstance(self.milestones, tuple) or not all(
                isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in self.milestones
            ):
                raise ValueError(
                    f"The 'milestones' parameter of {where} must be a tuple of epochs (ints >= 1). Got "
                    f"{self.milestones!r} instead."
                )
        check_real(self.lr_decay, "lr_decay", where, low=0.0, high=1.0, low_open=True)
        if self.patience is not None:
            check_int(self.patience, "patience", where, low=1)
        check_real(self.min_delta, "min_delta", where, low=0.0)
        check_choice(self.monitor, "monitor", where, ("val_loss", "val_acc", "train_loss", "train_acc"))
        if not isinstance(self.restore_best, bool):
            raise ValueError(
                f"The 'restore_best' parameter of {where} must be True or False. Got {self.restore_best!r} "
                "instead."
            )

    def replace(self, **changes) -> TrainConfig:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)
