"""Every label ranked by a model worth trusting: the k-NN default, the out-of-fold CNN, rank_labels, stop."""

import threading

import numpy as np
import pytest
import torch

from workbench.data import LabelModelStopped, from_arrays, inspect, rank_labels
from workbench.data.labels import suspicious_labels

RANKING_COLUMNS = ["index", "label", "suggested", "quality", "path"]


@pytest.fixture(autouse=True)
def _one_thread():
    # The CNN's steps are tiny: on a loaded 2-core machine two OpenMP threads per step wait on each
    # other (measured: 160 s vs 10 s for the same folds); one thread is the honest setting here.
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def flipped(digits):
    """The digits train split (1,259 real 8x8 digits) with 25 labels changed to another class."""
    x, y = digits.train.tensors()
    y = y.numpy().copy()
    rng = np.random.default_rng(0)
    flips = rng.choice(len(y), 25, replace=False)
    y[flips] = (y[flips] + rng.integers(1, 10, 25)) % 10
    return from_arrays(x.numpy(), y), set(flips.tolist())


@pytest.fixture(scope="module")
def cnn_report(flipped):
    return inspect(flipped[0], label_model="cnn", progress=None)


def test_label_ranking_covers_every_sample_most_doubtful_first(flipped):
    data, flips = flipped
    report = inspect(data, progress=None)
    ranking = report.label_ranking("train")
    assert list(ranking.columns) == RANKING_COLUMNS
    assert len(ranking) == len(data) and sorted(ranking["index"]) == list(range(len(data)))
    assert ranking["quality"].is_monotonic_increasing and ranking["quality"].between(0, 1).all()
    assert (ranking["label"] == [data.classes[data.targets[i]] for i in ranking["index"]]).all()
    assert ranking["path"].isna().all()  # in memory
    assert len(set(ranking["index"][:40]) & flips) >= 20  # the k-NN already finds most planted flips
    assert report.settings["label_model"] == "knn" and report.label_scores["train"].model == "knn"


def test_frame_rows_carry_the_same_quality_as_the_ranking(cnn_report):
    frame = cnn_report.to_frame()
    assert list(frame.columns) == ["split", "index", "path", "label", "issue", "group", "detail", "quality"]
    rows = frame[frame.issue == "suspicious_label"].set_index("index")
    assert len(rows) > 0 and frame[frame.issue != "suspicious_label"]["quality"].isna().all()
    ranking = cnn_report.label_ranking("train").set_index("index")
    np.testing.assert_array_equal(rows["quality"].to_numpy(), ranking.loc[rows.index, "quality"].to_numpy())
    assert (ranking.loc[rows.index, "suggested"] != ranking.loc[rows.index, "label"]).mean() > 0.9
    assert "(label quality" in rows["detail"].iloc[0] and rows["detail"].iloc[0].endswith(", cnn)")


def test_cnn_ranking_puts_planted_flips_near_the_top(flipped, cnn_report):
    _, flips = flipped
    top = cnn_report.label_ranking("train")["index"].tolist()
    assert len(set(top[:25]) & flips) >= 18, len(set(top[:25]) & flips)
    assert len(set(top[:50]) & flips) >= 23, len(set(top[:50]) & flips)
    assert cnn_report.settings["label_model"] == "cnn" and cnn_report.label_scores["train"].model == "cnn"


def test_the_cnn_is_seeded_and_rank_labels_gives_what_inspect_gives(flipped, cnn_report):
    data, _ = flipped
    again = rank_labels(inspect(data, progress=None), {"train": data})
    np.testing.assert_array_equal(
        again.label_scores["train"].quality, cnn_report.label_scores["train"].quality
    )
    assert again.flagged("suspicious_label") == cnn_report.flagged("suspicious_label")


def test_rank_labels_upgrades_a_knn_report_and_keeps_its_other_findings(flipped):
    data, _ = flipped
    x = data.tensors()[0].numpy()
    dup = from_arrays(np.concatenate([x, x[:1]]), np.r_[data.targets, data.targets[0]])
    knn = inspect(dup, progress=None)
    calls = []
    cnn = rank_labels(knn, {"train": dup}, progress=lambda *a: calls.append(a))
    assert (
        knn.settings["label_model"] == "knn" and knn.label_scores["train"].model == "knn"
    )  # the input is unchanged
    assert (
        cnn.settings["label_model"] == "cnn"
        and cnn.count("exact_duplicate") == knn.count("exact_duplicate") == 2
    )
    assert set(cnn.flagged("suspicious_label")) != set(knn.flagged("suspicious_label"))
    total = 5 * 13  # 1,008 samples a fold: 8 steps an epoch; 13 epochs reach CNN_MIN_STEPS = 100
    assert calls[0] == ("label model (cnn) train", 0, total) and calls[-1] == (
        "label model (cnn) train",
        total,
        total,
    )


def test_stopping_the_cnn_raises_and_changes_nothing(flipped):
    data, _ = flipped
    report = inspect(data, progress=None)
    stop = threading.Event()
    epochs = []

    def progress(stage, done, total):
        epochs.append(done)
        if done == 2:
            stop.set()  # as the Cancel button does, from another thread

    with pytest.raises(LabelModelStopped, match="stopped in fold 1 of 5; the ranking is unchanged"):
        rank_labels(report, {"train": data}, progress=progress, stop_event=stop)
    assert epochs == [0, 1, 2] and report.settings["label_model"] == "knn"


def test_bad_label_model_and_ranking_requests_are_clear_errors(digits):
    with pytest.raises(
        ValueError, match=r"'label_model' parameter of inspect must be one of \('knn', 'cnn'\).*Got 'svm'"
    ):
        inspect(digits.val, label_model="svm")
    report = inspect(digits.val, suspicious=False)
    with pytest.raises(
        ValueError, match="split 'train' has no label scores: inspect ran with suspicious=False"
    ):
        report.label_ranking("train")
    with pytest.raises(ValueError, match=r"label_ranking: split must be one of \['train'\]. Got 'test'"):
        report.label_ranking("test")
    with pytest.raises(ValueError, match=r"'label_model' parameter of rank_labels must be one of"):
        rank_labels(report, {"train": digits.val}, label_model="CNN")
    with pytest.raises(ValueError, match="split 'train' has 1259 samples but the report has 269"):
        rank_labels(report, {"train": digits.train})


def test_rank_labels_back_to_the_knn_gives_what_inspect_gives(digits):
    report = inspect(digits.val, progress=None)
    again = rank_labels(report, {"train": digits.val}, "knn")
    np.testing.assert_array_equal(again.label_scores["train"].quality, report.label_scores["train"].quality)
    assert again.rows == report.rows


def test_tiny_splits_are_ranked_without_a_model(digits):
    few = digits.val.subset(range(12))
    report = inspect(few, label_model="cnn", progress=None)
    ranking = report.label_ranking("train")
    assert len(ranking) == 12 and ranking["quality"].isna().all() and report.count("suspicious_label") == 0


def test_suspicious_labels_has_no_unused_seed(digits):
    y = digits.val.targets
    with pytest.raises(TypeError, match="seed"):
        suspicious_labels(y, 10, np.zeros((len(y), 32, 32)), seed=1)
