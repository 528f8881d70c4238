"""EMA and SWA through fit: the averages against references computed by hand, and the BatchNorm path."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from workbench.models import build_model
from workbench.squeeze import EMA, SWA
from workbench.train import Callback, TrainConfig, evaluate, fit


class LiveWeights(Callback):
    """A copy of the live parameters after every step and at every epoch end."""

    def __init__(self) -> None:
        self.steps: list[list[torch.Tensor]] = []
        self.epochs: list[list[torch.Tensor]] = []

    def on_step_end(self, state) -> None:
        self.steps.append([p.detach().clone() for p in state.model.parameters()])

    def on_epoch_end(self, state) -> None:
        self.epochs.append([p.detach().clone() for p in state.model.parameters()])


def test_ema_weights_equal_a_reference_by_hand_on_a_3_step_toy(digits):
    live, ema = LiveWeights(), EMA(decay=0.5)
    model = build_model("linear", digits.train, seed=0)
    config = TrainConfig(epochs=1, max_steps=3, batch_size=16, optimizer="sgd", lr=0.5, device="cpu")
    fit(model, digits.train, config=config, callbacks=[live, ema])
    w1, w2, w3 = live.steps
    # the first update copies the weights; then w_ema = 0.5 * w_ema + 0.5 * w
    expected = [0.5 * (0.5 * a + 0.5 * b) + 0.5 * c for a, b, c in zip(w1, w2, w3)]
    got = list(ema.averaged_model().parameters())
    assert all(torch.allclose(g, e, atol=1e-7) for g, e in zip(got, expected))
    assert not torch.allclose(got[0], w3[0])  # it is not the live model
    assert int(ema.averaged_.n_averaged) == 3


def test_ema_is_evaluated_on_val_every_epoch_beside_the_live_weights(digits):
    ema = EMA(decay=0.9, val=digits.val)
    model = build_model("mlp", digits.train, seed=0, width=32)
    history = fit(
        model, digits.train, digits.val, config=TrainConfig(epochs=3, device="cpu"), callbacks=[ema]
    )
    frame = ema.history_.to_frame()
    assert list(frame.index) == [1, 2, 3] and list(frame["step"]) == list(history.to_frame()["step"])
    final = evaluate(ema.averaged_model(), digits.val)
    assert frame["ema_val_acc"].iloc[-1] == final.accuracy and frame["ema_val_loss"].iloc[-1] == final.loss
    assert ema.history_.status == "finished"
    assert frame["ema_val_acc"].iloc[-1] != history.last("val_acc")  # a different model, another curve


def test_swa_is_the_mean_of_the_epoch_end_weights(digits):
    live, swa = LiveWeights(), SWA(start_epoch=2, val=digits.val)
    model = build_model("mlp", digits.train, seed=0, width=16)
    fit(model, digits.train, config=TrainConfig(epochs=4, device="cpu"), callbacks=[live, swa])
    averaged = list(swa.averaged_model().parameters())
    for i, a in enumerate(averaged):
        expected = torch.stack([w[i] for w in live.epochs[1:]]).mean(0)  # epochs 2, 3, 4
        assert torch.allclose(a, expected, atol=1e-6)
    acc = swa.history_.to_frame()["swa_val_acc"]
    assert acc.isna().tolist() == [True, False, False, False]  # nothing averaged in epoch 1


def bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 10))


def test_swa_recomputes_batchnorm_statistics_for_the_averaged_weights(digits):
    n = len(digits.train)
    swa = SWA(start_epoch=1, bn_data=digits.train, batch_size=n, val=digits.val)  # one batch: exact stats
    fit(bn_model(), digits.train, config=TrainConfig(epochs=2, device="cpu"), callbacks=[swa])
    avg = swa.averaged_model()
    with torch.no_grad():
        h = avg[1](avg[0](digits.train.tensors()[0]))  # the BatchNorm's input under the averaged weights
    bn = avg[2]
    assert torch.allclose(bn.running_mean, h.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, h.var(0, unbiased=True), atol=1e-4)
    assert bn.momentum == 0.1  # update_bn put it back


def test_swa_on_a_batchnorm_model_needs_data_for_the_statistics(digits):
    with pytest.raises(ValueError, match="pass bn_data"):
        fit(bn_model(), digits.train, config=TrainConfig(epochs=1, device="cpu"), callbacks=[SWA()])


def test_swa_lr_anneals_to_its_value(digits):
    lrs = []

    class LR(Callback):
        def on_epoch_end(self, state) -> None:
            lrs.append(state.optimizer.param_groups[0]["lr"])

    swa = SWA(start_epoch=2, swa_lr=1e-4, anneal_epochs=1)
    model = build_model("linear", digits.train, seed=0)
    fit(model, digits.train, config=TrainConfig(epochs=4, lr=1e-2, device="cpu"), callbacks=[swa, LR()])
    assert lrs[0] == 1e-2 and lrs[-1] == pytest.approx(1e-4)


def test_averaging_honours_the_stop_event_and_checks_its_parameters(digits):
    stop = threading.Event()

    class StopAfter2(Callback):
        def on_step_end(self, state) -> None:
            if state.step == 2:
                stop.set()

    ema = EMA(0.9)
    history = fit(
        build_model("linear", digits.train, seed=0),
        digits.train,
        config=TrainConfig(epochs=3, device="cpu"),
        callbacks=[ema, StopAfter2()],
        stop_event=stop,
    )
    assert history.status == "stopped" and int(ema.averaged_.n_averaged) == 2
    assert ema.history_.status == "stopped"
    with pytest.raises(ValueError, match="The 'decay' parameter of EMA must be a float in"):
        EMA(decay=1.5)
    with pytest.raises(RuntimeError, match="pass it to fit"):
        EMA().averaged_model()
