"""``SqueezeView``: pick stored runs or search trials, squeeze them (ensemble, snapshot ensemble, EMA,
SWA, distillation), and see what each step bought on the whole test split, with its cost.

A thin view: the runs come from the run store (``squeeze.load_members``), the training from
``squeeze.retrain`` (the best picked run's recipe again, with EMA, SWA, snapshots or as a student), the
scores from ``squeeze.compare``; ``ComparisonView`` draws them. Each button's work runs in a worker
thread (``RunView``); Cancel sets the stop event, which training and scoring both check.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from torch import nn

from ..data.dataset import DataSplits
from ..squeeze.compare import Comparison, compare
from ..squeeze.ensemble import Ensemble
from ..squeeze.members import Member
from ..squeeze.retrain import load_snapshots, train_averaged, train_distilled, train_snapshots
from ..squeeze.stored import check_same_task, has_weights, load_members, stored_config
from ..train.callbacks import Callback, FitState
from ..train.runs import DEFAULT_STORE, RunStore
from .base import RunView
from .comparison_view import ComparisonView

__all__ = ["SqueezeView"]

ACTIONS = ("ensemble", "snapshot ensemble", "EMA", "SWA", "distill into one")


class _EpochProgress(Callback):
    def __init__(self, report: Callable[[float, str], None], what: str) -> None:
        self.report, self.what = report, what

    def on_epoch_end(self, state: FitState) -> None:
        self.report(
            state.epoch / state.config.epochs, f"{self.what}: epoch {state.epoch}/{state.config.epochs}"
        )


def _merged(old: Comparison | None, new: Comparison) -> Comparison:
    """``old``'s rows (those not scored again) then ``new``'s: the same test samples, so gains stay paired."""
    if old is None:
        return new
    kept = tuple(r for r in old.rows if r.name not in new.correct)
    correct = {**{r.name: old.correct[r.name] for r in kept}, **new.correct}
    return Comparison(kept + new.rows, correct, new.confidence)


class SqueezeView(RunView):
    """Pick runs/trials from the store → ensemble, snapshot ensemble, EMA, SWA or distil → scores on the
    whole test split (table and bars with intervals).

    Parameters
    ----------
    data : DataSplits
        With a test split: every model is scored on all of it. New runs train on ``train`` (``val`` for
        their curves).
    store : RunStore or path
        Where the runs to pick are (those with saved weights: search trials, ``train_members`` runs, ...)
        and where new runs go.
    folder : path, optional
        Where new runs' weights go (default: ``<store>-weights/squeeze`` beside the store).
    epochs : int, optional
        Epochs of the runs the view trains (default: the picked run's own).

    The buttons train or reuse, then score: "ensemble" (the picked runs' probabilities averaged),
    "snapshot ensemble" (the best picked run's snapshots if it recorded some, else its recipe again with
    cyclic cosine LR), "EMA" / "SWA" (its recipe again with the average beside the live weights; EMA decay
    0 picks ``ema_decay_for`` the run's steps), "distill into one" (a network of its size trained on the
    ensemble's soft targets). The best picked run (by validation accuracy) is the "single best" row, the
    reference of every gain.
    """

    stopping_text = "cancelling…"
    #: what the buttons do, the values of ``start(action)``
    ACTIONS = ACTIONS

    def __init__(
        self,
        data: DataSplits,
        *,
        store: RunStore | str | Path = DEFAULT_STORE,
        folder: str | Path | None = None,
        epochs: int | None = None,
        background: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(data, DataSplits) or data.test is None:
            raise ValueError(
                "The 'data' parameter of SqueezeView must be DataSplits with a test split (every model is "
                f"scored on the whole test split). Got {type(data).__name__} without one; use split(...) "
                "or load_mnist_test()."
            )
        self.data = data
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        default = self.store.path.parent / f"{self.store.path.stem}-weights" / "squeeze"
        self.folder = Path(folder) if folder is not None else default
        self.comparison: Comparison | None = None
        self.models: dict[str, nn.Module] = {}
        self._picked: tuple[int, ...] = ()
        self._members: list[Member] = []
        self._init_run_controls(
            background=background, run_label="ensemble", stop_label="Cancel", name="squeeze"
        )
        self.run_button.icon = "object-group"
        self.buttons = {"ensemble": self.run_button}
        for action in ACTIONS[1:]:
            button = widgets.Button(description=action, button_style="success")
            button.on_click(lambda _, a=action: self.start(a))
            self.buttons[action] = button
        self.runs = widgets.SelectMultiple(description="runs", rows=8, layout=widgets.Layout(width="640px"))
        self.runs.style.description_width = "40px"
        self.top_k = widgets.BoundedIntText(value=5, min=1, max=100, description="k")
        self.top_k.layout.width, self.top_k.style.description_width = "110px", "20px"
        self.top_button = widgets.Button(description="pick top k", icon="sort-amount-desc")
        self.top_button.on_click(lambda _: self.pick_top(self.top_k.value))
        self.refresh_button = widgets.Button(description="refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.epochs = widgets.BoundedIntText(
            value=epochs or 0, min=0, max=10_000, description="epochs (0: run's)"
        )
        self.decay = widgets.BoundedFloatText(
            value=0.0, min=0.0, max=0.999999, step=0.001, description="EMA decay (0: auto)"
        )
        self.cycles = widgets.BoundedIntText(value=3, min=1, max=100, description="snapshots")
        self.temperature = widgets.BoundedFloatText(value=4.0, min=0.1, max=100.0, description="temperature")
        self.alpha = widgets.BoundedFloatText(value=0.9, min=0.0, max=1.0, step=0.05, description="alpha")
        settings = [self.epochs, self.decay, self.cycles, self.temperature, self.alpha]
        for w in settings:
            w.layout, w.style = widgets.Layout(width="240px"), {"description_width": "140px"}
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="")
        self.chart = ComparisonView()
        super().__init__(
            children=[
                widgets.HBox([self.runs, widgets.VBox([self.top_k, self.top_button, self.refresh_button])]),
                widgets.HBox([*self.buttons.values(), self.stop_button]),
                widgets.HBox(settings[:3]),
                widgets.HBox(settings[3:]),
                widgets.HBox([self.progress, self.status_html]),
                self.chart,
                self.error_html,
            ],
            **kwargs,
        )
        self.add_class("wb-squeeze-view")
        self.observe(self._lock_buttons, "running")
        self.refresh()

    # -- picking -----------------------------------------------------------------------------------------
    def refresh(self, announce: bool = True) -> None:
        """List the store's runs that can be reloaded, best validation accuracy first (the picked ones stay
        picked)."""
        picked = self.runs.value
        frame = self.store.list()
        runs = [] if frame.empty else [self.store.load(int(i)) for i in frame["id"]]
        usable = [r for r in runs if has_weights(r)]
        acc = {r.id: r.final.get("val_acc") for r in usable}
        usable.sort(key=lambda r: -(acc[r.id] if acc[r.id] is not None else -1.0))
        self.runs.options = [
            (
                f"#{r.id}  {r.name}  ·  {r.kind}  ·  val acc "
                + ("-" if acc[r.id] is None else f"{acc[r.id]:.1%}"),
                r.id,
            )
            for r in usable
        ]
        self.runs.value = tuple(v for v in picked if v in acc)
        hidden = len(runs) - len(usable)
        if announce:
            self._set_status(
                f"{len(usable)} runs with weights in {self.store.path.name}"
                + (f" ({hidden} without weights not listed)" if hidden else "")
            )

    def pick(self, run_ids) -> None:
        """Select these run ids in the list."""
        self.runs.value = tuple(int(i) for i in run_ids)

    def pick_top(self, k: int) -> None:
        """Select the ``k`` best listed runs (by validation accuracy)."""
        self.runs.value = tuple(value for _, value in self.runs.options[: int(k)])

    def _lock_buttons(self, change: dict) -> None:
        for button in self.buttons.values():
            button.disabled = bool(change["new"])

    # -- the work ------------------------------------------------------------------------------------------
    def start(self, action: str = "ensemble"):
        """Run one squeeze step on the picked runs: one of ``ACTIONS``."""
        return super().start(action)

    def _prepare_run(self, action: str = "ensemble"):
        if action not in ACTIONS:
            raise ValueError(
                f"The 'action' parameter of SqueezeView.start must be one of {ACTIONS}. Got {action!r}."
            )
        picked = tuple(self.runs.value)
        if not picked:
            self._set_status(
                "no runs picked: select one or more runs in the list (or 'pick top k')", error=True
            )
            return None
        if picked != self._picked:  # another selection: reload, and start a new comparison
            try:
                members = load_members(self.store, picked)
                check_same_task(members, self.data.test)
            except (ValueError, FileNotFoundError, KeyError) as err:
                self._set_status(str(err), error=True)
                return None
            self._picked, self._members, self.comparison, self.models = picked, members, None, {}
        members = self._members
        self.progress.value = 0.0
        self._set_status(f"{action}: starting on {len(members)} run(s)…")
        return lambda stop: self._work(action, members, stop)

    def _report(self, fraction: float, text: str) -> None:
        self.progress.value = min(1.0, max(0.0, fraction))
        self._set_status(text)

    def _work(self, action: str, members: list[Member], stop: threading.Event) -> Comparison | None:
        best = max(members, key=_val_acc)
        models = {f"single best (#{best.run_id})": best.model}
        for m in members:
            if m is not best and action in ("ensemble", "distill into one"):
                models[f"#{m.run_id}"] = m.model
        models.update(self._train(action, members, best, stop))
        if stop.is_set():
            return None
        scored_before = self.comparison.correct if self.comparison is not None else {}
        todo = {k: v for k, v in models.items() if k not in scored_before or self.models.get(k) is not v}
        self.models.update(models)
        scored = compare(
            todo,
            self.data.test,
            stop_event=stop,
            progress=lambda i, n: self._report(i / n, f"{action}: scored {i}/{n} on the test split"),
        )
        if stop.is_set() and len(scored.rows) < len(todo):
            return None
        self.comparison = _merged(self.comparison, scored)
        return self.comparison

    def _train(self, action: str, members: list[Member], best: Member, stop: threading.Event) -> dict:
        if action == "ensemble":
            return {f"ensemble ({len(members)})": Ensemble([m.model for m in members])}
        run = self.store.load(best.run_id)
        config = stored_config(run, **({"epochs": self.epochs.value} if self.epochs.value else {}))
        tick = [_EpochProgress(self._report, action)]
        common: dict[str, Any] = {"config": config, "callbacks": tick, "stop_event": stop}
        common.update(store=self.store, folder=self._folder())  # recorded, with weights: they reload
        data = (best.spec, self.data.train, self.data.val)
        if action == "snapshot ensemble":
            if run.config.get("snapshots"):  # a snapshot run: its ensemble from its files
                ens = load_snapshots(self.store, run.id)
                return {f"snapshot ensemble ({len(ens)}, #{run.id})": ens}
            name = f"snapshots of #{run.id}"
            snapped = train_snapshots(*data, cycles=self.cycles.value, name=name, **common)
            return {} if snapped is None else {f"snapshot ensemble ({len(snapped[1])})": snapped[1]}
        if action in ("EMA", "SWA"):
            decay = self.decay.value or None  # 0: ema_decay_for(the run's steps)
            name = f"{action} of #{run.id}"
            out = train_averaged(*data, kind=action.lower(), decay=decay, name=name, **common)
            return {} if out is None else {action: out[1], f"{action} run (live)": out[0].model}
        teacher_name = f"ensemble ({len(members)})"
        known = self.models.get(teacher_name)
        teacher = known if known is not None else Ensemble([m.model for m in members])
        name = f"distilled from #{','.join(str(m.run_id) for m in members)}"
        knobs = {"temperature": self.temperature.value, "alpha": self.alpha.value}
        student = train_distilled(teacher, *data, name=name, **knobs, **common)
        return {} if student is None else {teacher_name: teacher, "distilled student": student.model}

    def _folder(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def _on_finished(self, result: Comparison | None) -> None:
        if result is None:
            self._set_status("cancelled: nothing new scored")
            return
        self.progress.value = 1.0
        best = next((r.name for r in result.rows if r.name.startswith("single best")), None)
        self.chart.show(result, reference=best)  # gains over the best picked run (by validation accuracy)
        parts = [f"{len(result.rows)} models on {result.rows[0].n:,} test samples"]
        ens = [r.name for r in result.rows if r.name.startswith("ensemble")]
        if best is not None and ens and "distilled student" in result.correct:
            kept = result.kept("distilled student", ens[0], best)
            parts.append(
                f"the student keeps {kept:.0%} of the ensemble's gain"
                if math.isfinite(kept)
                else "the ensemble gains nothing over the single best, so there is nothing to keep"
            )
        self.refresh(announce=False)  # the runs trained here appear in the list
        self._set_status("; ".join(parts))


def _val_acc(member: Member) -> float:
    if member.history is None:
        return -1.0
    value = member.history.last("val_acc")
    return value if math.isfinite(value) else -1.0
