"""Augmentation as data: training split only, seeded, batched, and the resize step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from workbench.data import (
    Augmentation,
    AugmentedDataset,
    AugmentStep,
    DataSplits,
    TensorImageDataset,
    augment,
    resize,
)
from workbench.models import build_model
from workbench.train import Callback, TrainConfig, epoch_batches, fit, seed_everything

CPU = torch.device("cpu")


def first_batch(data, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = seed_everything(seed)  # what fit does before it draws
    return next(iter(epoch_batches(data, 64, CPU, gen)()))


class SeenInputs(Callback):
    """Records every input the model gets, with the mode it was in (train: a training step; eval: val)."""

    def __init__(self) -> None:
        self.train: list[torch.Tensor] = []
        self.eval: list[torch.Tensor] = []

    def on_fit_start(self, state) -> None:
        def grab(module, args):
            (self.train if module.training else self.eval).append(args[0].detach().clone())

        state.model.register_forward_pre_hook(grab)


def test_augmentation_never_touches_val_or_test(digits):
    small = DataSplits(digits.train.subset(range(256)), digits.val, digits.test)
    aug = augment(small, Augmentation.of("shift", "rotate", "erase"))
    assert aug.val is digits.val and aug.test is digits.test  # the very same objects
    assert isinstance(aug.train, AugmentedDataset) and aug.train.base is small.train
    seen = SeenInputs()
    fit(
        build_model("mlp", aug.train, seed=0),
        aug.train,
        aug.val,
        config=TrainConfig(epochs=2, batch_size=128, device="cpu"),
        callbacks=[seen],
    )
    x_val = digits.val.tensors()[0]
    assert len(seen.eval) == 2 and all(torch.equal(x, x_val) for x in seen.eval)  # val as stored, twice
    x_train = small.train.tensors()[0]
    trained = torch.cat(seen.train[: -(-len(x_train) // 128)])  # the first epoch's inputs
    # every training input was changed: no augmented image equals its stored one (order aside)
    stored = {tuple(x.flatten().tolist()) for x in x_train}
    unchanged = sum(tuple(x.flatten().tolist()) in stored for x in trained)
    assert unchanged < 0.1 * len(trained), unchanged


def test_same_seed_same_augmented_batch(digits):
    aug = augment(digits.train, Augmentation.of("shift", "rotate", "erase"))
    x1, y1 = first_batch(aug, seed=3)
    x2, y2 = first_batch(aug, seed=3)
    x3, _ = first_batch(aug, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    # the labels travel with their images: those of the samples the batch was drawn from
    epochs = epoch_batches(aug, 64, CPU, seed_everything(3))
    x4, y4 = next(iter(epochs()))
    assert torch.equal(x4, x1)
    assert np.array_equal(y4.numpy(), digits.train.targets[epochs.batch_indices(0)])


def test_an_explicit_seed_leaves_the_global_rng_alone(digits):
    aug = Augmentation.of("shift", "rotate")
    x = digits.train.tensors()[0][:16]
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a, b = aug(x, seed=7), aug(x, seed=7)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(a, b) and not torch.equal(a, aug(x, seed=8))


def test_each_image_draws_its_own_parameters_unless_grouped(digits):
    one = digits.train.tensors()[0][:1].repeat(32, 1, 1, 1)  # the same image 32 times
    shifted = Augmentation.of(shift={"pad": 3})(one, seed=0)
    assert len({tuple(x.flatten().tolist()) for x in shifted}) > 8
    grouped = Augmentation.of(shift={"pad": 3}, group=32)(one, seed=0)
    assert all(torch.equal(x, grouped[0]) for x in grouped) and not torch.equal(grouped[0], one[0])


def test_batches_are_sliced_from_memory_not_read_one_by_one(digits, monkeypatch):
    aug = augment(digits.train, Augmentation.of("shift"))

    def per_sample(self, j):
        raise AssertionError("a per-sample read during training")

    monkeypatch.setattr(AugmentedDataset, "_load", per_sample)
    x, y = first_batch(aug, seed=0)
    assert x.shape == (64, 1, 8, 8) and y.dtype == torch.int64


def test_steps_have_names_defaults_and_checked_parameters():
    assert AugmentStep("shift").params == {"pad": 2}
    assert AugmentStep("rotate", {"degrees": 5}).params == {"degrees": 5}
    assert "flip" not in str(Augmentation.of("shift", "rotate"))  # flip is opt-in
    with pytest.raises(ValueError, match="The 'name' parameter of AugmentStep must be one of"):
        AugmentStep("blur")
    with pytest.raises(ValueError, match=r"The 'shift' step of AugmentStep takes \['pad'\]"):
        AugmentStep("shift", {"padding": 2})
    with pytest.raises(ValueError, match=r"The 'degrees' parameter of AugmentStep\('rotate'\) must be"):
        AugmentStep("rotate", {"degrees": 500})
    with pytest.raises(TypeError, match="must be AugmentStep objects"):
        Augmentation(("shift",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expects a batch"):
        Augmentation.of("shift")(torch.zeros(1, 8, 8))


def test_colour_jitter_needs_rgb_for_saturation(digits):
    with pytest.raises(ValueError, match="need RGB images; these have 1 channel"):
        augment(digits, Augmentation.of("color"))
    gray = augment(digits, Augmentation.of(color={"saturation": 0, "hue": 0}))  # brightness/contrast: fine
    assert first_batch(gray.train, 0)[0].shape == (64, 1, 8, 8)
    rgb = TensorImageDataset(torch.rand(20, 3, 8, 8), np.arange(20) % 2, ["a", "b"])
    out = augment(rgb, Augmentation.of("color", "flip"))
    assert out.__getitems__(list(range(4)))[0][0].shape == (3, 8, 8)


def test_resize_makes_every_split_smaller_and_the_model_follows(digits):
    small = resize(digits, 4)
    assert [s.input_shape for s in small] == [(1, 4, 4)] * 3
    assert [len(s) for s in small] == [len(s) for s in digits]
    assert np.array_equal(small.val.targets, digits.val.targets)
    # v2.Resize on a tensor is torch's antialiased bilinear interpolation
    x = digits.val.tensors()[0]
    expected = nn.functional.interpolate(x, size=(4, 4), mode="bilinear", antialias=True, align_corners=False)
    assert torch.allclose(small.val.tensors()[0], expected, atol=1e-6)
    model = build_model("mlp", small.train, seed=0)
    assert model.body[1].in_features == 16
    history = fit(model, small.train, small.val, config=TrainConfig(epochs=1, device="cpu"))
    assert history.status == "finished"
    with pytest.raises(ValueError, match="The 'size' parameter of resize must be an int in"):
        resize(digits.train, 0)
