"""Lab 3, the gradient check: grade a hand-written ``torch.autograd.Function`` with the workbench's own
``gradient_check`` (float64 centred differences against the student's backward).

The student writes a linear layer's backward, ``y = x @ weight.T + bias``. The checker puts it into a
two-layer net (linear -> tanh -> linear, both through the student's Function), so a wrong gradient for
the input shows up in the first layer's parameters, and runs ``gradient_check`` on three digits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import gradient_check
from ..data import load_digits
from .feedback import Feedback, one_thread, tensors_of

__all__ = ["check_backward"]


class _Linear(nn.Module):
    def __init__(self, function, n_in: int, n_out: int) -> None:
        super().__init__()
        self.function = function
        bound = 1 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function.apply(x, self.weight, self.bias)


class _TwoLayers(nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.first, self.second = _Linear(function, 64, 16), _Linear(function, 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 8, 8) -> (B, 10)
        return self.second(torch.tanh(self.first(x.reshape(len(x), -1))))


def check_backward(function: type, seed: int = 0) -> Feedback:
    """Grade ``function`` (a ``torch.autograd.Function`` computing ``x @ weight.T + bias`` from ``apply(x,
    weight, bias)``) by ``gradient_check``: its analytic gradients against float64 centred differences.

    Passes when every parameter of both layers agrees (relative error under the check's threshold); the
    message names the worst relative error per tensor, the hint the kind of mistake it looks like.
    """
    if not (isinstance(function, type) and issubclass(function, torch.autograd.Function)):
        raise TypeError(
            "The 'function' parameter of check_backward must be a torch.autograd.Function subclass (the "
            f"class itself, not .apply). Got {function!r} instead."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _TwoLayers(function)
    x, y = tensors_of(load_digits(seed=0).train)
    try:
        out = model(x[:3])
        if out.shape != (3, 10):
            return Feedback(
                False,
                f"forward gave shape {tuple(out.shape)} for 3 inputs, not (3, 10)",
                "compare the output's shape with x @ weight.T + bias",
                "backward",
            )
        with one_thread():
            result = gradient_check(model, (x[:3], y[:3]), dims_per_param=6, weight_decay=0.0)
    except NotImplementedError:
        return Feedback(
            False,
            "backward is not written yet (it raises NotImplementedError)",
            "return one gradient per input of forward, each shaped like that input",
            "backward",
        )
    except Exception as err:  # noqa: BLE001 - shape mismatches in the student's backward, mostly
        return Feedback(
            False,
            f"running your Function raised {type(err).__name__}: {err}",
            "each gradient backward returns must have the shape of the matching forward input",
            "backward",
        )
    per = result.details.get("per_parameter", {})
    worst = {name: d.get("max_rel_error") for name, d in per.items()}
    shown = ", ".join(f"{n} {e:.1e}" if e is not None else f"{n} not checked" for n, e in worst.items())
    wrong = [
        n
        for n, d in per.items()
        if d.get("status") != "checked"
        or (d.get("max_rel_error") or 0) > result.details.get("threshold", 1e-4)
    ]
    hint = "the gradients agree"
    if not result.passed:
        if all(n.startswith("first") for n in wrong) and wrong:
            hint = (
                "only the first layer is off: its gradients reach it through the second layer's "
                "gradient for its input"
            )
        elif any(n.endswith("bias") for n in wrong) and not any(n.endswith("weight") for n in wrong):
            hint = "only the biases are off: a bias is added to every sample of the batch"
        else:
            hint = (
                "the weights' gradients disagree: check each against its shape, and which "
                "tensors it must combine"
            )
    return Feedback(result.passed, f"largest relative error per tensor: {shown}", hint, "backward")
