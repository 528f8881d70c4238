"""One trial of a search: what it trains (``ModelSpec``, ``TrialTask``), how (``run_trial``), what it gives
back (``TrialOutcome``) and how that outcome is kept in the Optuna study and read back. Tasks and outcomes
are picklable: tasks travel to worker processes and Dask workers, outcomes come back. The search itself
(asking Optuna for parameters, telling it the results) is in
``searching``; where a trial runs is in ``executors``.
"""

from __future__ import annotations

import math
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..data.dataset import ImageDataset
from .pruning import _MedianPruning

if TYPE_CHECKING:
    from ..train.runs import RunStore

__all__ = ["ModelSpec", "TrialOutcome", "TrialTask", "run_trial"]


@dataclass(frozen=True)
class ModelSpec:
    """Which baseline each trial builds (picklable, so it can travel to worker processes)."""

    kind: str = "mlp"
    width: int = 64
    depth: int = 2
    seed: int = 0

    def knobs(self) -> dict:
        """The capacity knobs ``build_model`` gets for this kind."""
        if self.kind == "linear":
            return {}
        if self.kind == "mlp":
            return {"width": self.width, "depth": self.depth}
        return {"channels": self.width, "depth": self.depth}

    def build(self, data: ImageDataset):
        from ..models import build_model

        return build_model(self.kind, data, seed=self.seed, **self.knobs())

    def stored_spec(self, data: ImageDataset) -> dict:
        """What rebuilds the network without the data (``workbench.squeeze.ModelSpec``'s dict form)."""
        return {
            "kind": self.kind,
            "input_shape": [int(s) for s in data.input_shape],
            "num_classes": int(data.num_classes),
            "knobs": self.knobs(),
        }


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs to train one trial (picklable).

    ``storage_url`` and ``study_name`` name the Optuna study, which a worker reads when ``pruning`` is on.
    """

    number: int
    params: dict
    epochs: int
    batch_size: int
    seed: int
    model: ModelSpec
    optimizer: str = "adam"
    storage_url: str | None = None
    study_name: str | None = None
    pruning: bool = False
    threads: int = 1
    weights_dir: str | None = None  # a completed (or pruned) trial's weights go to <weights_dir>/trial-<n>.pt


@dataclass
class TrialOutcome:
    """What one trial gave: its state (``"complete"``, ``"fail"`` or ``"pruned"``), final validation accuracy
    (``value``) and loss, the reason it ended, its curves (per step and per epoch) and where it ran."""

    number: int
    params: dict
    status: str  # "complete" | "fail" | "pruned"
    value: float | None  # final validation accuracy
    val_loss: float | None
    reason: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)  # per epoch: {"epoch", "step", metric...}
    seconds: float = 0.0
    run_id: int | None = None
    worker: str = ""
    # what retrains or reloads the trial (epochs, batch_size, optimizer, seed, model knobs, "model_spec" and
    # the "weights" file, None when not kept); stored with the run
    config: dict = field(default_factory=dict)
    line: str = ""  # the lab's run line for this trial ("wb1:..."); "" when the lab cannot express it
    line_note: str = ""  # why there is no line


def run_trial(task: TrialTask, train: ImageDataset, val: ImageDataset) -> TrialOutcome:
    """Train one trial through the one loop (runs in a worker process, a Dask worker or in-process).

    Parameters
    ----------
    task : TrialTask
        The parameters and settings of the trial.
    train, val : ImageDataset
        The data; the outcome's ``value`` is the accuracy on ``val`` after the last epoch.

    Returns
    -------
    TrialOutcome
        Never raises for a failing trial: an error or a diverging loss is an outcome with status ``"fail"``
        and its reason.
    """
    from ..train.config import TrainConfig
    from ..train.loop import fit
    from .trial_line import trial_line

    t0 = time.perf_counter()
    outcome = TrialOutcome(
        task.number, dict(task.params), "fail", None, None, "", worker=f"pid {os.getpid()}"
    )
    try:
        outcome.line = trial_line(task, len(train))
    except ValueError as err:
        outcome.line_note = str(err)
    try:
        callbacks = (
            [_MedianPruning(task.storage_url, task.study_name)] if task.pruning and task.storage_url else []
        )
        model = task.model.build(train)
        config = TrainConfig(
            epochs=task.epochs,
            batch_size=task.batch_size,
            lr=task.params["lr"],
            weight_decay=task.params["weight_decay"],
            seed=task.seed,
            optimizer=task.optimizer,
        )
        outcome.config = {
            "epochs": task.epochs,
            "batch_size": task.batch_size,
            "optimizer": task.optimizer,
            "seed": task.seed,
            "model": task.model.kind,
            **task.model.knobs(),
            "model_spec": task.model.stored_spec(train),
            "weights": None,
        }
        history = fit(model, train, val, config=config, callbacks=callbacks)
        snap = history.snapshot()
        outcome.steps, outcome.losses, outcome.lrs = snap.step.tolist(), snap.loss.tolist(), snap.lr.tolist()
        outcome.epochs = [
            {"epoch": int(e), "step": int(s), **{k: float(v[i]) for k, v in snap.metrics.items()}}
            for i, (e, s) in enumerate(zip(snap.epoch, snap.epoch_step))
        ]
        acc, vloss = history.last("val_acc"), history.last("val_loss")
        if history.status == "finished" and math.isfinite(acc):
            outcome.status, outcome.value, outcome.val_loss = "complete", float(acc), float(vloss)
            outcome.reason = history.message
        elif history.status == "stopped" and "pruned" in history.message:
            outcome.status, outcome.reason = "pruned", history.message
            outcome.value = float(acc) if math.isfinite(acc) else None
        else:
            outcome.reason = history.message or history.status
        if task.weights_dir is not None and outcome.status in ("complete", "pruned"):
            try:
                outcome.config["weights"] = _save_weights(model, task)
            except OSError as err:  # the trial's result stands; only its reload is lost
                outcome.reason = f"{outcome.reason} (weights not saved: {err})".strip()
    except Exception as err:  # noqa: BLE001 (recorded as a failed trial; the search goes on)
        outcome.reason = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _save_weights(model, task: TrialTask) -> str:
    """``torch.save`` the trial's state dict (on the CPU); ``load_member`` reads it with weights_only=True."""
    import torch

    path = os.path.join(task.weights_dir or ".", f"trial-{task.number}.pt")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
    return path


def _weights_dir(store: RunStore | None, study_name: str) -> str | None:
    """``<store stem>-weights/<study name>/`` beside the store's file, made now (None without a store)."""
    if store is None:
        return None
    folder = store.path.parent / f"{store.path.stem}-weights" / re.sub(r"[^\w.-]+", "_", study_name)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder.resolve())


# -- a trial in the study ---------------------------------------------------------------------------------
def _outcome_from_trial(t, interrupted: bool = False) -> TrialOutcome:
    import optuna

    state = {optuna.trial.TrialState.COMPLETE: "complete", optuna.trial.TrialState.PRUNED: "pruned"}.get(
        t.state, "fail"
    )
    reason = "interrupted: the process running it stopped" if interrupted else t.user_attrs.get("reason", "")
    return TrialOutcome(
        t.number,
        dict(t.params),
        state,
        t.value if state == "complete" else None,
        t.user_attrs.get("val_loss"),
        reason,
        seconds=t.user_attrs.get("seconds", 0.0),
        run_id=t.user_attrs.get("run_id"),
        line=t.user_attrs.get("line", ""),
        line_note=t.user_attrs.get("line_note", ""),
    )


_INTERRUPTED = "interrupted_trials"  # study attribute: trials failed because the process running them stopped


def _fail_interrupted(study) -> None:
    """Mark failed the trials a process that stopped left running, and note them on the study.

    A trial belongs to the process that asked for it: another can only tell Optuna it ended (by number),
    not set its attributes, so the reason goes on the study (an attribute the dashboard shows too).
    """
    import optuna

    stale = [t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
    for number in stale:
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    if stale:
        study.set_user_attr(_INTERRUPTED, sorted(set(study.user_attrs.get(_INTERRUPTED, [])) | set(stale)))


def _record(
    study, trial, outcome: TrialOutcome, store: RunStore | None, study_name: str | None, pruning: bool
) -> None:
    """Save the trial's curves in the store, then tell Optuna how it ended (with its per-epoch accuracies
    when pruning, which later trials are judged against)."""
    import optuna

    if store is not None and outcome.steps:
        outcome.run_id = store.save(
            f"{study_name} #{outcome.number}",
            {**outcome.config, **outcome.params, "study": study_name, "trial": outcome.number},
            outcome.steps,
            outcome.losses,
            outcome.lrs,
            outcome.epochs,
            status={"complete": "finished", "pruned": "stopped"}.get(outcome.status, "failed"),
            message=outcome.reason.splitlines()[0] if outcome.reason else "",
            kind="trial",
            seed=outcome.config.get("seed"),
        )
    trial.set_user_attr("reason", outcome.reason.splitlines()[0] if outcome.reason else "")
    trial.set_user_attr("seconds", outcome.seconds)
    if outcome.val_loss is not None:
        trial.set_user_attr("val_loss", outcome.val_loss)
    if outcome.run_id is not None:
        trial.set_user_attr("run_id", outcome.run_id)
    if outcome.line or outcome.line_note:
        trial.set_user_attr("line" if outcome.line else "line_note", outcome.line or outcome.line_note)
    if pruning:
        for e in outcome.epochs:
            if math.isfinite(e.get("val_acc", math.nan)):
                trial.report(e["val_acc"], e["epoch"])
    state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}.get(
        outcome.status, optuna.trial.TrialState.FAIL
    )
    study.tell(trial, outcome.value if state == optuna.trial.TrialState.COMPLETE else None, state=state)
