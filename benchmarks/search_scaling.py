"""Search scaling: the same 8-trial search with 1 and 2 local worker processes, and on a 2-worker Dask
LocalCluster; plus the cost of the LR range test next to 100 bare training steps.

Each trial trains the tiny CNN (16 channels) for ``--epochs`` epochs on the real MNIST test set split 9,000
train / 1,000 val (``--data digits`` for the small embedded set). Times include starting the
workers and handing them the data: what a user waits for. Both sides are measured as every search after
the first one of a session runs: local workers fork from a server process that already has torch
loaded, and the Dask LocalCluster is already up with torch loaded in its workers (each search still
scatters the data to them). What the first search pays on top (starting the fork server; starting the
cluster, whose workers then load torch) is measured and printed first. Scaling
is measured with one torch thread per worker in both runs (equal resources per worker); the time of
one worker using every core (torch's intra-op threads) is printed too, since that is the other way to
use a second core.

    python benchmarks/search_scaling.py [--trials 8] [--epochs 5] [--data mnist|digits] [--repeats 3]

Each configuration runs ``--repeats`` times, interleaved with the others in alternating order, and the
medians are reported: on this host single runs drift by 10-20 %.

Five epochs per trial is the top of the recipe's coarse range (1-5); ``--epochs`` tries others.

Last line: ``two_workers_speedup=<1 worker time / 2 workers time> two_workers_vs_ceiling=<that speed-up / the
ceiling of two processes of pure convolution, measured first> dask_overhead=<Dask time / 2 local workers time
- 1> lr_range_cost=<range test time / 100 bare steps>``. Goals: >= 1.7, >= 0.9, <= 10 %, <= 1.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from workbench.data import load_digits
from workbench.models import build_model
from workbench.tune import ModelSpec, SearchSpace, lr_range_test, search

from _common import bare_loop, load, machine_ceiling


def timed_search(data, tmp: str, name: str, trials: int, epochs: int, **kw) -> tuple[float, float]:
    """Seconds the search took, and the seconds its trials took inside the workers (summed)."""
    t0 = time.perf_counter()
    r = search(
        data,
        model=ModelSpec("cnn", width=16),
        space=SearchSpace(lr=(1e-3, 3e-2)),
        n_trials=trials,
        epochs=epochs,
        store=f"{tmp}/{name}.sqlite",
        study_name=name,
        seed=0,
        **kw,
    )
    seconds = time.perf_counter() - t0
    assert sum(o.status == "complete" for o in r.outcomes) == trials, r.to_frame()
    return seconds, sum(o.seconds for o in r.outcomes)


_START: list = []


def _set_start(barrier) -> None:
    _START.append(barrier)


def _train(steps: int) -> float:
    """Seconds for ``steps`` steps of the bare loop on a trial's model (CNN, 16 channels) and data, 1
    thread."""
    from workbench.data import split

    torch.set_num_threads(1)
    train = split(load("mnist"), val_fraction=0.1, test_fraction=0.0).train
    x_all, y_all = train.tensors()
    bare_loop(build_model("cnn", train, seed=0, channels=16), x_all, y_all, 20, 64, 1e-3, 0)  # warm-up
    _START[0].wait()  # the processes' timed loops run side by side
    return bare_loop(build_model("cnn", train, seed=0, channels=16), x_all, y_all, steps, 64, 1e-3, 0)


def training_ceiling(steps: int = 300) -> float:
    """Throughput of two processes of the bare training loop vs one: what the machine allows a trial's
    workload (memory traffic and all), with no executor around it."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1, _set_start, (ctx.Barrier(1),)) as p:
        one = p.map(_train, [steps])[0]
    with ctx.Pool(2, _set_start, (ctx.Barrier(2),)) as p:
        two = max(p.map(_train, [steps, steps], chunksize=1))
    return 2 * one / two


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data", choices=["mnist", "digits"], default="mnist")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from workbench.data import split

    ceiling, training = machine_ceiling(), training_ceiling()
    print(
        f"this machine: {os.cpu_count()} cores; two processes of pure convolution reach {ceiling:.2f}x the "
        "throughput of one (the ceiling for two workers); two bare training loops of a trial's model and "
        f"data {training:.2f}x"
    )

    digits = (
        load_digits(seed=0)
        if args.data == "digits"
        else split(load("mnist"), val_fraction=0.1, test_fraction=0.0)
    )
    from distributed import Client, LocalCluster

    times: dict[str, list[float]] = {"one": [], "two": [], "wide": [], "dask": []}
    in_trials: dict[str, list[float]] = {"one": [], "two": []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        # What the first search of a session pays once, on each side: the fork server loading torch, and a
        # LocalCluster starting with its workers loading torch when the first data arrives. Timed and printed;
        # the rounds after it are what every later search costs, the same on both sides.
        t0 = time.perf_counter()
        timed_search(digits, tmp, "first-local", 2, 1, workers=2, threads_per_worker=1)
        first_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        cluster = stack.enter_context(
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        )
        client = stack.enter_context(Client(cluster))
        cluster_start = time.perf_counter() - t0
        timed_search(digits, tmp, "first-dask", 2, 1, client=client)
        first_dask = time.perf_counter() - t0
        print(
            f"first search of a session (2 trials x 1 epoch): local {first_local:.1f} s (starts the fork "
            f"server), Dask {first_dask:.1f} s (cluster start {cluster_start:.1f} s included)"
        )
        for rep in range(args.repeats):  # interleaved, order alternating: this host's speed drifts
            order = ["one", "two", "wide", "dask"] if rep % 2 == 0 else ["dask", "wide", "two", "one"]
            for which in order:
                kw = {
                    "one": {"workers": 1, "threads_per_worker": 1},
                    "two": {"workers": 2, "threads_per_worker": 1},
                    "wide": {"workers": 1},
                    "dask": {"client": client},
                }[which]
                seconds, trial_seconds = timed_search(
                    digits, tmp, f"{which}{rep}", args.trials, args.epochs, **kw
                )
                times[which].append(seconds)
                if which in in_trials:
                    in_trials[which].append(trial_seconds)
            print(f"round {rep + 1}: " + "  ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
    one, two, wide, dask = (statistics.median(times[k]) for k in ("one", "two", "wide", "dask"))
    print(
        f"medians: 1 worker x 1 thread {one:.1f} s | 2 workers x 1 thread {two:.1f} s ({one / two:.2f}x) | "
        f"1 worker x {os.cpu_count()} threads {wide:.1f} s (2 workers are {wide / two:.2f}x faster) | "
        f"2-worker Dask {dask:.1f} s ({dask / two - 1:+.1%} vs 2 local workers)"
    )
    # where two workers lose against the ceiling: inside the trials (the machine), or around them (the
    # executor)
    trial_one, trial_two = (statistics.median(in_trials[k]) for k in ("one", "two"))
    print(
        f"inside trials: {trial_two / trial_one:.2f}x as long with 2 workers as with 1 (the ceiling: "
        f"{2 / ceiling:.2f}x; two training loops alone: {2 / training:.2f}x) | outside trials (starting "
        f"workers, Optuna, recording): 1 worker {one - trial_one:.2f} s ({1 - trial_one / one:.1%}), 2 "
        f"workers {two - trial_two / 2:.2f} s ({1 - trial_two / 2 / two:.1%})"
    )

    # the LR range test vs. 100 bare steps: same model, data and batch size
    mnist = load("mnist")
    x_all, y_all = mnist.tensors()
    model = build_model("cnn", mnist, seed=0)
    bare_loop(build_model("cnn", mnist, seed=0), x_all, y_all, 20, 64, 1e-3, 0)  # warm-up
    bare = min(bare_loop(build_model("cnn", mnist, seed=0), x_all, y_all, 100, 64, 1e-3, 0) for _ in range(3))
    rng = []
    for _ in range(3):
        t0 = time.perf_counter()
        r = lr_range_test(model, mnist, num_iter=100, end_lr=1.0, diverge_factor=1e9)  # all 100 steps
        rng.append(time.perf_counter() - t0)
        assert len(r.lrs) == 100
    cost = min(rng) / bare
    print(
        f"LR range test, 100 steps on MNIST: {min(rng):.2f} s vs 100 bare steps {bare:.2f} s "
        f"(threads={torch.get_num_threads()})"
    )
    print(
        f"two_workers_speedup={one / two:.2f} two_workers_vs_ceiling={one / two / ceiling:.2f} "
        f"dask_overhead={dask / two - 1:.3f} lr_range_cost={cost:.2f}"
    )


if __name__ == "__main__":
    main()
