"""Which label model ranks the real MNIST label errors near the top: the k-NN (default) vs. the out-of-fold
CNN.

The ground truth is the 15 MNIST test-set label errors that people confirmed in the label-errors
study of Northcutt, Athalye & Mueller ("Pervasive Label Errors in Test Sets Destabilize Machine
Learning Benchmarks", 2021). Source: https://github.com/cleanlab/label-errors, file
``mturk/mnist_mturk.json`` (commit 5457895e): each entry was shown to 5 Mechanical Turk workers; the
confirmed errors are the entries where fewer than 3 of the 5 agreed with the given label
(``mturk.given < 3``). Their ``id`` is the index into the test set in file order, which is the order of
``workbench.data.mnist_test_set()``.

Each model scores every label of the 10,000 test images (``inspect(..., label_model=...)``); the
ranking is ``report.label_ranking("train")`` (most doubtful first). Printed per model: how many of the
15 are flagged and in the first 100 / 200 of the ranking, and the seconds the label model took
(``--sweep`` also measures other CNN sizes: how ``CNN_CHANNELS`` and ``CNN_EPOCHS`` were picked).

    python benchmarks/label_errors.py [--threads 1] [--sweep 8x4 16x2 16x4 32x4]

Last line: ``knn_top200=<n>/15 cnn_top200=<n>/15 cnn_seconds=<s>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from workbench.data import inspect, label_cnn, labels, mnist_test_set

#: cleanlab/label-errors, mturk/mnist_mturk.json: ids with mturk.given < 3 (of 5 workers).
CONFIRMED = (947, 1621, 1901, 2130, 2462, 2597, 2654, 3520, 3558, 5937, 6651, 6783, 8527, 9679, 9729)


def hits(order, flagged) -> dict:
    order = list(order)
    return {
        "flagged": (len(flagged), len(set(flagged) & set(CONFIRMED))),
        "top100": len(set(order[:100]) & set(CONFIRMED)),
        "top200": len(set(order[:200]) & set(CONFIRMED)),
    }


def measure(data, label_model: str) -> tuple[dict, float, float]:
    """The public path: inspect(..., label_model=...) and its label_ranking."""
    t0 = time.perf_counter()
    report = inspect(data, label_model=label_model, progress=None)
    seconds = time.perf_counter() - t0
    found = hits(report.label_ranking("train")["index"], report.flagged("suspicious_label"))
    return found, report.label_scores["train"].seconds, seconds


def sweep(data, configs: list[str]) -> None:
    """The CNN's size and epochs: channels x epochs, each through cnn_out_of_fold_probs + cleanlab."""
    images, y = label_cnn._images(data), data.targets
    for cfg in configs:
        channels, epochs = (int(v) for v in cfg.split("x"))
        t0 = time.perf_counter()
        probs = label_cnn.cnn_out_of_fold_probs(images, y, 10, channels=channels, epochs=epochs)
        seconds = time.perf_counter() - t0
        scores = labels.score_labels(y, 10, pred_probs=probs)
        found = hits(scores.order(), scores.flagged.tolist())
        print(
            f"  cnn channels={channels} epochs={epochs}: out-of-fold accuracy "
            f"{(probs.argmax(1) == y).mean():.4f}, top 100 {found['top100']}/15, top 200 "
            f"{found['top200']}/15, {seconds:.1f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sweep",
        nargs="*",
        metavar="CHANNELSxEPOCHS",
        help="also measure these CNN sizes, e.g. --sweep 8x4 16x2 16x4 32x4",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = mnist_test_set()
    assert all(0 <= i < len(data) for i in CONFIRMED)
    print(
        f"MNIST test set: {len(data)} images, {len(CONFIRMED)} confirmed label errors; torch threads "
        f"{torch.get_num_threads()}"
    )
    out = {}
    for model in ("knn", "cnn"):
        found, model_s, total_s = measure(data, model)
        out[model] = (found, model_s)
        extra = (
            f" ({label_cnn.CNN_FOLDS} folds x {label_cnn.CNN_EPOCHS} epochs, {label_cnn.CNN_CHANNELS} "
            "channels)"
            if model == "cnn"
            else ""
        )
        print(
            f"{model}{extra}: flags {found['flagged'][0]} samples holding {found['flagged'][1]}/15; "
            f"top 100 holds {found['top100']}/15, top 200 holds {found['top200']}/15; "
            f"label model {model_s:.1f} s (inspect in all {total_s:.1f} s)"
        )
    if args.sweep:
        sweep(data, args.sweep)
    ratio = out["cnn"][1] / out["knn"][1]
    print(
        f"the cnn takes {ratio:.0f}x the k-NN's time and has "
        f"{out['cnn'][0]['top200'] - out['knn'][0]['top200']:+d} of the confirmed errors more in its top 200"
    )
    print(
        f"knn_top200={out['knn'][0]['top200']}/15 cnn_top200={out['cnn'][0]['top200']}/15 "
        f"cnn_seconds={out['cnn'][1]:.1f}"
    )


if __name__ == "__main__":
    main()
