"""Transfer learning from a local weights file: the tests make their own pretrained weights (a small CNN
trained on the digits 0-4) and transfer them to 5-9; torchvision architectures are exercised with
randomly initialised weights saved to a file (shapes and the loading path, not accuracy)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from workbench.checks import capture_batch
from workbench.data import from_arrays, mnist_test_set
from workbench.models import (
    IMAGENET_MEAN,
    TinyCNN,
    TransferModel,
    freeze,
    from_pretrained,
    frozen_groups,
    group_parameters,
    layer_groups,
    param_groups,
    transfer_optimizer,
    unfreeze,
)
from workbench.train import LiveLR, TrainConfig, evaluate, fit, set_lr
from workbench.tune import lr_range_test


def _classes(data, lo: int):
    """The samples of classes lo..lo+4, relabelled 0..4."""
    x, y = data.tensors()
    keep = (y >= lo) & (y < lo + 5)
    return from_arrays(x[keep], (y[keep] - lo).numpy(), [str(c) for c in range(lo, lo + 5)])


def _few(data, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(data.targets == c), k, replace=False) for c in range(5)])
    return data.subset(np.sort(idx))


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: a second thread only adds contention on a loaded machine (measured 20x slower here)
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, digits):
    """A TinyCNN trained on the digits 0-4, saved as a state_dict; and the 5-9 splits."""
    torch.set_num_threads(1)
    source = _classes(digits.train, 0)
    model = TinyCNN((1, 8, 8), 5, channels=8)
    torch.manual_seed(0)
    history = fit(model, source, config=TrainConfig(epochs=15, lr=3e-3, seed=0, device="cpu"))
    assert history.last("train_acc") > 0.95
    path = tmp_path_factory.mktemp("weights") / "digits04.pt"
    torch.save(model.state_dict(), path)
    return path, model, _classes(digits.train, 5), _classes(digits.val, 5)


def _cnn(path, data, **kw) -> TransferModel:
    return from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), path, data=data, **kw)


def test_weights_are_loaded_and_the_head_is_new(pretrained):
    path, source_model, train, _ = pretrained
    model = _cnn(path, ((1, 8, 8), 7))
    body = dict(model.network.body.named_parameters())
    assert all(torch.equal(p, body[n]) for n, p in source_model.body.named_parameters())
    assert model.head.out_features == 7 and model.network.head is model.head
    assert [g.name for g in layer_groups(model)] == ["body.0", "body.3", "head"]
    assert model(train.tensors()[0][:3]).shape == (3, 7)


def test_fine_tuning_pretrained_features_beats_scratch_with_10_samples_per_class(tmp_path):
    # MNIST, not the 8x8 digits: features learnt on 8x8 digits 0-4 do not help 5-9 (measured: -5 pp)
    x, y = mnist_test_set().tensors()
    source = from_arrays(x[y < 5], y[y < 5].numpy())
    pretrained = TinyCNN((1, 28, 28), 5, channels=8)
    torch.manual_seed(0)
    fit(pretrained, source, config=TrainConfig(epochs=2, lr=3e-3, seed=0, device="cpu"))
    torch.save(pretrained.state_dict(), tmp_path / "mnist04.pt")
    target = _classes(mnist_test_set().subset(range(3000)), 5)
    config = TrainConfig(epochs=1000, max_steps=60, batch_size=16, lr=3e-3, seed=0, device="cpu")
    gains, ratios = [], []
    for draw in range(3):  # one draw of 10 images per class is noisy: +-3 pp
        few_idx = _few(target, 10, seed=draw).base_indices
        few, val = target.subset(few_idx), target.subset(np.setdiff1d(np.arange(len(target)), few_idx))
        scratch = TinyCNN((1, 28, 28), 5, channels=8)
        fit(scratch, few, config=config)
        tuned = from_pretrained(TinyCNN((1, 28, 28), 5, channels=8), tmp_path / "mnist04.pt", data=few)
        fit(tuned, few, config=config, optimizer=transfer_optimizer(tuned, config, body_lr_factor=0.3))
        s, t = evaluate(scratch, val), evaluate(tuned, val)
        gains.append(t.accuracy - s.accuracy)
        ratios.append(t.loss / s.loss)
    assert np.mean(gains) > 0.02 and max(ratios) < 0.95, (gains, ratios)


def test_frozen_parameters_do_not_change_bit_for_bit(pretrained):
    path, _, train, _ = pretrained
    model = _cnn(path, train)
    assert freeze(model, "body.0") == ("body.0",)
    assert frozen_groups(model) == ("body.0",)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, seed=0, device="cpu", weight_decay=0.1)
    fit(model, train, config=config, optimizer=transfer_optimizer(model, config))
    after = dict(model.named_parameters())
    for name, p in before.items():
        if name.startswith("network.body.0."):
            assert torch.equal(p, after[name]), name
        else:
            assert not torch.equal(p, after[name]), name
    unfreeze(model)
    assert frozen_groups(model) == ()


def test_per_group_lrs_reach_the_optimizer(pretrained):
    path, _, train, _ = pretrained
    model = _cnn(path, train)
    groups = param_groups(model, 1e-2, body_lr_factor=0.1, layer_decay=0.5)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 1e-2), ("body.3", 1e-3), ("body.0", 5e-4)]
    config = TrainConfig(epochs=1, max_steps=1, lr=1e-2, seed=0, device="cpu")
    opt = transfer_optimizer(model, config, body_lr_factor=0.1, layer_decay=0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fit(model, train, config=config, optimizer=opt)
    # Adam's first step moves every weight with a gradient by ~its LR: the oracle for the LR it got
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()}
    assert moved["network.head.weight"] == pytest.approx(1e-2, rel=0.05)
    assert moved["network.body.3.weight"] == pytest.approx(1e-3, rel=0.05)
    assert moved["network.body.0.weight"] == pytest.approx(5e-4, rel=0.05)
    set_lr(opt, 3e-2)  # what a slider does: the ratios stay
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([3e-2, 3e-3, 1.5e-3])
    live = LiveLR(2e-3)
    fit(model, train, config=config.replace(max_steps=2), optimizer=opt, live_lr=live)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([2e-3, 2e-4, 1e-4])


def test_freezing_the_body_leaves_only_the_head_in_the_optimizer(pretrained):
    path, _, train, _ = pretrained
    model = _cnn(path, train)
    assert freeze(model) == ("body.0", "body.3")
    groups = param_groups(model, 1e-3, body_lr_factor=0.1)
    assert [g["name"] for g in groups] == ["head"]
    with pytest.raises(ValueError, match="names the head"):
        freeze(model, "head")
    with pytest.raises(ValueError, match=r"'upto'.*must be one of.*'body\.0'"):
        freeze(model, "layer9")
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="every parameter of the model is frozen"):
        param_groups(model, 1e-3)


def test_lr_range_test_on_the_head_alone(pretrained):
    path, _, train, _ = pretrained
    model = _cnn(path, train)
    body = group_parameters(model, "body.0") + group_parameters(model, "body.3")
    seen = []
    result = lr_range_test(
        model,
        train,
        num_iter=20,
        start_lr=1e-4,
        end_lr=1.0,
        train_only="head",
        on_point=lambda *_: seen.append(any(p.requires_grad for p in body)),
    )
    assert seen and not any(seen)  # the body was frozen during the sweep
    assert all(p.requires_grad for p in model.parameters())  # and trains again after it
    assert len(result.lrs) > 5
    freeze(model)
    with pytest.raises(ValueError, match=r"'train_only'.*no trainable parameter"):
        lr_range_test(model, train, num_iter=10, train_only="body.0")


def test_a_weights_file_with_wrong_shapes_names_the_mismatched_layers(pretrained):
    path, _, train, _ = pretrained
    with pytest.raises(
        ValueError, match=r"shapes differ in 4 layers:\n  body.0.weight: file 8x1x3x3, model 4x1x3x3"
    ):
        from_pretrained(TinyCNN((1, 8, 8), 5, channels=4), path, data=train)
    deeper = TinyCNN((1, 8, 8), 5, channels=8, depth=3)
    with pytest.raises(ValueError, match=r"no weights for 2 entries: body.6.weight, body.6.bias"):
        from_pretrained(deeper, path, data=train)


def test_a_pickle_that_is_not_a_weights_file_is_refused(tmp_path, pretrained):
    _, source_model, train, _ = pretrained
    whole = tmp_path / "model.pt"
    torch.save(source_model, whole)  # a pickled module: loading it would run code
    with pytest.raises(
        ValueError,
        match=r"not a weights file: .*refused it \(it holds a pickled workbench\.models\.baselines\.TinyCNN",
    ):
        from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), whole, data=train)
    plain = tmp_path / "notes.pkl"
    plain.write_bytes(pickle.dumps({"weights": [0.1, 0.2]}))
    with pytest.raises(ValueError, match=r"is not a weights file: torch\.load.* refused it"):
        from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), plain, data=train)
    settings = tmp_path / "settings.pt"
    torch.save({"lr": 0.1, "epochs": 3}, settings)
    with pytest.raises(ValueError, match="is not a weights file: it holds a dict of other things"):
        from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), settings, data=train)


def test_a_checkpoint_dict_and_a_ddp_prefix_are_unwrapped(tmp_path, pretrained):
    _, source_model, train, _ = pretrained
    ckpt = tmp_path / "ckpt.pt"
    state = {f"module.{k}": v for k, v in source_model.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state}, ckpt)
    model = from_pretrained(TinyCNN((1, 8, 8), 5, channels=8), ckpt, data=train)
    assert torch.equal(model.network.body[0].weight, source_model.body[0].weight)


def test_a_missing_file_says_how_to_get_it(tmp_path):
    missing = tmp_path / "resnet18.pth"
    with pytest.raises(
        FileNotFoundError, match=r"(?s)No weights file at .*Nothing is downloaded.*scp resnet18.pth"
    ):
        from_pretrained("resnet18", missing, num_classes=3)
    with pytest.raises(
        ValueError, match=r"(?s)'weights' parameter of from_pretrained must be a file path.*scp"
    ):
        from_pretrained("resnet18", num_classes=3)
    with pytest.raises(ValueError, match="'name_or_module' parameter of from_pretrained must be one of"):
        from_pretrained("vgg16", missing, num_classes=3)


@pytest.mark.parametrize(
    ("arch", "groups"),
    [
        ("resnet18", ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
        ("mobilenet_v3_small", ["stem", *[f"block{i}" for i in range(1, 12)], "top", "head"]),
    ],
)
def test_torchvision_weights_load_adapt_and_freeze(tmp_path, digits, arch, groups):
    torch.manual_seed(0)
    net = getattr(torchvision.models, arch)(weights=None)
    path = tmp_path / f"{arch}.pth"
    torch.save(net.state_dict(), path)
    train = digits.train.subset(range(32))
    model = from_pretrained(arch, path, data=train, input_size=32)
    assert [g.name for g in layer_groups(model)] == groups
    assert sum(len(group_parameters(model, g)) for g in layer_groups(model)) == len(list(model.parameters()))
    kept = {k: v for k, v in net.state_dict().items() if not k.startswith(model.head_path + ".")}
    assert all(torch.equal(model.network.state_dict()[k], v) for k, v in kept.items())
    assert model.head.out_features == 10
    # the batch viewer shows what the pretrained layers get: 3 channels, 32x32, ImageNet-normalised
    batch = capture_batch(model, train, batch_size=4)
    assert batch.inputs.shape == (4, 3, 32, 32)
    assert batch.normalize is not None and batch.normalize[0] == pytest.approx(IMAGENET_MEAN)
    assert [s.name for s in batch.pipeline][-3:] == ["model: channels", "model: resize", "model: normalize"]
    assert batch.for_display().min() >= -1e-5 and batch.for_display().max() <= 1 + 1e-5
    # frozen body: weights and batch-norm statistics stay, bit for bit; the head trains
    freeze(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(epochs=1, max_steps=2, batch_size=16, lr=1e-2, seed=0, device="cpu")
    fit(model, train, config=config, optimizer=transfer_optimizer(model, config))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {f"network.{model.head_path}.weight", f"network.{model.head_path}.bias"}


def test_a_module_without_a_linear_output_layer_is_refused(tmp_path, digits):
    net = nn.Sequential(nn.Conv2d(1, 5, 8), nn.Flatten())
    with pytest.raises(ValueError, match=r"output layer must be an nn\.Linear"):
        from_pretrained(net, None, data=digits.train)


def test_a_module_keeps_its_own_weights_and_statistics_without_a_file(digits):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
    net[1].running_mean.fill_(0.5)
    model = from_pretrained(net, None, data=digits.train)
    assert [g.name for g in layer_groups(model)] == ["0", "head"]
    assert torch.equal(model.network[1].running_mean, torch.full((4,), 0.5))
    assert torch.equal(model.network[0].weight, net[0].weight) and model.head.out_features == 10
    assert net[4].out_features == 3  # the module passed in is copied, not changed
