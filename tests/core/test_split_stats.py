"""Per-channel statistics per split, split-vs-split shift, labels outside the class list."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from workbench.data import from_arrays, from_torch, inspect, load_mnist_test
from workbench.data.stats import SHIFT_MIN_D, image_statistics, split_shifts


def _stats_of(ds):
    x = ds.tensors()[0]  # (N, C, H, W)
    gray = x.mean(1).flatten(1)
    return image_statistics(
        gray.mean(1).numpy(),
        gray.std(1, unbiased=False).numpy(),
        np.full(len(x), x.shape[2]),
        np.full(len(x), x.shape[3]),
    )


def _arrays(x, y, name):
    return from_arrays(x.numpy(), y.numpy(), [str(c) for c in range(10)], name=name)


def test_channel_stats_per_split_match_numpy(digits):
    report = inspect(digits.train, digits.test, val=digits.val, suspicious=False, progress=None)
    cs = report.channel_stats
    assert cs.splits == ("train", "test", "val") and cs.channels == ("gray",)
    for k, ds in enumerate((digits.train, digits.test, digits.val)):
        pixels = ds.tensors()[0].numpy()
        assert cs.mean[k, 0] == pytest.approx(pixels.mean(), abs=1e-6)
        assert cs.std[k, 0] == pytest.approx(pixels.std(), abs=1e-6)
    mean, std = cs.normalize_args()
    assert mean == (pytest.approx(cs.mean[0, 0]),) and std == (pytest.approx(cs.std[0, 0]),)
    assert [r["split"] for r in cs.rows()] == ["train", "test", "val"]
    # the share of variance that is per-image brightness: var of image means / total pixel variance
    x = digits.train.tensors()[0].numpy().reshape(len(digits.train), -1)
    assert cs.between_image[0] == pytest.approx(x.mean(1).var() / x.var(), rel=1e-4)
    assert "normalise with the train statistics" in cs.advice()[0]
    with pytest.raises(ValueError, match="split must be one of"):
        cs.normalize_args("holdout")


def test_rgb_channel_stats_have_one_row_per_channel():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3, 6, 6)).astype(np.float32) * np.array([0.2, 0.5, 1.0], np.float32)[:, None, None]
    report = inspect(from_arrays(x, np.arange(40) % 2), suspicious=False, progress=None)
    cs = report.channel_stats
    assert cs.channels == ("R", "G", "B")
    assert np.allclose(cs.mean[0], x.mean(axis=(0, 2, 3)), atol=1e-5)
    assert np.allclose(cs.std[0], x.std(axis=(0, 2, 3)), atol=1e-5)


def test_random_splits_of_digits_and_mnist_raise_no_shift(digits):
    report = inspect(digits.train, digits.test, val=digits.val, suspicious=False, progress=None)
    assert report.split_shifts == []
    for seed in (0, 1, 2):
        mnist = load_mnist_test(seed=seed)
        stats = {n: _stats_of(getattr(mnist, n)) for n in ("train", "val", "test")}
        assert split_shifts(stats) == [], seed


def test_a_darker_or_resized_test_split_is_flagged_with_evidence(digits):
    x, y = digits.test.tensors()
    darker = _arrays(x * 0.7, y, "darker")
    report = inspect(digits.train, darker, suspicious=False, progress=None)
    found = {s.statistic: s for s in report.split_shifts}
    assert "brightness" in found and "size" not in found
    s = found["brightness"]
    assert s.split == "test" and s.reference == "train" and s.median < s.reference_median
    assert s.d >= SHIFT_MIN_D and s.p_value < 1e-4
    assert "test differs from train in brightness" in s.message and "KS D" in s.message
    assert "split shift: test differs from train in brightness" in report.summary()

    bigger = _arrays(F.interpolate(x, size=(12, 12), mode="bilinear", antialias=True), y, "resized")
    found = {s.statistic for s in inspect(digits.train, bigger, suspicious=False, progress=None).split_shifts}
    assert "size" in found and "aspect" not in found
    wider = _arrays(F.interpolate(x, size=(8, 12), mode="bilinear"), y, "wider")
    found = {s.statistic for s in inspect(digits.train, wider, suspicious=False, progress=None).split_shifts}
    assert {"size", "aspect"} <= found


def test_mnist_test_split_made_darker_is_flagged_not_the_others():
    mnist = load_mnist_test(seed=0)
    stats = {n: _stats_of(getattr(mnist, n)) for n in ("train", "val", "test")}
    x, y = mnist.test.tensors()
    stats["test"] = _stats_of(_arrays(x * 0.85, y, "darker"))
    found = split_shifts(stats)
    assert {(s.split, s.statistic) for s in found} >= {("test", "brightness")}
    assert all(s.split == "test" for s in found)


class _Targets(Dataset):
    """A torch dataset whose ``targets`` are fine but whose items return another label (a target_transform
    bug)."""

    classes = ("a", "b", "c")

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(12, 1, 8, 8, generator=g)
        self.targets = [i % 3 for i in range(12)]

    def __len__(self):
        return 12

    def __getitem__(self, i):
        label = self.targets[i] + (3 if i in (4, 9) else 0)  # 4 -> 4, 9 -> 3: outside 0..2
        return self.images[i], torch.tensor(label)


def test_a_torch_dataset_returning_an_out_of_range_target_is_a_finding_not_a_crash():
    ds = from_torch(_Targets())
    report = inspect(ds, suspicious=False, progress=None)
    rows = [r for r in report.rows if r["issue"] == "label_out_of_range"]
    assert [r["index"] for r in rows] == [4, 9]
    assert "returns label tensor(4)" in rows[0]["detail"] and "0..2 (3 classes)" in rows[0]["detail"]
    assert report.select(issue="label_out_of_range") == [("train", 4), ("train", 9)]
    assert "label_out_of_range: 2 samples" in report.summary()
    in_range = from_torch(_Targets(), classes=["a", "b", "c", "d", "e"])
    assert inspect(in_range, suspicious=False, progress=None).count("label_out_of_range") == 0
