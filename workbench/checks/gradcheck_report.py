"""The gradient check's result: per parameter what was tried, checked, skipped and why; the verdict against
the depth's threshold, with the gradient magnitudes beside the errors."""

from __future__ import annotations

from .result import CheckResult

#: Entries whose analytic and numerical gradients are both at most this are not judged (the notes: ~1e-10).
TINY_GRADIENT = 1e-10


def _band(err: float) -> str:
    if err < 1e-7:
        return "good (< 1e-7)"
    if err < 1e-4:
        return "acceptable if the objective has kinks (< 1e-4)"
    if err < 1e-2:
        return "acceptable only for deep nets (< 1e-2)"
    return "too large for any depth"


def _why_not(e: dict) -> str:
    parts = []
    if e["kinks"]:
        parts.append(f"{e['kinks']} straddled a kink (ReLU / max-pool)")
    if e["tiny"]:
        parts.append(
            f"{e['tiny']} had |gradient| <= {TINY_GRADIENT:g} or below rounding noise, where relative error "
            "means nothing (scale the loss up, or train a few steps first: train_steps=)"
        )
    return f"not checked: of {e['tried']} entries tried, " + ("; ".join(parts) or "none could be judged")


def _result(report, failures, limit, depth, h, weight_decay, scale_used, kinky, n_samples) -> CheckResult:
    for e in report.values():
        e["status"] = "checked" if e["checked"] else _why_not(e)
        if not e["checked"]:
            e["grad_min"] = float("nan")
    worst = max((e["max_rel_error"] for e in report.values()), default=0.0)
    checked = sum(e["checked"] for e in report.values())
    kinks = sum(e["kinks"] for e in report.values())
    tiny = sum(e["tiny"] for e in report.values())
    judged = [e for e in report.values() if e["checked"]]
    g_lo = min((e["grad_min"] for e in judged), default=float("nan"))
    g_hi = max((e["grad_max"] for e in judged), default=float("nan"))
    not_checked = {n: e["status"] for n, e in report.items() if not e["checked"]}
    details = {
        "per_parameter": report,
        "threshold": limit,
        "depth": depth,
        "has_kinks": kinky,
        "h": h,
        "weight_decay": weight_decay,
        "loss_scale": scale_used,
        "max_rel_error": worst,
        "band": _band(worst),
        "checked": checked,
        "kinks": kinks,
        "tiny": tiny,
        "samples": n_samples,
        "grad_range": (g_lo, g_hi),
        "not_checked": not_checked,
        "failures": [
            {
                "param": f[0],
                "index": f[1],
                "analytic": f[2],
                "numerical": f[3],
                "rel_error": f[4],
                "weight_decay": f[5],
            }
            for f in failures
        ],
    }
    skipped = (f"; {kinks} entries straddled a kink" if kinks else "") + (
        f"; {tiny} entries with |gradient| <= {TINY_GRADIENT:g} (or below rounding noise) not judged: "
        "relative error means nothing there"
        if tiny
        else ""
    )
    if failures:
        bad = sorted({f[0] for f in failures})
        name, i, a, n, rel, reg = max(failures, key=lambda f: f[4])
        return CheckResult(
            "gradient_check",
            False,
            f"gradients disagree in {', '.join(repr(b) for b in bad)}: worst {name!r}[{i}] analytic {a:.6g} "
            f"vs numerical {n:.6g} (relative error {rel:.1e} > {limit:.1e}{', with L2' if reg else ''}). "
            "Check custom autograd Functions' backward, in-place operations on tensors autograd needs, and "
            ".detach()/.data in the forward."
            + (f" Not checked: {', '.join(map(repr, not_checked))}." if not_checked else ""),
            details,
        )
    if not_checked:
        first = next(iter(not_checked.items()))
        return CheckResult(
            "gradient_check",
            False,
            f"not checked: {len(not_checked)} of {len(report)} parameters had no entry that could be judged "
            f"({', '.join(map(repr, not_checked))}); {first[0]!r}: {first[1].removeprefix('not checked: ')}. "
            f"The others agree (max relative error {worst:.1e}). Use fewer datapoints (2-3) so fewer units "
            "sit at a kink, or more entries (dims_per_param=, max_tries=).",
            details,
        )
    reg_txt = f" without and with L2 ({weight_decay:g})" if weight_decay > 0 else ""
    return CheckResult(
        "gradient_check",
        True,
        f"analytic and numerical gradients agree{reg_txt} on {n_samples} datapoints: max relative error "
        f"{worst:.1e}, {_band(worst)}, threshold {limit:.1e} for depth "
        f"{depth}{' with kinks' if kinky else ''}; {checked} entries checked in all {len(report)} "
        f"parameters, |gradient| {g_lo:.1e} to {g_hi:.1e}{skipped}",
        details,
    )
