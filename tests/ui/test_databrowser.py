import numpy as np
import pytest

from tests.conftest import write_digit_folder
from workbench.data import from_arrays, from_folder, inspect
from workbench.data.preview import downsample_preview, png_bytes, to_uint8
from workbench.ui import DataBrowser


@pytest.fixture(scope="module")
def planted(digits):
    """digits with a leaked test image and a conflicting train duplicate."""
    x, y = digits.train.tensors()
    xt, yt = digits.test.tensors()
    train = from_arrays(np.concatenate([x.numpy(), x[5:6].numpy()]), np.r_[y.numpy(), (y[5].item() + 1) % 10])
    test = from_arrays(np.concatenate([xt.numpy(), x[5:6].numpy()]), np.r_[yt.numpy(), y[5].item()])
    return {"train": train, "test": test}


def test_gallery_pages_lazily_and_filters_by_issue_split_and_class(planted):
    b = DataBrowser(planted, page_size=10, background=False)
    total = len(planted["train"]) + len(planted["test"])
    assert b.pages == -(-total // 10) and len(b.gallery.children) == 10 and len(b.shown) == 10
    b.issue_dd.value = "leakage"  # the dropdown drives the trait...
    assert b.issue == "leakage"
    assert sorted(map(tuple, b.shown)) == [
        ("test", len(planted["test"]) - 1),
        ("train", 5),
        ("train", len(planted["train"]) - 1),
    ]
    b.split = "test"  # ...and the trait drives the dropdown
    assert b.split_dd.value == "test" and b.shown == [["test", len(planted["test"]) - 1]]
    b.split, b.issue, b.class_name = "train", "all", "3"
    assert all(planted["train"].targets[i] == 3 for _, i in b.shown)
    b.next_button.click()
    assert b.page == 1
    b.go(999)
    assert b.page == b.pages - 1 and b.next_button.disabled


def test_clicking_a_caption_shows_the_details_and_the_preview(planted):
    b = DataBrowser(planted, background=False)
    b.issue = "label_conflict"
    tile = b.gallery.children[0]
    tile.children[1].click()
    split, index = b.selected
    x, _ = planted[split][index]
    assert f"{split} #{index}" in b.details.value and "label_conflict" in b.details.value
    assert f"max {float(x.max()):.3f}" in b.details.value and "(in memory)" in b.details.value
    before = b.preview_image.value
    b.side.value = 2
    assert b.preview_image.value != before and len(b.class_row.children) == 10


def test_groups_are_shown_side_by_side_with_labels(planted):
    b = DataBrowser(planted, background=False)
    labels = [o[1] for o in b.group_dd.options]
    assert any(o[0].startswith("leakage:") for o in b.group_dd.options)
    b.group_dd.value = labels[0]
    captions = [t.children[1].description for t in b.group_box.children]
    assert len(captions) == 3 and any(c.startswith("test#") for c in captions)


def test_class_count_bars_per_split(planted):
    b = DataBrowser(planted, background=False)
    counts = np.asarray(b.count_bars.y)
    assert (
        counts.shape == (2, 10)
        and counts[0].sum() == len(planted["train"])
        and counts[1].sum() == len(planted["test"])
    )
    assert list(b.count_bars.labels) == ["train", "test"]


def test_browser_works_on_a_folder_with_paths(tmp_path):
    root = write_digit_folder(tmp_path / "f", per_class=4, size=16)
    (root / "0" / "broken.png").write_bytes(b"nope")
    ds = from_folder(root)
    b = DataBrowser(ds, inspect(ds, suspicious=False))
    b.gallery.children[0].children[1].click()
    assert str(root) in b.details.value and "unreadable: 1 samples" in b.summary.value


def test_browser_errors(planted):
    with pytest.raises(TypeError, match="'data' parameter of DataBrowser must be an ImageDataset"):
        DataBrowser([1, 2, 3])
    report = inspect(planted["train"], planted["test"], suspicious=False)
    with pytest.raises(ValueError, match="covers splits \\['test'\\] that are not in data"):
        DataBrowser({"train": planted["train"]}, report)
    with pytest.raises(ValueError, match="select: issue must be 'all', 'any' or one of"):
        report.select(issue="blurry")


def test_preview_helpers():
    import torch

    x = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8) / 63
    assert to_uint8(x).shape == (8, 8) and to_uint8(x).max() == 255
    normalised = (x - 0.5) / 0.2  # outside [0, 1]: stretched, still visible
    assert to_uint8(normalised).min() == 0 and to_uint8(normalised).max() == 255
    assert png_bytes(torch.rand(3, 5, 7), 50)[:4] == b"\x89PNG"
    small = downsample_preview(x, 2)
    assert small.shape == x.shape and len(torch.unique(small)) == 4
    with pytest.raises(ValueError, match="'side' parameter of downsample_preview must be an int >= 1"):
        downsample_preview(x, 0)
