"""Distillation: one student network trained on a teacher's (an ensemble's) soft targets, through ``fit``.

``fit`` calls ``loss_fn(outputs, targets)`` and knows nothing of a teacher, so the teacher's answers
travel as the targets, each packed as one float row ``[p_1 .. p_K, label]``: the teacher's probabilities
at temperature ``T`` and the hard label. ``distillation_loss(T, alpha)`` unpacks them:

    loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross_entropy(student, label)

(Hinton et al. 2015: the ``T^2`` keeps the soft part's gradients on the scale of the hard part's.) Given
integer labels, as on the validation split, the same function is the plain cross-entropy, so the val
curves of a distilled run compare with any other run's; as the targets are floats, ``fit`` records no
train accuracy for such a run. Two datasets make the rows:

- ``SoftTargets``: the clean images, the teacher's answers computed once before training; in memory,
  so ``fit`` slices rows and images together (no per-sample Python).
- ``TeacherView``: augmented on the fly like an ``AugmentedDataset``, the teacher answering for the very
  view the student gets, batch by batch (a "consistent, patient teacher", Beyer et al. 2022). With a few
  thousand images the teacher has memorised the clean ones and its answers there are nearly one-hot:
  the augmented views are where it has something to teach. Costs one teacher pass per batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_real
from ..data.augment import Augmentation, AugmentedDataset
from ..data.dataset import ImageDataset, TensorImageDataset
from ..train.batches import epoch_batches
from ..train.callbacks import Callback
from ..train.config import TrainConfig
from ..train.history import History
from ..train.loop import fit, resolve_device

__all__ = [
    "Distillation",
    "SoftTargets",
    "TeacherView",
    "distill",
    "distillation_loss",
    "soft_targets",
    "teacher_kl",
]


@torch.inference_mode()
def soft_targets(
    teacher: nn.Module, data: ImageDataset, *, temperature: float = 1.0, batch_size: int = 1024
) -> torch.Tensor:
    """The teacher's probabilities at ``temperature`` for every sample of ``data``, ``(N, classes)``, on
    the CPU, in the dataset's order."""
    temperature = check_real(temperature, "temperature", "soft_targets", low=0.0, high=100.0, low_open=True)
    dev = next(teacher.parameters()).device
    was_training = teacher.training
    teacher.eval()
    try:
        parts = [
            (teacher(x) / temperature).softmax(dim=-1).float().cpu()
            for x, _ in epoch_batches(data, batch_size, dev, None)()
        ]
    finally:
        teacher.train(was_training)
    return torch.cat(parts)


class SoftTargets(TensorImageDataset):
    """The images of ``data`` with targets ``[teacher probabilities (K), label]`` packed as float32 rows.

    ``targets`` (the labels, for class counts and splits) stay the integer labels; only ``tensors()``,
    what ``fit`` slices its batches from, returns the packed ``(N, K + 1)`` rows.
    """

    def __init__(self, data: ImageDataset, probabilities: torch.Tensor) -> None:
        if isinstance(data, TensorImageDataset):
            images = data.tensors()[0]
        else:  # decode once; distillation re-reads every image every epoch
            images = torch.stack([data[i][0] for i in range(len(data))])
        if probabilities.shape != (len(data), data.num_classes):
            raise ValueError(
                f"SoftTargets: the teacher's probabilities must be (N, classes) = ({len(data)}, "
                f"{data.num_classes}). Got {tuple(probabilities.shape)} instead."
            )
        super().__init__(images, data.targets, data.classes, data.paths, name=f"{data.name}+soft")
        self._soft = probabilities.float()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = super().tensors()
        soft = self._soft[torch.from_numpy(self._indices)]
        return images, torch.cat([soft, labels[:, None].float()], dim=1)  # (N, K + 1)


def distillation_loss(temperature: float = 4.0, alpha: float = 0.9) -> Callable:
    """``loss_fn(outputs, targets)`` for ``fit``: soft rows from ``SoftTargets`` mix the KL to the teacher
    (weight ``alpha``, times ``T^2``) with the label's cross-entropy; integer labels give cross-entropy."""
    temperature = check_real(
        temperature, "temperature", "distillation_loss", low=0.0, high=100.0, low_open=True
    )
    alpha = check_real(alpha, "alpha", "distillation_loss", low=0.0, high=1.0)

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if not targets.dtype.is_floating_point:
            return F.cross_entropy(outputs, targets)
        soft, labels = targets[:, :-1], targets[:, -1].long()  # (B, K), (B,)
        student = F.log_softmax(outputs / temperature, dim=-1)
        kl = F.kl_div(student, soft, reduction="batchmean") * temperature**2
        if alpha == 1.0:
            return kl
        return alpha * kl + (1.0 - alpha) * F.cross_entropy(outputs, labels)

    return loss_fn


@torch.inference_mode()
def teacher_kl(
    teacher: nn.Module, student: nn.Module, data: ImageDataset, *, batch_size: int = 1024
) -> float:
    """Mean ``KL(teacher || student)`` (temperature 1, nats per sample) over every sample of ``data``."""
    dev = next(student.parameters()).device
    modes = teacher.training, student.training
    teacher.eval()
    student.eval()
    total = torch.zeros((), dtype=torch.float64, device=dev)
    try:
        for x, _ in epoch_batches(data, batch_size, dev, None)():
            p_log = teacher(x).log_softmax(-1)
            q_log = student(x).log_softmax(-1)
            total += F.kl_div(q_log, p_log, reduction="sum", log_target=True).double()
    finally:
        teacher.train(modes[0])
        student.train(modes[1])
    return total.item() / len(data)


class TeacherView(AugmentedDataset):
    """Augmented training batches whose targets are ``[teacher probabilities at T (K), label]`` rows.

    Like its base class, ``fit`` draws it through a ``DataLoader`` whose ``__getitems__`` gets a whole
    batch: the batch is augmented, then the teacher (on its own device, in eval mode) answers for it.
    """

    def __init__(
        self, data: ImageDataset, augmentation: Augmentation, teacher: nn.Module, temperature: float
    ) -> None:
        super().__init__(data, augmentation)
        self.teacher = teacher
        self.temperature = check_real(temperature, "temperature", "TeacherView", low=0.0, low_open=True)

    @torch.inference_mode()
    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, Any]]:
        x, labels = self.batch(indices)  # (B, C, H, W) augmented, (B,)
        dev = next(self.teacher.parameters()).device
        self.teacher.eval()
        soft = (self.teacher(x.to(dev)) / self.temperature).softmax(dim=-1).float().cpu()  # (B, K)
        rows = torch.cat([soft, labels[:, None].float()], dim=1)  # (B, K + 1)
        return list(zip(x, rows))


@dataclass(frozen=True)
class Distillation:
    """A distilled student and its run."""

    student: nn.Module
    history: History
    temperature: float
    alpha: float
    augmentation: Augmentation | None  # None: the clean images, the teacher's answers computed once
    teacher_seconds: float  # computing the clean images' soft targets (0 with an augmentation)


def distill(
    teacher: nn.Module,
    student: nn.Module,
    train: ImageDataset,
    val: ImageDataset | None = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    augmentation: Augmentation | None = None,
    config: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    history: History | None = None,
) -> Distillation:
    """Train ``student`` on ``teacher``'s soft targets through ``fit``.

    Parameters
    ----------
    teacher : nn.Module
        Usually an ``Ensemble``; its logits (log-probabilities) are tempered by ``temperature``.
    student : nn.Module
        Trained in place (e.g. ``build_model("cnn", train, seed=0)``, the size of one member or smaller).
    train : ImageDataset
        The training split. An ``AugmentedDataset`` (from ``augment``) brings its own augmentation.
    val : ImageDataset, optional
        Scored with plain cross-entropy after every epoch.
    temperature : float
        Softens both distributions: 1 is the teacher's own; 2-8 show more of its "dark knowledge".
    alpha : float
        Weight of the soft part in [0, 1]; the rest goes to the labels' cross-entropy.
    augmentation : Augmentation, optional
        Augment on the fly, the teacher answering for each view (``TeacherView``); ``train``'s own when
        it is augmented. None: the clean images, answered once (``SoftTargets``).
    config, callbacks, stop_event, history
        As for ``fit``.
    """
    if isinstance(train, AugmentedDataset):
        augmentation = augmentation or train.augmentation
        train = train.base
    if not isinstance(train, ImageDataset):
        raise TypeError(
            f"The 'train' parameter of distill must be an ImageDataset. Got {type(train).__name__} instead."
        )
    config = config or TrainConfig()
    loss_fn = distillation_loss(temperature, alpha)
    teacher.to(resolve_device(config.device))
    data: ImageDataset
    seconds = 0.0  # with an augmentation the teacher's cost is inside the run, batch by batch
    if augmentation is not None:
        data = TeacherView(train, augmentation, teacher, temperature)
    else:
        t0 = time.perf_counter()
        soft = soft_targets(teacher, train, temperature=temperature, batch_size=config.eval_batch_size)
        data, seconds = SoftTargets(train, soft), time.perf_counter() - t0
    history = fit(
        student,
        data,
        val,
        config=config,
        loss_fn=loss_fn,
        callbacks=callbacks,
        stop_event=stop_event,
        history=history,
    )
    return Distillation(student, history, temperature, alpha, augmentation, seconds)
