"""What do EMA, an ensemble of seeds and distillation buy on MNIST with 2,000 training images?

The embedded MNIST test set is split (seeded, stratified) into 2,000 training images, 1,000 for
validation and the remaining 6,999 held out; every accuracy below is measured on **all** of the held-out
images. One fixed budget: five small CNNs (seeds 0-4), each trained for ``--epochs`` epochs with the same
augmentation (shift + small rotation, on the fly, 8 images per random draw) and an EMA of its weights
(decay 0.99); the ensemble of their EMA weights (mean of probabilities; the live weights' ensemble is
shown too); one student of the same size distilled from that ensemble (the ensemble answering for each
augmented view, T=4, alpha=0.9) for as many epochs as a member; and, as its control, the same student
trained alone on the labels for as long. The student and its control are scored by their EMA weights,
like the members (their live weights are shown too). Everything trains through ``workbench.fit``.

    python benchmarks/squeeze.py [--epochs E] [--student-epochs S] [--threads T]

Printed: the table from ``compare`` (accuracy with its Wilson interval, loss, parameters, time per
image), then each gain with its paired 95 % interval. The best single member (live or EMA weights) is
picked on the held-out split itself (which favours it: the ensemble's gain is if anything understated).
Last line: ``ensemble_gain=<pp over the best single member> ema_gain=<pp of the EMA weights over the live
ones, mean of the five> distill_kept=<(student - best single) / (ensemble - best single)>``. Goals:
ensemble_gain > 0 with its interval above 0; distill_kept >= 0.5. About 15 minutes on a loaded 2-core
machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from workbench import TrainConfig
from workbench.data import Augmentation, augment, split
from workbench.squeeze import EMA, Ensemble, ModelSpec, compare, distill, train_members

from _common import load, load_average


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--student-epochs", type=int, default=None, help="default: --epochs")
    ap.add_argument("--temperature", type=float, default=4.0)
    ap.add_argument("--alpha", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started, load_before = time.perf_counter(), load_average()

    parts = split(load("mnist"), val_fraction=0.1, test_fraction=0.7, seed=0)
    train = parts.train.subset(range(2000), name="mnist/train[2000]")
    test = parts.test
    augmented = augment(train, Augmentation.of("shift", rotate={"degrees": 10.0}, group=8))
    spec = ModelSpec.for_data("cnn", train, channels=16, depth=2)
    config = TrainConfig(epochs=args.epochs, batch_size=64, lr=2e-3, device="cpu")
    print(
        f"data: MNIST, {len(train)} train / {len(parts.val)} val / {len(test)} held out; cnn 16ch depth 2; "
        f"{args.epochs} epochs, batch 64, adam 2e-3; augmentation {augmented.augmentation}; "
        f"threads={torch.get_num_threads()}",
        flush=True,
    )

    emas: dict[int, EMA] = {}
    t0 = time.perf_counter()
    members = train_members(
        spec,
        augmented,
        parts.val,
        seeds=range(args.members),
        config=config,
        callbacks=lambda seed: [emas.setdefault(seed, EMA(0.99, parts.val))],
    )
    print(f"{len(members)} members trained in {time.perf_counter() - t0:.0f} s", flush=True)
    # the live weights of a constant-LR run end wherever the last noisy steps left them; the EMA of the
    # same run is free and steadier, so the ensemble and the student are built on EMA weights throughout
    ensemble = Ensemble([emas[m.seed].averaged_model() for m in members])
    live_ensemble = Ensemble([m.model for m in members])

    # the student learns from the ensemble's answers on fresh augmented views, as long as a member; the
    # same network trained alone on the labels, as long, is measured beside it
    student_epochs = args.student_epochs or args.epochs
    student_config = config.replace(epochs=student_epochs, seed=100)
    t0 = time.perf_counter()
    student_ema, alone_ema = EMA(0.99, parts.val), EMA(0.99, parts.val)
    student = distill(
        ensemble,
        spec.build(seed=100),
        augmented,
        parts.val,
        temperature=args.temperature,
        alpha=args.alpha,
        config=student_config,
        callbacks=[student_ema],
    )
    print(
        f"student distilled in {time.perf_counter() - t0:.0f} s ({student_epochs} epochs, "
        f"T={args.temperature}, alpha={args.alpha})",
        flush=True,
    )
    t0 = time.perf_counter()
    (alone,) = train_members(
        spec, augmented, parts.val, seeds=[100], config=student_config, callbacks=lambda seed: [alone_ema]
    )
    print(
        f"the same student trained alone on the labels, as long: {time.perf_counter() - t0:.0f} s", flush=True
    )

    models: dict[str, torch.nn.Module] = {f"seed {m.seed}": m.model for m in members}
    models |= {f"EMA {seed}": ema.averaged_model() for seed, ema in emas.items()}
    models |= {"ensemble": ensemble, "ensemble (live)": live_ensemble}
    models |= {"distilled": student_ema.averaged_model(), "distilled (live)": student.student}
    models |= {"alone (as long)": alone_ema.averaged_model(), "alone (live)": alone.model}
    result = compare(models, test, device="cpu")
    with_pd = result.to_frame().round(
        {"accuracy_%": 2, "low_%": 2, "high_%": 2, "loss": 4, "us_per_image": 1}
    )
    print(with_pd.to_string())

    best = result.best([f"{kind} {m.seed}" for m in members for kind in ("seed", "EMA")])
    ens_gain = result.gain("ensemble", best)
    ema_gains = [result.gain(f"EMA {m.seed}", f"seed {m.seed}") for m in members]
    print(f"best single member (live or EMA): {best}")
    print(f"ensemble gain: {ens_gain}")
    for g in ema_gains:
        print(f"EMA gain: {g}")
    print(f"student: {result.gain('distilled', best)}")
    print(f"student: {result.gain('distilled', 'alone (as long)')}")
    kept = result.kept("distilled", "ensemble", best)
    kept_alone = result.kept("distilled", "ensemble", "alone (as long)")
    ratio = result["distilled"].accuracy / result["ensemble"].accuracy
    print(
        f"distilled accuracy / ensemble accuracy = {ratio:.4f}; of the ensemble's gain the student keeps "
        f"{kept:.2f} (over the best member), {kept_alone:.2f} (over itself trained alone as long)"
    )
    print(
        f"total {time.perf_counter() - started:.0f} s; load average {load_before:.2f} -> "
        f"{load_average():.2f} (it moves the timings only; the accuracies do not depend on it)"
    )
    ema_mean = statistics.fmean(g.diff for g in ema_gains)
    print(f"ensemble_gain={ens_gain.diff * 100:.2f} ema_gain={ema_mean * 100:.2f} distill_kept={kept:.2f}")


if __name__ == "__main__":
    main()
