"""Progress of long core work: a bar where someone watches it, one summary line where output is captured.

tqdm redraws its bar with carriage returns; in a log file or a pipe every redraw stays, hundreds of
frames a stage. So a bar is drawn only on a terminal (the stream is a TTY) or in a Jupyter kernel
(``tqdm.auto`` draws a widget there). Anywhere else the stages are timed and, when the work ends, one
line is handed to ``on_summary`` (the CLI writes it to stderr) or, by default, logged at INFO on the
``workbench`` logger: the library itself never prints.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Self

__all__ = ["StageProgress", "in_notebook", "shows_bars"]

logger = logging.getLogger("workbench")


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (where tqdm.auto draws a widget, not text)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def shows_bars(stream: IO[str] | None = None) -> bool:
    """Whether progress bars belong on ``stream`` (default stderr): in a notebook, or when it is a
    terminal."""
    if in_notebook():
        return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class StageProgress:
    """``progress(stage, done, total)``: one tqdm bar per stage where it is watched, else one summary line.

    Parameters
    ----------
    what : str
        What the work is, the start of the summary line ("inspect: 3 stages in 2.1 s: ...").
    bars : bool, optional
        Draw bars (True) or only summarise (False); default: ``shows_bars(stream)``.
    stream : file, optional
        Where a terminal bar goes; default stderr.
    on_summary : callable(str), optional
        Receives the summary line when no bars were drawn; default: ``logging.getLogger("workbench").info``.
    """

    def __init__(
        self,
        what: str = "work",
        *,
        bars: bool | None = None,
        stream: IO[str] | None = None,
        on_summary: Callable[[str], None] | None = None,
    ) -> None:
        self.what, self.stream, self.on_summary = what, stream, on_summary
        self.bars = shows_bars(stream) if bars is None else bool(bars)
        self.stages: dict[str, tuple[int, float]] = {}  # stage -> (total, seconds)
        self._stage: str | None = None
        self._started = self._stage_started = 0.0
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != self._stage:
            self._end_stage(now)
            if not self.stages:
                self._started = now
            self._stage, self._stage_started = stage, now
            if self.bars:
                self._bar = self._new_bar(stage, total)
        self.stages[stage] = (total, now - self._stage_started)
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)  # update, not n=: tqdm's rate and redraw throttle stay right

    def _new_bar(self, stage: str, total: int):
        if in_notebook():
            from tqdm.auto import tqdm  # a widget in a notebook
        else:
            from tqdm import tqdm
        return tqdm(total=total, desc=stage, leave=False, file=self.stream)

    def _end_stage(self, now: float) -> None:
        if self._stage is not None:
            total, _ = self.stages[self._stage]
            self.stages[self._stage] = (total, now - self._stage_started)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def summary(self) -> str:
        """One line: the work, its total time, and each stage's size and time."""
        seconds = sum(s for _, s in self.stages.values())
        parts = ", ".join(f"{stage} ({total}) {s:.1f} s" for stage, (total, s) in self.stages.items())
        return f"{self.what}: {len(self.stages)} stage(s) in {seconds:.1f} s: {parts}"

    def close(self) -> str | None:
        """End the last stage; without bars, hand on the summary line (once) and return it."""
        if self._stage is None:
            return None
        self._end_stage(time.perf_counter())
        self._stage = None
        if self.bars:
            return None
        line = self.summary()
        (self.on_summary or logger.info)(line)
        return line

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
