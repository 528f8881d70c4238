"""Data-parallel scaling: the same epochs on 1 process and on 2 DDP processes (``fit_ddp``, gloo, 1 torch
thread each), beside the machine's two-process ceiling measured in the same run; plus the transfer
learning gain from ``transfer_gain.py``.

Both sides train a CNN (``build_model("cnn", channels=32)``, 2 blocks: 32 and 64 channels) on the shipped
MNIST test set (10,000 images) with the same global batch (128: one process at 128, two ranks at 64 each),
so they take the same optimizer steps on the same samples; the time is rank 0's ``fit``
(``DDPResult.seconds``), not the process start, the model build or the DDP wrap (whose first use imports
``torch._dynamo``, ~1.8 s), which a run pays once (printed apart). The ceiling is two processes of pure
convolution against one, as ``search_scaling.py`` measures it: what two ranks could gain here at most.

``--channels 16`` is the tiny default CNN (10k parameters, ~25 ms a step at batch 128 on one thread): there
every step's gradient all-reduce makes both ranks wait for the slower one, and on 2 shared cores that wait
is a large part of a 13 ms step. Measured on an idle 2-core machine: 0.70 of the ceiling, where a bare
``DistributedDataParallel`` loop (no workbench) reached 0.72-0.78 in the same conditions; at 32 channels
(steps ~4x longer) 0.82.

    python benchmarks/ddp_scaling.py [--epochs 1] [--repeats 3] [--no-transfer]

Last line: ``ddp_speedup=<1-process time / 2-process time> ddp_vs_ceiling=<that / the ceiling>
transfer_gain=<pp, fine-tune vs scratch at 10 samples/class>``.
Goals: ddp_vs_ceiling >= 0.8, transfer_gain > 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workbench.distributed import fit_ddp
from workbench.models import build_model
from workbench.train import TrainConfig

from _common import load, load_average, machine_ceiling


def make_model(data, channels: int):
    return lambda: build_model("cnn", data, seed=0, channels=channels)


def timed(data, world: int, epochs: int, channels: int = 16) -> tuple[float, float]:
    t0 = time.perf_counter()
    r = fit_ddp(
        make_model(data, channels),
        data,
        config=TrainConfig(epochs=epochs, batch_size=128 // world, lr=1e-3),
        world_size=world,
        threads=1,
    )
    assert r.history.status == "finished", r.history.message
    return r.seconds, time.perf_counter() - t0


def transfer_gain() -> str:
    script = Path(__file__).with_name("transfer_gain.py")
    if not script.exists():
        return "n/a"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    print(out.stdout.rstrip())
    return out.stdout.strip().splitlines()[-1].split("transfer_gain=")[-1].split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-transfer", action="store_true")
    ap.add_argument("--channels", type=int, default=32, help="the CNN's first channels (16: the tiny CNN)")
    args = ap.parse_args()
    data = load("mnist")
    load0 = load_average()
    ceiling = machine_ceiling()
    print(f"this machine: {os.cpu_count()} cores; two processes of pure convolution reach {ceiling:.2f}x one")
    print(
        f"model: cnn, {args.channels} channels; global batch 128; "
        f"{args.epochs} epoch(s) of {len(data)} images"
    )
    ones, twos, starts = [], [], []
    for r in range(args.repeats):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        for world in order:
            train_s, total_s = timed(data, world, args.epochs, args.channels)
            (ones if world == 1 else twos).append(train_s)
            starts.append(total_s - train_s)
            print(f"round {r + 1}: {world} process(es): {train_s:.2f} s training, {total_s:.2f} s in all")
    one, two = statistics.median(ones), statistics.median(twos)
    speedup = one / two
    print(
        f"median over {args.repeats} rounds: 1 process {one:.2f} s, 2 processes {two:.2f} s -> "
        f"{speedup:.2f}x "
        f"({speedup / ceiling:.0%} of the ceiling {ceiling:.2f}x); starting the processes costs "
        f"{statistics.median(starts):.1f} s per run; load average {load0:.2f} -> {load_average():.2f}"
    )
    gain = "n/a" if args.no_transfer else transfer_gain()
    print(f"ddp_speedup={speedup:.2f} ddp_vs_ceiling={speedup / ceiling:.2f} transfer_gain={gain}")


if __name__ == "__main__":
    main()
