"""HumanBaseline's keyboard shortcuts: unique keys for any class names, shown on the buttons."""

import numpy as np
import pytest

from workbench.data import from_arrays
from workbench.ui import HumanBaseline
from workbench.ui.human import KEY_POOL, shortcut_keys


def _data(classes, n=6, target=1):
    rng = np.random.default_rng(0)
    return from_arrays(rng.random((n, 8, 8)).astype(np.float32), np.full(n, target), classes=list(classes))


def test_digit_names_keep_their_digit():
    assert shortcut_keys([str(d) for d in range(10)]) == [str(d) for d in range(10)]


def test_words_get_a_letter_of_their_own_and_keys_are_unique():
    assert shortcut_keys(["cat", "dog", "car"]) == ["c", "d", "a"]
    assert shortcut_keys(["Cat", "cow", "c"]) == ["a", "o", "c"]  # the one-character name keeps "c"
    assert shortcut_keys(["!!", "??"]) == ["1", "2"]  # no letter or digit to use: the pool, 1-9 first


def test_up_to_36_classes_get_a_key_and_the_rest_none():
    names = [f"class {i:02d}" for i in range(40)]
    keys = shortcut_keys(names)
    assert len(set(keys[:36])) == 36 and set(keys[:36]) == set(KEY_POOL)
    assert keys[36:] == [None] * 4


def test_multi_character_classes_can_be_labelled_by_key():
    hb = HumanBaseline(_data(["cat", "dog", "car"], target=1), n=4, seed=0)
    assert hb.shortcuts == ["c", "d", "a"] and hb.keyboard
    assert [b.description for b in hb.class_buttons] == ["cat (c)", "dog (d)", "car (a)"]
    assert hb.skip_button.description == "skip (space)"
    hb.key_box.value = "d"  # what the browser sends for one keystroke in the box
    assert hb.position == 1 and hb.key_box.value == ""
    hb.key_box.value = "A"  # case-insensitive
    hb.key_box.value = " "  # skip
    assert hb.press("x") is False and hb.position == 3
    hb.key_box.value = "c"
    assert hb.done and list(hb.answers.values()) == [1, 2, None, 0]
    assert hb.accuracy == pytest.approx(1 / 3) and hb.key_box.disabled


def test_digit_classes_still_answer_with_their_digit(digits):
    hb = HumanBaseline(digits.val, n=3, seed=0)
    assert [b.description for b in hb.class_buttons] == [str(d) for d in range(10)]  # nothing added
    first = hb.indices[0]
    hb.key_box.value = str(hb.truth[first])
    assert hb.answers == {first: hb.truth[first]}


def test_classes_past_the_keys_are_listed_as_click_only():
    names = [f"c{i}" for i in range(38)]
    hb = HumanBaseline(_data(names, target=0), n=2, seed=0)
    assert hb.shortcuts[36:] == [None, None]
    assert [b.description for b in hb.class_buttons[36:]] == ["c36", "c37"]
    assert "no key for 2 classes" in hb.key_help.value and "c36, c37" in hb.key_help.value
    hb.class_buttons[37].click()
    assert hb.answers[hb.indices[0]] == 37
