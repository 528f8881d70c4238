"""``RunView``: the one run lifecycle that every view which starts work shares.

A view that runs something (a training run, the LR range test, a search, the checks) has the same
life: Run → ``running`` → Stop asks the work to end → done or failed. Written once here, so the
views keep only what they draw:

- traits ``running`` (bool) and ``status`` (one line, mirrored in ``status_html``);
- widgets ``run_button``, ``stop_button``, ``status_html``, ``error_html`` (the traceback of a
  failed run, folded);
- ``start()`` → the subclass's ``_prepare_run(...)`` returns the work as ``target(stop_event)``
  (or ``None`` to refuse, having said why in the status); the work runs in a ``BackgroundRun``
  (a worker thread, or inline with ``background=False``: the path tests and scripts use);
- ``save_html(path)``: the view as it is, as one offline HTML file (``export_html``);
- ``stop()`` sets the stop event; ``wait(timeout)`` joins and returns ``_result()``;
- the worker's last word: ``_on_finished(result)`` or ``_on_failed(run)``, then the buttons and
  ``running`` are put back. A broken view never hides the run's own outcome.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ..background import BackgroundRun
from .status import status_markup

__all__ = ["RunView"]


class RunView(widgets.VBox):
    """Base of the views that start work: Run/Stop, ``running``, ``status``, the error pane."""

    running = traitlets.Bool(False, help="True while the view's work runs.")
    status = traitlets.Unicode("ready", help="One line: what the view is doing or how its last run ended.")

    #: shown when Stop is pressed; a view whose work cannot stop at once says what happens instead
    stopping_text = "stopping…"
    #: shown when Run is pressed while the view's work runs
    busy_text = "already running: press Stop first"

    def _init_run_controls(
        self,
        *,
        background: bool,
        run_label: str = "Run",
        stop_label: str = "Stop",
        run_icon: str = "play",
        name: str = "workbench-run",
    ) -> None:
        """Make the lifecycle's widgets; call before ``super().__init__(children=...)`` lays them out."""
        self.background = bool(background)
        self.run: BackgroundRun | None = None
        self._run_name = name
        self.run_button = widgets.Button(description=run_label, button_style="success", icon=run_icon)
        self.stop_button = widgets.Button(
            description=stop_label, button_style="danger", icon="stop", disabled=True
        )
        self.status_html = widgets.HTML(status_markup("ready"))
        self.status_html.add_class("wb-status")
        self.error_html = widgets.HTML("")
        self.error_html.add_class("wb-error")
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())

    # -- what a view fills in -------------------------------------------------------------------------
    def _prepare_run(self, *args: Any, **kwargs: Any) -> Callable[[threading.Event], Any] | None:
        """Read the controls, reset what is drawn, and return the work; ``None`` refuses to start."""
        raise NotImplementedError

    def _on_finished(self, result: Any) -> None:
        """Show a finished run's result (runs in the worker thread: set traits and widget values only)."""

    def _on_failed(self, run: BackgroundRun) -> None:
        """Extra clean-up after a failed run (the status and the error pane are already set)."""

    def _result(self) -> Any:
        """What ``wait()`` returns."""
        return self.run.result if self.run is not None else None

    # -- the lifecycle ------------------------------------------------------------------------------------
    def start(self, *args: Any, **kwargs: Any) -> BackgroundRun | None:
        """Start the view's work; ignored, with a status line, while it is already running."""
        if self.running:
            self._set_status(self.busy_text)
            return None
        target = self._prepare_run(*args, **kwargs)
        if target is None:
            return None
        self.error_html.value = ""
        self.run = BackgroundRun(
            target, background=self.background, on_done=self._finish, name=self._run_name
        )
        self.running = True
        self.run_button.disabled, self.stop_button.disabled = True, False
        return self.run.start()

    def stop(self) -> None:
        """Ask the running work to stop (it checks between steps)."""
        if self.run is not None and self.running:
            self._set_status(self.stopping_text)
            self.run.stop()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the current run ends (for scripts and top-to-bottom notebooks)."""
        if self.run is not None:
            self.run.join(timeout)
        return self._result()

    def save_html(self, path: str | Path, *, title: str | None = None) -> Path:
        """This view as it is now, as one standalone HTML file that opens offline (``export_html``)."""
        from .export import export_html

        return export_html(self, path, title=title or f"workbench: {type(self).__name__} ({self.status})")

    def _set_status(self, text: str, error: bool = False, markup: str | None = None) -> None:
        """``status`` gets the plain line; ``status_html`` shows ``markup`` when given (already escaped)."""
        self.status = text
        self.status_html.value = status_markup(text, error) if markup is None else markup

    def _finish(self, run: BackgroundRun) -> None:
        try:
            if run.error is not None:
                self._set_status(f"failed: {type(run.error).__name__}: {run.error}", error=True)
                lines = run.traceback.strip().splitlines()[-12:]
                self.error_html.value = (
                    "<details open><summary><b>The run raised an exception</b></summary>"
                    f"<pre style='white-space:pre-wrap'>{html.escape(chr(10).join(lines))}</pre></details>"
                )
                self._on_failed(run)
            else:
                self._on_finished(run.result)
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True
            self.running = False
