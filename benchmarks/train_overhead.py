"""What does the workbench loop with live curves cost, next to a bare PyTorch loop?

Same model (same seeded init), same data, same optimizer and LR, same number of steps; (a) a bare loop,
(b) ``workbench.fit`` with ``LiveCurves`` attached (headless widgets). The two are interleaved, in
alternating order (bare first in odd rounds, live first in even ones); each round gives a ratio of
steps/s and is printed, then the median with its spread (min-max and interquartile range) and the
machine's load average. Sized for about 2.5 minutes on an idle 2-core machine.

    python benchmarks/train_overhead.py [--data digits|mnist] [--steps N] [--rounds R] [--threads T]

Last line: ``live_vs_bare=<median ratio of steps/s> spread=<min>-<max> iqr=<q1>-<q3> rounds=R load=L
cpu=<median CPU-time ratio>`` (goal: median >= 0.97). On a shared, loaded machine pass ``--threads 1``:
two intra-op threads fighting other processes for the cores make each step many times slower and the
ratios meaningless; the CPU-time ratio is then the steadier check.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from workbench import TrainConfig, build_model, fit
from workbench.train import resolve_device
from workbench.ui import LiveCurves

from _common import bare_loop, load, load_average, summarize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["digits", "mnist"], default="mnist")
    ap.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    data = load(args.data)
    device = resolve_device("auto")
    x_all, y_all = data.tensors()
    x_all, y_all = x_all.to(device), y_all.to(device)
    lr, seed = 1e-3, 0
    epochs = -(-args.steps // -(-len(data) // args.batch_size))
    config = TrainConfig(epochs=epochs, max_steps=args.steps, batch_size=args.batch_size, lr=lr, seed=seed)

    def make():
        return build_model(args.model, data, seed=seed).to(device)

    def workbench_run() -> tuple[float, float]:
        model, curves = make(), LiveCurves()
        t0, c0 = time.perf_counter(), time.process_time()
        h = fit(model, data, config=config, callbacks=[curves.callback()])
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert h.steps == args.steps and len(curves.step_loss.x) > 0, (h, len(curves.step_loss.x))
        return seconds, cpu

    def bare_run() -> tuple[float, float]:
        model = make()
        c0 = time.process_time()
        seconds = bare_loop(model, x_all, y_all, args.steps, args.batch_size, lr, seed)
        return seconds, time.process_time() - c0

    print(
        f"data={data.name} n={len(data)} shape={data.input_shape} model={args.model} device={device} "
        f"threads={torch.get_num_threads()} steps={args.steps} batch={args.batch_size} rounds={args.rounds}"
    )
    bare_loop(make(), x_all, y_all, 50, args.batch_size, lr, seed)  # warm up allocator and kernels
    workbench_run()
    ratios, cpu_ratios, load_before = [], [], load_average()
    for r in range(args.rounds):
        order = ("bare", "live") if r % 2 == 0 else ("live", "bare")
        t = {}
        for which in order:
            t[which] = bare_run() if which == "bare" else workbench_run()
        ratio = t["bare"][0] / t["live"][0]  # (steps/s live) / (steps/s bare)
        ratios.append(ratio)
        cpu_ratios.append(t["bare"][1] / t["live"][1])
        print(
            f"round {r + 1:2d} ({order[0]} first): bare {args.steps / t['bare'][0]:8.1f} steps/s   live "
            f"{args.steps / t['live'][0]:8.1f} steps/s   ratio {ratio:.3f}   (CPU time {cpu_ratios[-1]:.3f})",
            flush=True,
        )
    print("\n".join(summarize("live_vs_bare", ratios, (load_before, load_average()), cpu_ratios)))


if __name__ == "__main__":
    main()
