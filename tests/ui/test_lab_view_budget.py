"""The lab's live views take a bounded share of the training thread, whatever each redraw costs.

A simulated clock replaces the wall clock of the throttles: every training step and every view call
"takes" as long as the test says. Nothing here depends on how fast this machine is.
"""

import types

import pytest

from workbench import background as runner
from workbench.background import Throttle
from workbench.diagnose import dynamics
from workbench.diagnose.dynamics import PredictionTracker
from workbench.lab import LabSettings
from workbench.lab import session as lab_module
from workbench.train.callbacks import Callback
from workbench.ui import OverfitLab
from workbench.ui.lab import VIEW_BUDGET


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.in_views = 0.0
        self.calls: dict[str, int] = {}

    def monotonic(self) -> float:
        return self.t

    def charge(self, name: str, fn, cost: float):
        def wrapped(*args, **kwargs):
            self.t += cost
            self.in_views += cost
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*args, **kwargs)

        return wrapped


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    fake_time = types.SimpleNamespace(monotonic=c.monotonic)
    monkeypatch.setattr(runner, "time", fake_time)
    monkeypatch.setattr(dynamics, "time", fake_time)
    return c


def _run_lab(digits, tmp_path, monkeypatch, clock, step: float, cost: float, epochs: int = 40):
    class Tick(Callback):  # first in the list: the step's own time
        def on_step_end(self, state):
            clock.t += step

    real_fit = lab_module.fit
    monkeypatch.setattr(
        lab_module, "fit", lambda *a, callbacks=(), **k: real_fit(*a, callbacks=[Tick(), *callbacks], **k)
    )
    monkeypatch.setattr(PredictionTracker, "_record", clock.charge("score", PredictionTracker._record, cost))
    lab = OverfitLab(
        digits,
        LabSettings(epochs=epochs, subset=64, batch_size=16),
        store=tmp_path / "r.sqlite",
        background=False,
    )
    lab.curves.update = clock.charge("curves", lab.curves.update, cost)
    lab.predictions.update = clock.charge("predictions", lab.predictions.update, cost)
    lab._show_verdict = clock.charge("verdict", lab._show_verdict, cost)
    t0 = clock.t
    lab.start()
    assert lab.history.status == "finished" and lab.history.steps == 4 * epochs
    return lab, clock.t - t0


def test_slow_views_stay_within_the_lab_budget(digits, tmp_path, monkeypatch, clock):
    # 160 steps of 200 ms, each view call 20 ms: at 4 Hz (the verdict at 2) the views took ~25 % of the thread
    # before
    cost = 0.020
    lab, total = _run_lab(digits, tmp_path, monkeypatch, clock, step=0.2, cost=cost)
    share = clock.in_views / total
    # at most 2.2 % (the lab's budgets: curves, scoring and redrawing the predictions, the verdict), plus a
    # first
    # call of each of the four throttled views and the three unconditional ones (scoring at the start and the
    # end, the final redraw of the curves)
    assert share <= 0.022 + 7 * cost / total, (share, clock.calls)
    budget = VIEW_BUDGET
    assert budget["curves"] + 2 * budget["predictions"] + budget["verdict"] <= 0.022
    assert clock.calls["curves"] >= 8 and clock.calls["score"] >= 8  # they still draw, less often
    assert lab.curves.drawn_version == lab.history.version  # and the end of the run is always drawn


def test_cheap_views_keep_their_rate(digits, tmp_path, monkeypatch, clock):
    _, total = _run_lab(digits, tmp_path, monkeypatch, clock, step=0.025, cost=0.0002)
    assert clock.in_views / total < 0.01
    # ~4 redraws a simulated second (the budget does not slow what is cheap); +2: the first and the final one
    assert abs(clock.calls["curves"] - 4 * total) <= 3, (clock.calls, total)
    assert abs(clock.calls["score"] - 4 * total) <= 3, (clock.calls, total)


def test_throttle_budget(clock):
    th = Throttle(hz=4, budget=0.01)
    assert th.ready()
    clock.t += 0.05  # the work took 50 ms: at 1 % the next may start 5 s after this one did
    th.done()
    clock.t += 4.9
    assert not th.ready()
    clock.t += 0.1
    assert th.ready()
    th.done()  # instant work: back to 4 Hz
    clock.t += 0.25
    assert th.call(lambda: None) and not th.call(lambda: None)

    def work(seconds):
        return lambda: setattr(clock, "t", clock.t + seconds)

    slow = Throttle(hz=4, budget=0.01)
    assert slow.call(
        work(5.0)
    )  # 5 s at 1 % would be 500 s: the wait stops at MAX_WAIT_S (10 s) from the start
    clock.t += Throttle.MAX_WAIT_S - 5.0 - 0.01
    assert not slow.ready()
    clock.t += 0.01
    assert slow.ready()
    slow.done()
    for cost in (
        0.01,
        0.01,
        3.0,
    ):  # one slow call (an import, a pause) among fast ones: the least of three counts
        clock.t += 1.0
        assert slow.call(work(cost))
    clock.t += 0.25
    assert slow.ready()
    plain = Throttle(hz=4)
    assert plain.ready()
    clock.t += 1.0
    plain.done()  # no budget: only the rate
    clock.t += 0.25
    assert plain.ready()
    for bad in (0, 1.5, -1):
        with pytest.raises(
            ValueError, match="'budget' parameter of Throttle must be a fraction in \\(0, 1\\] or None"
        ):
            Throttle(4, budget=bad)
