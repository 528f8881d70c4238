"""Inspection speed and near-duplicate recall: workbench vs. cleanvision, in the same run.

Builds an ImageFolder of 4,000 64x64 PNGs from real MNIST digits (embedded in the package:
workbench.data.mnist_test_set), with
planted copies: 20 exact duplicates (the same pixels stored as an RGB PNG with equal channels and as
BMP) and 160 near duplicates (JPEG quality 70, 15 % darker, +25 brighter, Gaussian noise sigma 8,
shifted by one pixel; 32 of each). Both tools inspect the folder from disk with their defaults; recall
is the share of planted near-duplicate pairs that a tool puts in one group.

    pip install cleanvision   # the benchmark extra: pip install -e ".[bench]"
    python benchmarks/inspect_speed.py [--n 4000]

Also reports the in-memory MNIST-scale wall time (10k 28x28). Last line:
``inspect_vs_cleanvision=<speed ratio> recall=<workbench recall>/<cleanvision recall>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workbench.data import from_folder, inspect

from _common import load

KINDS = ("jpeg70", "darker", "brighter", "noise", "shift")


def build(root: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Write the folder; return the planted near-duplicate pairs (original path, copy path)."""
    rng = np.random.default_rng(seed)
    mnist = load("mnist")
    x, y = mnist.tensors()
    imgs, labels = (x[:, 0].numpy() * 255).astype(np.uint8), y.numpy()
    n_exact, n_near = 20, 160
    n_base = n - n_exact - n_near
    picks = rng.choice(len(imgs), n_base, replace=False)
    paths = []
    for k, i in enumerate(picks):
        d = root / str(labels[i])
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"img_{k:05d}.png"
        Image.fromarray(imgs[i]).resize((64, 64), Image.BILINEAR).save(p)
        paths.append(p)
    for k in range(n_exact):
        src = paths[k]
        im = Image.open(src)
        if k % 2:
            im.convert("RGB").save(src.parent / f"exact_{k:03d}.png")
        else:
            im.save(src.parent / f"exact_{k:03d}.bmp")
    pairs = []
    for k in range(n_near):
        src = paths[n_exact + k]
        im = Image.open(src).convert("L")
        base = np.array(im)
        kind = KINDS[k % len(KINDS)]
        out = src.parent / f"near_{kind}_{k:03d}.png"
        if kind == "jpeg70":
            out = out.with_suffix(".jpg")
            im.save(out, "JPEG", quality=70)
        elif kind == "darker":
            ImageEnhance.Brightness(im).enhance(0.85).save(out)
        elif kind == "brighter":
            Image.fromarray(np.clip(base.astype(int) + 25, 0, 255).astype(np.uint8)).save(out)
        elif kind == "noise":
            Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)).save(out)
        else:
            Image.fromarray(np.roll(base, 1, axis=k % 2)).save(out)
        pairs.append((str(src), str(out)))
    return pairs


def recall(groups: list[set[str]], pairs: list[tuple[str, str]]) -> float:
    where = {}
    for g, members in enumerate(groups):
        for m in members:
            where[str(Path(m).resolve())] = g
    hit = 0
    for a, b in pairs:
        ga, gb = where.get(str(Path(a).resolve())), where.get(str(Path(b).resolve()))
        hit += ga is not None and ga == gb
    return hit / len(pairs)


def run_workbench(root: Path) -> tuple[float, list[set[str]], object]:
    t0 = time.perf_counter()
    ds = from_folder(root)
    report = inspect(ds, progress=None)
    seconds = time.perf_counter() - t0
    paths = ds.paths
    groups = [{paths[i] for _, i in members} for key, members in report.groups.items() if key.startswith("g")]
    return seconds, groups, report


def run_cleanvision(root: Path) -> tuple[float, list[set[str]]]:
    import logging
    import os
    import warnings

    from cleanvision import Imagelab

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull  # cleanvision prints progress and tables
        try:
            t0 = time.perf_counter()
            lab = Imagelab(data_path=str(root))
            lab.find_issues()
            seconds = time.perf_counter() - t0
        finally:
            sys.stdout = stdout
    sets = lab.info.get("near_duplicates", {}).get("sets", []) + lab.info.get("exact_duplicates", {}).get(
        "sets", []
    )
    return seconds, [set(s) for s in sets]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "planted"
        pairs = build(root, args.n)
        print(
            f"folder: {sum(1 for _ in root.rglob('*.*'))} files, 64x64, {len(pairs)} planted near-duplicate "
            "pairs"
        )
        run_workbench(root)  # warm-up: imports, page cache
        wb_s, wb_groups, _report = run_workbench(root)
        cv_s, cv_groups = run_cleanvision(root)
        wb_r, cv_r = recall(wb_groups, pairs), recall(cv_groups, pairs)
        print(
            f"workbench   {wb_s:7.2f} s  near-dup recall {wb_r:.3f}  ({len(wb_groups)} groups; full inspect "
            "incl. label check)"
        )
        print(
            f"cleanvision {cv_s:7.2f} s  near-dup recall {cv_r:.3f}  ({len(cv_groups)} groups; find_issues() "
            "defaults)"
        )
        for kind in KINDS:
            sub = [p for p in pairs if f"near_{kind}_" in p[1]]
            print(
                f"  recall {kind:9s} workbench {recall(wb_groups, sub):.2f}  cleanvision "
                f"{recall(cv_groups, sub):.2f}"
            )
    mnist = load("mnist")
    t0 = time.perf_counter()
    r = inspect(mnist, progress=None)
    print(
        f"in-memory MNIST test set (10k 28x28): {time.perf_counter() - t0:.2f} s; "
        f"{r.count('near_duplicate')} near-dup samples, {r.count('suspicious_label')} suspicious labels"
    )
    print(f"inspect_vs_cleanvision={cv_s / wb_s:.1f} recall={wb_r:.2f}/{cv_r:.2f}")


if __name__ == "__main__":
    main()
