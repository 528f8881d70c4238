"""Pictures of samples for people: PNG thumbnails, and how an image looks when it is made smaller.

Pure functions (PIL + torch); the data browser only displays what they return.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = ["downsample_preview", "png_bytes", "to_uint8"]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` float image -> ``(H, W)`` or ``(H, W, 3)`` uint8 for display.

    Values in [0, 1] are shown as they are; any other range (normalised inputs) is stretched to its
    own min..max, so a normalised tensor is still visible.
    """
    x = x.detach().float().cpu()
    if x.ndim == 2:
        x = x[None]
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        x = (x - lo) / max(hi - lo, 1e-12)
    arr = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    if arr.shape[0] == 1:
        return arr[0]
    return arr[:3].transpose(1, 2, 0)


def png_bytes(x: torch.Tensor, display: int = 64) -> bytes:
    """A PNG of the image scaled (nearest neighbour, so pixels stay sharp) to ``display`` pixels high."""
    arr = to_uint8(x)
    img = Image.fromarray(arr)
    scale = display / img.height
    img = img.resize((max(1, round(img.width * scale)), display), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def downsample_preview(x: torch.Tensor, side: int) -> torch.Tensor:
    """The image at ``side`` pixels (area average, as a resize for training would do), blown back up
    to its original size with nearest neighbour, so one can judge what is still readable."""
    if side < 1:
        raise ValueError(
            f"The 'side' parameter of downsample_preview must be an int >= 1. Got {side!r} instead."
        )
    x = x.float()[None]
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(min(side, h), min(side, w)), mode="area")
    return F.interpolate(small, size=(h, w), mode="nearest")[0]
