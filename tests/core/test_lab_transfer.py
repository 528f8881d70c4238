"""Transfer learning in the lab core: runs start from a weights file, frozen groups do not move (bit for
bit), the body's LR factor reaches the optimizer, the run line carries it all and reproduces the run, and
the lab's LR range test sweeps the head alone when the body is frozen."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from workbench.lab import Lab, LabSettings
from workbench.models import TransferModel
from workbench.tune import lr_range_test

from .pretrained_digits import CNN8


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: a second thread only adds contention


def _lab(fives, settings=CNN8, **kw) -> Lab:
    return Lab(*fives, settings, store=None, **kw)


def test_a_lab_run_starts_from_the_file_and_frozen_groups_do_not_move(weights, fives):
    path, source = weights
    lab = _lab(fives, CNN8.replace(freeze_upto="body.0", body_lr=0.1), pretrained=path)
    assert lab.settings.weights == str(path) and lab.pretrained
    lab.start(background=False)
    assert lab.history.status == "finished" and lab.history.steps == 3 * 64 // 16
    model = lab.model
    assert isinstance(model, TransferModel) and model.head.out_features == 5
    net = model.network
    assert torch.equal(net.body[0].weight, source.body[0].weight)  # frozen: bit for bit
    assert torch.equal(net.body[0].bias, source.body[0].bias)
    assert not net.body[0].weight.requires_grad
    assert not torch.equal(net.body[3].weight, source.body[3].weight)  # trains, at a tenth of the LR
    assert not torch.equal(model.head.weight, lab.range_test_args()["model"].head.weight)  # the head trained


def test_per_group_lrs_reach_the_optimizer_head_first(weights, fives):
    lab = _lab(fives, CNN8.replace(freeze_upto="body.0", body_lr=0.1), pretrained=weights[0])
    lab.start(background=False)
    groups = [(g["name"], g["lr"]) for g in lab.optimizer.param_groups]
    assert groups == [("head", 3e-3), ("body.3", pytest.approx(3e-4))]
    trained = {id(p) for g in lab.optimizer.param_groups for p in g["params"]}
    assert trained.isdisjoint(id(p) for p in lab.model.network.body[0].parameters())  # frozen: left out
    # nothing frozen, the body at 0.3x: every group in, the ratio kept
    lab.update(freeze_upto=None, body_lr=0.3)
    lab.start(background=False)
    assert [(g["name"], g["lr"]) for g in lab.optimizer.param_groups] == [
        ("head", 3e-3),
        ("body.3", pytest.approx(9e-4)),
        ("body.0", pytest.approx(9e-4)),
    ]


def test_a_plain_lab_run_is_as_before(fives):
    lab = _lab(fives)
    assert not lab.pretrained
    lab.start(background=False)
    assert len(lab.optimizer.param_groups) == 1 and type(lab.model).__name__ == "TinyCNN"


def test_the_run_line_carries_the_transfer_and_reproduces_the_run(weights, fives):
    first = _lab(fives, CNN8.replace(freeze_upto="body.3", body_lr=0.03), pretrained=weights[0])
    first.start(background=False)
    line = first.settings.to_line()
    assert f"weights={weights[0]};freeze_upto=body.3;body_lr=0.03" in line
    again = _lab(fives, LabSettings.from_line(line))  # no pretrained=: the line says which file
    assert again.settings == first.settings and again.pretrained
    again.start(background=False)
    a, b = first.history.snapshot(), again.history.snapshot()
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.metrics["val_loss"], b.metrics["val_loss"])
    assert "from digits04.pt frozen to body.3 body lr x0.03" in first.settings.name()


def test_freeze_upto_takes_the_model_groups_an_index_or_body(weights, fives):
    lab = _lab(fives, pretrained=weights[0])
    assert lab.freeze_choices() == ("body.0", "body.3")
    assert lab.update(freeze_upto=1) == "idle" and lab.settings.freeze_upto == "body.3"
    lab.update(freeze_upto="body")
    lab.start(background=False)
    assert [g["name"] for g in lab.optimizer.param_groups] == ["head"]
    with pytest.raises(
        ValueError, match=r"'freeze_upto' parameter of Lab\.update must be one of the model's"
    ):
        lab.update(freeze_upto="head")
    with pytest.raises(ValueError, match=r"an index in \[0, 1\]"):
        lab.update(freeze_upto=2)
    assert lab.settings.freeze_upto == "body"  # a refused change changes nothing


def test_a_depth_the_frozen_group_is_gone_from_unfreezes_it(fives):
    lab = _lab(fives, CNN8.replace(depth=3, freeze_upto="body.6"))  # from scratch: generic groups
    assert lab.freeze_choices() == ("body.0", "body.3", "body.6")
    lab.update(depth=2)
    assert lab.settings.freeze_upto is None
    lab.update(freeze_upto="body.3")
    lab.update(depth=3)
    assert lab.settings.freeze_upto == "body.3"  # still a group of the deeper model


def test_the_lab_range_test_sweeps_the_head_alone_when_the_body_is_frozen(weights, fives):
    lab = _lab(fives, CNN8.replace(freeze_upto="body"), pretrained=weights[0])
    args = lab.range_test_args()
    assert args["train_only"] == ("head",)
    assert [g["name"] for g in args["optimizer"].param_groups] == ["head"]
    before = {k: v.clone() for k, v in args["model"].state_dict().items()}
    lr_range_test(**args, num_iter=12)
    assert all(torch.equal(before[k], v) for k, v in args["model"].state_dict().items())  # put back
    seen = []
    result = lab.lr_range_test(num_iter=12, on_point=lambda lr, loss, s: seen.append(lr))
    assert len(result.lrs) == len(seen) >= 5
    lab.update(freeze_upto="body.0", body_lr=0.1)
    args = lab.range_test_args()
    assert args["train_only"] == ("body.3", "head")
    assert [g["lr"] / args["optimizer"].param_groups[0]["lr"] for g in args["optimizer"].param_groups] == [
        1.0,
        pytest.approx(0.1),
    ]


def test_pretrained_takes_a_module_or_an_arch_and_file(weights, fives, tmp_path):
    source = weights[1]
    own = _lab(fives, pretrained=source)  # its own weights
    assert (
        own.arch is source and own.settings.weights is None and own.freeze_choices() == ("body.0", "body.3")
    )
    own.update(freeze_upto="body.3")
    own.start(background=False)
    assert torch.equal(own.model.network.body[3].weight, source.body[3].weight)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    resnet = _lab(fives, pretrained=("resnet18", tmp_path / "resnet18.pth"))
    assert resnet.freeze_choices() == ("stem", "layer1", "layer2", "layer3", "layer4")
    assert resnet.settings.weights == str(tmp_path / "resnet18.pth")


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"pretrained": 3}, TypeError, "'pretrained' parameter of Lab must be a weights file path"),
        ({"pretrained": "resnet18"}, TypeError, r"an \(arch, path\) pair"),
        ({"pretrained": "no/such/file.pt"}, ValueError, "No weights file at .*Nothing is downloaded here"),
        ({"settings": CNN8.replace(freeze_upto="body.9")}, ValueError, "must be one of the model's layer"),
    ],
)
def test_bad_transfer_arguments_are_named(fives, kw, error, match):
    with pytest.raises(error, match=match):
        Lab(*fives, kw.pop("settings", CNN8), store=None, **kw)


def test_weights_that_do_not_fit_the_lab_model_are_refused_by_name(weights, fives):
    lab = _lab(fives, pretrained=weights[0])
    with pytest.raises(
        ValueError, match=r"do not fit this network: the file has no weights for 2 entries: body\.6"
    ):
        lab.update(depth=3)
    assert lab.settings.depth == 2
    with pytest.raises(ValueError, match="No weights file"):
        lab.update(weights="elsewhere.pt")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("weights", "a;b.pt", "'weights' parameter of LabSettings must be a file path without ';'"),
        ("weights", "", "'weights' parameter of LabSettings"),
        ("freeze_upto", "body\n0", "'freeze_upto' parameter of LabSettings must be a layer-group name"),
        ("body_lr", 0.0, r"'body_lr' parameter of LabSettings must be a float in \(0, 100\]"),
    ],
)
def test_bad_transfer_settings_are_named(field, value, match):
    with pytest.raises(ValueError, match=match):
        LabSettings(**{field: value})


def test_a_module_cannot_travel_in_the_line_but_its_file_can(fives, weights):
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 3))
    lab = _lab(fives, pretrained=module)
    assert lab.settings.weights is None and "weights=none" in lab.settings.to_line()
    assert lab.freeze_choices() == ("1",)
