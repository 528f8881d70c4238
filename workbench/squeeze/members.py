"""Ensemble members that outlive the kernel: trained through ``fit``, recorded in the run store with
what rebuilds them (the model's spec, the config, the seed) and the path of their weights.

Weights are written with ``torch.save(model.state_dict())`` and read back with
``torch.load(weights_only=True)`` (tensors only: loading a file never runs code). ``load_member(store,
run_id)`` rebuilds the architecture from the stored spec and loads the weights: the same predictions,
bit for bit, on the same device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from .._validation import check_choice, check_int
from ..models import MODEL_KINDS, build_model
from ..train.callbacks import Callback
from ..train.config import TrainConfig
from ..train.history import History
from ..train.loop import fit
from ..train.runs import RunStore

__all__ = ["Member", "ModelSpec", "load_member", "save_member", "train_members"]


@dataclass(frozen=True)
class ModelSpec:
    """What ``build_model`` needs to rebuild a network: its kind, the data's shape and classes, the knobs."""

    kind: str
    input_shape: tuple[int, ...]
    num_classes: int
    knobs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", "ModelSpec", MODEL_KINDS)
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "knobs", dict(self.knobs))

    @classmethod
    def for_data(cls, kind: str, data: Any, **knobs: Any) -> ModelSpec:
        """The spec of ``build_model(kind, data, **knobs)``."""
        return cls(kind, tuple(data.input_shape), int(data.num_classes), knobs)

    def build(self, seed: int | None = None) -> nn.Module:
        return build_model(self.kind, (self.input_shape, self.num_classes), seed=seed, **self.knobs)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "input_shape": list(self.input_shape)}


@dataclass
class Member:
    """One trained network and where it is stored (``run_id``/``path`` are None when not stored)."""

    model: nn.Module
    spec: ModelSpec
    seed: int
    history: History | None = None
    run_id: int | None = None
    path: str | None = None


def save_member(model: nn.Module, path: str | Path) -> str:
    """``torch.save`` the state dict (on the CPU) to ``path``; returns the path as a string."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save_member: the folder {path.parent} does not exist; create it first.")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
    return str(path)


def load_member(store: RunStore | str | Path, run_id: int, *, device: str | torch.device = "cpu") -> Member:
    """Rebuild a stored member: its spec from the run's config, then its weights (``weights_only=True``)."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    run = store.load(run_id)
    spec_dict, path = run.config.get("model_spec"), run.config.get("weights")
    if not spec_dict or not path:
        raise ValueError(
            f"Run {run_id} ({run.name!r}) in {store.path} has no stored weights (its config lacks "
            "'model_spec' and 'weights'); only runs trained by train_members (or recorded like them) reload."
        )
    spec = ModelSpec(
        spec_dict["kind"], spec_dict["input_shape"], spec_dict["num_classes"], spec_dict["knobs"]
    )
    model = spec.build()
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    seed = run.seed if run.seed is not None else int(run.config.get("seed", 0))
    return Member(model.to(device).eval(), spec, seed, run.history, run_id, str(path))


def train_members(
    spec: ModelSpec,
    train: Dataset,
    val: Dataset | None = None,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    config: TrainConfig | None = None,
    store: RunStore | str | Path | None = None,
    folder: str | Path | None = None,
    name: str = "member",
    callbacks: Callable[[int], Sequence[Callback]] | None = None,
    stop_event: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> list[Member]:
    """Train one network per seed through ``fit`` (an ensemble of inits); optionally store each.

    Parameters
    ----------
    spec : ModelSpec
        The architecture; each member is ``spec.build(seed)``, trained with ``config.replace(seed=seed)``.
    seeds : sequence of int
        One member per seed: the seed sets the init, the batch order and the augmentation draws.
    store, folder : optional
        Both or neither: record each run in ``store`` (named "<name> seed <seed>") with its spec,
        config, seed and the path of its weights, written to ``folder/<name>-seed<seed>-<time>.pt``.
    callbacks : callable, optional
        ``callbacks(seed)`` -> the callbacks of that member's run (e.g. a fresh ``EMA``).
    stop_event : threading.Event, optional
        Stops the current run; members already trained are returned (the stopped one is left out).
    extra_config : mapping, optional
        More fields for each stored run's config (e.g. where a ``SnapshotEnsemble`` writes its snapshots).
    """
    config = config or TrainConfig()
    seeds = [check_int(s, "seeds", "train_members", low=0) for s in seeds]
    if not seeds:
        raise ValueError(
            "The 'seeds' parameter of train_members must list at least one seed. Got [] instead."
        )
    if (store is None) != (folder is None):
        raise ValueError(
            "train_members stores a member as a run plus a weights file: pass both 'store' and 'folder', or "
            f"neither. Got store={store!r}, folder={folder!r}."
        )
    runs = None if store is None else store if isinstance(store, RunStore) else RunStore(store)
    folder = Path(folder) if folder is not None else None
    if folder is not None and not folder.is_dir():
        raise FileNotFoundError(
            f"The 'folder' parameter of train_members must be an existing folder: {folder}."
        )
    stop = stop_event if stop_event is not None else threading.Event()
    members: list[Member] = []
    for i, seed in enumerate(seeds):
        model, cfg = spec.build(seed), config.replace(seed=seed)
        cbs = list(callbacks(seed)) if callbacks is not None else []
        path = None if folder is None else str(folder / f"{name}-seed{seed}-{time.time_ns()}.pt")
        recorder = None
        if runs is not None:
            record = {
                **cfg.to_dict(),
                "model": spec.kind,
                **spec.knobs,
                "model_spec": spec.to_dict(),
                "weights": path,
                **(extra_config or {}),
            }
            recorder = runs.recorder(f"{name} seed {seed}", record, seed=seed)
            cbs.append(recorder)
        history = fit(model, train, val, config=cfg, callbacks=cbs, stop_event=stop)
        if history.status == "stopped" and stop.is_set():
            break
        if path is not None:
            save_member(model, path)
        run_id = recorder.run_id if recorder is not None else None
        members.append(Member(model, spec, seed, history, run_id, path))
        if progress is not None:
            progress(i + 1, len(seeds))
    return members
