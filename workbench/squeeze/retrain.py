"""The squeeze steps that train: one recipe (a model spec and a ``TrainConfig``, usually a stored run's) run
again with EMA or SWA beside it, with cyclic LR and snapshots, or as a student distilled from a teacher.

Each goes through ``fit`` (via ``train_members`` or ``distill``), honours ``stop_event`` (returns None
when stopped) and, given a store and a folder, is recorded as a run with its weights, so it reloads with
``load_member``. A snapshot run also records its snapshot files, so ``load_snapshots`` rebuilds its
ensemble later without training.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .._validation import check_choice, check_int, check_real
from ..data.dataset import ImageDataset
from ..train.callbacks import Callback
from ..train.config import TrainConfig
from ..train.runs import RunStore
from .averaging import EMA, SWA, WeightAveraging, has_batchnorm
from .distill import distill
from .ensemble import Ensemble, SnapshotEnsemble
from .members import Member, ModelSpec, load_member, save_member, train_members

__all__ = ["ema_decay_for", "load_snapshots", "train_averaged", "train_distilled", "train_snapshots"]


def _one(
    spec: ModelSpec,
    train: ImageDataset,
    val: ImageDataset | None,
    config: TrainConfig,
    extra: Sequence[Callback],
    callbacks: Sequence[Callback],
    store: RunStore | str | Path | None,
    folder: str | Path | None,
    name: str,
    stop_event: threading.Event | None,
    record: dict | None = None,
) -> Member | None:
    members = train_members(
        spec,
        train,
        val,
        seeds=(config.seed,),
        config=config,
        store=store,
        folder=folder,
        name=name,
        callbacks=lambda _: [*extra, *callbacks],
        stop_event=stop_event,
        extra_config=record,
    )
    return members[0] if members else None


def ema_decay_for(steps: int) -> float:
    """An EMA decay that averages over about the last tenth of a run of ``steps`` optimizer steps
    (``1 - 10 / steps``), kept in [0.9, 0.999]: 0.99 on a short run would still weigh the first, untrained
    weights (after 20 steps, 0.99**20 = 82 % of the average is the initial copy)."""
    steps = check_int(steps, "steps", "ema_decay_for", low=1)
    return min(0.999, max(0.9, 1.0 - 10.0 / steps))


def train_averaged(
    spec: ModelSpec,
    train: ImageDataset,
    val: ImageDataset | None = None,
    *,
    kind: str = "ema",
    config: TrainConfig | None = None,
    decay: float | None = None,
    store: RunStore | str | Path | None = None,
    folder: str | Path | None = None,
    name: str | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
) -> tuple[Member, nn.Module] | None:
    """Train ``spec`` with ``config`` and an ``EMA`` or an ``SWA`` (from the middle epoch on) beside it;
    returns the live member and the averaged network, or None when stopped.

    ``decay`` (EMA) defaults to ``ema_decay_for(steps)``: an average over about the last tenth of the run.
    """
    kind = check_choice(kind, "kind", "train_averaged", ("ema", "swa"))
    config = config or TrainConfig()
    averager: WeightAveraging
    if kind == "ema":
        if decay is None:
            steps = config.epochs * -(-len(train) // config.batch_size)  # batches per epoch, rounded up
            decay = ema_decay_for(min(steps, config.max_steps or steps))
        averager = EMA(check_real(decay, "decay", "train_averaged", low=0.0, high=0.999999), val=val)
    else:
        bn = train if has_batchnorm(spec.build()) else None
        averager = SWA(start_epoch=max(1, (config.epochs + 1) // 2), val=val, bn_data=bn)
    member = _one(
        spec, train, val, config, [averager], callbacks, store, folder, name or kind.upper(), stop_event
    )
    if member is None:
        return None
    return member, averager.averaged_model().eval()


def train_snapshots(
    spec: ModelSpec,
    train: ImageDataset,
    val: ImageDataset | None = None,
    *,
    config: TrainConfig | None = None,
    cycles: int = 3,
    store: RunStore | str | Path | None = None,
    folder: str | Path | None = None,
    name: str = "snapshots",
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
) -> tuple[Member, Ensemble] | None:
    """One run of about ``config.epochs`` epochs cut into ``cycles`` cosine cycles (warm restarts), a
    snapshot at the end of each: returns the run's member and the ``Ensemble`` of its snapshots (None when
    stopped). With a folder the snapshots are written to ``<folder>/<name>-<time>/`` and recorded."""
    config = config or TrainConfig()
    cycles = check_int(cycles, "cycles", "train_snapshots", low=1, high=100)
    cycle_epochs = max(1, round(config.epochs / cycles))
    config = config.replace(epochs=cycles * cycle_epochs, schedule="constant", warmup_steps=0)
    where, record = None, None
    if folder is not None:
        where = Path(folder) / f"{name}-{time.time_ns()}"
        where.mkdir(parents=True)
        record = {"snapshots": [str(where / f"snapshot-{i + 1}.pt") for i in range(cycles)]}
    snaps = SnapshotEnsemble(cycle_epochs, folder=where)
    member = _one(spec, train, val, config, [snaps], callbacks, store, folder, name, stop_event, record)
    if member is None or not snaps.snapshots_:
        return None
    return member, snaps.ensemble()


def load_snapshots(store: RunStore | str | Path, run_id: int, *, device: str = "cpu") -> Ensemble:
    """The ``Ensemble`` of a stored snapshot run's snapshots (``torch.load(weights_only=True)``)."""
    member = load_member(store, run_id, device=device)
    store = store if isinstance(store, RunStore) else RunStore(store)
    paths = store.load(run_id).config.get("snapshots") or []
    if not paths:
        raise ValueError(
            f"Run {run_id} in {store.path} recorded no snapshots: only runs of train_snapshots (with a "
            "folder) have them. Train one with train_snapshots(...)."
        )
    models = []
    for path in paths:
        model = member.spec.build()
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        models.append(model.to(device).eval())
    return Ensemble(models)


def train_distilled(
    teacher: nn.Module,
    spec: ModelSpec,
    train: ImageDataset,
    val: ImageDataset | None = None,
    *,
    config: TrainConfig | None = None,
    temperature: float = 4.0,
    alpha: float = 0.9,
    store: RunStore | str | Path | None = None,
    folder: str | Path | None = None,
    name: str = "distilled",
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
) -> Member | None:
    """A student ``spec.build(config.seed)`` distilled from ``teacher`` (``distill``); None when stopped."""
    config = config or TrainConfig()
    if (store is None) != (folder is None):
        raise ValueError(
            "train_distilled stores the student as a run plus a weights file: pass both 'store' and "
            f"'folder', or neither. Got store={store!r}, folder={folder!r}."
        )
    student, cbs, path, recorder = spec.build(config.seed), list(callbacks), None, None
    if store is not None and folder is not None:
        runs = store if isinstance(store, RunStore) else RunStore(store)
        path = str(Path(folder) / f"{name}-seed{config.seed}-{time.time_ns()}.pt")
        record = {
            **config.to_dict(),
            "model": spec.kind,
            **spec.knobs,
            "model_spec": spec.to_dict(),
            "weights": path,
            "temperature": temperature,
            "alpha": alpha,
        }
        recorder = runs.recorder(f"{name} seed {config.seed}", record, seed=config.seed)
        cbs.append(recorder)
    stop = stop_event if stop_event is not None else threading.Event()
    result = distill(
        teacher,
        student,
        train,
        val,
        temperature=temperature,
        alpha=alpha,
        config=config,
        callbacks=cbs,
        stop_event=stop,
    )
    if result.history.status == "stopped" and stop.is_set():
        return None
    if path is not None:
        save_member(student, path)
    run_id = recorder.run_id if recorder is not None else None
    return Member(student.eval(), spec, config.seed, result.history, run_id, path)
