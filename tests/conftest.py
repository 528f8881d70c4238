"""Shared fixtures: the embedded digits, pretrained digit weights for the transfer tests, and small image
folders written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.data import load_digits


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def weights(digits, tmp_path_factory):
    """(path, model) of a TinyCNN pretrained on the digits 0-4 (``tests.core.pretrained_digits``); one per
    test module, so no module sees a model another one trained further."""
    from tests.core.pretrained_digits import pretrain

    torch.set_num_threads(1)
    return pretrain(digits, tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def fives(digits):
    """The digits 5-9 relabelled 0-4 (train, val): the task the pretrained weights transfer to."""
    from tests.core.pretrained_digits import classes

    return classes(digits.train, 5), classes(digits.val, 5)


@pytest.fixture(autouse=True)
def _few_threads():
    # 2 cores here: keep torch from oversubscribing when pytest and a kernel run side by side
    torch.set_num_threads(2)


def write_digit_folder(root: Path, per_class: int = 6, classes=("0", "1", "2"), size=8, rgb=False) -> Path:
    """An ImageFolder tree of real digits (upscaled to ``size``), ``per_class`` PNGs per class."""
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    for name in classes:
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        imgs = bunch.images[bunch.target == int(name)][:per_class]
        for i, img in enumerate(imgs):
            arr = (img * 255 / 16).astype(np.uint8)
            im = Image.fromarray(arr, mode="L").resize((size, size), Image.NEAREST)
            (im.convert("RGB") if rgb else im).save(d / f"{name}_{i:03d}.png")
    return root
