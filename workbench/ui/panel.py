"""``TrainingPanel``: Run / Stop over the one training loop, with live curves.

The run trains in a worker thread (``BackgroundRun``), so the kernel stays free for the Stop click
and for slider drags. ``background=False`` trains inline: the path tests and scripts use.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets
import traitlets
from torch import nn
from torch.utils.data import Dataset

from ..train.config import TrainConfig
from ..train.history import History
from ..train.loop import fit
from .curves import LiveCurves
from .runner import BackgroundRun
from .status import StatusMixin, status_markup

__all__ = ["TrainingPanel"]


class TrainingPanel(StatusMixin, widgets.VBox):
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

    running = traitlets.Bool(False, help="True while a run is training.")
    status = traitlets.Unicode("ready", help="One line: what the panel is doing or how the last run ended.")

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
        self.background = background
        self.history = History()
        self.run: BackgroundRun | None = None

        self.epochs = widgets.BoundedIntText(
            value=self.config.epochs, min=1, max=100_000, description="epochs", layout=widgets.Layout(width="170px")
        )
        self.epochs.add_class("wb-epochs")
        self.lr = widgets.FloatLogSlider(
            value=self.config.lr, base=10, min=-5, max=0, step=0.1, description="lr", readout_format=".1e",
            continuous_update=False,
        )
        self.run_button = widgets.Button(description="Run", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status_html = widgets.HTML(status_markup("ready"))
        self.status_html.add_class("wb-status")
        self.error_html = widgets.HTML("")
        self.error_html.add_class("wb-error")
        self.curves = LiveCurves()
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        controls = widgets.HBox([self.epochs, self.lr, self.run_button, self.stop_button])
        super().__init__(children=[controls, self.status_html, self.curves, self.error_html], **kwargs)
        self.add_class("wb-training-panel")

    # -- actions ----------------------------------------------------------------------------------------
    def start(self) -> BackgroundRun | None:
        """Start a run with the panel's settings; ignored (with a status line) while one is training."""
        if self.running:
            self._set_status("already training: press Stop first")
            return None
        config = self.config.replace(epochs=int(self.epochs.value), lr=float(self.lr.value))
        model = self.model_fn() if self.model_fn is not None else self.model
        self.model = model
        self.history = History()
        self.curves.reset()
        self.error_html.value = ""
        history, curves = self.history, self.curves

        def target(stop_event):
            return fit(
                model, self.train_data, self.val_data, config=config, callbacks=[curves.callback()],
                stop_event=stop_event, history=history,
            )

        self.run = BackgroundRun(target, background=self.background, on_done=self._on_done)
        self.running = True
        self.run_button.disabled, self.stop_button.disabled = True, False
        self._set_status(f"training: {config.epochs} epochs, {config.optimizer}, lr {config.lr:.1e}")
        return self.run.start()

    def stop(self) -> None:
        """Ask the run to stop after its current step."""
        if self.run is not None and self.running:
            self._set_status("stopping…")
            self.run.stop()

    def wait(self, timeout: float | None = None) -> History:
        """Block until the current run ends (for scripts and top-to-bottom notebooks); returns its history."""
        if self.run is not None:
            self.run.join(timeout)
        return self.history

    # -- the worker's last word --------------------------------------------------------------------------
    def _on_done(self, run: BackgroundRun) -> None:
        if run.error is not None:
            self._set_status(f"failed: {type(run.error).__name__}: {run.error}", error=True)
            lines = run.traceback.strip().splitlines()[-12:]
            self.error_html.value = (
                "<details open><summary><b>The run raised an exception</b></summary>"
                f"<pre style='white-space:pre-wrap'>{html.escape(chr(10).join(lines))}</pre></details>"
            )
        else:
            self._set_status(self.history.message or self.history.status, error=self.history.status == "diverged")
        self.run_button.disabled, self.stop_button.disabled = False, True
        self.running = False
