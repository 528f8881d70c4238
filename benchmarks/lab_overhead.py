"""What does the overfit lab cost, with every live view on, next to a bare PyTorch loop?

The lab (``OverfitLab``, headless widgets, inline) trains with its live curves (smoothed line, band),
the prediction-dynamics view (a fixed batch of 8 scored 4x a second), the verdict at each epoch and the
SQLite run store. The reference is a bare PyTorch loop over the same model (same seeded init), subset,
optimizer and steps, **with the same per-epoch validation pass** (a loop that never evaluates is not
what anyone runs). Interleaved, alternating order; the median ratio of steps/s is reported.

    python benchmarks/lab_overhead.py [--rounds R] [--epochs E]

Last line: ``lab_vs_bare=<median ratio>`` (goal >= 0.95).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from _common import load  # noqa: E402
from workbench.data import split  # noqa: E402
from workbench.lab import LabSettings, prepare_run  # noqa: E402
from workbench.ui import OverfitLab  # noqa: E402


def bare(settings: LabSettings, train, val) -> tuple[float, int]:
    model, part, config = prepare_run(settings, train)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    x_all, y_all = part.tensors()
    xv, yv = val.tensors()
    gen = torch.Generator().manual_seed(settings.seed)
    steps = 0
    t0 = time.perf_counter()
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
    return time.perf_counter() - t0, steps


def lab_run(settings: LabSettings, splits, store_path: str) -> tuple[float, int]:
    lab = OverfitLab(splits, settings, store=store_path, background=False)
    t0 = time.perf_counter()
    lab.start()
    seconds = time.perf_counter() - t0
    assert lab.history.status == "finished", lab.status
    assert len(lab.curves.step_loss.x) and lab.predictions.tracker.latest()[0] > 1, "live views did not draw"
    return seconds, lab.history.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    mnist = load("mnist")
    splits = split(mnist, val_fraction=0.1, test_fraction=0.0, seed=0)
    settings = LabSettings(model="cnn", width=16, depth=2, subset=len(splits.train), batch_size=64, lr=1e-3,
                           epochs=args.epochs)
    print(f"data: MNIST test set split {len(splits.train)}/{len(splits.val)}, cnn 16ch depth 2, batch 64, "
          f"{args.epochs} epochs, threads={torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "runs.sqlite")
        bare(settings.replace(epochs=1), splits.train, splits.val)  # warm-up
        lab_run(settings.replace(epochs=1), splits, store)
        ratios = []
        for r in range(args.rounds):
            t = {}
            for which in (("bare", "lab") if r % 2 == 0 else ("lab", "bare")):
                t[which] = bare(settings, splits.train, splits.val) if which == "bare" else lab_run(settings, splits, store)
            assert t["bare"][1] == t["lab"][1], (t["bare"][1], t["lab"][1])
            ratio = t["bare"][0] / t["lab"][0]
            ratios.append(ratio)
            steps = t["lab"][1]
            print(f"round {r + 1}: bare {steps / t['bare'][0]:7.1f} steps/s   lab {steps / t['lab'][0]:7.1f} steps/s   ratio {ratio:.3f}")
    print(f"median ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    print(f"lab_vs_bare={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
