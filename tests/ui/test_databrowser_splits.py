"""The browser takes splits by any names (val/test without train) and never renames them."""

from workbench.ui import DataBrowser


def test_browser_of_val_and_test_only(digits):
    b = DataBrowser({"val": digits.val, "test": digits.test})
    assert set(b.report.splits) == {"val", "test"} and list(b.datasets) == ["val", "test"]
    assert set(b.split_dd.options) == {"all", "val", "test"}
