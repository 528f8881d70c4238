"""What a diverged run tells the user: the corrupted samples of the failing batch, or exploding gradients
and the checks to run; the diagnosis runs only after the failure and leaves the weights as restored."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from tests.conftest import write_digit_folder
from workbench.data import from_arrays, from_folder
from workbench.data.dataset import TensorImageDataset
from workbench.models import build_model
from workbench.train import TrainConfig, fit
from workbench.train import loop as loop_module
from workbench.train.batches import epoch_batches


def _digits_with_nan(index):
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    x = torch.from_numpy((bunch.images / 16).astype(np.float32))[:, None]  # (N, 1, 8, 8)
    x[index, 0, 3, 3] = float(
        "nan"
    )  # from_arrays refuses this; a hand-built dataset (or a transform) does not
    return TensorImageDataset(x, bunch.target, [str(c) for c in range(10)], name="digits-with-a-nan")


@pytest.mark.parametrize("flush_every_s", [1e-9, 60.0])
def test_a_nan_sample_is_named_by_its_index(flush_every_s):
    data = _digits_with_nan(137)
    h = fit(
        build_model("mlp", data, seed=0),
        data,
        config=TrainConfig(epochs=2, lr=1e-3, flush_every_s=flush_every_s),
    )
    assert h.status == "diverged"
    assert "NaN/Inf inputs: sample 137 of the training data" in h.message
    assert "not the learning rate" in h.message


def _standardize(img):
    x = torch.from_numpy(np.asarray(img, dtype=np.float32))[None]
    return (x - x.mean()) / x.std()  # a blank image: 0 / 0 = NaN (a real per-image normalisation bug)


def test_a_corrupted_file_is_named_by_index_and_path_through_the_dataloader(tmp_path):
    root = write_digit_folder(tmp_path / "f", per_class=10)
    Image.new("L", (8, 8), 0).save(root / "1" / "1_blank.png")  # an all-black file
    data = from_folder(root, transform=_standardize)
    blank = next(i for i, p in enumerate(data.paths) if p.endswith("1_blank.png"))
    h = fit(build_model("mlp", data, seed=0), data, config=TrainConfig(epochs=1, batch_size=8, num_workers=1))
    assert h.status == "diverged"
    assert f"sample {blank} ({data.paths[blank]})" in h.message


def test_recording_the_order_keeps_the_dataloaders_shuffle(tmp_path):
    data = from_folder(write_digit_folder(tmp_path / "f", per_class=6))
    epochs = epoch_batches(data, 4, torch.device("cpu"), torch.Generator().manual_seed(3))
    ours = [y.tolist() for _, y in epochs()]
    theirs = [
        y.tolist()
        for _, y in DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(3))
    ]
    assert ours == theirs  # same seed, same order as before the sampler was wrapped
    order = epochs.batch_indices(0) + epochs.batch_indices(1)
    assert [int(data.targets[i]) for i in order] == ours[0] + ours[1]


def test_too_high_an_lr_says_lr_or_clip_and_points_at_the_checks():
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    raw = from_arrays(bunch.images.astype(np.float32), bunch.target)  # pixels 0..16 and SGD at lr 3
    model = build_model("mlp", raw, seed=0, width=256, depth=4)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    h = fit(model, raw, config=TrainConfig(epochs=3, optimizer="sgd", lr=3.0, flush_every_s=60.0))
    assert h.status == "diverged" and "restored to step 0" in h.message
    assert "inputs of that batch are finite" in h.message
    assert "Gradients exploded: the loss rose from 2.3" in h.message
    assert "the gradient norm at the restored weights on that batch is" in h.message
    assert "Lower the learning rate" in h.message and "clip gradients (grad_clip)" in h.message
    assert (
        "workbench.checks.run_all(model, train)" in h.message
        and "workbench.checks.gradient_check" in h.message
    )
    # the probe (one forward/backward at the restored weights) leaves them exactly as restored, no grads
    assert all(torch.equal(v, init[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_no_diagnosis_while_a_run_is_healthy(digits, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("explain_divergence ran without a divergence")

    monkeypatch.setattr(loop_module, "explain_divergence", boom)
    h = fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        config=TrainConfig(epochs=1, flush_every_s=1e-9),
    )
    assert h.status == "finished"
