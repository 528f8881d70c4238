"""McNemar's exact test of two models scored on the same samples (``workbench.squeeze.mcnemar``)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.squeeze import Comparison, ModelScore, ModelSpec, compare, mcnemar, train_members
from workbench.train import TrainConfig


def _comparison(a: list[bool], b: list[bool]) -> Comparison:
    correct = {"a": np.array(a), "b": np.array(b)}
    rows = tuple(
        ModelScore(name, "single", float(hits.mean()), 0.0, 1.0, 0.0, len(hits), 1, 0.0)
        for name, hits in correct.items()
    )
    return Comparison(rows, correct)


def test_mcnemar_counts_only_the_disagreements_and_matches_the_binomial_by_hand():
    # 10 samples only "a" gets right, none only "b" does, 50 both, 40 neither: p = 2 * 0.5**10
    a = [True] * 10 + [True] * 50 + [False] * 40
    b = [False] * 10 + [True] * 50 + [False] * 40
    c = _comparison(a, b)
    assert mcnemar(c, "a", "b") == pytest.approx(2 * 0.5**10)
    assert mcnemar(c, "b", "a") == pytest.approx(2 * 0.5**10)  # two-sided
    # agreements carry no information: 1,000 more of them change nothing
    more = _comparison(a + [True] * 1000, b + [True] * 1000)
    assert mcnemar(more, "a", "b") == pytest.approx(2 * 0.5**10)
    # 3 against 2: P(X <= 2) for Binomial(5, 1/2) is 16/32, doubled and capped at 1
    even = _comparison([True] * 3 + [False] * 2, [False] * 3 + [True] * 2)
    assert mcnemar(even, "a", "b") == pytest.approx(1.0)
    same = _comparison([True, False, True], [True, False, True])
    assert mcnemar(same, "a", "b") == 1.0
    with pytest.raises(KeyError, match="no model named 'z'"):
        mcnemar(c, "z", "b")


def test_mcnemar_on_real_models_agrees_with_the_paired_interval(digits):
    spec = ModelSpec.for_data("mlp", digits.train, width=32)
    trained = train_members(spec, digits.train, seeds=(0,), config=TrainConfig(epochs=3, device="cpu"))
    result = compare(
        {"trained": trained[0].model, "untrained": spec.build(seed=1)}, digits.test, device="cpu"
    )
    gain = result.gain("trained", "untrained")
    assert gain.low > 0
    assert mcnemar(result, "trained", "untrained") < 1e-6
    assert mcnemar(result, "trained", "trained") == 1.0
