"""Where the gradient check may not trust a centred difference: the kinks of ReLU-like and max-pool layers.

Hooks record which side of its kink each unit is on (max-pools by their argmax indices); an entry whose
``f(x+h)`` and ``f(x-h)`` fall on different sides is skipped (``_crossed``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_RELU_LIKE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.SELU,
    nn.CELU,
)
_MAXPOOL = {nn.MaxPool1d: F.max_pool1d, nn.MaxPool2d: F.max_pool2d, nn.MaxPool3d: F.max_pool3d}
_ADAPTIVE = {
    nn.AdaptiveMaxPool1d: F.adaptive_max_pool1d,
    nn.AdaptiveMaxPool2d: F.adaptive_max_pool2d,
    nn.AdaptiveMaxPool3d: F.adaptive_max_pool3d,
}


class _KinkWatch:
    """Records, per forward, which side of its kink every ReLU-like unit is on and every max-pool's argmax."""

    def __init__(self, model: nn.Module) -> None:
        self.record: list[torch.Tensor] = []
        self.handles = []
        self.kinky = False
        for m in model.modules():
            if isinstance(m, _RELU_LIKE):
                self.handles.append(
                    m.register_forward_hook(lambda mod, inp, out: self.record.append(inp[0].detach() > 0))
                )
                self.kinky = True
            elif type(m) in _MAXPOOL or type(m) in _ADAPTIVE:
                self.handles.append(m.register_forward_hook(self._pool))
                self.kinky = True

    def _pool(self, mod, inp, out) -> None:
        x = inp[0].detach()
        if type(mod) in _MAXPOOL:
            _, idx = _MAXPOOL[type(mod)](
                x,
                mod.kernel_size,
                mod.stride,
                mod.padding,
                mod.dilation,
                ceil_mode=mod.ceil_mode,
                return_indices=True,
            )
        else:
            _, idx = _ADAPTIVE[type(mod)](x, mod.output_size, return_indices=True)
        self.record.append(idx)  # which input each output took: a change is a crossed kink

    def take(self) -> list[torch.Tensor]:
        out, self.record = self.record, []
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _crossed(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) != len(b) or any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(a, b))
