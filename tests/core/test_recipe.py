"""Recipe progress: steps recorded from the real results, read back by a new process, and next_step on
planted situations."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.checks import run_all
from workbench.data import from_arrays, inspect
from workbench.lab import Lab, LabSettings
from workbench.models import build_model
from workbench.recipe import STEPS, Recipe
from workbench.tune import lr_range_test


@pytest.fixture
def store(tmp_path):
    return tmp_path / "runs.sqlite"


def test_a_new_recipe_starts_with_the_data(digits, store):
    r = Recipe(digits, store)
    assert [s.name for s in r.steps()] == [s[0] for s in STEPS] and not any(s.done for s in r.steps())
    nxt = r.next_step()
    assert nxt.step == "data" and "inspect" in nxt.message


def test_leakage_found_comes_first_until_a_clean_report_replaces_it(digits, store):
    r = Recipe(digits, store)
    x_tr, y_tr = digits.train.tensors()
    x_te, y_te = digits.test.tensors()
    leaky_test = from_arrays(np.concatenate([x_te[:40], x_tr[:5]]), np.concatenate([y_te[:40], y_tr[:5]]))
    report = inspect(digits.train, leaky_test, suspicious=False, progress=None)
    step = r.record(report)
    assert step.done and step.evidence["found"]["leakage"] >= 5
    nxt = r.next_step()
    assert (
        nxt.step == "data"
        and nxt.message.startswith("leakage found")
        and "fix before training" in nxt.message
    )
    r.record(inspect(digits.train, from_arrays(x_te[:40], y_te[:40]), suspicious=False, progress=None))
    assert r.next_step().step == "checks"


def test_a_failed_initial_loss_check_says_fix_the_bias_and_a_fixed_model_moves_on(digits, store):
    r = Recipe(digits, store)
    r.record(inspect(digits.train, digits.test, suspicious=False, progress=None))
    model = build_model("mlp", digits.train, seed=0, width=32, depth=1)
    with torch.no_grad():
        list(model.parameters())[-1].copy_(torch.linspace(-6, 6, 10))  # the planted bias bug
    checks = run_all(model, digits.train, only=("initial_loss",))
    r.record(checks)
    nxt = r.next_step()
    assert nxt.step == "checks" and nxt.message.startswith("initial loss off: fix the last-layer bias")
    r.record(
        run_all(
            build_model("mlp", digits.train, seed=0, width=32, depth=1), digits.train, only=("initial_loss",)
        )
    )
    assert r.step("checks").done and r.next_step().step == "overfit"


def test_lab_and_range_test_are_recorded_and_read_back_by_a_new_process(digits, store):
    r = Recipe(digits, store)
    lab = Lab(digits.train, digits.val, LabSettings(epochs=60, subset=32, lr=3e-3), store=None)
    lab.start(background=False)
    assert r.record(lab.history).done  # 32 samples memorised
    short = Lab(digits.train, digits.val, LabSettings(epochs=1, subset=256, lr=1e-5), store=None)
    short.start(background=False)
    assert not r.record(short.history).done and "not overfit yet" in r.next_step().message
    r.record(lab.history)
    found = lr_range_test(build_model("mlp", digits.train, seed=0), digits.train, num_iter=60)
    assert r.record(found).done == found.found
    code = (
        "import sys; from workbench.data import load_digits; from workbench.recipe import Recipe; "
        f"r = Recipe(load_digits(seed=0), {str(store)!r}); "
        "print([s.name for s in r.steps() if s.done], r.next_step().step)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin"},
    )
    assert out.stdout.strip() == "['overfit', 'lr'] data"


def test_other_results_need_a_step(digits, store):
    r = Recipe(digits, store)
    with pytest.raises(TypeError, match="pass step="):
        r.record(object())
    with pytest.raises(ValueError, match=r"'step' parameter of Recipe\.record must be one of"):
        r.record(object(), step="deploy")
    assert r.record({"ensemble": 0.98}, step="squeeze", evidence={"gain_pp": 0.4}).evidence == {
        "gain_pp": 0.4
    }
    r.reset()
    assert not any(s.done for s in r.steps())
