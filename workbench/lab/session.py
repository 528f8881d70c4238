"""``Lab``: the overfit lab as plain code — its settings, the live run, and the LR the loop reads each step.

The view (``workbench.ui.OverfitLab``) is a thin layer over it: its controls call ``update``, its Run
button ``prepare``s the work. A script or a test drives the same object without a widget::

    lab = Lab(digits.train, digits.val, LabSettings(epochs=20, subset=64))
    lab.start(background=False)            # or lab.start(); lab.set_lr(1e-2); lab.wait()
    lab.history.message

The loop owns the LR: ``set_lr`` (a slider drag) goes through a ``LiveLR`` that ``fit`` applies in its
own thread before the next step; nothing here writes into the optimizer's ``param_groups``.

Transfer: ``Lab(..., pretrained="w.pt")`` starts every run from a weights file (``settings.weights``), and
``update(freeze_upto="body.0", body_lr=0.1)`` freezes the lower groups and slows the body; the optimizer
is then ``transfer_optimizer``'s, head first, so a live LR change moves the head and keeps the ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..background import BackgroundRun
from ..data.dataset import ImageDataset
from ..squeeze.averaging import EMA
from ..train.callbacks import Callback, FitState
from ..train.history import History
from ..train.loop import fit
from ..train.optimizers import LiveLR
from ..train.runs import DEFAULT_STORE, RunStore
from ..tune.lr_range import LRRangeResult, lr_range_test
from .settings import LIVE_SETTINGS, LabSettings, lr_preview, prepare_run
from .transfer import (
    ARCH_SETTINGS,
    freeze_choices,
    pretrained_source,
    resolve_freeze,
    run_optimizer,
    trainable_groups,
)

__all__ = ["Lab"]


class _Optimizer(Callback):
    """Keeps a reference to the optimizer the loop built (for a look at it; never written from here)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def on_fit_start(self, state: FitState) -> None:
        self.lab.optimizer = state.optimizer


class Lab:
    """Settings, the current run and its history, the run store.

    Parameters
    ----------
    train, val : ImageDataset
        The training split (the lab trains on a seeded subset of it) and the validation split.
    settings : LabSettings, optional
    store : path, RunStore or None
        Where runs are written (default ``workbench_runs.sqlite`` in the working directory; None: nowhere).
    pretrained : path, nn.Module or (arch, path), optional
        Start every run from pretrained weights, a new head sized from ``train`` (``from_pretrained``): a
        weights file saved from the lab's own model (it becomes ``settings.weights``, so the run line
        carries it), your module with its weights, or ``(arch, path)`` with ``arch`` a torchvision name
        (``PRETRAINED``) or a module. A module cannot travel in a run line: save its weights to a file.
    """

    def __init__(
        self,
        train: ImageDataset,
        val: ImageDataset | None,
        settings: LabSettings | None = None,
        *,
        store: str | Path | RunStore | None = DEFAULT_STORE,
        pretrained=None,
    ) -> None:
        if not isinstance(train, ImageDataset):
            raise TypeError(
                f"The 'train' parameter of Lab must be an ImageDataset. Got {type(train).__name__} instead."
            )
        if settings is not None and not isinstance(settings, LabSettings):
            raise TypeError(
                f"The 'settings' parameter of Lab must be a LabSettings. Got {type(settings).__name__} "
                "instead."
            )
        self.train, self.val = train, val
        self.store = store if isinstance(store, RunStore) or store is None else RunStore(store)
        self.arch, weights = pretrained_source(pretrained)
        self._settings = settings or LabSettings()
        self._groups: tuple[tuple, tuple[str, ...]] | None = None  # (what shapes them, freeze choices)
        if weights is not None:
            self._settings = self._settings.replace(weights=weights)
        self._settings = self._check_transfer(self._settings, {"weights", "freeze_upto"})
        self.history = History()
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None  # the running one, once the loop has built it
        self.live_lr: LiveLR | None = None
        self.run_settings: LabSettings | None = None  # what the current (or last) run started with
        self.run: BackgroundRun | None = None
        self.ema: EMA | None = None  # the current run's EMA callback (``ema.history_``), when ema is on

    # -- settings -------------------------------------------------------------------------------------
    @property
    def settings(self) -> LabSettings:
        return self._settings

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def update(self, **changes: Any) -> str:
        """Change settings. Returns what that means for a run in progress: ``"idle"`` (none is running),
        ``"live"`` (only the LR changed: the run trains on with it from its next step), ``"length"`` (only
        the number of epochs: it applies to the next run) or ``"restart"`` (the run must start again)."""
        if isinstance(changes.get("freeze_upto"), int) and not isinstance(changes["freeze_upto"], bool):
            choices = self.freeze_choices(self._settings.replace(**{**changes, "freeze_upto": None}))
            changes["freeze_upto"] = resolve_freeze(changes["freeze_upto"], choices)
        new = self._settings.replace(**changes)  # validated here: a bad value raises before anything changes
        changed = {k for k, v in new.to_dict().items() if self._settings.to_dict()[k] != v}
        new = self._check_transfer(new, changed)
        self._settings = new
        if not self.running or not changed:
            return "idle"
        if changed <= set(LIVE_SETTINGS):
            if self.live_lr is not None:
                self.live_lr.set(new.lr)
            if self.run_settings is not None:
                self.run_settings = self.run_settings.replace(lr=new.lr)
            return "live"
        if changed == {"epochs"}:
            return "length"
        return "restart"

    @property
    def pretrained(self) -> bool:
        """Whether runs start from pretrained weights (a weights file, or the module the lab was given)."""
        return self.arch is not None or self._settings.weights is not None

    def freeze_choices(self, settings: LabSettings | None = None) -> tuple[str, ...]:
        """The layer groups ``freeze_upto`` may name: those of the model a run with ``settings`` (default:
        the current ones) builds, input first, the head left out. Building it reads the weights file."""
        s = settings or self._settings
        key = (id(self.arch), *(getattr(s, k) for k in ARCH_SETTINGS))
        if self._groups is None or self._groups[0] != key:
            try:
                model, _, _ = prepare_run(s.replace(freeze_upto=None, subset=1), self.train, arch=self.arch)
            except FileNotFoundError as err:  # an OSError: the views catch ValueError for a bad setting
                raise ValueError(str(err)) from err
            self._groups = (key, freeze_choices(model))
        return self._groups[1]

    def _check_transfer(self, new: LabSettings, changed: set[str]) -> LabSettings:
        """Read the weights and check ``freeze_upto`` against the new model's groups; a group the new
        model lacks (its depth changed) is no longer frozen, unless it was asked for just now (an error)."""
        if not (changed & {*ARCH_SETTINGS, "freeze_upto"}) or not (
            self.arch is not None or new.weights is not None or new.freeze_upto is not None
        ):
            return new
        choices = self.freeze_choices(new)
        if new.freeze_upto is None or new.freeze_upto in (*choices, "body"):
            return new
        if "freeze_upto" in changed:
            raise ValueError(
                f"The 'freeze_upto' parameter of Lab.update must be one of the model's layer groups "
                f"{', '.join(map(repr, choices))} or 'body' (all but the head). Got {new.freeze_upto!r} "
                "instead."
            )
        return new.replace(freeze_upto=None)

    def set_lr(self, lr: float) -> str:
        """The LR from the next step (or for the next run): ``update(lr=lr)``."""
        return self.update(lr=float(lr))

    def lr_preview(self) -> np.ndarray:
        """The LR at every step of a run with the current settings (the schedule, before Run)."""
        return lr_preview(self._settings, len(self.train))

    # -- runs -------------------------------------------------------------------------------------------
    def prepare(
        self, callbacks: Sequence[Callback] = (), *, human_baseline: float | None = None
    ) -> Callable[[threading.Event], History]:
        """Build the run from the settings and return it as ``target(stop_event)`` (a view runs it in its
        own worker); the model, history and ``LiveLR`` are in place before it starts."""
        settings = self._settings
        run = prepare_run(settings, self.train, self.val, arch=self.arch)  # val resized with the input
        model, part, config, val = run.model, run.train, run.config, run.val
        optimizer = run_optimizer(model, settings, config)  # None: fit builds config.optimizer
        if val is None and config.patience is not None:  # early stopping watches the training loss
            config = config.replace(monitor="train_loss")
        self.model, self.history, self.optimizer = model, History(), None
        self.live_lr = LiveLR(settings.lr)
        self.run_settings = settings
        self.ema = run.ema
        # the run's own callbacks (EMA) first: the views' callbacks then see an epoch's EMA metrics
        cbs: list[Callback] = [_Optimizer(self), *run.callbacks, *callbacks]
        if self.store is not None:
            cbs.append(
                self.store.recorder(
                    settings.name(), settings.to_dict(), seed=settings.seed, human_baseline=human_baseline
                )
            )
        history, live_lr = self.history, self.live_lr
        self.part = part

        def target(stop_event: threading.Event) -> History:
            return fit(
                model,
                part,
                val,
                config=config,
                optimizer=optimizer,
                callbacks=cbs,
                stop_event=stop_event,
                history=history,
                live_lr=live_lr,
            )

        return target

    def range_test_args(self) -> dict[str, Any]:
        """What ``lr_range_test`` needs to sweep the LR of a run with the current settings: a fresh model
        (frozen as the run would be), the training subset, and ``train_only`` = the groups that train, with
        the run's optimizer (its body-LR ratio kept). With the whole body frozen, the head alone."""
        s = self._settings
        model, part, config = prepare_run(s, self.train, arch=self.arch)
        optimizer = run_optimizer(model, s, config)
        return {
            "model": model,
            "data": part,
            "optimizer": optimizer if optimizer is not None else s.optimizer,
            "weight_decay": s.weight_decay,
            "batch_size": config.batch_size,
            "seed": s.seed,
            "train_only": trainable_groups(model) if s.freeze_upto is not None else None,
        }

    def lr_range_test(self, **kwargs: Any) -> LRRangeResult:
        """``lr_range_test`` for a run with the current settings (``range_test_args``; ``kwargs`` such as
        ``num_iter`` or ``end_lr`` are passed on): the LR it recommends is the head's, as ``set_lr`` takes."""
        return lr_range_test(**{**self.range_test_args(), **kwargs})

    def start(
        self,
        callbacks: Sequence[Callback] = (),
        *,
        background: bool = True,
        on_done: Callable[[BackgroundRun], None] | None = None,
    ) -> BackgroundRun:
        """Prepare a run and start it (in a worker thread, or inline with ``background=False``)."""
        if self.running:
            raise RuntimeError("Lab.start: a run is already training; stop it first (lab.stop(wait=True)).")
        self.run = BackgroundRun(
            self.prepare(callbacks), background=background, on_done=on_done, name="overfit-lab"
        )
        return self.run.start()

    def stop(self, wait: bool = False) -> None:
        """Ask the run to stop after its current step (``wait``: until it has)."""
        if self.run is not None and self.running:
            self.run.stop()
            if wait:
                self.run.join(30)

    def wait(self, timeout: float | None = None) -> History:
        if self.run is not None:
            self.run.join(timeout)
        return self.history
