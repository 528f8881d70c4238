"""Sharing: the copy button carries exactly the text and follows the lab's run line; a search's trial lines
are listed, copyable and open in a linked lab, where they reproduce the trial;
Save HTML writes an offline file."""

import json
import re
from html.parser import HTMLParser

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pytest

from workbench.lab import LabSettings
from workbench.train import RunStore
from workbench.tune import ModelSpec, SearchSpace
from workbench.ui import CopyButton, OverfitLab, SearchView, export_html
from workbench.ui import export as export_module

FAST = LabSettings(epochs=3, subset=64, batch_size=32)


class _Attrs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.buttons = []

    def handle_starttag(self, tag, attrs):
        if tag == "button":
            self.buttons.append(dict(attrs))


def _button(copy: CopyButton) -> dict:
    parser = _Attrs()
    parser.feed(copy.value)
    (button,) = parser.buttons
    return button


def test_the_copy_button_carries_exactly_its_text_however_awkward():
    text = """wb1:model=mlp;a="quoted" & <b>'single'</b>;"""
    copy = CopyButton(text, label="copy it")
    button = _button(copy)
    assert button["data-copy"] == text  # the browser decodes the attribute back to the same text
    assert "navigator.clipboard.writeText" in button["onclick"] and "execCommand('copy')" in button["onclick"]
    assert ">copy it</button>" in copy.value
    copy.text = "other"
    assert _button(copy)["data-copy"] == "other"


def test_the_copy_button_follows_a_source_widget():
    text = widgets.Text("first")
    copy = CopyButton(source=text)
    assert copy.text == "first"
    text.value = "second"
    assert _button(copy)["data-copy"] == "second"
    with pytest.raises(TypeError, match=r"'source' parameter of CopyButton must be a widget with a value"):
        CopyButton(source="not a widget")


def test_the_labs_copy_button_copies_the_current_run_line(digits):
    lab = OverfitLab(digits, FAST, store=None, background=False)
    assert _button(lab.copy_button)["data-copy"] == FAST.to_line()
    lab.width.value = 48
    assert _button(lab.copy_button)["data-copy"] == FAST.replace(width=48).to_line() == lab.run_line.value
    (row,) = [c for c in lab.children if isinstance(c, widgets.HBox) and lab.run_line in c.children]
    assert lab.copy_button in row.children and lab.save_html_button in row.children


def test_save_html_writes_an_offline_file_next_to_the_notebook_and_shows_its_path(
    digits, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a notebook's kernel runs in the notebook's folder
    lab = OverfitLab(digits, FAST, store=None, background=False)
    lab.start()
    lab.save_html_button.click()
    (path,) = tmp_path.glob("overfitlab-*.html")
    assert str(path) in lab.status and "opens offline" in lab.status
    page = path.read_text()
    assert not re.search(r"<script[^>]+src=", page)  # every script inline
    assert not re.search(r"<(link|img|iframe)[^>]+(href|src)=[\"']?https?:", page)  # nothing from the net
    state = json.loads(
        page.split('<script type="application/vnd.jupyter.widget-state+json">')[1].split("</script>")[0]
    )
    lines = [s for s in state["state"].values() if s["model_name"] == "LinesModel"]
    assert lines and any(s["state"].get("y", {}) for s in lines)  # the curves as they are, in the state
    assert 'define("bqplot",' in page and 'define("bqscales",' in page


def test_export_html_errors(tmp_path, monkeypatch):
    fig = bq.Figure(
        marks=[
            bq.Lines(
                x=np.arange(3.0), y=np.arange(3.0), scales={"x": bq.LinearScale(), "y": bq.LinearScale()}
            )
        ]
    )
    with pytest.raises(
        TypeError, match=r"'widget' parameter of export_html must be a displayable ipywidgets"
    ):
        export_html("a figure", tmp_path / "x.html")
    with pytest.raises(
        ValueError, match=r"'path' parameter of export_html must be a file name ending in \.html"
    ):
        export_html(fig, tmp_path / "x.png")
    monkeypatch.setattr(export_module, "_nbextension_dirs", lambda: [tmp_path / "nothing"])
    with pytest.raises(FileNotFoundError, match=r"widget module 'bq\w+' has no JavaScript on this machine"):
        export_html(fig, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_a_search_lists_trial_lines_and_opens_one_in_the_lab_which_reproduces_it(digits, tmp_path):
    small = (digits.train.subset(range(200)), digits.val)
    store = RunStore(tmp_path / "s.sqlite")
    sv = SearchView(
        small,
        model=ModelSpec("mlp", width=16),
        n_trials=2,
        epochs=2,
        store=store,
        workers=0,
        space=SearchSpace(lr=(1e-3, 3e-2)),
        background=False,
    )
    shown = []
    sv.trial_lines.trial.observe(lambda change: shown.append(change["new"]), "value")
    sv.start()
    best = sv.result.best
    lines = sv.trial_lines
    assert len(lines.trial.options) == 2 and lines.trial.value == best.number
    assert shown[-1] == best.number  # the best one follows the search as trials end
    assert lines.line.value == best.line and _button(lines.copy_button)["data-copy"] == best.line
    assert lines.open_button.disabled  # no lab linked
    other = next(o for o in sv.result.outcomes if o.number != best.number)
    lines.trial.value = other.number
    assert lines.line.value == other.line
    lines.show(sv.result.outcomes)  # redrawn (e.g. by a later trial): the pick stays
    assert lines.trial.value == other.number

    lab = OverfitLab(small, FAST, store=None, background=False)
    lines.link(lab)
    assert not lines.open_button.disabled
    lines.open_button.click()
    assert lab.settings == LabSettings.from_line(other.line) and lab.run_line.value == other.line
    assert "is in the lab" in lines.note.value
    lab.start()
    want = store.load(other.run_id).history.snapshot().metrics["val_loss"]
    got = lab.history.snapshot().metrics["val_loss"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_a_trial_without_a_line_says_why(digits, tmp_path):
    small = (digits.train.subset(range(200)), digits.val)
    sv = SearchView(
        small,
        model=ModelSpec("linear", seed=4),
        n_trials=1,
        epochs=1,
        store=tmp_path / "s.sqlite",
        workers=0,
        background=False,
    )
    sv.start()
    lines = sv.trial_lines
    assert (
        lines.line.value == ""
        and "has no run line" in lines.note.value
        and "ModelSpec seed 4" in lines.note.value
    )


def test_trial_lines_follow_the_best_trial_until_the_user_picks_one():
    from workbench.tune import TrialOutcome
    from workbench.ui import TrialLines

    def outcome(number, acc):
        line = LabSettings(lr=1e-3 * (number + 1)).to_line()
        return TrialOutcome(
            number, {"lr": 1e-3 * (number + 1), "weight_decay": 0.0}, "complete", acc, 1.0, "", line=line
        )

    a, b, c = outcome(0, 0.3), outcome(1, 0.8), outcome(2, 0.5)
    view = TrialLines()
    view.show([a])
    assert view.trial.value == 0 and view.line.value == a.line
    view.show([a, b])  # a better trial ended: it is selected
    assert view.trial.value == 1 and view.line.value == b.line
    view.trial.value = 0  # the user picks one: it stays through later redraws
    view.show([a, b, c])
    assert view.trial.value == 0 and view.line.value == a.line
    assert [v for _, v in view.trial.options] == [1, 2, 0]  # best first
    with pytest.raises(TypeError, match=r"'lab' parameter of TrialLines.link must be an OverfitLab"):
        view.link("a lab")
