"""What the live views cost the training thread, counted without a stopwatch.

The band and the smoothed line are recomputed at every redraw, from the training thread: their work must
not grow with a Python loop over the bins or the steps. The run store's commits must not wait for the disk.
"""

import sys
from itertools import pairwise

import numpy as np
import pytest

from workbench.diagnose.dynamics import PredictionTracker
from workbench.train import RunStore
from workbench.ui.plotting import ema, spread_band


def _lines_run(fn, *args) -> int:
    """Python lines executed by ``fn(*args)`` (in every frame it calls): a count, not a time."""
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


def _band_by_loop(x, y, bins):  # the definition: per bin of consecutive points, mean -+ std
    edges = np.linspace(0, len(x), max(1, min(bins, len(x))) + 1).astype(np.int64)
    segs = [(a, b) for a, b in pairwise(edges) if b > a]
    return (
        np.array([np.mean(x[a:b]) for a, b in segs]),
        np.array([y[a:b].mean() - y[a:b].std() for a, b in segs]),
        np.array([y[a:b].mean() + y[a:b].std() for a, b in segs]),
    )


def _ema_by_loop(y, beta):
    out, avg = [], 0.0
    for i, v in enumerate(y):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
    return np.array(out)


@pytest.mark.parametrize(("n", "bins"), [(1, 60), (7, 3), (59, 60), (61, 60), (1000, 60), (1001, 7)])
def test_spread_band_and_ema_match_their_definitions(n, bins):
    rng = np.random.default_rng(n)
    x, y = np.arange(1, n + 1), rng.random(n) * 3
    for got, want in zip(spread_band(x, y, bins), _band_by_loop(x, y, bins)):
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=1e-12)
    for beta in (0.5, 0.9, 0.98):
        assert np.allclose(ema(y, beta), _ema_by_loop(y, beta), rtol=1e-10, atol=1e-12)
    assert ema(np.zeros(0)).shape == (0,) and all(
        len(a) == 0 for a in spread_band(np.zeros(0), np.zeros(0), 60)
    )
    y[n // 2] = np.nan  # a NaN spoils its own bin (and the average from there on), as the loops do
    assert np.isnan(spread_band(x, y, bins)[1]).sum() == 1 and np.isnan(ema(y)[n // 2 :]).all()


def test_band_and_smoothing_do_not_loop_in_python_over_bins_or_steps():
    rng = np.random.default_rng(0)
    x, y = np.arange(1, 20_001), rng.random(20_000)
    # the loops ran ~100 lines per bin with numpy's wrappers (60 bins: ~5900) and 3 per step (60 000);
    # vectorised: ~115, and ~130 (a dozen per chunk of ~2000 steps)
    assert _lines_run(spread_band, x, y, 60) < 600
    assert _lines_run(ema, y) < 600


def test_run_store_commits_without_waiting_for_the_disk(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    con = store.connect()
    # WAL with synchronous=NORMAL: no fsync per commit (FULL, the default, cost 7 ms a flush on a busy disk)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 1
    finally:
        con.close()


def test_prediction_tracker_budget_errors():
    x, y = np.zeros((2, 1, 4, 4), dtype=np.float32), np.zeros(2, dtype=np.int64)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(
            ValueError, match="'budget' parameter of PredictionTracker must be a fraction in \\(0, 1\\]"
        ):
            PredictionTracker(x, y, budget=bad)
