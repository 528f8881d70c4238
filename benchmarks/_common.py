"""Shared by the benchmarks: the data they train on and the bare PyTorch loop they compare against."""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time

import torch
from torch import nn

from workbench.data import load_digits, mnist_test_set


def load(name: str):
    """``digits`` (embedded, the train split) or ``mnist`` (the embedded MNIST test set, 10k 28x28, file
    order)."""
    if name == "digits":
        return load_digits(seed=0).train
    return mnist_test_set()


def bare_loop(
    model: nn.Module,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> float:
    """The reference: a plain PyTorch loop over shuffled in-memory batches. Returns seconds for ``steps``
    steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n, done = len(y_all), 0
    model.train()
    t0 = time.perf_counter()
    while done < steps:
        order = torch.randperm(n, generator=gen).to(x_all.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    if x_all.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def load_average() -> float:
    """The machine's 1-minute load average (shown with the results: above the core count, timings are
    noisy)."""
    return os.getloadavg()[0]


def summarize(
    name: str, ratios: list[float], loads: tuple[float, float], cpu_ratios: list[float] | None = None
) -> list[str]:
    """The closing lines of an interleaved benchmark: the median ratio with its spread; the last is
    ``name=...``.

    ``loads``: the 1-minute load average before and after the rounds. ``cpu_ratios``: the same ratios in
    process CPU time (less sensitive to other processes than wall time; with one torch thread, a check).
    """

    def quartiles(values):
        return statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3

    q1, med, q3 = quartiles(ratios)
    lines = [
        (
            f"median ratio {med:.3f} over {len(ratios)} rounds: min-max {min(ratios):.3f}-{max(ratios):.3f}, "
            f"IQR {q1:.3f}-{q3:.3f}; load average {loads[0]:.2f} -> {loads[1]:.2f} on {os.cpu_count()} cores"
        )
    ]
    cpu = ""
    if cpu_ratios:
        c1, cmed, c3 = quartiles(cpu_ratios)
        lines.append(
            f"CPU-time ratio: median {cmed:.3f}, min-max {min(cpu_ratios):.3f}-{max(cpu_ratios):.3f}, "
            f"IQR {c1:.3f}-{c3:.3f}"
        )
        cpu = f" cpu={cmed:.3f}"
    if max(loads) > (os.cpu_count() or 1) / 2:
        lines.append(
            "note: the machine was busy (load average above half its cores): wall-time ratios are noisy"
        )
    lines.append(
        f"{name}={med:.3f} spread={min(ratios):.3f}-{max(ratios):.3f} iqr={q1:.3f}-{q3:.3f} "
        f"rounds={len(ratios)} load={max(loads):.2f}{cpu}"
    )
    return lines


def _burn(n: int) -> float:
    torch.set_num_threads(1)
    x, conv = torch.randn(64, 16, 14, 14), torch.nn.Conv2d(16, 32, 3, padding=1)
    for _ in range(50):
        conv(x)
    t0 = time.perf_counter()
    for _ in range(n):
        conv(x)
    return time.perf_counter() - t0


def machine_ceiling() -> float:
    """Throughput of two processes of pure convolution vs one: the most two workers can gain here."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as p:
        one = p.map(_burn, [600])[0]
    with ctx.Pool(2) as p:
        two = max(p.map(_burn, [600, 600]))
    return 2 * one / two
