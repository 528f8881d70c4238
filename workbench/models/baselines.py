"""Small baselines with capacity knobs, sized from a dataset: start tiny, grow when it helps.

``linear`` -> ``mlp`` (width, depth) -> ``tiny_cnn`` (channels, depth). ``build_model(kind, data)``
reads the input shape and class count from an ``ImageDataset`` so the sizes never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_choice, check_int, check_real

__all__ = ["MLP", "MODEL_KINDS", "LinearClassifier", "TinyCNN", "build_model", "count_parameters"]

MODEL_KINDS = ("linear", "mlp", "cnn")


def _check_shape(input_shape: Sequence[int], num_classes: int, where: str) -> tuple[tuple[int, ...], int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{where}: input_shape must be (C, H, W) with positive sizes. Got {shape} instead.")
    return shape, check_int(num_classes, "num_classes", where, low=2)


class LinearClassifier(nn.Module):
    """Flatten, then one affine layer: the smallest model that can fit anything."""

    def __init__(self, input_shape: Sequence[int], num_classes: int) -> None:
        super().__init__()
        shape, num_classes = _check_shape(input_shape, num_classes, "LinearClassifier")
        self.flatten = nn.Flatten()
        self.head = nn.Linear(math.prod(shape), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, classes)
        return self.head(self.flatten(x))


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with ReLU (and optional dropout), then a linear head."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        width: int = 128,
        depth: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        shape, num_classes = _check_shape(input_shape, num_classes, "MLP")
        width = check_int(width, "width", "MLP", low=1, high=65536)
        depth = check_int(depth, "depth", "MLP", low=0, high=64)
        dropout = check_real(dropout, "dropout", "MLP", low=0.0, high=0.95)
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = math.prod(shape)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(fan_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class TinyCNN(nn.Module):
    """``depth`` blocks of 3x3 conv + ReLU (+ 2x2 max-pool while the image is at least 4 px), then a linear
    head.

    Channels double each block, starting from ``channels``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: int = 16,
        depth: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        shape, num_classes = _check_shape(input_shape, num_classes, "TinyCNN")
        channels = check_int(channels, "channels", "TinyCNN", low=1, high=4096)
        depth = check_int(depth, "depth", "TinyCNN", low=1, high=16)
        dropout = check_real(dropout, "dropout", "TinyCNN", low=0.0, high=0.95)
        c, h, w = shape
        layers: list[nn.Module] = []
        for i in range(depth):
            out = channels * 2**i
            layers += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.ReLU()]
            if min(h, w) >= 4:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = out
        layers.append(nn.Flatten())
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, classes)
        return self.head(self.body(x))


def build_model(kind: str, data, *, seed: int | None = None, **knobs) -> nn.Module:
    """A baseline sized for ``data``.

    Parameters
    ----------
    kind : {"linear", "mlp", "cnn"}
    data : ImageDataset or (input_shape, num_classes)
        Where the input shape ``(C, H, W)`` and the class count come from.
    seed : int, optional
        Initialise the weights from this seed without touching the global RNG, so the same seed
        always gives the same model.
    **knobs
        Capacity: ``width``, ``depth``, ``dropout`` (mlp); ``channels``, ``depth``, ``dropout`` (cnn).
    """
    check_choice(kind, "kind", "build_model", MODEL_KINDS)
    if isinstance(data, tuple) and len(data) == 2:
        input_shape, num_classes = data
    elif hasattr(data, "input_shape") and hasattr(data, "num_classes"):
        input_shape, num_classes = data.input_shape, data.num_classes
    else:
        raise TypeError(
            "The 'data' parameter of build_model must be an ImageDataset or an (input_shape, num_classes) "
            f"tuple. Got {type(data).__name__} instead."
        )
    cls = {"linear": LinearClassifier, "mlp": MLP, "cnn": TinyCNN}[kind]
    if seed is None:
        return cls(input_shape, num_classes, **knobs)
    seed = check_int(seed, "seed", "build_model", low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(input_shape, num_classes, **knobs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
