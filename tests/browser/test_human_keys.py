"""HumanBaseline in a real browser: a key pressed in its box labels the sample, for multi-character names."""

import time

import nbformat
import pytest

from .conftest import ARTIFACTS, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELL = """\
import numpy as np
from workbench.data import from_arrays
from workbench.ui import HumanBaseline

rng = np.random.default_rng(0)
# every sample is a "dog": pressing d is right, a (car) and c (cat) are wrong
pets = from_arrays(
    rng.random((6, 8, 8)).astype(np.float32), np.ones(6, dtype=int), classes=["cat", "dog", "car"]
)
human = HumanBaseline(pets, n=4, seed=0)
human
"""


def _wait_text(locator, text: str, timeout: float = 120.0) -> str:
    deadline = time.time() + timeout
    while text not in (seen := locator.inner_text()) and time.time() < deadline:
        time.sleep(0.1)
    assert text in seen, seen
    return seen


def test_pressing_a_key_labels_the_sample(page, lab):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nbformat.write(nb, lab.root / "human_keys.ipynb")
    open_notebook(page, lab, "human_keys.ipynb")
    run_all(page)
    widget = page.locator(".wb-human-baseline").first
    widget.wait_for(timeout=600_000)
    assert [b.strip() for b in widget.locator(".widget-button").all_inner_texts()][:4] == [
        "cat (c)",
        "dog (d)",
        "car (a)",
        "skip (space)",
    ]
    _wait_text(widget, "sample 1 of 4")
    box = widget.locator(".wb-human-keys input")
    box.click()
    for key, shown in (
        ("d", "sample 2 of 4"),
        ("a", "sample 3 of 4"),
        (" ", "sample 4 of 4"),
        ("c", "done: 4 samples"),
    ):
        page.keyboard.press("Space" if key == " " else key)
        _wait_text(widget, shown)  # the kernel answered and moved on: one key, one sample
    _wait_text(widget, "human accuracy 33.3%")
    _wait_text(widget, "is dog, you said car")  # the list of wrong answers draws its images a moment later
    text = _wait_text(widget, "is dog, you said cat")
    assert "on 3 samples, 1 skipped, 2 wrong" in text
    page.screenshot(path=str(ARTIFACTS / "human_keys.png"), full_page=False)
