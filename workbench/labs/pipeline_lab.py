"""Lab 2, pipeline bugs: one check per classic bug, each run on the student's own pieces.

The student's training script is cut into five pieces, each of which can hide one bug:

============== ============================================ =============================================
piece          the bug it can hide                          the check that catches it
============== ============================================ =============================================
``shuffle``    labels shuffled apart from their images      ``pairs_kept``: every (image, label) pair of
                                                            the output is a pair of the input
``normalise``  a wrong normalisation (already-scaled images ``normalisation``: the batch the model gets
               divided by 255 again, someone else's stats) (``capture_batch``) has mean ~0 and std ~1
``model_fn``   ``softmax`` before ``CrossEntropyLoss``      ``overfit_batch``: cannot memorise one batch
``model_fn``   a ``view`` that mixes samples                ``batch_dependency``: one sample's output
                                                            depends on another sample's input
``train_step`` ``zero_grad`` forgotten                      ``gradients_reset``: the same step twice on
                                                            the same batch, with the LR at 0, must leave
                                                            the same gradients (not twice as large)
val transform  augmentation applied to validation           ``validation_pipeline``: the validation batch
                                                            (``capture_batch``) has no random step
============== ============================================ =============================================
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import Dataset

from ..checks import batch_dependency, capture_batch, overfit_batch
from ..data import from_arrays, from_torch, load_digits
from .feedback import Feedback, FeedbackList, one_thread, tensors_of

__all__ = [
    "PIPELINE_CHECKS",
    "check_gradients_reset",
    "check_model",
    "check_normalisation",
    "check_pairs_kept",
    "check_pipeline",
    "check_validation_pipeline",
]

PIPELINE_CHECKS = (
    "pairs_kept",
    "normalisation",
    "overfit_batch",
    "batch_dependency",
    "gradients_reset",
    "validation_pipeline",
)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = tensors_of(load_digits(seed=0).train)  # (N, 1, 8, 8) in [0, 1], (N,)
    return images, labels


def _normalised_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = _digits()
    x = (images[:n] - images.mean()) / images.std()
    return x, labels[:n]


def _guard(name: str, fn: Callable[[], Feedback]) -> Feedback:
    """A piece that raises (``NotImplementedError``, a shape error) is "not yet", with the error."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - the student's code may raise anything; say what, not where
        return Feedback(
            False, f"your code raised {type(err).__name__}: {err}", "make the piece run first", name
        )


def check_pairs_kept(shuffle: Callable) -> Feedback:
    """``shuffle(images, labels, seed)`` must return the same (image, label) pairs in a new order."""

    def run() -> Feedback:
        images, labels = _digits()
        images, labels = images[:200], labels[:200]
        out_x, out_y = shuffle(images.clone(), labels.clone(), 0)
        label_of = {im.numpy().tobytes(): int(lab) for im, lab in zip(images, labels)}
        broken = sum(label_of.get(im.numpy().tobytes()) != int(lab) for im, lab in zip(out_x, out_y))
        moved = not torch.equal(out_x, images)
        passed = broken == 0 and moved and len(out_y) == len(labels)
        return Feedback(
            passed,
            f"{broken} of {len(out_y)} images carry another image's label"
            + ("" if moved else "; the images were not reordered"),
            "look at a batch in the batch viewer: do the labels under the images match the digits?",
            "pairs_kept",
        )

    return _guard("pairs_kept", run)


def check_normalisation(normalise: Callable, model_fn: Callable[[], nn.Module]) -> Feedback:
    """``normalise(images)`` of the training images must give the model inputs with mean ~0, std ~1."""

    def run() -> Feedback:
        images, labels = _digits()
        data = from_arrays(normalise(images.clone()), labels.numpy())
        stats = capture_batch(model_fn(), data).channel_stats
        mean, std = stats["mean"][0], stats["std"][0]
        return Feedback(
            abs(mean) < 0.5 and 0.5 < std < 2.0,
            f"the model gets inputs with mean {mean:.3g} and std {std:.3g}",
            "look at the statistics of the batch exactly as the model gets it: are they what you expect "
            "after normalising, and what range were the images in before?",
            "normalisation",
        )

    return _guard("normalisation", run)


def check_model(model_fn: Callable[[], nn.Module]) -> tuple[Feedback, Feedback]:
    """``overfit_batch`` (can it memorise 32 digits?) and ``batch_dependency`` on a fresh ``model_fn()``."""

    def overfit() -> Feedback:
        result = overfit_batch(model_fn(), _normalised_batch(), steps=200, lr=1e-2)
        return Feedback(
            result.passed,
            _first_sentence(result.message),
            "a small model should memorise 32 images to ~0 loss; what does the loss stay stuck at, and what "
            "does the loss function expect to receive?",
            "overfit_batch",
        )

    def dependency() -> Feedback:
        result = batch_dependency(model_fn(), _normalised_batch()[0])
        return Feedback(
            result.passed,
            _first_sentence(result.message),
            "changing one image changes the outputs for other images: follow the tensor's shape "
            "through the forward pass",
            "batch_dependency",
        )

    return _guard("overfit_batch", overfit), _guard("batch_dependency", dependency)


def check_gradients_reset(train_step: Callable, model_fn: Callable[[], nn.Module]) -> Feedback:
    """``train_step(model, optimizer, x, y)`` twice on one batch with the LR at 0: the gradients after the
    second step must equal those after the first (they double when they are never reset)."""

    def run() -> Feedback:
        model = model_fn()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        x, y = _normalised_batch()
        train_step(model, optimizer, x, y)
        first = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        train_step(model, optimizer, x, y)
        second = [p.grad for p in model.parameters() if p.grad is not None]
        if not first:
            return Feedback(
                False, "no parameter got a gradient", "does the step call backward()?", "gradients_reset"
            )
        ratio = float(sum(s.norm() for s in second) / max(float(sum(f.norm() for f in first)), 1e-12))
        return Feedback(
            abs(ratio - 1.0) < 1e-3,
            f"the same step on the same batch gave gradients {ratio:.2f}x as large the second time",
            "gradients grow with every step even when nothing changes: where do they go between steps?",
            "gradients_reset",
        )

    return _guard("gradients_reset", run)


class _Transformed(Dataset):
    """A few digits behind a torchvision-style ``transform`` (what ``from_torch`` describes)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images, self.targets, self.transform = images, labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        x = self.images[i]
        return (self.transform(x) if self.transform is not None else x), self.targets[i]


def check_validation_pipeline(val_transform, model_fn: Callable[[], nn.Module]) -> Feedback:
    """The validation data, behind ``val_transform``, must have no random (augmenting) step."""

    def run() -> Feedback:
        images, labels = _digits()
        val = from_torch(
            _Transformed(images[:64], labels[:64], val_transform), classes=[str(i) for i in range(10)]
        )
        batch = capture_batch(model_fn(), val)
        random_steps = [s.name for s in batch.pipeline if s.augmentation]
        twice = [val[i][0] for i in range(8)], [val[i][0] for i in range(8)]
        same = all(torch.equal(a, b) for a, b in zip(*twice))
        return Feedback(
            not random_steps and same,
            f"random steps in the validation pipeline: {', '.join(random_steps) or 'none'}"
            + ("" if same else "; the same validation image differs between two reads"),
            "the validation score changes from one evaluation to the next on the same weights: "
            "look at the validation batch in the batch viewer",
            "validation_pipeline",
        )

    return _guard("validation_pipeline", run)


def check_pipeline(
    *,
    shuffle: Callable,
    normalise: Callable,
    model_fn: Callable[[], nn.Module],
    train_step: Callable,
    val_transform,
) -> FeedbackList:
    """Every check of lab 2 on the student's pieces, in ``PIPELINE_CHECKS`` order (a few seconds).

    Parameters
    ----------
    shuffle : callable(images, labels, seed) -> (images, labels)
    normalise : callable(images) -> images
        Applied to the training images, (N, 1, 8, 8) in [0, 1].
    model_fn : callable() -> nn.Module
        A fresh model for 8x8 digits, outputs (N, 10) logits.
    train_step : callable(model, optimizer, x, y) -> loss
    val_transform : callable(image) -> image, or None
    """
    for name, value in (
        ("shuffle", shuffle),
        ("normalise", normalise),
        ("model_fn", model_fn),
        ("train_step", train_step),
    ):
        if not callable(value):
            raise TypeError(
                f"The '{name}' parameter of check_pipeline must be a function. Got {type(value).__name__} "
                "instead."
            )
    fresh = _seeded(model_fn)
    with one_thread():
        overfit, dependency = check_model(fresh)
        return FeedbackList(
            (
                check_pairs_kept(shuffle),
                check_normalisation(normalise, fresh),
                overfit,
                dependency,
                check_gradients_reset(train_step, fresh),
                check_validation_pipeline(val_transform, fresh),
            )
        )


def _first_sentence(message: str) -> str:
    """The measurement of a check's message, without its advice on what to change (the lab's to find)."""
    return message.split(". ")[0]


def _seeded(model_fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """The same initial weights on every call (the checks compare runs; the global RNG is left alone)."""

    def fresh() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return copy.deepcopy(model_fn())

    return fresh
