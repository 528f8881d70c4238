"""Members from the run store: the k best trials of a search, any stored runs picked by id, and the
training config a stored run used (to train its recipe again with EMA, SWA or snapshots).

A search keeps each finished trial's weights (``search(..., keep_weights=True)``, the default with a
store), with the trial's ``model_spec`` and weights path in its stored config, so a trial reloads like any
member (``load_member``). ``ensemble_from_search(result, k=5)`` is the recipe's "ensemble of the search's
best trials" in one call.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .._validation import check_int
from ..train.config import TrainConfig
from ..train.runs import RunStore, StoredRun
from ..tune.searching import SearchResult, ranked
from .ensemble import Ensemble
from .members import Member, load_member

__all__ = [
    "check_same_task",
    "ensemble_from_search",
    "has_weights",
    "load_members",
    "search_members",
    "stored_config",
]


def has_weights(run: StoredRun) -> bool:
    """Whether a stored run can be reloaded (its config holds a ``model_spec`` and a weights path)."""
    return bool(run.config.get("model_spec")) and bool(run.config.get("weights"))


def _store(source: Any, who: str) -> RunStore:
    if isinstance(source, RunStore):
        return source
    if isinstance(source, SearchResult):
        if not source.storage_url.startswith("sqlite:///"):
            raise ValueError(
                f"{who}: the search {source.study_name!r} ran without a run store (store=None), so its "
                "trials kept no weights. Run search(..., store='runs.sqlite') to keep them."
            )
        return RunStore(source.storage_url.removeprefix("sqlite:///"))
    if isinstance(source, (str, Path)):
        return RunStore(source)
    raise TypeError(
        f"The 'source' parameter of {who} must be a SearchResult, a RunStore or the path of a run store. "
        f"Got {type(source).__name__} instead."
    )


def search_members(
    source: SearchResult | RunStore | str | Path,
    k: int = 5,
    *,
    study: str | None = None,
    device: str | torch.device = "cpu",
) -> list[Member]:
    """The ``k`` best completed search trials with saved weights, reloaded, best validation accuracy first.

    Parameters
    ----------
    source : SearchResult, RunStore or path
        A finished search (its trials, in its run store), or a run store: then every completed trial in
        it (of the study ``study`` when given) is ranked by its final validation accuracy.
    k : int
        How many trials; fewer come back when fewer completed with weights.
    study : str, optional
        With a store: only the trials of this study.
    """
    k = check_int(k, "k", "search_members", low=1)
    store = _store(source, "search_members")
    if isinstance(source, SearchResult):
        ids = [o.run_id for o in ranked(source.outcomes) if o.run_id is not None]
        runs = [store.load(i) for i in ids]
        where = f"the search {source.study_name!r}"
    else:
        frame = store.list()
        trials = (
            [] if frame.empty else [store.load(int(i)) for i in frame.loc[frame["kind"] == "trial", "id"]]
        )
        runs = [
            r for r in trials if r.status == "finished" and (study is None or r.config.get("study") == study)
        ]
        runs.sort(key=lambda r: (-_val_acc(r), r.id))
        where = f"{store.path}" + (f" (study {study!r})" if study is not None else "")
    kept = [r for r in runs if has_weights(r)][:k]
    if not kept:
        raise ValueError(
            f"search_members: {where} holds no completed trial with saved weights ({len(runs)} completed "
            "trials without). Trials keep their weights when the search has a store and keep_weights=True."
        )
    return [load_member(store, r.id, device=device) for r in kept]


def ensemble_from_search(
    source: SearchResult | RunStore | str | Path,
    k: int = 5,
    *,
    study: str | None = None,
    device: str | torch.device = "cpu",
) -> Ensemble:
    """The ``Ensemble`` of the ``k`` best trials of a search (see ``search_members``)."""
    return Ensemble([m.model for m in search_members(source, k, study=study, device=device)])


def _val_acc(run: StoredRun) -> float:
    value = run.final.get("val_acc")
    return float(value) if value is not None else -math.inf


def load_members(
    store: RunStore | str | Path, run_ids: Sequence[int], *, device: str = "cpu"
) -> list[Member]:
    """Reload the runs ``run_ids`` (in that order) and check they solve the same task."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    if not run_ids:
        raise ValueError(
            "The 'run_ids' parameter of load_members must name at least one stored run. Got [] instead: "
            "pick runs from the store first."
        )
    members = [load_member(store, int(i), device=device) for i in run_ids]
    check_same_task(members)
    return members


def check_same_task(members: Sequence[Member], data: Any = None) -> None:
    """Raise ``ValueError`` unless every member takes the same input shape and predicts the same number of
    classes (and, given ``data``, those of ``data``): their probabilities could not be averaged."""
    shapes = {(tuple(m.spec.input_shape), m.spec.num_classes) for m in members}
    if data is not None:
        shapes.add((tuple(data.input_shape), int(data.num_classes)))
    if len(shapes) > 1:
        which = ", ".join(
            f"run {m.run_id}: input {tuple(m.spec.input_shape)}, {m.spec.num_classes} classes"
            for m in members
        )
        there = (
            f"; the data: input {tuple(data.input_shape)}, {data.num_classes} classes"
            if data is not None
            else ""
        )
        raise ValueError(
            f"These runs were trained on different data or classes ({which}{there}). Pick runs trained on "
            "the same data as each other and as the data given."
        )


def stored_config(run: StoredRun, **overrides: Any) -> TrainConfig:
    """The ``TrainConfig`` a stored run trained with (the fields its config records), with ``overrides``."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    settings = {k: v for k, v in run.config.items() if k in names}
    return TrainConfig(**{**settings, **overrides})
