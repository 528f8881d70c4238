"""Which label model ranks the real MNIST label errors near the top: the k-NN (default) vs. the out-of-fold CNN.

The ground truth is the 15 MNIST test-set label errors that people confirmed in the label-errors
study of Northcutt, Athalye & Mueller ("Pervasive Label Errors in Test Sets Destabilize Machine
Learning Benchmarks", 2021). Source: https://github.com/cleanlab/label-errors, file
``mturk/mnist_mturk.json`` (commit 5457895e): each entry was shown to 5 Mechanical Turk workers; the
confirmed errors are the entries where fewer than 3 of the 5 agreed with the given label
(``mturk.given < 3``). Their ``id`` is the index into the test set in file order, which is the order of
``workbench.data.mnist_test_set()``.

Each model scores every label of the 10,000 test images (``inspect(..., label_model=...)``); the
ranking is ``report.label_ranking("train")`` (most doubtful first). Printed per model: how many of the
15 are flagged and in the first 100 / 200 of the ranking, and the seconds ``inspect`` took.

    python benchmarks/label_errors.py [--epochs 4] [--channels 16] [--folds 5]

Last line: ``knn_top200=<n>/15 cnn_top200=<n>/15 cnn_seconds=<s>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workbench.data.labels as labels  # noqa: E402
from workbench.data import inspect, mnist_test_set  # noqa: E402

#: cleanlab/label-errors, mturk/mnist_mturk.json: ids with mturk.given < 3 (of 5 workers).
CONFIRMED = (947, 1621, 1901, 2130, 2462, 2597, 2654, 3520, 3558, 5937, 6651, 6783, 8527, 9679, 9729)


def measure(data, label_model: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    report = inspect(data, label_model=label_model, progress=None)
    seconds = time.perf_counter() - t0
    ranking = report.label_ranking("train")["index"].tolist()
    flagged = set(report.flagged("suspicious_label"))
    hits = {
        "flagged": (len(flagged), len(flagged & set(CONFIRMED))),
        "top100": len(set(ranking[:100]) & set(CONFIRMED)),
        "top200": len(set(ranking[:200]) & set(CONFIRMED)),
    }
    return hits, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=labels.CNN_EPOCHS)
    ap.add_argument("--channels", type=int, default=labels.CNN_CHANNELS)
    ap.add_argument("--folds", type=int, default=labels.CNN_FOLDS)
    args = ap.parse_args()
    labels.CNN_EPOCHS, labels.CNN_CHANNELS, labels.CNN_FOLDS = args.epochs, args.channels, args.folds
    labels.cnn_out_of_fold_probs.__kwdefaults__.update(epochs=args.epochs, channels=args.channels, folds=args.folds)
    data = mnist_test_set()
    assert all(0 <= i < len(data) for i in CONFIRMED)
    print(f"MNIST test set: {len(data)} images, {len(CONFIRMED)} confirmed label errors; torch threads {torch.get_num_threads()}")
    out = {}
    for model in ("knn", "cnn"):
        hits, seconds = measure(data, model)
        out[model] = (hits, seconds)
        extra = f" ({args.folds} folds x {args.epochs} epochs, {args.channels} channels)" if model == "cnn" else ""
        print(f"{model}{extra}: flags {hits['flagged'][0]} samples holding {hits['flagged'][1]}/15; "
              f"top 100 holds {hits['top100']}/15, top 200 holds {hits['top200']}/15; {seconds:.1f} s")
    ratio = out["cnn"][1] / out["knn"][1]
    print(f"cnn takes {ratio:.1f}x the k-NN's time and finds {out['cnn'][0]['top200'] - out['knn'][0]['top200']:+d} more in its top 200")
    print(f"knn_top200={out['knn'][0]['top200']}/15 cnn_top200={out['cnn'][0]['top200']}/15 cnn_seconds={out['cnn'][1]:.1f}")


if __name__ == "__main__":
    main()
