"""The overfit lab's transfer row in a real browser: shown for a lab with pretrained weights (hidden for a
plain one), "freeze up to" offers the model's groups, and picking one reaches the run line."""

import time

import pytest

from .conftest import ARTIFACTS, open_notebook, run_all, wait_idle, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """import torch
from workbench.data import from_arrays, load_digits
from workbench.lab import LabSettings
from workbench.models import TinyCNN
from workbench.train import TrainConfig, fit
from workbench.ui import OverfitLab

torch.set_num_threads(1)
digits = load_digits(seed=0)


def classes(data, lo):
    x, y = data.tensors()
    keep = (y >= lo) & (y < lo + 5)
    return from_arrays(x[keep], (y[keep] - lo).numpy(), [str(c) for c in range(lo, lo + 5)])


net = TinyCNN((1, 8, 8), 5, channels=8)
fit(net, classes(digits.train, 0), config=TrainConfig(epochs=3, seed=0))
torch.save(net.state_dict(), "digits04.pt")
fives = (classes(digits.train, 5), classes(digits.val, 5))
settings = LabSettings(model="cnn", width=8, depth=2, subset=64, epochs=3)""",
    "OverfitLab(fives, settings, store=None).add_class('plain-lab')",
    "OverfitLab(fives, settings, store=None, pretrained='digits04.pt').add_class('pretrained-lab')",
]


def test_the_transfer_row_offers_the_groups_and_reaches_the_run_line(page, lab):
    write_notebook(lab.root / "transfer_row_check.ipynb", *CELLS)
    open_notebook(page, lab, "transfer_row_check.ipynb")
    run_all(page)
    box = page.locator(".pretrained-lab")
    box.wait_for(timeout=600_000)
    wait_idle(page, 600)
    assert page.locator(".plain-lab .wb-transfer-row").count() == 1
    assert not page.locator(".plain-lab .wb-transfer-row").is_visible()  # no weights: no row
    row = box.locator(".wb-transfer-row")
    row.scroll_into_view_if_needed()
    assert row.is_visible()
    assert row.locator("input").first.input_value() == "digits04.pt"
    freeze = row.locator(".widget-dropdown", has_text="freeze up to").locator("select")
    labels = [o.replace("\xa0", " ").strip() for o in freeze.locator("option").all_inner_texts()]
    assert labels == ["nothing", "body.0", "body.3", "all but the head"]
    freeze.select_option(label="body.0")
    body_lr = row.locator(".widget-dropdown", has_text="body LR").locator("select")
    body_lr.select_option(label="x0.1")
    line = box.locator(".wb-run-line input")
    deadline = time.time() + 120
    while "freeze_upto=body.0;body_lr=0.1" not in line.input_value() and time.time() < deadline:
        time.sleep(0.1)
    assert "weights=digits04.pt;freeze_upto=body.0;body_lr=0.1" in line.input_value()
    deadline = time.time() + 120
    while "frozen: body.0" not in row.inner_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "frozen: body.0 · body.3 at 1.0e-04 (x0.1) · head at 1.0e-03" in row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    box.screenshot(path=str(ARTIFACTS / "lab_transfer_row.png"))
