"""The diagnosis rules over ``Probes``: dead and saturated units, vanishing and exploding gradients, the
update/weight ratio. Each threshold is a named constant with where its number comes from."""

from __future__ import annotations

import numpy as np

from .finding import Finding
from .probes import Probes

__all__ = ["probe_findings"]

#: Dead ReLU units (whole batch exactly 0) or saturated tanh/sigmoid outputs in a layer, at the last
#: sample: half of a layer is a lot of lost capacity (AUTOTRAINER flags dying ReLU from a similar share).
DEAD = 0.5
SATURATED = 0.5
#: The update/weight ratio: the recipe's notes put a healthy ratio near 1e-3. Ten times above or a
#: hundred times below (median over the weight matrices, last samples) is worth a word.
RATIO_HIGH = 1e-2
RATIO_LOW = 1e-5
#: Vanishing: the first layer's gradient norm is this much smaller than the last layer's.
VANISHING = 1e-4
#: Exploding: a gradient norm above this, or grown this many times since the first sample.
EXPLODING_ABS = 1e3
EXPLODING_GROWTH = 1e2


def _last(probes: Probes, quantity: str) -> dict[str, tuple[int, float]]:
    out = {}
    for layer in probes.layers(quantity):
        steps, values = probes.series(layer, quantity)
        if len(values) and np.isfinite(values[-1]):
            out[layer] = (int(steps[-1]), float(values[-1]))
    return out


def probe_findings(probes: Probes) -> list[Finding]:
    found = []
    dead = {k: v for k, v in _last(probes, "dead_fraction").items() if v[1] >= DEAD}
    if dead:
        worst = max(dead, key=lambda k: dead[k][1])
        found.append(
            Finding(
                "dead_units",
                "warning",
                f"{dead[worst][1]:.0%} of the units after '{worst}' never fire (ReLU output 0 for the whole "
                "batch).",
                {"layers": sorted(dead), "step": dead[worst][0]},
                "Lower the LR, use a smaller init for the layer before, or a leaky ReLU.",
            )
        )
    sat = {k: v for k, v in _last(probes, "saturated_fraction").items() if v[1] >= SATURATED}
    if sat:
        worst = max(sat, key=lambda k: sat[k][1])
        found.append(
            Finding(
                "saturated_units",
                "warning",
                f"{sat[worst][1]:.0%} of the outputs of '{worst}' are saturated (|a| > 0.99): their "
                "gradient is ~0.",
                {"layers": sorted(sat), "step": sat[worst][0]},
                "Use a smaller init (xavier for tanh), normalise the inputs, or switch to ReLU.",
            )
        )
    grads = {k: v for k, v in _last(probes, "grad_norm").items() if k.endswith("weight")}
    if len(grads) >= 2:
        names = list(grads)
        first, last = grads[names[0]][1], grads[names[-1]][1]
        if last > 0 and first < VANISHING * last:
            found.append(
                Finding(
                    "vanishing_gradients",
                    "warning",
                    f"The gradient reaching '{names[0]}' is {first / last:.0e} of the one at '{names[-1]}'.",
                    {"layers": [names[0], names[-1]], "step": grads[names[0]][0]},
                    "Use ReLU-family activations, a He/kaiming init, normalisation layers or residual "
                    "connections.",
                )
            )
    for layer in probes.layers("grad_norm"):
        steps, values = probes.series(layer, "grad_norm")
        values = values[np.isfinite(values)]
        if len(values) and (
            values[-1] > EXPLODING_ABS or (values[0] > 0 and values[-1] > EXPLODING_GROWTH * values[0])
        ):
            found.append(
                Finding(
                    "exploding_gradients",
                    "error",
                    f"The gradient norm of '{layer}' reached {values[-1]:.1e} (first sample "
                    f"{values[0]:.1e}).",
                    {"layers": [layer], "step": int(steps[-1])},
                    "Lower the LR, clip gradients (grad_clip), check the init and the inputs' scale.",
                )
            )
            break
    ratios = _last(probes, "update_ratio")
    weights = [v[1] for k, v in ratios.items() if k.endswith("weight") and v[1] > 0]
    if weights:
        med = float(np.median(weights))
        step = max(v[0] for v in ratios.values())
        if med > RATIO_HIGH:
            found.append(
                Finding(
                    "update_ratio_high",
                    "warning",
                    f"Each step changes the weights by {med:.0e} of their size (healthy: ~1e-3).",
                    {"ratio": med, "step": step},
                    "Lower the LR.",
                )
            )
        elif med < RATIO_LOW:
            found.append(
                Finding(
                    "update_ratio_low",
                    "warning",
                    f"Each step changes the weights by only {med:.0e} of their size (healthy: ~1e-3).",
                    {"ratio": med, "step": step},
                    "Raise the LR.",
                )
            )
    return found
