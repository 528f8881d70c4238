"""Distillation through fit: the loss against its formula, the teacher's targets, and KL to the teacher."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from workbench.data import Augmentation, augment
from workbench.models import build_model
from workbench.squeeze import (
    Ensemble,
    SoftTargets,
    TeacherView,
    distill,
    distillation_loss,
    soft_targets,
    teacher_kl,
)
from workbench.train import TrainConfig, epoch_batches, fit, seed_everything

CONFIG = TrainConfig(epochs=4, batch_size=64, lr=3e-3, device="cpu")


@pytest.fixture(scope="module")
def teacher(digits):
    members = []
    for seed in (0, 1):
        m = build_model("mlp", digits.train, seed=seed, width=64)
        fit(m, digits.train, config=CONFIG.replace(seed=seed, epochs=6))
        members.append(m)
    return Ensemble(members)


def test_the_loss_is_hintons_formula_and_plain_cross_entropy_on_labels():
    torch.manual_seed(0)
    out, teacher_logits, labels = torch.randn(8, 5), torch.randn(8, 5), torch.randint(0, 5, (8,))
    t, alpha = 3.0, 0.7
    soft = (teacher_logits / t).softmax(-1)
    rows = torch.cat([soft, labels[:, None].float()], dim=1)
    kl = (soft * (soft.log() - (out / t).log_softmax(-1))).sum(-1).mean()
    expected = alpha * t * t * kl + (1 - alpha) * F.cross_entropy(out, labels)
    assert torch.allclose(distillation_loss(t, alpha)(out, rows), expected, atol=1e-6)
    assert torch.equal(distillation_loss(t, alpha)(out, labels), F.cross_entropy(out, labels))
    assert torch.allclose(distillation_loss(t, 0.0)(out, rows), F.cross_entropy(out, labels))
    with pytest.raises(ValueError, match="The 'alpha' parameter of distillation_loss must be a float in"):
        distillation_loss(2.0, 1.5)


def test_soft_targets_pack_the_teachers_probabilities_with_the_labels(digits, teacher):
    probs = soft_targets(teacher, digits.train, temperature=2.0)
    x, y = digits.train.tensors()
    with torch.no_grad():
        assert torch.allclose(probs, (teacher(x) / 2.0).softmax(-1), atol=1e-6)
    packed = SoftTargets(digits.train, probs)
    images, rows = packed.tensors()
    assert torch.equal(images, x) and rows.shape == (len(y), 11)
    assert torch.equal(rows[:, -1].long(), y) and torch.equal(rows[:, :-1], probs)
    assert (packed.targets == digits.train.targets).all()  # the labels stay labels for everything else
    with pytest.raises(ValueError, match=r"must be \(N, classes\)"):
        SoftTargets(digits.train, probs[:5])


def test_the_teacher_answers_for_the_very_view_the_student_gets(digits, teacher):
    aug = Augmentation.of("shift", "rotate")
    view = TeacherView(digits.train, aug, teacher, temperature=3.0)
    x, rows = next(iter(epoch_batches(view, 32, torch.device("cpu"), seed_everything(5))()))
    with torch.no_grad():
        assert torch.allclose(rows[:, :-1], (teacher(x) / 3.0).softmax(-1), atol=1e-6)
    stored = digits.train.tensors()[0]
    assert not any(torch.equal(x[0], s) for s in stored)  # an augmented view, not a stored image


def test_distillation_reduces_kl_to_the_teacher(digits, teacher):
    def student():
        return build_model("mlp", digits.train, seed=7, width=32)

    before = teacher_kl(teacher, student(), digits.test)
    result = distill(teacher, student(), digits.train, digits.val, temperature=1.0, alpha=1.0, config=CONFIG)
    after = teacher_kl(teacher, result.student, digits.test)
    assert result.history.status == "finished" and result.augmentation is None
    assert after < 0.5 * before  # on held-out images the student learnt nothing from
    loss = result.history.to_frame()["train_loss"]  # alpha=1, T=1: the KL to the teacher itself
    assert loss.iloc[-1] < 0.5 * loss.iloc[0]
    assert result.history.to_frame()["train_acc"].isna().all()  # float targets: no train accuracy
    assert not result.history.to_frame()["val_acc"].isna().any()  # val: labels, plain cross-entropy


def test_distill_on_augmented_data_uses_the_teacher_view(digits, teacher):
    aug = augment(digits, Augmentation.of("shift"))
    config = CONFIG.replace(epochs=1)
    result = distill(teacher, build_model("mlp", digits.train, seed=7, width=32), aug.train, config=config)
    assert result.augmentation == aug.train.augmentation and result.teacher_seconds == 0
    with pytest.raises(TypeError, match="The 'train' parameter of distill must be an ImageDataset"):
        distill(teacher, build_model("linear", digits.train), [(torch.zeros(1, 8, 8), 0)])  # type: ignore[arg-type]
