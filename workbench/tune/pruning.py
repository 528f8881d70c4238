"""Median pruning of a search's trials, asked of Optuna's own pruner from inside a worker process (see
``_MedianPruning``), and Optuna's log kept quiet while a search creates and tells studies."""

from __future__ import annotations

import math
from contextlib import contextmanager

from ..train.callbacks import Callback, FitState, StopTraining

__all__: list[str] = []


def _pruner(on: bool):
    """The search's pruner: median pruning on the validation accuracy after each epoch, or none."""
    import optuna

    return (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        if on
        else optuna.pruners.NopPruner()
    )


@contextmanager
def _quiet_optuna():
    """Optuna's log at warnings only, for the duration (it logs every study created and every trial told)."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class _MedianPruning(Callback):
    """Prunes the trial after an epoch whose validation accuracy falls below the median of the study's
    completed trials at that epoch.

    The trial itself belongs to the process that asked for it (Optuna's ask/tell); a worker cannot open it
    through Optuna's public API. So the worker asks Optuna's own ``Trial.should_prune`` on a stand-in: a trial
    of an in-memory study holding copies of the real study's completed trials (re-read after every epoch, as
    ``should_prune`` on the real trial would) with the same pruner. The process that owns the trial reports
    the epochs' accuracies to it when the trial ends, so later trials are judged against it.
    """

    def __init__(self, storage_url: str, study_name: str | None) -> None:
        import optuna

        self.study = optuna.load_study(study_name=study_name, storage=storage_url)
        with _quiet_optuna():  # (it logs each new study)
            self.mirror = optuna.create_study(direction="maximize", pruner=_pruner(True))
        self.trial = self.mirror.ask()
        self.copied: set[int] = set()

    def on_epoch_end(self, state: FitState) -> None:
        import optuna

        acc = state.history.last("val_acc")
        if not math.isfinite(acc):
            return
        self.trial.report(acc, state.epoch)
        for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.number not in self.copied:
                self.mirror.add_trial(t)
                self.copied.add(t.number)
        if self.trial.should_prune():
            raise StopTraining(f"pruned after epoch {state.epoch} (val acc {acc:.1%})")
