"""Plain threading for long work (no widgets): run a function in a worker thread so the caller stays free
(``BackgroundRun``), and rate-limit what is redrawn from it (``Throttle``). Core callbacks and the views
share them.

``BackgroundRun(target)`` calls ``target(stop_event)`` in a daemon thread (or inline with
``background=False``, the path tests use). An exception in the worker is kept (``error``,
``traceback``) and handed to ``on_done``; it is never lost in a thread's stderr.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback as tb
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundRun", "Throttle"]

log = logging.getLogger(__name__)


class Throttle:
    """``ready()`` is true at most ``hz`` times per second (by wall clock).

    With a ``budget`` (a fraction of wall time, e.g. 0.01), the work done after each ``ready()`` is timed
    (call ``done()`` when it ends, or use ``call(fn)``) and the next ``ready()`` waits until that work
    is at most ``budget`` of the time since it started: a view that gets slow (a long run, a loaded
    machine) redraws less often instead of slowing the training thread. The cost is the least of the
    last three (one slow call, a first-time import or a pause, does not stall the view), and the wait
    never exceeds ``MAX_WAIT_S``.
    """

    MAX_WAIT_S = 10.0

    def __init__(self, hz: float, budget: float | None = None) -> None:
        if not hz > 0:
            raise ValueError(f"The 'hz' parameter of Throttle must be a float > 0. Got {hz!r} instead.")
        if budget is not None and not 0 < budget <= 1:
            raise ValueError(
                f"The 'budget' parameter of Throttle must be a fraction in (0, 1] or None. Got {budget!r} "
                "instead."
            )
        self.period = 1.0 / hz
        self.budget = budget
        self._last = float("-inf")
        self._next = float("-inf")
        self._costs: deque[float] = deque(maxlen=3)

    def ready(self) -> bool:
        now = time.monotonic()
        if now >= self._next and now - self._last >= self.period:
            self._last = now
            return True
        return False

    def done(self) -> None:
        """The work that the last ``ready()`` allowed has ended: with a budget, space the next one out."""
        if self.budget is not None:
            self._costs.append(time.monotonic() - self._last)
            self._next = self._last + min(min(self._costs) / self.budget, self.MAX_WAIT_S)

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """``fn(*args)`` if ready (timed against the budget); True when it ran."""
        if not self.ready():
            return False
        try:
            fn(*args)
        finally:
            self.done()
        return True


class BackgroundRun:
    """One call of ``target(stop_event)``, in a worker thread or inline."""

    def __init__(
        self,
        target: Callable[[threading.Event], Any],
        *,
        background: bool = True,
        on_done: Callable[[BackgroundRun], None] | None = None,
        name: str = "workbench-run",
    ) -> None:
        self.target = target
        self.background = background
        self.on_done = on_done
        self.name = name
        self.stop_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.traceback = ""
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    def start(self) -> BackgroundRun:
        if self._thread is not None or self._done.is_set():
            raise RuntimeError("This BackgroundRun was already started; make a new one for another run.")
        if self.background:
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread.start()
        else:
            self._main()
        return self

    def _main(self) -> None:
        try:
            self.result = self.target(self.stop_event)
        except BaseException as err:  # noqa: BLE001 - kept and shown, never lost
            self.error = err
            self.traceback = "".join(tb.format_exception(err))
            log.warning("%s failed: %s", self.name, err)
        finally:
            try:
                if self.on_done is not None:
                    self.on_done(self)  # before _done: join() returns once the views show the outcome
            except Exception:  # a broken view must not hide the run's own outcome
                log.exception("on_done of %s failed", self.name)
            finally:
                self._done.set()

    def stop(self) -> None:
        """Ask the target to stop (it checks the event between steps)."""
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run; True when it has ended."""
        return self._done.wait(timeout)

    def __repr__(self) -> str:
        state = (
            "running"
            if self.running
            else ("failed" if self.error else ("done" if self._done.is_set() else "new"))
        )
        return f"<BackgroundRun {self.name!r}: {state}>"

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()
