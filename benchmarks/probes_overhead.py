"""What do ``Probes`` cost at their default cadence, next to the same run without them?

The same run twice: ``workbench.fit`` of the tiny CNN (same seeded init, same data, Adam, the same
steps), (a) without callbacks, (b) with ``Probes()`` (every 25 steps, at most 4 samples a second).
The two are interleaved, in alternating order (plain first in odd rounds, probed first in even ones);
each round gives the fraction by which the probed run was slower, ``t_probed / t_plain - 1``, and is
printed, then the median with its spread (min-max and interquartile range) and the machine's load
average. Sized for about 2 minutes on an idle 2-core machine.

    python benchmarks/probes_overhead.py [--data digits|mnist] [--steps N] [--rounds R] [--threads T]

Last line: ``probes_overhead=<median fraction slower> spread=<min>-<max> iqr=<q1>-<q3> rounds=R load=L
cpu=<median in CPU time>`` (goal: median <= 0.03). On a shared, loaded machine pass ``--threads 1``
(two intra-op threads fighting other processes make each step many times slower and the fractions
meaningless); the CPU-time fraction is then the steadier check.

``--profile`` instead times the pieces of one sampled step (arming, the forward hooks, collecting and
the one host copy) over many samples, to see where the cost goes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from workbench import TrainConfig, build_model, fit
from workbench.diagnose import Probes
from workbench.train import resolve_device

from _common import load, load_average, summarize


def profile(data, config: TrainConfig, device: torch.device) -> None:
    """Where a sample's time goes: every step sampled (``every=1``, no cap), against no probes."""
    import cProfile
    import pstats

    steps = config.max_steps or 0

    def run(callbacks) -> float:
        model = build_model("cnn", data, seed=0).to(device)
        t0 = time.perf_counter()
        fit(model, data, config=config, callbacks=callbacks)
        return time.perf_counter() - t0

    run([])
    plain = min(run([]) for _ in range(3))
    every = min(run([Probes(every=1, max_hz=1e9)]) for _ in range(3))
    print(
        f"every step sampled: {every / steps * 1e3:.3f} ms/step vs {plain / steps * 1e3:.3f} ms/step plain: "
        f"{(every - plain) / steps * 1e3:.3f} ms per sample; at the default cadence (a sample every 25 "
        f"steps, at most 4/s) that is {(every - plain) / steps / 25 / (plain / steps):.2%} of a step's time"
    )
    prof = cProfile.Profile()
    prof.enable()
    run([Probes(every=1, max_hz=1e9)])
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats("probes.py|histc|clone|cpu|norm", 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["digits", "mnist"], default="mnist")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    ap.add_argument("--profile", action="store_true", help="time the pieces of a sample instead")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    data = load(args.data)
    device = resolve_device("auto")
    epochs = -(-args.steps // -(-len(data) // args.batch_size))
    config = TrainConfig(epochs=epochs, max_steps=args.steps, batch_size=args.batch_size, lr=1e-3, seed=0)
    print(
        f"data={data.name} n={len(data)} shape={data.input_shape} model=cnn device={device} "
        f"threads={torch.get_num_threads()} steps={args.steps} batch={args.batch_size} rounds={args.rounds}"
    )
    if args.profile:
        profile(data, config, device)
        return

    def timed(probed: bool) -> tuple[float, float, int]:
        model = build_model("cnn", data, seed=0).to(device)
        probes = Probes() if probed else None
        t0, c0 = time.perf_counter(), time.process_time()
        h = fit(model, data, config=config, callbacks=[probes] if probes else [])
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert h.steps == args.steps, h
        return seconds, cpu, len(probes.samples) if probes else 0

    timed(False)  # warm up allocator and kernels
    timed(True)
    fractions, cpu_fractions, load_before = [], [], load_average()
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        t = {probed: timed(probed) for probed in order}
        fractions.append(t[True][0] / t[False][0] - 1)
        cpu_fractions.append(t[True][1] / t[False][1] - 1)
        print(
            f"round {r + 1:2d} ({'probed' if order[0] else 'plain'} first): plain "
            f"{args.steps / t[False][0]:7.1f} steps/s   probed {args.steps / t[True][0]:7.1f} steps/s "
            f"({t[True][2]} samples)   slower by {fractions[-1]:+.3f}   (CPU time {cpu_fractions[-1]:+.3f})",
            flush=True,
        )
    lines = summarize("probes_overhead", fractions, (load_before, load_average()), cpu_fractions)
    head = "\n".join(lines[:-1]).replace("median ratio", "median fraction slower")
    print(head.replace("ratio", "fraction"))
    print(lines[-1])


if __name__ == "__main__":
    main()
