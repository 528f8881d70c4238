"""``InputAdapter``: make the data look like what pretrained weights were trained on, on the device.

Channel repeat (grayscale -> RGB) or averaging (RGB -> grayscale), resize, and the weights' own
normalisation, as one module in front of the network: it runs batched on the training device (no
per-sample transform, no copy of the dataset), and ``capture_batch`` captures its output, so the batch
viewer shows exactly what the pretrained layers receive.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["InputAdapter"]


class InputAdapter(nn.Module):
    """Channels, size and normalisation of a batch ``(B, C, H, W)`` made to match pretrained weights.

    Parameters
    ----------
    in_channels : int
        Channels of the data.
    out_channels : int, optional
        Channels the network expects: 1 -> 3 repeats the gray channel, 3 -> 1 averages; None keeps them.
    size : (int, int), optional
        Bilinear resize to ``(H, W)`` (antialiased when shrinking); None keeps the data's size.
    mean, std : sequence of float, optional
        The weights' normalisation, ``(x - mean) / std`` per output channel (ImageNet's for torchvision
        weights). Inputs are expected in [0, 1], as every workbench source gives them.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        size: tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        out = in_channels if out_channels is None else out_channels
        if out != in_channels and not (in_channels == 1 or out == 1):
            raise ValueError(
                f"InputAdapter: the data has {in_channels} channels and the network expects {out}; only 1 -> "
                "N (repeat) and N -> 1 (average) are automatic. Convert the images in the data source."
            )
        self.in_channels, self.out_channels, self.size = in_channels, out, size
        if (mean is None) != (std is None):
            raise ValueError("InputAdapter: give both mean and std, or neither.")
        if mean is not None and std is not None:
            m, s = torch.tensor([float(v) for v in mean]), torch.tensor([float(v) for v in std])
            if m.numel() not in (1, out) or s.numel() != m.numel() or bool((s <= 0).any()):
                raise ValueError(
                    f"InputAdapter: mean and std need 1 or {out} values each, std > 0. Got {list(mean)} and "
                    f"{list(std)} instead."
                )
            self.register_buffer("mean", m.view(1, -1, 1, 1), persistent=False)
            self.register_buffer("std", s.view(1, -1, 1, 1), persistent=False)
        else:
            self.mean = self.std = None

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """``(mean, std)`` applied last, or None (the batch viewer undoes it for display)."""
        if self.mean is None or self.std is None:
            return None
        return tuple(self.mean.flatten().tolist()), tuple(self.std.flatten().tolist())

    def steps(self) -> list[tuple[str, str]]:
        """What this adapter does, in order, as ``(name, detail)`` pairs."""
        out = []
        if self.out_channels != self.in_channels:
            how = "repeat the gray channel" if self.in_channels == 1 else "average the channels"
            out.append(("channels", f"{self.in_channels} -> {self.out_channels} ({how})"))
        if self.size is not None:
            out.append(("resize", f"bilinear to {self.size[0]}x{self.size[1]} on the device"))
        if self.normalization is not None:
            mean, std = self.normalization
            m, s = (", ".join(f"{v:.3g}" for v in t) for t in (mean, std))
            out.append(("normalize", f"(x - [{m}]) / [{s}], the weights' normalisation"))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, *size)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"InputAdapter expects (batch, {self.in_channels}, H, W) images. Got shape {tuple(x.shape)} "
                "instead."
            )
        if self.out_channels != self.in_channels:
            if self.in_channels == 1:
                x = x.expand(-1, self.out_channels, -1, -1)
            else:
                x = x.mean(dim=1, keepdim=True)
        if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
            shrink = self.size[0] < x.shape[-2] or self.size[1] < x.shape[-1]
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=shrink)
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        return x

    def extra_repr(self) -> str:
        return "; ".join(f"{n}: {d}" for n, d in self.steps()) or "identity"
