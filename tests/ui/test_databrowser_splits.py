"""The browser takes splits by any names (val/test without train) and never renames them."""

from workbench.ui import DataBrowser


def test_browser_of_val_and_test_only(digits):
    b = DataBrowser({"val": digits.val, "test": digits.test}, background=False)
    assert set(b.report.splits) == {"val", "test"} and list(b.datasets) == ["val", "test"]
    assert set(b.split_dd.options) == {"all", "val", "test"}


def test_without_a_report_the_browser_inspects_in_the_background(digits):
    b = DataBrowser({"train": digits.train, "val": digits.val})
    assert b.report is None or b.run is not None  # the constructor returned before (or while) inspecting
    report = b.wait(600)
    assert report is not None and b.report is report and set(report.splits) == {"train", "val"}
    assert (
        b.tabs.children and len(b.gallery.children) > 0 and b.inspect_progress.value == b.inspect_progress.max
    )
    b.tab = "split stats"
    assert b.tabs.selected_index == b.tab_titles.index("split stats")
