"""Copies shifted or rolled by one or two pixels are near duplicates at every image size (issue 10)."""

import numpy as np
import pytest
import torch.nn.functional as F

from workbench.data import from_arrays, inspect, mnist_test_set


def _moved(img: np.ndarray, k: int, axis: int, roll: bool) -> np.ndarray:
    if roll:
        return np.roll(img, k, axis=axis)
    out = np.zeros_like(img)
    src = [slice(None)] * 2
    dst = [slice(None)] * 2
    src[axis], dst[axis] = (slice(0, -k), slice(k, None)) if k > 0 else (slice(-k, None), slice(0, k))
    out[tuple(dst)] = img[tuple(src)]
    return out


@pytest.fixture(scope="module")
def mnist_images():
    x, y = mnist_test_set().tensors()
    return x[:120], y[:120].numpy()


KNOWN_MISSES_8PX = (
    "8x8: images under CENTRE_MIN_SIDE are not centred (on digits it matched distinct images); a 2-pixel "
    "shift loses a quarter of the image and a roll wraps it round, so the ink centroid moves by another "
    "amount"
)


@pytest.mark.parametrize(
    "side",
    [
        28,
        64,
        8,
    ],
)
def test_one_and_two_pixel_shifts_and_rolls_are_found(mnist_images, side):
    x, y = mnist_images
    if side != 28:
        x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True)
    base = x[:, 0].numpy()
    copies, pairs = [], []
    kinds = [(k, axis, roll) for k in (1, 2, -1, -2) for axis in (0, 1) for roll in (True, False)]
    for j, (k, axis, roll) in enumerate(kinds):
        i = 3 * j  # a different digit for each kind
        copies.append(_moved(base[i], k, axis, roll))
        pairs.append((i, len(base) + j, (k, axis, roll)))
    images = np.concatenate([base, np.stack(copies)])[:, None]
    labels = np.concatenate([y, y[[i for i, _, _ in pairs]]])
    report = inspect(
        from_arrays(images, labels, [str(c) for c in range(10)]), suspicious=False, progress=None
    )
    group = {i: key for key, members in report.groups.items() for _, i in members}
    missed = [kind for a, b, kind in pairs if group.get(a) is None or group.get(a) != group.get(b)]
    assert not missed, f"{side}x{side}: copies (shift, axis, roll) not grouped with their original: {missed}"
