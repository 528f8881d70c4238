"""Views for step 2 of the recipe: the batch as ``model(x)`` gets it, and the checklist.

``BatchViewer`` renders a ``CapturedBatch`` (a torchvision ``make_grid``, denormalised for display only,
labels under each image, per-channel statistics, the pipeline with augmentations flagged).
``ChecksPanel`` renders a ``Checklist`` and runs the checks, one or all, in a worker thread.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import traitlets
from torch import nn
from torchvision.utils import make_grid

from ..checks import CHECKS, Checklist, CheckResult, capture_batch, run_all
from ..data.preview import png_bytes
from .base import RunView

__all__ = ["BatchViewer", "ChecksPanel"]


class BatchViewer(widgets.VBox):
    """The exact tensors that reach ``model(x)`` for one batch of ``data``."""

    seed = traitlets.Int(0, help="Which batch: the one the loop draws first with this seed.")

    def __init__(self, model: nn.Module, data, *, batch_size: int = 32, columns: int = 8, **kwargs) -> None:
        self.model, self.data, self.batch_size, self.columns = model, data, batch_size, columns
        self.image = widgets.Image(format="png")
        self.image.add_class("wb-batch-grid")
        self.labels = widgets.HTML()
        self.stats = widgets.HTML()
        self.pipeline = widgets.HTML()
        self.next_button = widgets.Button(description="another batch", icon="refresh")
        self.next_button.on_click(lambda _: setattr(self, "seed", self.seed + 1))
        super().__init__(
            children=[self.next_button, self.image, self.labels, self.stats, self.pipeline], **kwargs
        )
        self.add_class("wb-batch-viewer")
        self.captured = None
        self._draw()

    @traitlets.observe("seed")
    def _on_seed(self, _) -> None:
        self._draw()

    def _draw(self) -> None:
        c = capture_batch(self.model, self.data, batch_size=self.batch_size, seed=self.seed)
        self.captured = c
        shown = c.for_display()
        if shown.ndim == 4:
            grid = make_grid(
                shown,
                nrow=self.columns,
                padding=1,
                normalize=shown.min() < 0 or shown.max() > 1,
                pad_value=1.0,
            )
            cell = 96 if shown.shape[-1] <= 16 else 2 * shown.shape[-1]
            rows = -(-len(shown) // self.columns)
            self.image.value = png_bytes(grid, display=rows * cell)
            self.image.layout.width = f"{self.columns * cell}px"
            names = [c.classes[int(t)] if 0 <= int(t) < len(c.classes) else str(int(t)) for t in c.targets]
            cells = "".join(
                ("<tr>" if i % self.columns == 0 else "")
                + f"<td style='width:{cell}px;text-align:center'>{html.escape(n)}</td>"
                + ("</tr>" if i % self.columns == self.columns - 1 else "")
                for i, n in enumerate(names)
            )
            self.labels.value = f"<b>labels, row by row</b><table style='table-layout:fixed'>{cells}</table>"
        stats = c.channel_stats
        rows = "".join(
            f"<tr><td>channel {k}</td>"
            + "".join(f"<td>{stats[s][k]:.4f}</td>" for s in ("mean", "std", "min", "max"))
            + "</tr>"
            for k in range(len(stats["mean"]))
        )
        self.stats.value = (
            f"<b>what model(x) receives</b>: shape {tuple(c.inputs.shape)}, dtype "
            f"{str(c.inputs.dtype).replace('torch.', '')}"
            "<table><tr><th></th><th>mean</th><th>std</th><th>min</th><th>max</th></tr>"
            + rows
            + "</table>"
            + (
                "<i>display denormalised with the pipeline's Normalize; the numbers are the model's input</i>"
                if c.normalize
                else ""
            )
        )
        flag = "<b style='color:#b00020'>augmentation</b> "
        items = "".join(
            f"<li>{flag if s.augmentation else ''}<code>{html.escape(s.name)}</code>: "
            f"{html.escape(s.detail)}</li>"
            for s in c.pipeline
        )
        warn = (
            (
                "<p style='color:#b00020'>Augmentation is on: turn it off until the pipeline is checked (it "
                "is a regulariser, and a place for bugs).</p>"
            )
            if c.augmented
            else ""
        )
        self.pipeline.value = f"<b>pipeline</b><ol>{items}</ol>{warn}"


class _ChecksStopped(Exception):
    """Raised between two checks when Stop was pressed: the rest are not run."""


class ChecksPanel(RunView):
    """The recipe's checklist: run one check or all of them without blocking the kernel.

    Each row is a grid with the same fixed columns (run button, name, status, message), so a long
    message wraps inside its own column instead of squeezing the others out of line. Stop ends the
    run after the check in progress. ``result=`` (a ``Checklist``) shows finished checks without
    running anything (the Display pattern).
    """

    #: run button | check name | status badge | message (takes the rest, wraps)
    COLUMNS = "64px 230px 80px minmax(0, 1fr)"

    statuses = traitlets.Dict(help="check name -> 'not run' | 'running' | 'passed' | 'FAILED' | 'skipped'")
    stopping_text = "stopping after the check in progress…"

    def __init__(
        self,
        model: nn.Module | None = None,
        data=None,
        val=None,
        *,
        time_dim: int | None = None,
        result: Checklist | None = None,
        background: bool = True,
        **kwargs,
    ) -> None:
        if result is None and (model is None or data is None):
            raise TypeError(
                "ChecksPanel needs a model and data to check, or a finished result= (a Checklist) to show."
            )
        if result is not None and not isinstance(result, Checklist):
            raise TypeError(
                f"The 'result' parameter of ChecksPanel must be a Checklist. Got {type(result).__name__} "
                "instead."
            )
        self.model, self.data, self.val, self.time_dim = model, data, val, time_dim
        self.results: dict[str, CheckResult] = {}
        self._init_run_controls(
            background=background, run_label="Run all checks", run_icon="check", name="checks"
        )
        self.run_button.button_style = "primary"
        self._rows: dict[str, tuple[widgets.HTML, widgets.HTML, widgets.Button]] = {}
        rows = []
        for name in CHECKS:
            badge, message = widgets.HTML(self._badge("not run")), widgets.HTML("")
            message.layout = widgets.Layout(width="auto", height="auto", min_width="0")
            button = widgets.Button(description="run", layout=widgets.Layout(width="60px"))
            button.on_click(lambda _, name=name: self.start((name,)))
            self._rows[name] = (badge, message, button)
            row = widgets.GridBox(
                [button, widgets.HTML(f"<code>{name}</code>"), badge, message],
                layout=widgets.Layout(
                    grid_template_columns=self.COLUMNS,
                    grid_gap="0px 6px",
                    align_items="flex-start",
                    width="100%",
                ),
            )
            row.add_class(f"wb-check-{name}")
            row.add_class("wb-check-row")
            rows.append(row)
        self.summary = widgets.HTML("")
        super().__init__(
            children=[
                widgets.HBox([self.run_button, self.stop_button]),
                *rows,
                self.summary,
                self.error_html,
            ],
            **kwargs,
        )
        self.add_class("wb-checks-panel")
        self.statuses = dict.fromkeys(CHECKS, "not run")
        if result is not None:
            for _, _, button in self._rows.values():
                button.disabled = model is None or data is None
            self.run_button.disabled = model is None or data is None
            self.show(result)

    @staticmethod
    def _badge(status: str) -> str:
        color = {"passed": "#1a7f37", "FAILED": "#b00020", "running": "#9a6700", "skipped": "#57606a"}.get(
            status, "#57606a"
        )
        return (
            "<span class='wb-badge' style='display:inline-block;width:70px;"
            f"color:{color};font-weight:bold'>{status}</span>"
        )

    def _set(self, name: str, status: str, message: str = "") -> None:
        badge, msg, _ = self._rows[name]
        badge.value = self._badge(status)
        # the widget's line-height is one control high (28 px); wrapped lines of a long message need less
        msg.value = (
            f"<div class='wb-check-message' style='font-size:12px;line-height:1.4;white-space:normal;"
            f"overflow-wrap:anywhere;padding-top:5px'>{html.escape(message)}</div>"
        )
        self.statuses = {**self.statuses, name: status}

    def start(self, only: tuple[str, ...] | None = None):
        """Run the named checks (all by default); results fill in as they arrive."""
        return super().start(only)

    def _prepare_run(self, only: tuple[str, ...] | None = None):
        names = only or CHECKS
        for n in names:
            self._set(n, "running")
        self.summary.value = f"<i>running {len(names)} check(s)…</i>"
        self._set_status(f"running {len(names)} check(s)")

        def target(stop_event):
            def on_result(r: CheckResult) -> None:
                self.results[r.name] = r
                self._set(r.name, r.status, r.message)
                if stop_event.is_set():
                    raise _ChecksStopped

            return run_all(
                self.model,
                self.data,
                self.val,
                time_dim=self.time_dim,
                only=tuple(names),
                on_result=on_result,
            )

        return target

    def _result(self) -> Checklist | None:
        return self.run.result if self.run is not None else None

    def show(self, checklist: Checklist) -> None:
        """Fill the rows from finished checks, and the summary line."""
        for r in checklist:
            self.results[r.name] = r
            if r.name in self._rows:
                self._set(r.name, r.status, r.message)
        self._summarise()

    def _on_finished(self, result) -> None:
        self._summarise()

    def _on_failed(self, run) -> None:
        stopped = isinstance(run.error, _ChecksStopped)
        for n, s in self.statuses.items():
            if s == "running":
                self._set(
                    n,
                    "not run" if stopped else "FAILED",
                    "" if stopped else f"the check raised {type(run.error).__name__}: {run.error}",
                )
        if stopped:
            self.error_html.value = ""
        self._summarise(stopped)

    def _summarise(self, stopped: bool = False) -> None:
        failed = [n for n, s in self.statuses.items() if s == "FAILED"]
        done = [n for n, s in self.statuses.items() if s in ("passed", "FAILED", "skipped")]
        line = f"{len(done)} checks done, " + (
            f"{len(failed)} failed: {', '.join(failed)}" if failed else "none failed"
        )
        line += " (stopped)" if stopped else ""
        color = "#b00020" if failed else "#1a7f37"
        self.summary.value = f"<b class='wb-checks-done' style='color:{color}'>{html.escape(line)}</b>"
        self._set_status(line, error=bool(failed))
