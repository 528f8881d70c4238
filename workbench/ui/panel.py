"""``TrainingPanel``: Run / Stop over the one training loop, with live curves.

The run trains in a worker thread (``BackgroundRun``), so the kernel stays free for the Stop click
and for slider drags. ``background=False`` trains inline: the path tests and scripts use.

With ``processes`` above 1 the run is data-parallel (``workbench.distributed.fit_ddp``): the batch size
is per process, rank 0's steps stream into this panel's history and the curves redraw from it.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable

import ipywidgets as widgets
from torch import nn
from torch.utils.data import Dataset

from ..distributed import fit_ddp
from ..train.config import TrainConfig
from ..train.history import History
from ..train.loop import fit
from .base import RunView
from .curves import LiveCurves

__all__ = ["TrainingPanel"]


class TrainingPanel(RunView):
    """Train a model on a split with live curves, from buttons or from code.

    Parameters
    ----------
    model : nn.Module or callable
        A module (each Run continues from its current weights) or a function returning a fresh one
        (each Run starts from scratch, so the same seed gives the same curve).
    train, val : Dataset
    config : TrainConfig
        Starting settings; ``epochs`` and ``lr`` are also editable in the panel.
    background : bool
        Train in a worker thread (default) or inline.
    processes : int
        Data-parallel processes (``fit_ddp``); 1 trains in this kernel. Also a control in the panel.
    """

    busy_text = "already training: press Stop first"

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        train: Dataset,
        val: Dataset | None = None,
        config: TrainConfig | None = None,
        *,
        background: bool = True,
        processes: int = 1,
        **kwargs,
    ) -> None:
        if not isinstance(model, nn.Module) and not callable(model):
            raise TypeError(
                "The 'model' parameter of TrainingPanel must be an nn.Module or a function that returns one. "
                f"Got {type(model).__name__} instead."
            )
        self.model_fn = None if isinstance(model, nn.Module) else model
        self.model = model if isinstance(model, nn.Module) else None
        self.train_data, self.val_data = train, val
        self.config = config or TrainConfig()
        self.history = History()
        self._init_run_controls(background=background, name="training-panel")

        self.epochs = widgets.BoundedIntText(
            value=self.config.epochs,
            min=1,
            max=100_000,
            description="epochs",
            layout=widgets.Layout(width="170px"),
        )
        self.epochs.add_class("wb-epochs")
        self.lr = widgets.FloatLogSlider(
            value=self.config.lr,
            base=10,
            min=-5,
            max=0,
            step=0.1,
            description="lr",
            readout_format=".1e",
            continuous_update=False,
        )
        self.processes = widgets.BoundedIntText(
            value=processes,
            min=1,
            max=max(os.cpu_count() or 1, processes),
            description="processes",
            tooltip="data-parallel processes (torch.distributed); the batch size is per process",
            layout=widgets.Layout(width="170px"),
        )
        self.curves = LiveCurves()
        controls = widgets.HBox([self.epochs, self.lr, self.processes, self.run_button, self.stop_button])
        super().__init__(children=[controls, self.status_html, self.curves, self.error_html], **kwargs)
        self.add_class("wb-training-panel")

    # -- the run ------------------------------------------------------------------------------------------
    def _prepare_run(self):
        config = self.config.replace(epochs=int(self.epochs.value), lr=float(self.lr.value))
        model = self.model_fn() if self.model_fn is not None else self.model
        self.model = model
        self.history = History()
        self.curves.reset()
        history, curves = self.history, self.curves
        self._set_status(f"training: {config.epochs} epochs, {config.optimizer}, lr {config.lr:.1e}")
        world = int(self.processes.value)
        if world > 1:
            return self._ddp_target(model, config, world)

        def target(stop_event):
            return fit(
                model,
                self.train_data,
                self.val_data,
                config=config,
                callbacks=[curves.callback()],
                stop_event=stop_event,
                history=history,
            )

        return target

    def _ddp_target(self, model: nn.Module, config: TrainConfig, world: int):
        make = self.model_fn or (lambda: copy.deepcopy(model))  # from the current weights, like one process
        history, curves, train, val = self.history, self.curves, self.train_data, self.val_data
        self._set_status(f"training on {world} processes: {config.epochs} epochs, lr {config.lr:.1e}")

        def target(stop_event):
            done = threading.Event()

            def redraw() -> None:  # rank 0's steps arrive in `history`; draw them a few times a second
                while not done.wait(0.25):
                    curves.update(history)

            painter = threading.Thread(target=redraw, name="ddp-curves", daemon=True)
            painter.start()
            try:
                result = fit_ddp(
                    make, train, val, config=config, world_size=world, history=history, stop_event=stop_event
                )
            finally:
                done.set()
                painter.join()  # its redraw in progress ends first: two threads never draw at once
                curves.update(history, force=True)
            model.load_state_dict(result.model.state_dict())
            return history

        return target

    def _result(self) -> History:
        return self.history

    def _on_finished(self, result) -> None:
        self._set_status(self.history.message or self.history.status, error=self.history.status == "diverged")
