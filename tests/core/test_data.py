import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from tests.conftest import write_digit_folder
from workbench.data import (
    FolderImageDataset,
    from_arrays,
    from_folder,
    from_torch,
    load_digits,
    split,
)


# -- the embedded digits ---------------------------------------------------------------------------
def test_digits_splits_are_disjoint_complete_and_stratified(digits):
    parts = [digits.train, digits.val, digits.test]
    idx = [set(p.base_indices.tolist()) for p in parts]
    assert sum(len(p) for p in parts) == 1797
    assert not (idx[0] & idx[1]) and not (idx[0] & idx[2]) and not (idx[1] & idx[2])
    overall = np.bincount(np.concatenate([p.targets for p in parts]), minlength=10) / 1797
    for p in parts:
        share = np.bincount(p.targets, minlength=10) / len(p)
        assert np.abs(share - overall).max() < 0.01  # stratified
    x, y = digits.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and x.min() >= 0.0 and x.max() <= 1.0
    assert isinstance(y, int) and digits.classes == tuple(str(i) for i in range(10))


def test_digits_split_is_fixed_by_seed():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert np.array_equal(a.train.base_indices, b.train.base_indices)
    assert not np.array_equal(a.train.base_indices, c.train.base_indices)


def test_split_rejects_fractions_that_leave_no_train(digits):
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be below 1"):
        split(digits.train, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"'val_fraction' parameter of split must be a float in \[0, 0.9\]"):
        split(digits.train, val_fraction=-0.1)


def test_first_of_each_class(digits):
    first = digits.train.first_of_each_class()
    assert sorted(first) == list(range(10))
    targets = digits.train.targets
    assert all(targets[i] == c and not (targets[:i] == c).any() for c, i in first.items())
    only_two = digits.train.subset(np.flatnonzero(targets < 2))
    assert sorted(only_two.first_of_each_class()) == [0, 1]


def test_subset_keeps_classes_and_rejects_bad_indices(digits):
    sub = digits.train.subset([0, 1, 2])
    assert len(sub) == 3 and sub.classes == digits.classes
    assert np.array_equal(sub.targets, digits.train.targets[:3])
    with pytest.raises(IndexError, match="indices must be in \\[0, 2\\]"):
        sub.subset([5])


# -- arrays -----------------------------------------------------------------------------------------
def test_from_arrays_scales_uint8_and_reads_channels_last():
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    ds = from_arrays(imgs, [0, 1, 2, 0, 1])
    x, _ = ds[0]
    assert ds.input_shape == (3, 6, 7)
    assert torch.allclose(x, torch.from_numpy(imgs[0]).permute(2, 0, 1).float() / 255)
    assert ds.classes == ("0", "1", "2")


def test_from_arrays_accepts_string_labels_and_given_classes():
    ds = from_arrays(np.zeros((3, 4, 4), np.float32), ["cat", "dog", "cat"])
    assert ds.classes == ("cat", "dog") and ds.targets.tolist() == [0, 1, 0]
    ds2 = from_arrays(np.zeros((2, 4, 4), np.float32), [0, 0], classes=["a", "b", "c"])
    assert ds2.num_classes == 3 and ds2.class_counts() == {"a": 2, "b": 0, "c": 0}


@pytest.mark.parametrize(
    ("images", "labels", "kwargs", "error", "match"),
    [
        (np.zeros((0, 4, 4)), [], {}, ValueError, "empty \\(0 images\\)"),
        (np.zeros((3, 4, 4)), [0, 1], {}, ValueError, "3 images but 2 labels"),
        (
            np.zeros((3, 4, 4)),
            [0, 1, 5],
            {"classes": ["a", "b"]},
            ValueError,
            "labels must be in 0..1.*samples 2",
        ),
        (np.zeros((3, 4, 4)), [0, -1, 1], {}, ValueError, "samples 1 have labels \\[-1\\]"),
        (np.zeros((3, 64)), [0, 1, 1], {}, ValueError, "reshape\\(-1, 8, 8\\)"),
        (np.zeros((3, 2, 4, 4, 4)), [0, 1, 1], {}, ValueError, "must have 3 dims"),
        (np.zeros((3, 5, 4, 4)), [0, 1, 1], {"channels_last": False}, ValueError, "1, 3 or 4 channels"),
        (np.zeros((3, 4, 4)), [0.0, 1.5, 1.0], {}, TypeError, "must be integers.*samples 1"),
        (np.array([[["a"]]], dtype=object), [0], {}, TypeError, "numeric array"),
        (
            np.zeros((2, 4, 4)),
            ["cat", "cow"],
            {"classes": ["cat", "dog"]},
            ValueError,
            "'cow'.*not in classes",
        ),
    ],
)
def test_from_arrays_bad_input(images, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        from_arrays(images, labels, **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_arrays_refuses_non_finite_pixels_and_names_the_sample(bad):
    imgs = np.zeros((4, 3, 3), np.float32)
    imgs[2, 1, 1] = bad
    with pytest.raises(ValueError, match="NaN or Inf pixels in samples 2"):
        from_arrays(imgs, [0, 1, 0, 1])


# -- folders ------------------------------------------------------------------------------------------
def test_from_folder_records_unreadable_files_and_keeps_the_rest(tmp_path):
    root = write_digit_folder(tmp_path / "digits", per_class=4)
    (root / "0" / "empty.png").write_bytes(b"")
    (root / "1" / "text.png").write_text("this is not an image")
    good = (root / "2" / "2_000.png").read_bytes()
    (root / "2" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "2" / "notes.txt").write_text("hello")
    ds = from_folder(root)
    assert isinstance(ds, FolderImageDataset)
    assert len(ds) == 12 and ds.classes == ("0", "1", "2") and ds.class_counts() == {"0": 4, "1": 4, "2": 4}
    reasons = {u.path.rsplit("/", 1)[-1]: u.reason for u in ds.unreadable}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["text.png"].startswith("not an image")
    assert reasons["truncated.png"].startswith("truncated or corrupt")
    assert "not an image type" in reasons["notes.txt"]
    assert all(p.endswith(".png") for p in ds.paths)
    # every sample decodes, mid-epoch too
    batch = [ds[i][0] for i in range(len(ds))]
    assert all(x.shape == (1, 8, 8) for x in batch) and ds.mode == "L"


def test_from_folder_resizes_odd_sizes_to_the_common_one_and_keeps_rgb(tmp_path):
    root = write_digit_folder(tmp_path / "d", per_class=3, rgb=True, size=16)
    Image.new("RGB", (20, 12), (255, 0, 0)).save(root / "0" / "odd.png")
    ds = from_folder(root)
    assert ds.size == (16, 16) and ds.mode == "RGB"
    odd = ds.paths.index(str(root / "0" / "odd.png"))
    x, y = ds[odd]
    assert x.shape == (3, 16, 16) and y == 0 and x[0].mean() > 0.9 and x[1].max() < 0.1


def test_from_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_folder(tmp_path / "missing")
    f = tmp_path / "file.png"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        from_folder(f)
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match=r"no class folders found.*path/<class name>"):
        from_folder(tmp_path / "flat")
    bad = tmp_path / "bad" / "cat"
    bad.mkdir(parents=True)
    (bad / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty: no readable image.*1 unreadable files.*a.png: empty file"):
        from_folder(tmp_path / "bad")


# -- torch datasets ------------------------------------------------------------------------------------
def test_from_torch_wraps_torchvision_imagefolder_with_paths(tmp_path):
    root = write_digit_folder(tmp_path / "tv", per_class=2)
    base = torchvision.datasets.ImageFolder(str(root))
    ds = from_torch(base)
    assert len(ds) == 6 and ds.classes == ("0", "1", "2")
    assert ds.paths[0].endswith("0_000.png")
    x, y = ds[5]
    assert x.shape == (3, 8, 8) and y == 2  # ImageFolder's default loader gives RGB


def test_from_torch_reads_labels_when_there_are_no_targets():
    base = TensorDataset(torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 2, 2, 1, 0]))
    ds = from_torch(base, classes=["a", "b", "c"])
    assert ds.classes == ("a", "b", "c") and ds.targets.tolist() == [0, 1, 2, 2, 1, 0]
    assert ds.paths == [None] * 6


def test_from_torch_errors():
    class Stream(IterableDataset):
        def __iter__(self):
            yield torch.zeros(1, 2, 2), 0

    class Bare(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.zeros(2, 2)

    with pytest.raises(TypeError, match="map-style dataset"):
        from_torch(Stream())
    with pytest.raises(ValueError, match="empty \\(len 0\\)"):
        from_torch(TensorDataset(torch.zeros(0, 2, 2), torch.zeros(0)))
    with pytest.raises(TypeError, match="\\(image, label\\) pairs"):
        from_torch(Bare())
    with pytest.raises(ValueError, match=r"labels must be in 0..1"):
        from_torch(TensorDataset(torch.zeros(3, 2, 2), torch.tensor([0, 1, 2])), classes=["a", "b"])
    with pytest.raises(ValueError, match="sample 0: an image must have 2 dims"):
        from_torch(TensorDataset(torch.zeros(3, 2), torch.tensor([0, 1, 1])))


# -- IDX ------------------------------------------------------------------------------------------------
def _write_idx(path, arr, gz=False):
    import gzip
    import struct

    codes = {np.dtype(np.uint8): 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[arr.dtype], arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(header + arr.tobytes())


@pytest.mark.parametrize("gz", [False, True])
def test_from_idx_reads_mnist_format(tmp_path, gz):
    from workbench.data import from_idx

    imgs = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"im{suffix}", imgs, gz)
    _write_idx(tmp_path / f"lb{suffix}", labels, gz)
    ds = from_idx(tmp_path / f"im{suffix}", tmp_path / f"lb{suffix}")
    assert len(ds) == 7 and ds.input_shape == (1, 5, 4) and ds.num_classes == 10
    assert torch.allclose(ds[3][0][0], torch.from_numpy(imgs[3]).float() / 255) and ds[6][1] == 9


def test_from_idx_errors(tmp_path):
    from workbench.data import from_idx

    imgs = np.zeros((3, 2, 2), np.uint8)
    _write_idx(tmp_path / "im", imgs)
    _write_idx(tmp_path / "lb", np.zeros(2, np.uint8))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_idx(tmp_path / "nope", tmp_path / "lb")
    with pytest.raises(
        ValueError, match=r"not an IDX file with 3 dimension.*images file \(magic 2051\) first"
    ):
        from_idx(tmp_path / "lb", tmp_path / "im")
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        from_idx(tmp_path / "im", tmp_path / "lb")
    (tmp_path / "cut").write_bytes((tmp_path / "im").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated: the header promises 12 bytes of data, the file has 9"):
        from_idx(tmp_path / "cut", tmp_path / "lb")


def test_mnist_test_set_is_embedded(monkeypatch):
    from workbench.data import load_mnist_test, mnist_test_set

    monkeypatch.delenv("WORKBENCH_MNIST", raising=False)
    mnist = mnist_test_set()
    assert len(mnist) == 10_000 and mnist.classes == tuple(str(i) for i in range(10))
    x, y = mnist.tensors()
    assert x.shape == (10_000, 1, 28, 28) and float(x.max()) == 1.0
    assert y[:5].tolist() == [7, 2, 1, 0, 4]  # the test set's well-known first labels, in file order
    splits = load_mnist_test(seed=0)
    assert sum(len(s) for s in splits) == 10_000
    again = load_mnist_test(seed=0)
    assert torch.equal(splits.val.tensors()[1], again.val.tensors()[1])
    # stratified: every class in every split
    assert all(len(set(s.tensors()[1].tolist())) == 10 for s in splits)


def test_mnist_test_set_from_another_folder(monkeypatch, tmp_path):
    from workbench.data import mnist_test_set

    monkeypatch.setenv("WORKBENCH_MNIST", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="WORKBENCH_MNIST"):
        mnist_test_set()
