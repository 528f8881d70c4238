"""The "doubtful labels" tab of the DataBrowser: pages through the ranking; upgrades it to the CNN;
cancels."""

import numpy as np
import pytest
import torch

from workbench.data import from_arrays, inspect
from workbench.ui import DataBrowser


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny CNN steps: see tests/core/test_label_ranking.py


@pytest.fixture(scope="module")
def flipped(digits):
    x, y = digits.train.tensors()
    y = y.numpy().copy()
    rng = np.random.default_rng(1)
    flips = rng.choice(len(y), 20, replace=False)
    y[flips] = (y[flips] + rng.integers(1, 10, 20)) % 10
    return {"train": from_arrays(x.numpy(), y)}, set(flips.tolist())


@pytest.fixture(scope="module")
def knn_report(flipped):
    return inspect(flipped[0]["train"], progress=None)


def test_the_view_pages_through_every_label_most_doubtful_first(flipped, knn_report):
    data, flips = flipped
    b = DataBrowser(data, knn_report, page_size=12, background=False)
    view = b.doubtful
    ranking = knn_report.label_ranking("train")
    assert view.split == "train" and view.model == "knn" and view.pages == -(-len(ranking) // 12)
    assert view.shown == ranking["index"][:12].tolist() and len(view.gallery.children) == 12
    assert len(set(view.shown) & flips) >= 8
    first = ranking.iloc[0]
    caption = view.gallery.children[0].children[1].value
    assert f"#{first['index']}" in caption and f"given <b>{first['label']}</b>" in caption
    assert (
        f"<b style='color:#b00020'>{first['suggested']}</b>" in caption
        and f"quality {first['quality']:.3f}" in caption
    )
    assert "k-NN" in view.header.value and f"{len(ranking)}" in view.header.value
    view.next_button.click()
    assert view.page == 1 and view.shown == ranking["index"][12:24].tolist()
    view.go(999)
    assert view.page == view.pages - 1 and view.next_button.disabled
    b.tab = "doubtful labels"
    assert b.tabs.children[b.tabs.selected_index] is view
    b.tabs.selected_index = 0
    assert b.tab == "gallery"
    with pytest.raises(Exception, match=r"DataBrowser.tab must be one of"):
        b.tab = "labels"


def test_the_button_upgrades_the_ranking_to_the_cnn(flipped, knn_report):
    data, flips = flipped
    b = DataBrowser(data, knn_report, page_size=24, background=False)
    b.issue = "suspicious_label"
    before = b.issue_dd.options
    b.doubtful.upgrade_button.click()  # synchronous path: trains 5 folds x 4 epochs inline
    view = b.doubtful
    assert view.model == "cnn" and not view.running and view.upgrade_button.disabled
    assert b.report.settings["label_model"] == "cnn" and knn_report.settings["label_model"] == "knn"
    assert view.shown == b.report.label_ranking("train")["index"][:24].tolist()
    assert len(set(view.shown) & flips) >= 15
    assert "CNN (5-fold cross-validated)" in view.header.value and "ranked by the CNN in" in view.status.value
    # the browser's other tabs follow the new report
    n = b.report.count("suspicious_label")
    assert (
        f"suspicious_label ({n})",
        "suspicious_label",
    ) in b.issue_dd.options and b.issue_dd.options != before
    assert b.issue == "suspicious_label" and len(b._selection) == n
    assert view.progress.value == view.progress.max == 5 * 13  # folds x epochs


def test_cancel_stops_the_cnn_and_keeps_the_knn_ranking(flipped, knn_report):
    data, _ = flipped
    b = DataBrowser(data, knn_report, background=True)
    view = b.doubtful
    shown = list(view.shown)
    run = view.upgrade()
    assert view.running and not view.cancel_button.disabled and view.upgrade_button.disabled
    view.cancel_button.click()
    assert view.wait(600) and not run.running
    assert view.model == "knn" and view.shown == shown and b.report is knn_report
    assert "cancelled" in view.status.value and "ranking is unchanged" in view.status.value
    assert not view.upgrade_button.disabled and view.cancel_button.disabled and not view.running


def test_a_report_without_label_scores_shows_why(flipped):
    data, _ = flipped
    b = DataBrowser(data, inspect(data["train"], suspicious=False), background=False)
    assert "suspicious=False" in b.doubtful.header.value and b.doubtful.upgrade_button.disabled
