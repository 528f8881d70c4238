"""Ensembles: average the members' probabilities; snapshot ensembles from one run with restarts.

``Ensemble(models)`` is an ``nn.Module`` whose output is the log of the mean of the members' softmax
probabilities, so everything that takes logits works on it unchanged: ``argmax`` is the ensemble's
prediction and ``cross_entropy(ensemble(x), y)`` its loss (``log_softmax`` of log-probabilities that
already sum to one changes nothing), hence ``evaluate(ensemble, test)`` is right as it is.

``SnapshotEnsemble`` is a ``fit`` callback: it drives the LR with ``CosineAnnealingWarmRestarts`` (one
cycle every ``cycle_epochs`` epochs, stepped every optimizer step) and keeps a copy of the weights at the
end of each cycle, when the LR is at its lowest. One run's cost, several members (Huang et al. 2017).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from .._validation import check_int, check_real
from ..train.callbacks import Callback, FitState
from .averaging import _check_schedule

__all__ = ["Ensemble", "SnapshotEnsemble", "frozen_copy"]


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with gradients off: a member that will only be evaluated."""
    out = copy.deepcopy(model).eval()
    for p in out.parameters():
        p.requires_grad_(False)
    return out


class Ensemble(nn.Module):
    """Members whose softmax probabilities are averaged (equal weights).

    ``forward`` returns ``log(mean_m softmax(member_m(x)))``, shape ``(B, classes)``;
    ``predict_proba`` returns the mean probabilities themselves.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(m, nn.Module) for m in models):
            raise ValueError(
                "The 'models' parameter of Ensemble must be a non-empty sequence of nn.Module. Got "
                f"{[type(m).__name__ for m in models]} instead."
            )
        self.members = nn.ModuleList(models)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logp = torch.stack([m(x).log_softmax(dim=-1) for m in self.members])  # (M, B, classes)
        return torch.logsumexp(logp, dim=0) - math.log(len(self.members))  # log of the mean probability

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the members' probabilities, ``(B, classes)``."""
        return self.forward(x).exp()


class SnapshotEnsemble(Callback):
    """Cosine LR with warm restarts during ``fit``; a copy of the weights at the end of every cycle.

    Parameters
    ----------
    cycle_epochs : int
        Epochs per cycle. Train for ``cycles * cycle_epochs`` epochs to get ``cycles`` snapshots.
    min_lr : float
        The LR at the end of each cycle (the config's ``lr`` is the peak at each restart).
    folder : str or Path, optional
        Also write each snapshot there (``snapshot-<cycle>.pt``, ``torch.save`` of the state dict).

    After the run, ``snapshots_`` holds the state dicts (on the CPU), ``paths_`` the files written, and
    ``ensemble()`` builds the ``Ensemble`` of the snapshots (``last`` keeps only the last few).
    """

    def __init__(self, cycle_epochs: int, *, min_lr: float = 0.0, folder: str | Path | None = None) -> None:
        self.cycle_epochs = check_int(cycle_epochs, "cycle_epochs", "SnapshotEnsemble", low=1)
        self.min_lr = check_real(min_lr, "min_lr", "SnapshotEnsemble", low=0.0)
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None and not self.folder.is_dir():
            raise FileNotFoundError(
                f"The 'folder' parameter of SnapshotEnsemble must be an existing folder. Got {self.folder} "
                "instead; create it first."
            )
        self.snapshots_: list[dict[str, torch.Tensor]] = []
        self.paths_: list[str] = []
        self.scheduler_: CosineAnnealingWarmRestarts | None = None
        self._model: nn.Module | None = None

    def on_fit_start(self, state: FitState) -> None:
        _check_schedule(state, "SnapshotEnsemble")
        steps = state.history.steps_per_epoch or 1
        self.scheduler_ = CosineAnnealingWarmRestarts(
            state.optimizer, T_0=self.cycle_epochs * steps, eta_min=self.min_lr
        )
        self.snapshots_, self.paths_, self._model = [], [], state.model

    def on_step_end(self, state: FitState) -> None:
        if self.scheduler_ is not None:
            self.scheduler_.step()

    def on_epoch_end(self, state: FitState) -> None:
        if state.epoch % self.cycle_epochs:
            return
        weights = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}
        self.snapshots_.append(weights)
        if self.folder is not None:
            path = self.folder / f"snapshot-{len(self.snapshots_)}.pt"
            torch.save(weights, path)
            self.paths_.append(str(path))

    def members(self, last: int | None = None) -> list[nn.Module]:
        """One frozen model per snapshot (the last ``last`` ones when given), on the CPU."""
        if self._model is None or not self.snapshots_:
            raise RuntimeError(
                "SnapshotEnsemble has no snapshots yet: train with it for at least cycle_epochs="
                f"{self.cycle_epochs} epochs (fit(..., callbacks=[snapshots]))."
            )
        chosen = (
            self.snapshots_ if last is None else self.snapshots_[-check_int(last, "last", "members", low=1) :]
        )
        template = frozen_copy(self._model).cpu()
        out = []
        for weights in chosen:
            member = copy.deepcopy(template)
            member.load_state_dict(weights)
            out.append(member)
        return out

    def ensemble(self, last: int | None = None) -> Ensemble:
        """The ``Ensemble`` of the snapshots (the last ``last`` ones when given)."""
        return Ensemble(self.members(last))
