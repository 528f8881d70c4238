"""ProbesView draws what a real run's probes recorded: heat strips, ratio lines, norms, the weights grid."""

import numpy as np
import pytest

from workbench.diagnose import ACT_BINS, GRAD_BINS, Probes
from workbench.models import build_model
from workbench.train import Callback, TrainConfig, fit
from workbench.ui import ProbesView
from workbench.ui.probes_view import RATIO_BAND

FAST = TrainConfig(epochs=2, batch_size=64, lr=1e-3)


@pytest.fixture(scope="module")
def cnn_run(digits):
    probes = Probes(every=5, max_hz=1e6)
    history = fit(
        build_model("cnn", digits.train, seed=0), digits.train, digits.val, config=FAST, callbacks=[probes]
    )
    return history, probes


def test_a_finished_run_is_drawn_at_once(cnn_run):
    history, probes = cnn_run
    view = ProbesView(history, probes)
    assert view.drawn_version == probes.version
    # one strip per layer: every probed module's activations, every weight tensor's gradients
    assert (
        list(view.activation_strips)
        == probes.layers("mean")
        == ["body.0", "body.1", "body.3", "body.4", "head"]
    )
    assert list(view.gradient_strips) == ["body.0.weight", "body.3.weight", "head.weight"]
    for name, heat in view.activation_strips.items():
        steps, _, counts = probes.histogram(name, "activation")
        assert np.array_equal(heat.x, steps) and heat.color.shape == (ACT_BINS[0], len(steps))
        # each column is that sample's counts (log1p), scaled to its own maximum: the shape is kept
        expected = np.log1p(counts[-1]) / np.log1p(counts[-1]).max()
        assert np.allclose(heat.color[:, -1], expected) and heat.color.max() == 1.0
    for heat in view.gradient_strips.values():
        assert heat.color.shape[0] == GRAD_BINS[0] and np.isfinite(heat.color).all() and heat.color.max() > 0
    for name, line in view.ratio_lines.items():
        steps, ratios = probes.series(name, "update_ratio")
        assert len(line.x) == len(steps) > 5 and np.allclose(line.y, ratios)
    assert set(view.norm_lines) == set(view.ratio_lines) and all(len(ln.y) for ln in view.norm_lines.values())
    # the healthy band is shaded across the run, and the log axis shows it
    assert np.array_equal(view.ratio_band.y[:, 0], RATIO_BAND)
    assert view.ratio_band.x[0] == 1 and view.ratio_band.x[-1] == history.steps
    assert view._ratio_y.min < RATIO_BAND[0] and view._ratio_y.max > RATIO_BAND[1]
    assert view.weights_image.value[:8] == b"\x89PNG\r\n\x1a\n" and "16 of 16" in view.weights_note.value
    assert f"last at step {history.steps}" in view.status_html.value


def test_long_runs_are_averaged_down_before_they_are_sent(cnn_run):
    history, probes = cnn_run
    view = ProbesView(history, probes, max_columns=4, max_strips=2)
    assert len(view.activation_strips) == len(view.gradient_strips) == 2
    heat = view.activation_strips["body.0"]
    assert heat.color.shape == (ACT_BINS[0], 4) and len(heat.x) == 4
    steps, _, _ = probes.histogram("body.0", "activation")
    assert heat.x[0] > steps[0] and heat.x[-1] < steps[-1]  # each column at the mean of its samples
    assert not view.update()  # nothing new since: nothing is sent


def test_it_redraws_live_and_not_while_hidden(digits):
    probes = Probes(every=2, max_hz=1e6)
    view = ProbesView(refresh_hz=1e6)
    seen = []

    class Watch(Callback):  # after the view's callback: what it had drawn by each step
        def on_step_end(self, state):
            seen.append(len(view.activation_strips))

    view.follow(None, probes)
    model = build_model("mlp", digits.train, seed=0)
    fit(model, digits.train, config=FAST.replace(epochs=1), callbacks=[probes, view.callback(), Watch()])
    assert seen[0] == 5 and view.drawn_version == probes.version  # drawn from the first step, and at the end
    assert len(view.activation_strips["body.1"].x) == len(probes.samples)

    strips = dict(view.activation_strips)
    hidden = Probes(every=2, max_hz=1e6)
    view.follow(None, hidden)  # a new run clears what the old one drew; the same model keeps its strips
    assert view.activation_strips == strips and view.weights_image.value == b""
    assert all(not h.color.any() for h in strips.values()) and not any(
        len(ln.x) for ln in view.ratio_lines.values()
    )
    view.show_live(False)
    fit(model, digits.train, config=FAST.replace(epochs=1), callbacks=[hidden, view.callback()])
    assert view.drawn_version == -1 and not strips["body.1"].color.any()  # hidden: nothing was sent
    view.show_live(True)  # shown again: drawn at once
    assert view.drawn_version == hidden.version and len(strips["body.1"].x) == len(hidden.samples)
    cnn = Probes(every=2, max_hz=1e6)
    view.follow(None, cnn)  # another model: other strips, the old ones closed
    fit(
        build_model("cnn", digits.train, seed=0),
        digits.train,
        config=FAST.replace(max_steps=4),
        callbacks=[cnn],
    )
    assert view.update() and list(view.activation_strips) == ["body.0", "body.1", "body.3", "body.4", "head"]
    assert strips["body.1"].comm is None  # closed
