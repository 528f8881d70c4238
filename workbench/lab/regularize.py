"""The lab's "regularize" settings as data: augmentation written as text, a smaller input, EMA weights.

``LabSettings.augment`` is one short string, so that it fits the run line (``...;augment=shift:2,rotate:10``):
steps separated by ``,``, each ``name`` (its defaults) or ``name:value`` (its main parameter, the first of
``AUGMENT_STEPS[name]``) followed by ``/key=value`` for any other parameter, e.g. ``affine:15/scale=0.2``.
``augmentation_text`` writes the canonical form (main value always given, other parameters only where
they differ from their defaults), which is what ``LabSettings`` stores: two spellings of the same
augmentation are the same setting.

``regularized_run`` is what ``prepare_run`` does with them: resize every split (``resize``), augment the
training subset only (``AugmentedDataset``; val never), and an ``EMA`` callback scoring the averaged
weights on val after every epoch. ``augment_preview`` is the picker's grid: the same few training images
augmented ``n`` times from one seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.augment import AUGMENT_STEPS, Augmentation, AugmentStep, resize
from ..data.dataset import ImageDataset
from ..squeeze.averaging import EMA
from ..train.callbacks import Callback

__all__ = [
    "augment_preview",
    "augmentation_from_text",
    "augmentation_text",
    "regularized_run",
    "resize_images",
]

_WHERE = "The 'augment' parameter of LabSettings"
_FORM = "Write steps as name or name:value (its main parameter), separated by ',', e.g. 'shift:2,rotate:10'."


def _main(name: str) -> str:
    return next(iter(AUGMENT_STEPS[name]))


def _number(text: str, step: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{_WHERE} has a step {step!r} whose value {text!r} is not a number. {_FORM}"
        ) from None


def augmentation_from_text(text: str) -> Augmentation:
    """The ``Augmentation`` an ``augment`` string names ("" or "none": no step).

    A bad step raises ``ValueError`` naming it: an unknown name, a value that is not a number, an unknown
    or out-of-range parameter.
    """
    if not isinstance(text, str):
        raise TypeError(f"{_WHERE} must be a string such as 'shift:2,rotate:10'. Got {text!r} instead.")
    if text.strip().lower() in ("", "none", "off"):
        return Augmentation()
    steps = []
    for raw in text.split(","):
        item = raw.strip()
        name, _, rest = item.partition(":")
        name = name.strip()
        if name not in AUGMENT_STEPS:
            raise ValueError(
                f"{_WHERE} has an unknown step {item!r}; the steps are {', '.join(AUGMENT_STEPS)}. {_FORM}"
            )
        params: dict[str, float] = {}
        for k, arg in enumerate(filter(None, (a.strip() for a in rest.split("/"))) if rest else ()):
            key, eq, value = arg.partition("=")
            if not eq:
                if k:
                    raise ValueError(
                        f"{_WHERE} has a step {item!r} with a second bare value {arg!r}; only the first "
                        f"value may be bare, the others are key=value, e.g. 'affine:15/scale=0.2'."
                    )
                key, value = _main(name), arg
            params[key.strip()] = _number(value.strip(), item)
        if "pad" in params:  # a pixel count: the step checks it is an int
            params["pad"] = int(params["pad"]) if float(params["pad"]).is_integer() else params["pad"]
        try:
            steps.append(AugmentStep(name, params))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{_WHERE} has a bad step {item!r}: {err}") from None
    return Augmentation(tuple(steps))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def augmentation_text(augmentation: Augmentation) -> str:
    """The canonical ``augment`` string of ``augmentation`` (``""``: none); reads back to the same steps."""
    parts = []
    for s in augmentation.steps:
        main = _main(s.name)
        extra = [f"{k}={_fmt(v)}" for k, v in s.params.items() if k != main and v != AUGMENT_STEPS[s.name][k]]
        parts.append("/".join([f"{s.name}:{_fmt(s.params[main])}", *extra]))
    return ",".join(parts)


def resize_images(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """A batch ``(B, C, H, W)`` resized as ``resize`` resizes a split (None: as it is)."""
    if size is None or tuple(x.shape[-2:]) == (size, size):
        return x
    from torchvision.transforms import v2  # type: ignore[import-untyped]

    return v2.Resize([size, size], antialias=True)(x)


def regularized_run(
    part: ImageDataset,
    val: ImageDataset | None,
    *,
    augment: str = "",
    input_size: int | None = None,
    ema: float | None = None,
) -> tuple[ImageDataset, ImageDataset | None, list[Callback]]:
    """The training subset and val of a run, and its callbacks, with the regularize settings applied.

    ``input_size``: both resized (the model must be built from the returned training data). ``augment``:
    the training data wrapped in an ``AugmentedDataset``; val never. ``ema``: an ``EMA`` of that decay
    scoring the averaged weights on (the resized) val after every epoch (its ``history_``).
    """
    if input_size is not None:
        part = resize(part, input_size)
        val = resize(val, input_size) if val is not None else None
    augmentation = augmentation_from_text(augment)
    if augmentation.steps:
        from ..data.augment import AugmentedDataset

        part = AugmentedDataset(part, augmentation)
    callbacks: list[Callback] = [EMA(ema, val=val)] if ema is not None else []
    return part, val, callbacks


def augment_preview(
    data: ImageDataset,
    augment: str,
    *,
    n: int = 6,
    samples: int = 4,
    seed: int = 0,
    input_size: int | None = None,
    indices: Sequence[int] | None = None,
) -> torch.Tensor:
    """``samples`` training images, each as it is and augmented ``n`` times: ``(samples, n + 1, C, H, W)``.

    The images are picked from ``seed`` (or given by ``indices``), resized to ``input_size`` first as a
    run does, and augmented from ``seed`` without touching the global RNG: the same arguments give the
    same tensor.
    """
    if indices is None:
        k = min(samples, len(data))
        picked = np.sort(np.random.default_rng(seed).choice(len(data), size=k, replace=False)).tolist()
    else:
        picked = [int(i) for i in indices]
    x = resize_images(torch.stack([data[i][0] for i in picked]), input_size)  # (k, C, H, W)
    augmentation = augmentation_from_text(augment)
    augmentation.check(tuple(x.shape[1:]))
    copies = x.repeat(n, 1, 1, 1)  # (n * k, C, H, W): copy j of every image, then copy j + 1
    out = augmentation(copies, seed=seed) if augmentation.steps else copies
    out = out.reshape(n, *x.shape).transpose(0, 1)  # (k, n, C, H, W)
    return torch.cat([x[:, None], out], dim=1)
