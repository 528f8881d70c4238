"""One normaliser for named splits; inspect keeps the names it is given; the report is indexed by sample."""

import pytest

from workbench.data import DataReport, inspect, named_splits


def test_names_are_kept_and_bad_input_is_named(digits):
    assert list(named_splits(digits)) == ["train", "val", "test"]
    assert list(named_splits(digits.train)) == ["train"]
    assert list(named_splits({"val": digits.val, "test": digits.test})) == ["val", "test"]  # nothing renamed
    assert list(named_splits(train=digits.train, test=None, val=digits.val)) == ["train", "val"]
    with pytest.raises(TypeError, match="The 'holdout' split of inspect must be an ImageDataset"):
        named_splits(where="inspect", holdout=[1, 2])
    with pytest.raises(ValueError, match="give at least one split"):
        named_splits()
    with pytest.raises(ValueError, match="the split 'val' is given twice"):
        named_splits({"val": digits.val}, val=digits.val)


def test_inspect_without_a_train_split_and_the_sample_index(digits):
    r = inspect(val=digits.val, test=digits.test, suspicious=False)
    assert isinstance(r, DataReport) and set(r.splits) == {"val", "test"} and "train" not in r.splits
    row = r.rows[0] if r.rows else {"split": "val", "index": 0}
    assert all(
        x["split"] == row["split"] and x["index"] == row["index"]
        for x in r.issues_of(row["split"], row["index"])
    )
    assert r.issues_of(row["split"], row["index"]) == [
        x for x in r.rows if (x["split"], x["index"]) == (row["split"], row["index"])
    ]
    r.rows.append(
        {
            "split": "val",
            "index": 3,
            "path": None,
            "label": "",
            "issue": "too_dark",
            "group": "",
            "detail": "planted",
        }
    )
    assert any(x["detail"] == "planted" for x in r.issues_of("val", 3))  # the index follows new rows
