"""Early stopping: stops on a validation metric with patience and min_delta, and restores exactly the best
epoch's weights."""

import numpy as np
import pytest
import torch

from workbench.models import build_model
from workbench.train import Callback, EarlyStopping, TrainConfig, fit


class _KeepWeights(Callback):
    """A copy of the weights at every epoch end (before early stopping looks)."""

    def __init__(self):
        self.by_epoch = {}

    def on_epoch_end(self, state):
        self.by_epoch[state.epoch] = {k: v.clone() for k, v in state.model.state_dict().items()}


@pytest.fixture(scope="module")
def tiny(digits):
    return digits.train.subset(np.arange(60), name="digits[60]")


def _overfit(tiny, val, **changes):
    model = build_model("mlp", tiny, seed=0, width=128, depth=2)
    keep = _KeepWeights()
    config = TrainConfig(epochs=60, batch_size=20, lr=1e-2, seed=0, patience=3, **changes)
    return model, keep, fit(model, tiny, val, config=config, callbacks=[keep])


def test_stops_after_patience_and_restores_the_best_epochs_weights_exactly(tiny, digits):
    model, keep, h = _overfit(tiny, digits.val)
    val_loss = h.snapshot().metrics["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert h.status == "finished"
    assert h.best_epoch == best and h.stopped_epoch == best + 3 == len(val_loss) < 60
    assert f"best epoch {best}" in h.message and "weights restored" in h.message
    assert h.snapshot().best_epoch == best and h.snapshot().stopped_epoch == best + 3
    for name, value in model.state_dict().items():
        assert torch.equal(value, keep.by_epoch[best][name]), name
    last = keep.by_epoch[h.stopped_epoch]  # the weights it trained on to: restoring did something
    assert any(not torch.equal(value, last[name]) for name, value in model.state_dict().items())


def test_min_delta_and_a_higher_is_better_metric(tiny, digits):
    _, _, by_loss = _overfit(tiny, digits.val)
    _, _, by_acc = _overfit(tiny, digits.val, monitor="val_acc", min_delta=0.5)
    # no epoch gains 50 points of accuracy over the first one: the first stays best
    assert by_acc.best_epoch == 1 and by_acc.stopped_epoch == 4
    assert by_loss.stopped_epoch != 4 or by_loss.best_epoch != 1


def test_restore_best_false_keeps_the_last_weights(tiny, digits):
    model, keep, h = _overfit(tiny, digits.val, restore_best=False)
    last = keep.by_epoch[h.stopped_epoch]
    assert all(torch.equal(v, last[k]) for k, v in model.state_dict().items())
    assert "weights restored" not in h.message


def test_without_a_val_split_the_error_says_what_to_do(tiny):
    model = build_model("linear", tiny, seed=0)
    with pytest.raises(
        ValueError, match="give fit a val split, or set TrainConfig"
    ):
        fit(model, tiny, config=TrainConfig(epochs=3, patience=2))
    h = fit(model, tiny, config=TrainConfig(epochs=3, patience=2, monitor="train_loss"))
    assert h.status == "finished" and h.best_epoch is not None


def test_the_callback_validates_its_arguments():
    with pytest.raises(ValueError, match="'monitor' parameter of EarlyStopping"):
        EarlyStopping(monitor="loss")
    with pytest.raises(ValueError, match="'patience' parameter of EarlyStopping"):
        EarlyStopping(patience=0)
