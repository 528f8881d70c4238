"""Whole-model gradient check: workbench.checks.gradient_check vs. torch.autograd.gradcheck.

The same MLP (64 -> 128 -> 64 -> 10: 17,226 parameters) on the same batch of digits, with the same
planted bug: a custom autograd.Function (ReLU) whose backward is 2 % too large. gradcheck gets every
parameter as one flat float64 input (through torch.func.functional_call) and checks the full
Jacobian; the workbench checks a few entries of every parameter tensor. Both must catch the bug, and
both must pass the correct model.

    python benchmarks/gradcheck_speed.py

Last line: ``gradcheck_speedup=<torch time / workbench time> caught=<both|workbench|torch|neither>``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from workbench.checks import first_batch, gradient_check
from workbench.data import load_digits


class ReLUOff2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype) * 1.02


class MLP(nn.Module):
    def __init__(self, bug: bool):
        super().__init__()
        self.bug = bug
        self.fc1, self.fc2, self.head = nn.Linear(64, 128), nn.Linear(128, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        h = self.fc2(h)
        h = ReLUOff2.apply(h) if self.bug else torch.relu(h)
        return self.head(h)


def torch_gradcheck(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> bool:
    m = model.double()
    names = [n for n, _ in m.named_parameters()]
    shapes = [p.shape for _, p in m.named_parameters()]
    sizes = [p.numel() for _, p in m.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for _, p in m.named_parameters()]).requires_grad_(True)
    xd = x.double()

    def f(theta):
        params = {n: t.reshape(s) for n, t, s in zip(names, theta.split(sizes), shapes)}
        return nn.functional.cross_entropy(torch.func.functional_call(m, params, (xd,)), y)

    return torch.autograd.gradcheck(f, (flat,), eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=False)


def main() -> None:
    torch.manual_seed(0)
    digits = load_digits(seed=0)
    x, y = first_batch(digits.train, 16)
    n_params = sum(p.numel() for p in MLP(False).parameters())
    print(f"MLP with {n_params:,} parameters, batch of {len(y)} digits, planted bug: ReLU backward x1.02")
    results = {}
    for bug in (False, True):
        torch.manual_seed(0)
        model = MLP(bug)
        t0 = time.perf_counter()
        ours = gradient_check(model, (x, y)).passed
        t_ours = time.perf_counter() - t0
        torch.manual_seed(0)
        t0 = time.perf_counter()
        theirs = torch_gradcheck(MLP(bug), x, y)
        t_torch = time.perf_counter() - t0
        results[bug] = (ours, theirs, t_ours, t_torch)
        print(
            f"{'buggy  ' if bug else 'correct'} model: workbench passed={ours} in {t_ours:.3f} s; "
            f"torch.autograd.gradcheck passed={theirs} in {t_torch:.2f} s"
        )
    ours_ok = results[False][0] and not results[True][0]
    torch_ok = results[False][1] and not results[True][1]
    caught = {
        (True, True): "both",
        (True, False): "workbench",
        (False, True): "torch",
        (False, False): "neither",
    }[(ours_ok, torch_ok)]
    speedup = results[True][3] / results[True][2]
    print(f"gradcheck_speedup={speedup:.0f} caught={caught}")


if __name__ == "__main__":
    main()
