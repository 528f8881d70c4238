"""RecipePanel: the checklist follows what the recipe recorded (real inspect, checks, range test), with the
evidence of each done step and the next step on top."""

import pytest
import torch

from workbench.checks import run_all
from workbench.data import inspect
from workbench.models import build_model
from workbench.recipe import Recipe
from workbench.tune import lr_range_test
from workbench.ui import RecipePanel


@pytest.fixture
def recipe(digits, tmp_path):
    return Recipe(digits, tmp_path / "runs.sqlite")


def test_a_new_panel_says_start_with_the_data(recipe):
    panel = RecipePanel(recipe)
    assert set(panel.states.values()) == {"not yet"} and len(panel.states) == 7
    assert panel.next_step == "data" and "inspect" in panel.message
    assert "Next:" in panel.suggestion_html.value and "inspect the data" in panel.suggestion_html.value
    assert panel.checklist.value.count("wb-recipe-step") == 7


def test_recording_through_the_panel_marks_the_step_done_with_its_evidence(digits, recipe):
    panel = RecipePanel(recipe)
    panel.record(inspect(digits.train, digits.test, suspicious=False, progress=None))
    assert panel.states["data"] == "done" and panel.next_step == "checks"
    assert "data-state='done'" in panel.checklist.value
    assert "no leakage, conflicting labels, exact duplicates or unreadable files" in panel.checklist.value
    found = lr_range_test(build_model("mlp", digits.train, seed=0), digits.train, num_iter=60)
    panel.record(found)
    assert panel.states["lr"] == ("done" if found.found else "problem")
    assert ("LR found: " if found.found else "no good LR found") in panel.checklist.value


def test_a_failed_check_is_a_problem_and_comes_first(digits, recipe):
    panel = RecipePanel(recipe)
    panel.record(inspect(digits.train, digits.test, suspicious=False, progress=None))
    model = build_model("mlp", digits.train, seed=0, width=32, depth=1)
    with torch.no_grad():
        list(model.parameters())[-1].copy_(torch.linspace(-6, 6, 10))  # the planted bias bug
    panel.record(run_all(model, digits.train, only=("initial_loss",)))
    assert panel.states["checks"] == "problem" and panel.next_step == "checks"
    assert panel.message.startswith("initial loss off: fix the last-layer bias")
    assert "failed: initial_loss" in panel.checklist.value and "data-state='problem'" in panel.checklist.value


def test_refresh_picks_up_what_another_recipe_object_recorded(digits, recipe, tmp_path):
    panel = RecipePanel(recipe)
    other = Recipe(digits, tmp_path / "runs.sqlite")  # e.g. a notebook writing into the same store
    other.record({"ensemble": 0.98}, step="squeeze", evidence={"gain_pp": 0.4})
    assert panel.states["squeeze"] == "not yet"
    panel.refresh_button.click()
    assert panel.states["squeeze"] == "done" and "gain pp: 0.4" in panel.checklist.value


def test_go_hands_the_suggested_step_over(recipe):
    went = []
    panel = RecipePanel(recipe, on_go=went.append)
    panel.go_button.click()
    assert went == ["data"]
    assert RecipePanel(recipe).go_button.layout.display == "none"  # nothing to go to without on_go


def test_the_panel_needs_a_recipe(digits):
    with pytest.raises(TypeError, match=r"'recipe' parameter of RecipePanel must be a workbench\.Recipe"):
        RecipePanel(digits)
