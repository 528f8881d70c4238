import numpy as np
import pytest

from workbench.data import from_arrays, inspect
from workbench.ui import DataBrowser, DataStats


@pytest.fixture(scope="module")
def shifted_report(digits):
    x, y = digits.test.tensors()
    darker = from_arrays(x.numpy() * 0.7, y.numpy(), digits.train.classes)
    return inspect(digits.train, darker, suspicious=False, progress=None)


def test_table_and_chart_show_each_splits_channel_statistics(shifted_report):
    view = DataStats(shifted_report)
    cs = shifted_report.channel_stats
    assert list(view.bars.x) == ["gray mean", "gray std"] and list(view.bars.labels) == ["train", "test"]
    assert np.allclose(view.bars.y, [[cs.mean[0, 0], cs.std[0, 0]], [cs.mean[1, 0], cs.std[1, 0]]])
    assert f"{cs.mean[1, 0]:.4f}" in view.table.value and view.table.value.count("<tr>") == 3
    assert "normalise with the train statistics" in view.advice.value
    assert "test differs from train in brightness" in view.shifts.value


def test_no_shift_says_so_and_bad_input_is_named(digits):
    view = DataStats(inspect(digits.train, digits.test, suspicious=False, progress=None))
    assert "alike in every split" in view.shifts.value
    with pytest.raises(TypeError, match="'report' parameter of DataStats must be a DataReport"):
        DataStats({"train": digits.train})


def test_data_browser_has_a_split_stats_tab(digits, shifted_report):
    darker_test = from_arrays(
        digits.test.tensors()[0].numpy() * 0.7, digits.test.targets, digits.train.classes
    )
    b = DataBrowser({"train": digits.train, "test": darker_test}, report=shifted_report)
    tabs = b.children[1]
    assert isinstance(b.stats, DataStats) and b.stats in tabs.children
    assert tabs.get_title(tabs.children.index(b.stats)) == "split stats"
