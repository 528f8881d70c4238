"""What does the overfit lab cost, with every live view on, next to a bare PyTorch loop?

The lab (``OverfitLab``, headless widgets, inline) trains with its live curves (smoothed line, band),
the prediction-dynamics view (a fixed batch of 8 scored 4x a second), the verdict at each epoch and the
SQLite run store. The reference is a bare PyTorch loop over the same model (same seeded init), subset,
optimizer and steps, **with the same per-epoch validation pass** (a loop that never evaluates is not
what anyone runs). Both are timed from the settings to the end of the run: each builds its model
(``prepare_run``) and takes its tensors inside the timing, as the lab's Run button does. Interleaved,
alternating order (bare first in odd rounds, lab first in even ones); every round's ratio of steps/s
is printed, then the median with its spread (min-max and interquartile range) and the machine's load
average. Sized for about 2.5 minutes on an idle 2-core machine.

    python benchmarks/lab_overhead.py [--rounds R] [--epochs E] [--threads T]

Last line: ``lab_vs_bare=<median ratio> spread=<min>-<max> iqr=<q1>-<q3> rounds=R load=L cpu=<median
CPU-time ratio>`` (goal: median >= 0.97, the live views cost at most 3 %). On a shared, loaded machine
pass ``--threads 1``: two intra-op threads fighting other processes for the cores make each step many
times slower and the ratios meaningless; the CPU-time ratio is then the steadier check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from torch import nn

from workbench.data import split
from workbench.lab import LabSettings, prepare_run
from workbench.ui import OverfitLab

from _common import load, load_average, summarize


def bare(settings: LabSettings, train, val) -> tuple[float, int, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    model, part, config = prepare_run(settings, train)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    x_all, y_all = part.tensors()
    xv, yv = val.tensors()
    gen = torch.Generator().manual_seed(settings.seed)
    steps = 0
    for _ in range(settings.epochs):
        model.train()
        order = torch.randperm(len(y_all), generator=gen)
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            loss = nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        model.eval()
        with torch.no_grad():  # the same full validation pass the lab does
            out = model(xv)
            nn.functional.cross_entropy(out, yv).item()
            (out.argmax(1) == yv).float().mean().item()
    return time.perf_counter() - t0, steps, time.process_time() - c0


def lab_run(settings: LabSettings, splits, store_path: str) -> tuple[float, int, float]:
    lab = OverfitLab(splits, settings, store=store_path, background=False)
    t0, c0 = time.perf_counter(), time.process_time()
    lab.start()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert lab.history.status == "finished", lab.status
    assert len(lab.curves.step_loss.x) and lab.predictions.tracker.latest()[0] > 1, "live views did not draw"
    return seconds, lab.history.steps, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    mnist = load("mnist")
    splits = split(mnist, val_fraction=0.1, test_fraction=0.0, seed=0)
    settings = LabSettings(
        model="cnn", width=16, depth=2, subset=len(splits.train), batch_size=64, lr=1e-3, epochs=args.epochs
    )
    print(
        f"data: MNIST test set split {len(splits.train)}/{len(splits.val)}, cnn 16ch depth 2, batch 64, "
        f"{args.epochs} epochs, threads={torch.get_num_threads()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "runs.sqlite")
        bare(settings.replace(epochs=1), splits.train, splits.val)  # warm-up
        lab_run(settings.replace(epochs=1), splits, store)
        ratios, cpu_ratios, load_before = [], [], load_average()
        for r in range(args.rounds):
            t = {}
            order = ("bare", "lab") if r % 2 == 0 else ("lab", "bare")
            for which in order:
                t[which] = (
                    bare(settings, splits.train, splits.val)
                    if which == "bare"
                    else lab_run(settings, splits, store)
                )
            assert t["bare"][1] == t["lab"][1], (t["bare"][1], t["lab"][1])
            ratio = t["bare"][0] / t["lab"][0]
            ratios.append(ratio)
            cpu_ratios.append(t["bare"][2] / t["lab"][2])
            steps = t["lab"][1]
            print(
                f"round {r + 1:2d} ({order[0]} first): bare {steps / t['bare'][0]:7.1f} steps/s   lab "
                f"{steps / t['lab'][0]:7.1f} steps/s   ratio {ratio:.3f}   (CPU time {cpu_ratios[-1]:.3f})",
                flush=True,
            )
    print("\n".join(summarize("lab_vs_bare", ratios, (load_before, load_average()), cpu_ratios)))


if __name__ == "__main__":
    main()
