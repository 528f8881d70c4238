"""App: one page, a tab per recipe step built lazily, views recording into the recipe; a bad folder is a
message on the page."""

import importlib.util
from types import SimpleNamespace

import pytest
import torch

import workbench.ui.app as app_module
from tests.conftest import write_digit_folder
from workbench.recipe import Recipe
from workbench.ui import App, OverfitLab
from workbench.ui.app_tabs import DataTab, RunReader

EXPECTED = ["data", "pipeline & checks", "overfit lab", "tune", "read the training"]


@pytest.fixture
def store(tmp_path):
    return tmp_path / "runs.sqlite"


@pytest.fixture
def app(store):
    return App(store=store, background=False)


def test_only_the_first_tab_is_built_until_another_is_selected(app, digits, store):
    has_squeeze = importlib.util.find_spec("workbench.ui.squeeze_view") is not None
    assert list(app.titles) == EXPECTED + (["squeeze"] if has_squeeze else [])
    assert app.built == ("data",) and app.tab == "data" and set(app.views) == {"data"}
    assert isinstance(app.views["data"], DataTab) and app.views["data"].report is not None
    # the other pages hold nothing but their title until they are opened
    assert all(len(page.children) == 1 and "opening" in page.children[0].value for page in app._pages[1:])
    # inspect recorded the data step, in the store, for these data
    assert app.panel.states["data"] == "done" and Recipe(digits, store).step("data").done
    app.tabs.selected_index = EXPECTED.index("read the training")  # what a click on the tab does
    assert app.built == ("data", "read the training") and app.tab == "read the training"
    assert isinstance(app.views["read the training"], RunReader)
    app.select("data")
    assert app.built == ("data", "read the training")  # built once


def test_a_lab_run_from_the_app_is_recorded_and_readable_in_the_read_tab(app):
    lab = app.select("overfit lab")
    assert isinstance(lab, OverfitLab)
    lab.subset.value, lab.epochs.value, lab.lr.value = 32, 60, 3e-3
    lab.start()  # background=False: trains inline; running goes False at the end
    assert lab.history.last("train_acc") >= 0.99
    assert app.panel.states["overfit"] == "done" and app.panel.next_step == "checks"
    assert "train accuracy 100.0%" in app.panel.checklist.value
    reader = app.select("read the training")
    assert len(reader.runs_view.picker.options) == 1  # the lab's run, in the app's store
    reader.runs_view.reload_button.click()
    assert reader.run is not None and "run #" in reader.title.value and reader.diagnosis_view.diagnosis


def test_checks_record_once_all_ran_or_one_failed(app):
    panel = app.select("pipeline & checks").children[0]
    panel.start(("initial_loss",))  # one passing check: not the whole step yet
    assert panel.statuses["initial_loss"] == "passed" and app.panel.states["checks"] == "not yet"
    with torch.no_grad():
        list(panel.model.parameters())[-1].copy_(torch.linspace(-6, 6, 10))  # the planted bias bug
    panel.start(("initial_loss",))
    assert app.panel.states["checks"] == "problem" and app.panel.next_step == "checks"
    assert "fix the last-layer bias" in app.panel.message


def test_the_range_test_records_the_lr_and_hands_the_choice_to_the_lab(app):
    tune = app.select("tune")
    tune.lr_view.start()
    result = tune.lr_view.result
    assert result is not None and app.panel.states["lr"] == ("done" if result.found else "problem")
    tune.lr_view.use(2e-3)
    assert app.chosen_lr == 2e-3
    assert app.select("overfit lab").lr.value == pytest.approx(2e-3)  # built later, it starts there
    tune.lr_view.use(5e-3)
    assert app.views["overfit lab"].lr.value == pytest.approx(5e-3)  # built: it follows


def test_go_opens_the_suggested_steps_tab(app):
    assert app.panel.next_step == "checks"
    app.panel.go_button.click()
    assert app.tab == "pipeline & checks" and "pipeline & checks" in app.built


def test_a_user_folder(tmp_path):
    root = write_digit_folder(tmp_path / "imgs", per_class=10, classes=("0", "1", "2"))
    app = App(root, store=tmp_path / "runs.sqlite", background=False)
    assert not app.error and len(app.splits.train.classes) == 3
    assert "3 classes" in app.children[0].children[0].value
    assert app.views["data"].report is not None and app.panel.states["data"] == "done"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing", "the folder does not exist"),
        (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "this is a file"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no class folders found"),
        (lambda p: write_digit_folder(p / "one", per_class=4, classes=("7",)), "at least two class folders"),
    ],
)
def test_a_bad_folder_is_a_message_on_the_page(tmp_path, make, match):
    app = App(make(tmp_path), store=tmp_path / "runs.sqlite", background=False)
    assert app.error.startswith("Could not open the folder") and match in app.error
    (box,) = app.children
    assert "wb-app-error" in box._dom_classes and "ImageFolder tree" in box.value
    assert "Traceback" not in box.value
    with pytest.raises(RuntimeError, match="The app has no tabs: Could not open"):
        app.select("data")


def test_a_tab_that_cannot_be_built_says_why_and_the_others_work(store, monkeypatch):
    def broken(app):
        raise ValueError("the search needs at least 2 classes")

    monkeypatch.setattr(app_module, "TABS", (*app_module.TABS[:3], ("tune", broken), *app_module.TABS[4:]))
    app = App(store=store, background=False)
    view = app.select("tune")
    assert "wb-app-tab-error" in view.value and "the search needs at least 2 classes" in view.value
    assert isinstance(app.select("overfit lab"), OverfitLab)


def test_bad_arguments(store, app):
    with pytest.raises(ValueError, match=r"'model' parameter of App must be one of 'linear', 'mlp', 'cnn'"):
        App(store=store, model="resnet")
    with pytest.raises(ValueError, match=r"'title' parameter of App\.select must be one of"):
        app.select("deploy")


def test_a_squeeze_run_is_recorded_with_its_test_accuracies(store, monkeypatch):
    # SqueezeView is written on another branch: a stand-in with its interface (running, comparison)
    import ipywidgets as widgets
    import traitlets

    from workbench.ui import app_tabs

    class Squeeze(widgets.VBox):
        running = traitlets.Bool(False)

        def __init__(self, data, *, store, background):
            self.data, self.store, self.comparison = data, store, None
            super().__init__()

    monkeypatch.setattr(app_tabs, "SqueezeView", Squeeze)
    tabs = tuple(t for t in app_module.TABS if t[0] != "squeeze")
    monkeypatch.setattr(app_module, "TABS", (*tabs, ("squeeze", app_tabs._squeeze)))
    app = App(store=store, background=False)
    view = app.select("squeeze")
    assert isinstance(view, Squeeze) and view.data is app.splits and view.store is app.store
    view.running = True
    view.running = False  # cancelled before anything was scored: nothing to record
    assert app.panel.states["squeeze"] == "not yet"
    rows = [
        SimpleNamespace(name="single best", accuracy=0.9512),
        SimpleNamespace(name="ensemble", accuracy=0.97),
    ]
    view.comparison = SimpleNamespace(rows=rows)
    view.running = True
    view.running = False
    assert app.panel.states["squeeze"] == "done"
    assert app.recipe.step("squeeze").evidence == {"test_accuracy": {"single best": 0.9512, "ensemble": 0.97}}
    assert "test accuracy: single best=0.951, ensemble=0.97" in app.panel.checklist.value
