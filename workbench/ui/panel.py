"""``TrainingPanel``: Run / Stop over the one training loop, with live curves.

The run trains in a worker thread (``BackgroundRun``), so the kernel stays free for the Stop click
and for slider drags. ``background=False`` trains inline: the path tests and scripts use.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
from torch import nn
from torch.utils.data import Dataset

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
        self.curves = LiveCurves()
        controls = widgets.HBox([self.epochs, self.lr, self.run_button, self.stop_button])
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

    def _result(self) -> History:
        return self.history

    def _on_finished(self, result) -> None:
        self._set_status(self.history.message or self.history.status, error=self.history.status == "diverged")
