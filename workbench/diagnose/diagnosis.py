"""``diagnose``: read a run's curves (and its probes) back in words, with the evidence and what to try.

Rules in the spirit of AUTOTRAINER (ICSE 2021) and DeepDiagnosis (ICSE 2022) — both detect these
symptoms from the same signals by thresholds — written here because neither is a library one can
call on a torch run. Each rule is a small function of the history (or the probes) that returns a
``Finding`` or nothing; ``healthy`` only when no rule fires.

How a curve is read: the per-step training loss is cut into ``SEGMENTS`` consecutive segments and
each is summarised by its median (robust to single noisy batches); the spread is the median
absolute deviation of the steps around their segment's median. Every threshold is a named constant
below with where its number comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..train.history import History, HistorySnapshot
from .finding import Diagnosis, Finding
from .layer_rules import probe_findings
from .probes import Probes

__all__ = ["KINDS", "Diagnosis", "Finding", "diagnose"]

#: The public names of what ``diagnose`` can find.
KINDS = (
    "healthy",
    "diverged",
    "not_learning",
    "lr_too_low",
    "lr_too_high",
    "plateau",
    "decayed_too_early",
    "overfitting",
    "underfitting",
    "noisy",
    "dead_units",
    "saturated_units",
    "vanishing_gradients",
    "exploding_gradients",
    "update_ratio_high",
    "update_ratio_low",
)

#: The training curve is read in this many consecutive segments (medians): 10 gives a shape (early
#: drop, bend, tail) without reacting to single batches.
SEGMENTS = 10
#: Fewer steps than this and the curve's shape says nothing yet.
MIN_STEPS = 30
#: "Not learning": the last segment is still >= 95 % of the first (the lab's verdict used the same).
NOT_LEARNING = 0.95
#: "Still high": the last segment keeps more than this share of the first segment's loss.
STILL_HIGH = 0.3
#: Near-linear (slow) decline: the second half of the run still drops at least this share of what the
#: first half dropped. A well-set LR bends the curve early (measured on digits: Adam 1e-3 drops
#: ~5-10x less in the second half); SGD at 1e-5 drops about as much in both halves.
LINEAR_DECLINE = 0.6
#: Flat: the last 30 % of the run changed by less than this share of its level.
FLAT = 0.02
#: Fast drop then flat or rising: the first segment-to-segment drop takes more than this share of the
#: whole decline, and the curve is flat or rising afterwards at more than FLAT_LEVEL of where it began
#: (measured on digits: Adam at 0.1 drops 68 % in the first tenth, then sits at ~10 % of the start;
#: at 1e-3 the first tenth drops ~5 %).
FAST_FIRST_DROP = 0.6
FLAT_LEVEL = 0.05
#: Unstable: a segment climbs this far above the lowest loss before it (SGD at LR 1 on digits: +30 %;
#: batch-4 noise around a falling trend: +14 %).
RISE = 0.25
#: Noisy: the spread of single steps around the trend, relative to the level, above this.
NOISY = 0.35
#: ... unless the loss is already this close to zero (as a share of where it started).
LOW_LEVEL = 0.03
#: Very noisy while not improving: the spread is this large and the trend is flat: a too-high LR.
WILD = 0.5
#: An LR drop: a step where the LR falls to half or less.
LR_DROP = 0.5
#: Overfitting: the validation loss ended this much above its best, or the train-val accuracy gap grew
#: by this many points over the last epochs and exceeds it.
VAL_TURNED_UP = 0.10
GAP = 0.05
#: ... or a gap this large that opened during the run, even if validation still creeps up (a tiny
#: subset trained long: 100 % train, ~70 % val on digits, the val loss still slowly falling).
LARGE_GAP = 0.10
#: The update ratio is not judged low when the run's LR ended below this share of its peak: cosine and
#: linear schedules decay it to ~0 on purpose (seen in notebook 05: cosine to 0 flagged "too low").
SCHEDULED_DOWN = 0.01
#: Underfitting: train and val within 2 points, and this far below the human baseline.
CLOSE = 0.02
BELOW_HUMAN = 0.05


# -- reading the curve -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Curve:
    steps: np.ndarray  # (S,)
    loss: np.ndarray  # (S,) finite
    seg: np.ndarray  # (SEGMENTS,) median loss per segment
    seg_steps: np.ndarray  # (SEGMENTS,) the step in the middle of each segment
    spread: float  # median |loss - its segment's median|, relative to the level, over the second half


def _curve(snap: HistorySnapshot) -> _Curve | None:
    ok = np.isfinite(snap.loss)
    steps, loss = snap.step[ok], snap.loss[ok]
    if len(loss) < MIN_STEPS:
        return None
    parts = np.array_split(np.arange(len(loss)), SEGMENTS)
    seg = np.array([np.median(loss[p]) for p in parts])
    seg_steps = np.array([int(steps[p[len(p) // 2]]) for p in parts])
    dev = [np.abs(loss[p] - m) / max(abs(m), 1e-12) for p, m in zip(parts, seg, strict=True)]
    spread = float(np.median(np.concatenate(dev[SEGMENTS // 2 :])))
    return _Curve(steps, loss, seg, seg_steps, spread)


def _flat_tail(c: _Curve) -> bool:
    tail = c.seg[-3:]
    return (tail[0] - tail[-1]) / max(abs(tail[0]), 1e-12) < FLAT


def _still_high(c: _Curve) -> bool:
    return c.seg[-1] > STILL_HIGH * c.seg[0]


# -- the rules over the history ------------------------------------------------------------------------------
def _diverged(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    bad = snap.step[~np.isfinite(snap.loss)]
    if snap.status != "diverged" and not len(bad):
        return None
    at = int(bad[0]) if len(bad) else (int(snap.step[-1]) if len(snap.step) else 0)
    return Finding(
        "diverged",
        "error",
        f"The loss became NaN/Inf at step {at}. {snap.message}".strip(),
        {"step": at},
        "Lower the LR (the range test finds one), clip gradients, and run the checks: "
        "a corrupted sample or exploding gradients give the same symptom.",
    )


def _not_learning(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or c.seg[-1] < NOT_LEARNING * c.seg[0]:
        return None
    return Finding(
        "not_learning",
        "error",
        f"The loss is not going down ({c.seg[0]:.3f} → {c.seg[-1]:.3f} over {int(c.steps[-1])} steps).",
        {
            "steps": [int(c.seg_steps[0]), int(c.seg_steps[-1])],
            "first": float(c.seg[0]),
            "last": float(c.seg[-1]),
        },
        "Run the sanity checks (initial loss, overfit one batch), then find an LR with the range test.",
    )


def _lr_too_low(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or c.seg[-1] >= NOT_LEARNING * c.seg[0] or not _still_high(c):
        return None
    half = SEGMENTS // 2
    first, second = c.seg[0] - c.seg[half - 1], c.seg[half] - c.seg[-1]
    if first <= 0 or second < LINEAR_DECLINE * first:
        return None
    return Finding(
        "lr_too_low",
        "warning",
        f"The loss falls slowly and almost in a straight line ({c.seg[0]:.3f} → {c.seg[-1]:.3f}; the second "
        f"half dropped {second / first:.0%} of what the first half did): the LR is likely too low.",
        {"steps": [int(c.seg_steps[0]), int(c.seg_steps[-1])], "second_vs_first_half": float(second / first)},
        "Raise the LR (try 3-10x; the range test shows where the loss falls fastest).",
    )


def _lr_too_high(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or np.median(c.seg[-3:]) < LOW_LEVEL * c.seg[0]:
        return None  # flat near zero is a finished job, not a too-high LR
    drops = -np.diff(c.seg)
    total = c.seg[0] - c.seg.min()
    fast_then_flat = (
        total > 0
        and drops[0] > FAST_FIRST_DROP * total
        and _flat_tail(c)
        and c.seg[-1] > FLAT_LEVEL * c.seg[0]
    )
    wild = c.spread > WILD and _flat_tail(c)
    running_min = np.minimum.accumulate(c.seg)
    rises = np.flatnonzero(c.seg[1:] > (1 + RISE) * running_min[:-1]) + 1
    if not (fast_then_flat or wild or len(rises)):
        return None
    if len(rises):
        up = c.seg[rises[0]] / running_min[rises[0] - 1] - 1
        why = f"the loss climbing back up by {up:.0%} around step {int(c.seg_steps[rises[0]])}"
    elif fast_then_flat:
        why = f"a fast drop in the first {int(c.seg_steps[1])} steps, then flat or rising at {c.seg[-1]:.3f}"
    else:
        why = f"the steps scatter {c.spread:.0%} around a flat trend"
    return Finding(
        "lr_too_high",
        "warning",
        f"The loss shows {why}: the LR is likely too high.",
        {"steps": [int(c.seg_steps[0]), int(c.seg_steps[-1])], "spread": c.spread},
        "Lower the LR (3-10x), or decay it (a schedule); the range test shows where the loss turns up.",
    )


def _plateau(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or not _flat_tail(c) or not _still_high(c) or c.seg[-1] >= NOT_LEARNING * c.seg[0]:
        return None
    acc = snap.metrics.get("train_acc", np.zeros(0))
    if len(acc) and np.isfinite(acc[-1]) and acc[-1] >= 0.99:
        return None
    return Finding(
        "plateau",
        "warning",
        f"The loss has flattened at {c.seg[-1]:.3f} while still high.",
        {"steps": [int(c.seg_steps[-3]), int(c.seg_steps[-1])], "level": float(c.seg[-1])},
        "Decay the LR if it was high, raise it if it was low, or add capacity.",
    )


def _decayed_too_early(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or len(snap.lr) < 2 or not _still_high(c):
        return None
    lr = snap.lr[np.isfinite(snap.lr)]
    falls = np.flatnonzero(lr[1:] <= LR_DROP * lr[:-1]) + 1
    if not len(falls):
        return None
    at = int(snap.step[falls[0]])
    after = c.loss[c.steps >= at]
    if len(after) < MIN_STEPS // 2:
        return None
    half = len(after) // 2
    if (np.median(after[:half]) - np.median(after[half:])) / max(np.median(after[:half]), 1e-12) >= FLAT:
        return None
    return Finding(
        "decayed_too_early",
        "warning",
        f"The LR dropped at step {at} and the loss flattened right after, still at {np.median(after):.3f}.",
        {"step": at, "lr_before": float(lr[falls[0] - 1]), "lr_after": float(lr[falls[0]])},
        "Decay later (or less): train at the higher LR until the loss stops improving.",
    )


def _overfitting(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    vl = snap.metrics.get("val_loss", np.zeros(0))
    ta, va = snap.metrics.get("train_acc", np.zeros(0)), snap.metrics.get("val_acc", np.zeros(0))
    if len(vl) < 3 or not np.isfinite(vl).all():
        return None
    best = int(np.argmin(vl))
    # risen for the last two epochs at least (one noisy epoch is not a trend)
    turned = best <= len(vl) - 3 and min(vl[-2:]) > (1 + VAL_TURNED_UP) * vl[best]
    gap = ta - va if len(ta) == len(va) == len(vl) else np.zeros(0)
    # the gap opened during the run and has not closed again
    opened = len(gap) >= 3 and gap[-1] > gap[: max(1, len(gap) // 4)].min() + GAP
    growing = opened and gap[-1] > GAP and (gap[-1] >= gap.max() - GAP / 2 or gap[-1] > LARGE_GAP)
    if not (turned or growing):
        return None
    epochs = snap.epoch
    msg = (
        f"The validation loss was best at epoch {int(epochs[best])} ({vl[best]:.3f}) and has risen to "
        f"{vl[-1]:.3f}"
        if turned
        else f"The train-val accuracy gap keeps growing ({gap[-1]:.1%} now)"
    )
    if snap.stopped_epoch is not None and snap.best_epoch is not None:  # early stopping caught it
        return Finding(
            "overfitting",
            "info",
            msg + f": early stopping ended the run at epoch {snap.stopped_epoch} and kept the weights of "
            f"epoch {snap.best_epoch}, so the model returned is the best one seen.",
            {"epochs": [int(epochs[best]), int(epochs[-1])], "best_val_loss": float(vl[best])},
            "To do better than the best epoch: more data or augmentation, weight decay, dropout.",
        )
    return Finding(
        "overfitting",
        "warning",
        msg + ": the model is memorising the training set.",
        {"epochs": [int(epochs[best]), int(epochs[-1])], "best_val_loss": float(vl[best])},
        "Regularise: more data or augmentation, weight decay, dropout, early stopping at the best epoch.",
    )


def _underfitting(snap: HistorySnapshot, c: _Curve | None, human: float | None) -> Finding | None:
    ta, va = snap.metrics.get("train_acc", np.zeros(0)), snap.metrics.get("val_acc", np.zeros(0))
    if (
        human is None
        or len(ta) < 2
        or len(va) != len(ta)
        or not (np.isfinite(ta[-1]) and np.isfinite(va[-1]))
    ):
        return None
    if abs(ta[-1] - va[-1]) > CLOSE or ta[-1] > human - BELOW_HUMAN:
        return None
    return Finding(
        "underfitting",
        "warning",
        f"Train and validation accuracy are close ({ta[-1]:.1%} / {va[-1]:.1%}) and far below the human "
        f"baseline ({human:.1%}): the model cannot fit the data.",
        {"epochs": [int(snap.epoch[-1])], "train_acc": float(ta[-1]), "val_acc": float(va[-1])},
        "Add capacity (wider, deeper), train longer, or lower the regularisation.",
    )


def _noisy(snap: HistorySnapshot, c: _Curve | None) -> Finding | None:
    if c is None or c.spread <= NOISY or (c.spread > WILD and _flat_tail(c)):
        return None  # very noisy and flat is the LR's doing (lr_too_high)
    if np.median(c.seg[SEGMENTS // 2 :]) < LOW_LEVEL * c.seg[0]:
        return None  # near zero loss, any batch scatters by a large share of almost nothing
    return Finding(
        "noisy",
        "info",
        f"Single steps scatter {c.spread:.0%} around the trend: the batch is small for this LR.",
        {"steps": [int(c.seg_steps[SEGMENTS // 2]), int(c.seg_steps[-1])], "spread": c.spread},
        "Use a larger batch, or a lower LR; judge the curve by its smoothed line.",
    )


def diagnose(
    history: History | HistorySnapshot, probes: Probes | None = None, human_accuracy: float | None = None
) -> Diagnosis:
    """Every finding the curves (and probes) support, worst first; ``healthy`` only when there is none.

    Parameters
    ----------
    history : History or HistorySnapshot
        A run that has ended or is still going (a short run says little: fewer than 30 steps, only
        divergence and the probes are read).
    probes : Probes, optional
        Adds the per-layer findings (dead/saturated units, vanishing/exploding gradients, update ratio).
    human_accuracy : float, optional
        The human baseline in [0, 1]: needed to call a run underfitting.
    """
    if isinstance(history, History):
        snap = history.snapshot()
    elif isinstance(history, HistorySnapshot):
        snap = history
    else:
        raise TypeError(
            f"The 'history' parameter of diagnose must be a History or HistorySnapshot. "
            f"Got {type(history).__name__} instead."
        )
    if human_accuracy is not None and not (0.0 <= float(human_accuracy) <= 1.0):
        raise ValueError(
            f"The 'human_accuracy' parameter of diagnose must be in [0, 1]. Got {human_accuracy!r} instead."
        )
    c = _curve(snap)
    rules: list[Callable[[HistorySnapshot, _Curve | None], Finding | None]] = [
        _diverged,
        _not_learning,
        _lr_too_high,
        _lr_too_low,
        _decayed_too_early,
        _plateau,
        _overfitting,
        _noisy,
    ]
    findings = [f for rule in rules if (f := rule(snap, c)) is not None]
    if "diverged" in {f.kind for f in findings}:
        findings = [f for f in findings if f.kind == "diverged"]  # a NaN curve says nothing else
    under = _underfitting(snap, c, None if human_accuracy is None else float(human_accuracy))
    if under is not None:
        findings.append(under)
    kinds = {f.kind for f in findings}
    if kinds & {"decayed_too_early", "lr_too_high", "lr_too_low", "not_learning"}:
        findings = [
            f for f in findings if f.kind != "plateau"
        ]  # the more specific reading of the same flat tail
    if "lr_too_high" in kinds:
        findings = [f for f in findings if f.kind != "noisy"]  # the scatter is the LR's doing
    if probes is not None:
        found = probe_findings(probes)
        if len(snap.lr) and snap.lr[-1] < snap.lr.max() * SCHEDULED_DOWN:
            # a schedule that decays the LR to ~0 makes the last updates tiny by design: not a finding
            found = [f for f in found if f.kind != "update_ratio_low"]
        findings += found
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.severity])
    if not findings:
        msg = "Nothing wrong found" + (
            " in the curves" if c is not None else " (the run is short: the curves say little yet)"
        )
        findings = [Finding("healthy", "info", msg + ".", {}, "")]
    return Diagnosis(tuple(findings))
