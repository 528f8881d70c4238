"""Weight averaging during ``fit``: EMA (Polyak) and SWA, built on ``torch.optim.swa_utils``.

Both are callbacks that keep an ``AveragedModel`` beside the live one and evaluate it on the whole
validation split after every epoch, so the two curves can be drawn together. ``fit`` writes an epoch's
metrics before the callbacks run, so the averaged model's metrics go into the callback's own ``History``
(``ema.history_``: "ema_val_loss", "ema_val_acc"; "swa_..." for SWA), not into the run's.

EMA updates after every ``every``-th optimizer step: ``w_ema <- decay * w_ema + (1 - decay) * w`` (the
first update copies the weights), buffers included, so BatchNorm statistics are averaged too. SWA
averages the weights at the end of every epoch from ``start_epoch`` on (equal weights), optionally with
``SWALR`` holding the LR at ``swa_lr``; its BatchNorm statistics are then recomputed with ``update_bn``
over ``bn_data`` (one forward pass over it per epoch). On a GPU ``AveragedModel.update_parameters`` reads
its counter on the host: one sync per update (raise ``every`` if that shows).
"""

from __future__ import annotations

from torch import nn
from torch.optim import swa_utils
from torch.utils.data import Dataset

from .._validation import check_int, check_real
from ..train.batches import epoch_batches
from ..train.callbacks import Callback, FitState
from ..train.history import History
from ..train.loop import evaluate

__all__ = ["EMA", "SWA", "WeightAveraging", "has_batchnorm"]


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` has BatchNorm layers (their running statistics need ``update_bn`` after SWA)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _check_schedule(state: FitState, who: str) -> None:
    # the run's own LR schedule (TrainConfig.schedule, where the config has one) and ours would both set
    # the LR at every step
    schedule = getattr(state.config, "schedule", "constant")
    warmup = getattr(state.config, "warmup_steps", 0)
    if schedule != "constant" or warmup:
        raise ValueError(
            f"{who} sets the LR itself, but the run's config has schedule={schedule!r} (warmup_steps="
            f"{warmup}). Use TrainConfig(schedule='constant', warmup_steps=0)."
        )


class WeightAveraging(Callback):
    """Base of ``EMA`` and ``SWA``: an ``AveragedModel`` evaluated on ``val`` after every epoch.

    After the run, ``averaged_model()`` is the averaged network (an ``nn.Module`` like the live one) and
    ``history_`` its per-epoch validation metrics.
    """

    kind = "avg"

    def __init__(self, val: Dataset | None = None, *, eval_batch_size: int = 1024) -> None:
        self.val = val
        self.eval_batch_size = check_int(eval_batch_size, "eval_batch_size", type(self).__name__, low=1)
        self.averaged_: swa_utils.AveragedModel | None = None
        self.history_ = History()

    def _make(self, model: nn.Module) -> swa_utils.AveragedModel:
        raise NotImplementedError

    def on_fit_start(self, state: FitState) -> None:
        self.averaged_ = self._make(state.model)
        self.history_ = History()
        self.history_.set_status("running", f"{self.kind} of the weights")

    def averaged_model(self) -> nn.Module:
        """The averaged network (its own module, not a copy); raises before ``fit`` has started."""
        if self.averaged_ is None:
            raise RuntimeError(
                f"{type(self).__name__} has no averaged model yet: pass it to fit(callbacks=[...])."
            )
        return self.averaged_.module

    def _ready(self) -> bool:  # whether there is an average to evaluate
        return self.averaged_ is not None and int(self.averaged_.n_averaged) > 0

    def _record(self, state: FitState) -> None:
        metrics = {}
        if self.val is not None and self._ready():
            ev = evaluate(self.averaged_model(), self.val, batch_size=self.eval_batch_size)
            metrics = {f"{self.kind}_val_loss": ev.loss, f"{self.kind}_val_acc": ev.accuracy}
        self.history_.append_epoch(state.epoch, state.step, metrics)

    def on_fit_end(self, state: FitState) -> None:
        n = int(self.averaged_.n_averaged) if self.averaged_ is not None else 0
        self.history_.set_status(state.history.status, f"{self.kind}: {n} updates averaged")


class EMA(WeightAveraging):
    """Exponential moving average of the weights (Polyak averaging), updated during training.

    Parameters
    ----------
    decay : float
        In [0, 1): the weight of the old average at each update. 0.999 averages over roughly the last
        1,000 updates; a short run wants less (0.99).
    val : Dataset, optional
        Evaluated with the averaged weights after every epoch ("ema_val_loss", "ema_val_acc").
    every : int
        Update after every ``every``-th optimizer step.
    """

    kind = "ema"

    def __init__(
        self, decay: float = 0.999, val: Dataset | None = None, *, every: int = 1, eval_batch_size: int = 1024
    ) -> None:
        super().__init__(val, eval_batch_size=eval_batch_size)
        self.decay = check_real(decay, "decay", "EMA", low=0.0, high=0.999999)
        self.every = check_int(every, "every", "EMA", low=1)

    def _make(self, model: nn.Module) -> swa_utils.AveragedModel:
        fn = swa_utils.get_ema_multi_avg_fn(self.decay)
        return swa_utils.AveragedModel(model, multi_avg_fn=fn, use_buffers=True)

    def on_step_end(self, state: FitState) -> None:
        if state.step % self.every == 0 and self.averaged_ is not None:
            self.averaged_.update_parameters(state.model)

    def on_epoch_end(self, state: FitState) -> None:
        self._record(state)


class SWA(WeightAveraging):
    """Stochastic weight averaging: the equal-weight mean of the weights at the end of each epoch from
    ``start_epoch`` on.

    Parameters
    ----------
    start_epoch : int
        The first epoch whose end weights join the average (1-based).
    swa_lr : float, optional
        From ``start_epoch`` on, anneal the LR to this value over ``anneal_epochs`` epochs (``SWALR``,
        cosine) and hold it. None: leave the LR alone.
    val : Dataset, optional
        Evaluated with the averaged weights after every averaged epoch ("swa_val_loss", "swa_val_acc").
    bn_data : Dataset, optional
        For a model with BatchNorm: the data whose batches recompute the averaged model's BatchNorm
        statistics (``update_bn``) after each update; required for such a model. Usually the train split.
    """

    kind = "swa"

    def __init__(
        self,
        start_epoch: int = 1,
        swa_lr: float | None = None,
        *,
        anneal_epochs: int = 1,
        val: Dataset | None = None,
        bn_data: Dataset | None = None,
        batch_size: int = 256,
        eval_batch_size: int = 1024,
    ) -> None:
        super().__init__(val, eval_batch_size=eval_batch_size)
        self.start_epoch = check_int(start_epoch, "start_epoch", "SWA", low=1)
        self.swa_lr = None if swa_lr is None else check_real(swa_lr, "swa_lr", "SWA", low=0.0, low_open=True)
        self.anneal_epochs = check_int(anneal_epochs, "anneal_epochs", "SWA", low=1)
        self.bn_data, self.batch_size = bn_data, check_int(batch_size, "batch_size", "SWA", low=1)
        self.scheduler_: swa_utils.SWALR | None = None

    def _make(self, model: nn.Module) -> swa_utils.AveragedModel:
        return swa_utils.AveragedModel(model)  # equal weights; buffers copied from the live model

    def on_fit_start(self, state: FitState) -> None:
        if has_batchnorm(state.model) and self.bn_data is None:
            raise ValueError(
                "The model has BatchNorm layers, so SWA must recompute their statistics for the averaged "
                "weights: pass bn_data (usually the train split), e.g. SWA(bn_data=splits.train)."
            )
        super().on_fit_start(state)
        self.scheduler_ = None
        if self.swa_lr is not None:  # made now (it leaves the LR as it is), stepped from start_epoch on
            _check_schedule(state, "SWA(swa_lr=...)")
            self.scheduler_ = swa_utils.SWALR(
                state.optimizer, self.swa_lr, anneal_epochs=self.anneal_epochs, anneal_strategy="cos"
            )

    def on_epoch_end(self, state: FitState) -> None:
        if state.epoch < self.start_epoch or self.averaged_ is None:
            self.history_.append_epoch(state.epoch, state.step, {})
            return
        self.averaged_.update_parameters(state.model)
        if self.bn_data is not None and has_batchnorm(state.model):
            batches = epoch_batches(self.bn_data, self.batch_size, state.device, None)
            swa_utils.update_bn(batches(), self.averaged_.module)
        if self.scheduler_ is not None:  # the LR anneals to swa_lr over anneal_epochs epochs, then stays
            self.scheduler_.step()
        self._record(state)
