"""Probes on known networks give known values; sampling cadence; what crosses to the host."""

import numpy as np
import pytest
import torch
from torch import nn

from workbench.diagnose import GRAD_BINS, Probes
from workbench.diagnose.probes import HIST_VALUES
from workbench.models import build_model
from workbench.train import TrainConfig, fit

FAST = TrainConfig(epochs=1, batch_size=64, lr=1e-3, max_steps=12)


class DeadReLU(nn.Module):
    """A hidden ReLU layer whose bias is so negative that every unit is 0 for every input: 100 % dead."""

    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.hidden = nn.Linear(64, 32)
        self.act = nn.ReLU()
        self.head = nn.Linear(32, 10)
        with torch.no_grad():
            self.hidden.weight.mul_(0.01)
            self.hidden.bias.fill_(-100.0)

    def forward(self, x):
        return self.head(self.act(self.hidden(self.flat(x))))


class SaturatedTanh(nn.Module):
    """Huge first-layer weights: tanh sits at ±1 almost everywhere."""

    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.hidden = nn.Linear(64, 32)
        self.act = nn.Tanh()
        self.head = nn.Linear(32, 10)
        with torch.no_grad():
            self.hidden.weight.normal_(0, 50.0)

    def forward(self, x):
        return self.head(self.act(self.hidden(self.flat(x))))


def test_an_all_negative_bias_relu_layer_is_100_percent_dead(digits):
    probes = Probes(every=1, max_hz=1e6)
    fit(DeadReLU(), digits.train, config=FAST.replace(max_steps=3), callbacks=[probes])
    steps, dead = probes.series("act", "dead_fraction")
    assert list(steps) == [1, 2, 3] and np.all(dead == 1.0)
    # no gradient reaches the hidden layer through dead units
    _, grad = probes.series("hidden.weight", "grad_norm")
    assert np.all(grad == 0.0)
    assert probes.layers("dead_fraction") == ["act"]


def test_saturated_tanh_and_a_healthy_cnn(digits):
    probes = Probes(every=1, max_hz=1e6)
    fit(SaturatedTanh(), digits.train, config=FAST.replace(max_steps=2), callbacks=[probes])
    assert probes.series("act", "saturated_fraction")[1].min() > 0.8
    healthy = Probes(every=1, max_hz=1e6)
    fit(build_model("cnn", digits.train, seed=0), digits.train, config=FAST, callbacks=[healthy])
    dead = [healthy.series(layer, "dead_fraction")[1].max() for layer in healthy.layers("dead_fraction")]
    assert dead and max(dead) < 0.5


def test_update_ratio_is_the_step_s_relative_change(digits):
    # SGD without momentum: the step's update is lr * grad, so ||dW|| / ||W|| = lr * ||g|| / ||W_new||
    model = build_model("linear", digits.train, seed=0)
    probes = Probes(every=1, max_hz=1e6)
    fit(
        model,
        digits.train,
        config=FAST.replace(optimizer="sgd", lr=0.1, momentum=0.0, max_steps=1),
        callbacks=[probes],
    )
    (sample,) = probes.samples
    g = sample.scalars[("head.weight", "grad_norm")]
    w = sample.scalars[("head.weight", "param_norm")]
    assert sample.scalars[("head.weight", "update_ratio")] == pytest.approx(0.1 * g / w, rel=1e-4)
    assert float(model.head.weight.detach().norm()) == pytest.approx(w, rel=1e-6)


def test_cadence_every_k_steps_and_the_wall_clock_cap(digits):
    every = Probes(every=5, max_hz=1e6)
    fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        config=FAST.replace(max_steps=20),
        callbacks=[every],
    )
    assert [s.step for s in every.samples] == [1, 5, 10, 15, 20]
    capped = Probes(every=1, max_hz=0.001)  # at most once in 1000 s: the first step only
    fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        config=FAST.replace(max_steps=20),
        callbacks=[capped],
    )
    assert [s.step for s in capped.samples] == [1]


def test_histograms_frame_and_first_layer_images(digits):
    probes = Probes(every=4, max_hz=1e6)
    model = build_model("cnn", digits.train, seed=0)
    fit(model, digits.train, digits.val, config=FAST.replace(max_steps=8), callbacks=[probes])
    steps, edges, counts = probes.histogram("body.1", "activation")  # the first ReLU
    assert list(steps) == [1, 4, 8] and counts.shape == (3, len(edges) - 1)
    # every activation of the batch is counted once (tails clamped into the edge bins)
    x = digits.train.tensors()[0][:64]
    n_act = model.body[1](model.body[0](x)).numel()  # the sampled batch has 64 samples too
    assert counts.sum(axis=1) == pytest.approx([n_act] * 3)
    _, gedges, gcounts = probes.histogram("head.weight", "gradient")
    assert gedges[0] == GRAD_BINS[1] and gcounts.sum(axis=1) == pytest.approx([model.head.weight.numel()] * 3)
    frame = probes.to_frame()
    assert list(frame.columns) == ["step", "epoch", "layer", "quantity", "value"]
    assert {"mean", "std", "dead_fraction", "param_norm", "grad_norm", "update_ratio"} <= set(frame.quantity)
    images = probes.first_layer_images()
    assert images.shape == (model.body[0].out_channels, 1, 3, 3) and images.min() == 0 and images.max() == 1
    mlp_probes = Probes(every=1, max_hz=1e6)
    fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        config=FAST.replace(max_steps=1),
        callbacks=[mlp_probes],
    )
    assert mlp_probes.first_layer_images().shape[1:] == (
        1,
        8,
        8,
    )  # a linear layer on images: one image per unit
    with pytest.raises(ValueError, match=r"'kind' parameter of Probes.histogram"):
        probes.histogram("head.weight", "weights")
    with pytest.raises(ValueError, match="'every' parameter of Probes"):
        Probes(every=0)


def test_probes_leave_no_hooks_and_do_not_change_the_run(digits):
    def run(callbacks):
        model = build_model("cnn", digits.train, seed=0)
        h = fit(model, digits.train, config=FAST, callbacks=callbacks)
        return model, h.snapshot().loss

    model, with_probes = run([Probes(every=2, max_hz=1e6)])
    _, without = run([])
    assert np.array_equal(with_probes, without)  # same seed, same curve: probes only read
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_mean_std_and_histograms_match_torch_on_the_sampled_batch(digits):
    # the first step is sampled before any update: recompute the first conv's output on that batch
    model = build_model("cnn", digits.train, seed=0)
    seen = []
    model.body[0].register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
    probes = Probes(every=1, max_hz=1e6)
    fit(model, digits.train, config=FAST.replace(max_steps=1), callbacks=[probes])
    (sample,) = probes.samples
    out = seen[0]
    assert sample.scalars[("body.0", "mean")] == pytest.approx(float(out.mean()), rel=1e-5)
    assert sample.scalars[("body.0", "std")] == pytest.approx(float(out.std()), rel=1e-4)
    hist = torch.histc(out.clamp(-4, 4), bins=40, min=-4, max=4).numpy()
    assert np.array_equal(sample.histograms[("body.0", "activation")], hist)


def test_large_outputs_are_histogrammed_from_an_even_stride(digits):
    # a 28x28 batch: the first conv's output (64 samples x 28 x 28 x channels) is past HIST_VALUES
    from workbench.data import mnist_test_set

    mnist = mnist_test_set().subset(np.arange(64))
    seen = []

    def run(**kw):
        model = build_model("cnn", mnist, seed=0)
        model.body[0].register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
        probes = Probes(every=1, max_hz=1e6, **kw)
        fit(model, mnist, config=FAST.replace(max_steps=1, batch_size=64), callbacks=[probes])
        return probes.samples[0]

    whole, part = run(hist_values=None), run()
    full, strided = whole.histograms[("body.0", "activation")], part.histograms[("body.0", "activation")]
    out = seen[0]
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])
    assert out.numel() > HIST_VALUES
    exact = torch.histc(out.clamp(-4, 4), bins=40, min=-4, max=4).numpy()
    assert np.array_equal(full, exact)  # hist_values=None counts every value
    assert strided.sum() == pytest.approx(out.numel(), rel=1e-6)  # scaled back to the whole output
    assert np.abs(strided - exact).sum() / exact.sum() < 0.03  # within 3 % of the mass, bin by bin
    for q in ("mean", "std"):
        assert part.scalars[("body.0", q)] == pytest.approx(whole.scalars[("body.0", q)], rel=0.02)
    assert part.scalars[("body.1", "dead_fraction")] == whole.scalars[("body.1", "dead_fraction")]
    with pytest.raises(ValueError, match="'hist_values' parameter of Probes"):
        Probes(hist_values=0)
