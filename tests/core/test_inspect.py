import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from sklearn.datasets import load_digits as sk_digits

from tests.conftest import write_digit_folder
from workbench.data import ISSUES, from_arrays, from_folder, inspect
from workbench.data.duplicates import near_pairs, shift_corr


def _digits64(n=60, seed=0):
    """Real digits upscaled to 64x64 uint8, with labels."""
    b = sk_digits()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(b.images), n, replace=False)
    imgs = np.stack(
        [
            np.array(
                Image.fromarray((b.images[i] * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BILINEAR)
            )
            for i in pick
        ]
    )
    return imgs, b.target[pick]


def _groups(report, issue):
    return {g: sorted(report.groups[g]) for g in report.groups_with(issue)}


def test_exact_duplicates_are_found_whatever_the_storage(tmp_path):
    root = write_digit_folder(tmp_path / "d", per_class=5, size=16)
    src = root / "0" / "0_000.png"
    im = Image.open(src)
    im.save(root / "0" / "copy.bmp")
    im.save(root / "0" / "copy.tiff")
    im.save(root / "0" / "copy.webp", lossless=True)
    im.convert("RGB").save(root / "0" / "copy_rgb.png")  # equal channels: the same picture
    report = inspect(from_folder(root), suspicious=False)
    (group,) = _groups(report, "exact_duplicate").values()
    names = sorted(report.to_frame().query("issue == 'exact_duplicate'").path.str.rsplit("/", n=1).str[-1])
    assert names == ["0_000.png", "copy.bmp", "copy.tiff", "copy.webp", "copy_rgb.png"] and len(group) == 5
    assert report.count("near_duplicate") == 0  # one exact group is not also a near-duplicate finding
    assert report.count("label_conflict") == 0


def test_near_duplicates_of_every_planted_kind_are_grouped_with_their_original():
    imgs, labels = _digits64(60)
    rng = np.random.default_rng(1)
    copies, sources = [], []
    for k, kind in enumerate(["jpeg70", "darker", "brighter", "noise", "shift_x", "shift_y"]):
        i = k * 7
        im = Image.fromarray(imgs[i])
        if kind == "jpeg70":
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
            c = np.array(Image.open(buf))
        elif kind == "darker":
            c = np.array(ImageEnhance.Brightness(im).enhance(0.85))
        elif kind == "brighter":
            c = np.clip(imgs[i].astype(int) + 25, 0, 255).astype(np.uint8)
        elif kind == "noise":
            c = np.clip(imgs[i] + rng.normal(0, 8, imgs[i].shape), 0, 255).astype(np.uint8)
        else:
            c = np.roll(imgs[i], 1, axis=1 if kind == "shift_x" else 0)
        copies.append(c)
        sources.append(i)
    data = from_arrays(np.concatenate([imgs, np.stack(copies)]), np.r_[labels, labels[sources]])
    report = inspect(data, suspicious=False)
    groups = [{i for _, i in m} for m in _groups(report, "near_duplicate").values()]
    for k, i in enumerate(sources):
        assert any({i, 60 + k} <= g for g in groups), f"copy {k} of image {i} not grouped"
    assert report.count("near_duplicate") == 12  # nothing else: distinct digits are not near duplicates
    frame = report.to_frame()
    assert frame.query("issue == 'near_duplicate'").groupby("group").size().eq(2).all()


def test_label_conflicts_and_leakage_name_their_group(digits):
    x, y = digits.train.tensors()
    xt, yt = digits.test.tensors()
    # plant: train image 5 also sits in test (leakage) and again in train with another label (conflict)
    train = from_arrays(np.concatenate([x.numpy(), x[5:6].numpy()]), np.r_[y.numpy(), (y[5].item() + 1) % 10])
    test = from_arrays(np.concatenate([xt.numpy(), x[5:6].numpy()]), np.r_[yt.numpy(), y[5].item()])
    report = inspect(train, test, suspicious=False)
    frame = report.to_frame()
    leak = frame.query("issue == 'leakage'")
    assert set(zip(leak.split, leak["index"])) == {("train", 5), ("train", len(x)), ("test", len(xt))}
    assert leak.group.nunique() == 1 and "train and test" in leak.detail.iloc[0]
    conflict = frame.query("issue == 'label_conflict'")
    assert set(zip(conflict.split, conflict["index"])) == set(zip(leak.split, leak["index"]))
    assert "labelled" in conflict.detail.iloc[0]
    assert "leakage: 3 samples in 1 groups" in report.summary()


def test_unreadable_odd_size_odd_mode_and_low_information(tmp_path):
    root = write_digit_folder(tmp_path / "d", per_class=6, size=16)
    (root / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.fromarray(np.full((12, 20), 128, np.uint8)).save(root / "1" / "wide.png")
    Image.new("L", (16, 16), 0).save(root / "2" / "blank.png")
    Image.fromarray(np.array(Image.open(root / "2" / "2_001.png").convert("RGBA"))).save(
        root / "2" / "rgba.png"
    )
    report = inspect(from_folder(root), suspicious=False)
    frame = report.to_frame().set_index("issue")
    assert frame.loc["unreadable", "path"].endswith("broken.png") and frame.loc["unreadable", "index"] == -1
    odd = report.to_frame().query("issue == 'odd_size'")
    assert (
        odd.path.str.endswith("wide.png").all()
        and "12x20 (most are 16x16), aspect 1.67 vs 1.00" in odd.detail.iloc[0]
    )
    assert report.to_frame().query("issue == 'odd_mode'").path.str.endswith("rgba.png").all()
    low = report.to_frame().query("issue == 'low_information'")
    assert set(low.path.str.rsplit("/", n=1).str[-1]) == {"wide.png", "blank.png"}
    assert low.detail.str.startswith("constant image").all()


def test_too_dark_and_too_bright_are_relative_to_the_split():
    b = sk_digits()
    imgs = b.images / 16.0
    imgs[3] = 1.0 - imgs[3]  # inverted: a light background
    imgs[7] = imgs[7] * 0.2  # scanned far too dark, strokes still visible
    imgs[9] = imgs[9] * 0.05  # so faint that nothing stands out: low information, not "dark"
    report = inspect(from_arrays(imgs.astype(np.float32), b.target), suspicious=False)
    assert report.flagged("too_bright") == [3] and report.flagged("too_dark") == [7]
    assert report.flagged("low_information") == [9]


def test_class_counts_imbalance_and_missing_classes_in_the_summary():
    imgs, labels = _digits64(40)
    labels = np.array([0] * 30 + [1] * 10)
    report = inspect(from_arrays(imgs, labels, classes=["zero", "one", "two"]), suspicious=False)
    s = report.splits["train"]
    assert s.class_counts == {"zero": 30, "one": 10, "two": 0}
    assert s.imbalance_ratio == 3.0 and s.missing_classes == ("two",)
    text = report.summary()
    assert "MISSING classes 'two'" in text and "imbalanced (3.0x)" in text


def test_suspicious_labels_find_planted_label_errors(digits):
    x, y = digits.train.tensors()
    y = y.numpy().copy()
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 25, replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, 10, 25)) % 10
    report = inspect(from_arrays(x.numpy(), y), suspicious=True)
    found = set(report.flagged("suspicious_label"))
    recall = len(found & set(flipped.tolist())) / 25
    precision = len(found & set(flipped.tolist())) / max(1, len(found))
    assert recall >= 0.8 and precision >= 0.6, (recall, precision, len(found))
    detail = report.to_frame().query("issue == 'suspicious_label'").detail.iloc[0]
    assert "looks like" in detail and "label quality" in detail


def test_suspicious_labels_from_the_users_probabilities(digits):
    _x, y = digits.val.tensors()
    probs = np.eye(10)[y.numpy()] * 0.9 + 0.01
    probs[4] = np.roll(probs[4], 1)  # the user's model is sure sample 4 is another class
    report = inspect(digits.val, pred_probs={"train": probs})
    assert report.flagged("suspicious_label") == [4]
    with pytest.raises(
        ValueError, match="pred_probs must have shape \\(n_samples, n_classes\\) = \\(269, 10\\)"
    ):
        inspect(digits.val, pred_probs={"train": probs[:, :3]})


def test_report_frame_columns_summary_and_progress(digits):
    calls = []
    report = inspect(digits.train, digits.test, val=digits.val, progress=lambda *a: calls.append(a))
    frame = report.to_frame()
    assert list(frame.columns) == ["split", "index", "path", "label", "issue", "group", "detail", "quality"]
    assert set(frame.issue) <= set(ISSUES)
    assert set(report.splits) == {"train", "test", "val"}
    assert {c[0] for c in calls} >= {"decoding train", "decoding test", "decoding val", "duplicates"}
    assert calls[-1][1] == calls[-1][2]
    assert report.summary().startswith("train: 1259 images, 10 of 10 classes")


def test_inspect_errors(digits, tmp_path):
    other = from_arrays(np.zeros((3, 8, 8), np.float32), [0, 1, 1])
    with pytest.raises(ValueError, match=r"split 'test' has classes .* all splits must share one class list"):
        inspect(digits.train, other)
    with pytest.raises(TypeError, match="'val' split of inspect must be an ImageDataset"):
        inspect(digits.train, val=[1, 2])
    with pytest.raises(ValueError, match="'near_bits' parameter of inspect must be an int in \\[0, 32\\]"):
        inspect(digits.train, near_bits=40)


def test_band_bucketing_finds_exactly_the_brute_force_pairs():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 300, dtype=np.uint64)
    close = base[:60] ^ (np.uint64(1) << rng.integers(0, 64, 60).astype(np.uint64))  # 1 bit away
    farther = base[60:90] ^ np.uint64(0b1111111)  # 7 bits away
    h = np.concatenate([base, close, farther])
    thumb = np.ones((len(h), 32, 32), np.float16)
    for bits in (0, 3, 8):
        got = {tuple(p) for p in near_pairs(h, thumb, bits, -2.0).tolist()}
        xor = h[:, None] ^ h[None, :]
        i, j = np.nonzero(np.triu(np.bitwise_count(xor) <= bits, 1))
        assert got == set(zip(i.tolist(), j.tolist()))


def test_shift_corr_matches_a_naive_reference():
    rng = np.random.default_rng(3)
    a = rng.random((20, 32, 32)).astype(np.float32)
    b = np.roll(a, -1, axis=2) * 0.5 + 0.2 + rng.normal(0, 0.01, a.shape).astype(np.float32)

    def naive(x, y):
        best = -1.0
        for dy in (-1, -0.5, 0, 0.5, 1):
            for dx in (-1, -0.5, 0, 0.5, 1):

                def crop(v, dy=dy, dx=dx):
                    out = 0
                    for oy, wy in ((np.floor(dy), 1 - (dy - np.floor(dy))), (np.ceil(dy), dy - np.floor(dy))):
                        for ox, wx in (
                            (np.floor(dx), 1 - (dx - np.floor(dx))),
                            (np.ceil(dx), dx - np.floor(dx)),
                        ):
                            if wy * wx:
                                out = (
                                    out + wy * wx * v[1 + int(oy) : 31 + int(oy), 1 + int(ox) : 31 + int(ox)]
                                )
                    return out

                p, q = crop(x).ravel(), y[1:31, 1:31].ravel()
                best = max(best, np.corrcoef(p, q)[0, 1])
        return best

    fast = shift_corr(a, b)
    ref = np.array([naive(a[i], b[i]) for i in range(len(a))])
    assert np.allclose(fast, ref, atol=1e-4) and fast.min() > 0.99


def test_inspect_is_deterministic(digits):
    a = inspect(digits.train, digits.test).to_frame()
    b = inspect(digits.train, digits.test).to_frame()
    assert a.equals(b) and (a.issue == "suspicious_label").any()


def test_progress_auto_bar_for_large_data_and_bad_values(digits, capsys, monkeypatch):
    import workbench.data.inspection as mod

    monkeypatch.setattr(mod, "AUTO_PROGRESS_MIN", 100)  # digits is small: force the bar on
    monkeypatch.setattr(
        "workbench._progress.shows_bars", lambda stream=None: True
    )  # as on a terminal (pipes: test_progress)
    inspect(digits.val, suspicious=False)
    assert "decoding train" in capsys.readouterr().err
    inspect(digits.val, suspicious=False, progress=None)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="'progress' parameter of inspect must be 'auto', a callable or None"):
        inspect(digits.val, progress="yes")
