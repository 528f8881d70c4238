"""A search trial as one lab run line (``wb1:...``): paste it into the overfit lab and the same data and seed
give the trial's curve again.

A trial trains ``ModelSpec`` on the whole training split with the trial's LR and weight decay and the search's
optimizer, batch size, epochs and seed, through the same ``fit`` the lab uses. The lab expresses that as
``LabSettings`` with ``subset`` = the training split's size (the lab's subset of all samples is the split in
its own order), ``init="default"`` (the trial does not re-initialise), no dropout, a constant schedule, no
warmup and no early stopping. What the lab cannot express is refused with a message saying what, never
silently dropped: a model seed different from the training seed (the lab builds and trains from one seed),
a searched parameter other than ``lr`` / ``weight_decay``, or a value outside the lab's ranges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..lab.settings import LabSettings
    from .trial import TrialOutcome, TrialTask

__all__ = ["trial_line", "trial_settings"]

_SEARCHED = ("lr", "weight_decay")


def trial_settings(task: TrialTask, n_train: int) -> LabSettings:
    """The lab's settings that train what trial ``task`` trains on a training split of ``n_train`` samples.

    Raises
    ------
    ValueError
        When the trial has a setting the lab cannot express; the message names it and what to do.
    """
    # imported here: the lab uses the squeeze package (EMA), which builds ensembles from searches (tune)
    from ..lab.settings import LabSettings

    spec = task.model
    if spec.seed != task.seed:
        raise ValueError(
            f"Trial #{task.number} built its model from ModelSpec seed {spec.seed} and trained with seed "
            f"{task.seed}; the lab builds and trains from one seed, so no run line reproduces "
            f"it. Search with ModelSpec(seed={task.seed}) (or seed={spec.seed}) to get trial lines."
        )
    extra = sorted(set(task.params) - set(_SEARCHED))
    if extra:
        raise ValueError(
            f"Trial #{task.number} searched {', '.join(map(repr, extra))}, which the lab has no setting for; "
            "its run line would drop them, so it has none."
        )
    try:
        return LabSettings(
            model=spec.kind,
            width=spec.width,
            depth=spec.depth,
            optimizer=task.optimizer,
            lr=float(task.params["lr"]),
            weight_decay=float(task.params["weight_decay"]),
            batch_size=task.batch_size,
            seed=task.seed,
            subset=n_train,
            epochs=task.epochs,
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"Trial #{task.number} has a setting the lab cannot take: {err}") from None


def trial_line(trial: TrialTask | TrialOutcome, n_train: int | None = None) -> str:
    """Trial ``trial`` as one run line (``wb1:model=...;seed=...``) for the overfit lab.

    Parameters
    ----------
    trial : TrialTask or TrialOutcome
        A task (then ``n_train``, the training split's size, is needed), or a finished trial's outcome,
        whose ``line`` was written when it ran (and is kept in the study).
    n_train : int, optional
        With a task: the number of training samples the trial trains on.

    Raises
    ------
    ValueError
        When the lab cannot express the trial (the message says why), or an outcome carries no line.
    """
    from .trial import TrialOutcome, TrialTask

    if isinstance(trial, TrialOutcome):
        if trial.line:
            return trial.line
        raise ValueError(
            trial.line_note
            or f"Trial #{trial.number} has no run line (it ran before trials recorded one); "
            "run the search again."
        )
    if not isinstance(trial, TrialTask):
        raise TypeError(
            f"The 'trial' parameter of trial_line must be a TrialTask or a TrialOutcome. Got "
            f"{type(trial).__name__} instead."
        )
    if not isinstance(n_train, int) or isinstance(n_train, bool) or n_train < 1:
        raise ValueError(
            "The 'n_train' parameter of trial_line must be the training split's size (an int >= 1) for a "
            f"TrialTask. Got {n_train!r} instead."
        )
    return trial_settings(trial, n_train).to_line()
