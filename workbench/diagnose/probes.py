"""``Probes``: per-layer instruments of a run, sampled every few steps, as a ``fit`` callback.

What the recipe's "babysitting" step asks to watch, per layer: activation mean/std, the share of dead
ReLU units and of saturated tanh/sigmoid outputs, activation and gradient histograms (fixed bins, so
they line up over time as heat strips), parameter and gradient norms, the **update/weight ratio**
‖ΔW‖/‖W‖ of the step (about 1e-3 is healthy), and the first layer's weights as images.

Cost model: nothing runs on an unsampled step. The step *before* a sample, ``on_step_end`` arms the
probes: it copies the parameters (for ΔW) and registers forward hooks. During the sampled step the
hooks compute their statistics **on the device** (``torch.histc``, means, counts) without reading
them; at that step's ``on_step_end`` every number is stacked and crosses to the host in one copy,
then the hooks are removed. So on CUDA there is one host sync per sample, none per step.

Hand-written because no kept library does this inside our loop: ``torch.utils.tensorboard`` writes
histograms to event files for another program to draw (and syncs per call); fastai's
``ActivationStats`` needs fastai's Learner. The hooks are torch's own (``register_forward_hook``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import check_int, check_real
from ..train.callbacks import Callback, FitState

__all__ = ["ACT_BINS", "GRAD_BINS", "HIST_VALUES", "ProbeSample", "Probes"]

#: Activation histograms: values clamped into [-4, 4] (tails land in the edge bins), 40 bins. Post-ReLU
#: and tanh activations of a healthy net live well inside this range; the edge bins show when they don't.
ACT_BINS = (40, -4.0, 4.0)
#: Gradient histograms: log10 |g| over [-10, 0] (|g| = 0 lands in the first bin), 40 bins. Magnitudes,
#: not signs, are what tell vanishing (mass at the left) from exploding (mass at the right).
GRAD_BINS = (40, -10.0, 0.0)
#: A layer's activation mean, std, saturation and histogram read at most this many of its values: a larger
#: output is read at a fixed stride coprime with its per-sample size (so every position and channel is
#: visited evenly) and the histogram's counts are scaled back to the whole output. 65,536 values put the
#: 40 bins within ~1 % of the full counts (L1 over the bins). On the CPU the full histogram over the tiny
#: CNN's 28x28 conv activations took most of a sample's time (~5 of 7.6 ms against an 11 ms step); the
#: strided one takes ~0.4 ms.
HIST_VALUES = 65_536
#: An output counts as saturated past this: |tanh| > 0.99, sigmoid < 0.01 or > 0.99.
SATURATION = 0.99

_RELUS = (nn.ReLU, nn.ReLU6)
_TANH_LIKE = (nn.Tanh, nn.Hardtanh)
_SIGMOID_LIKE = (nn.Sigmoid, nn.Hardsigmoid)
_ACTIVATIONS = (*_RELUS, *_TANH_LIKE, *_SIGMOID_LIKE, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus)


def _histogram(x: torch.Tensor, bins: int, lo: float, hi: float) -> torch.Tensor:
    """``(bins,)`` counts of ``x`` over ``[lo, hi]`` in equal bins; values past the ends count in the edge
    bins, NaNs nowhere. On the device, nothing read.

    On CUDA ``torch.histc`` (no host sync; ``bincount`` would sync to size its output). On the CPU the
    bin index by arithmetic and ``torch.bincount`` instead: ~4x faster than ``histc`` on the tiny CNN's
    800k conv activations (1.5 vs 6 ms), which took most of a sample's time (benchmarks/probes_overhead.py).
    """
    if x.device.type != "cpu":
        return torch.histc(x.clamp(lo, hi), bins=bins, min=lo, max=hi)
    idx = (x - lo).mul_(bins / (hi - lo)).clamp_(0, bins - 1).nan_to_num_(nan=bins).to(torch.int32)
    return torch.bincount(idx.reshape(-1), minlength=bins + 1)[:bins].float()


def _strided(x: torch.Tensor, most: int | None) -> tuple[torch.Tensor, float]:
    """At most ``most`` of ``x``'s values, at a stride coprime with its per-sample size, and the factor
    that scales counts over them back to all of ``x`` (1.0 when ``x`` is small enough to take whole)."""
    n = x.numel()
    if most is None or n <= most:
        return x, 1.0
    per_sample = n // x.shape[0] if x.ndim >= 2 and x.shape[0] else n
    stride = -(-n // most)
    while math.gcd(stride, per_sample) != 1:
        stride += 1
    sub = x.reshape(-1)[::stride]
    return sub, n / sub.numel()


@dataclass(frozen=True)
class ProbeSample:
    """One sampled step: scalars per (layer, quantity) and histograms per (layer, kind)."""

    step: int
    epoch: int
    scalars: dict[tuple[str, str], float]
    histograms: dict[tuple[str, str], np.ndarray]  # (layer, "activation" | "gradient") -> (bins,) counts


def _probed_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules that have parameters (the layers) or are activation functions, in order."""
    out = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is not None:
            continue
        if isinstance(mod, _ACTIVATIONS) or any(True for _ in mod.parameters(recurse=False)):
            out.append((name or type(mod).__name__, mod))
    return out


class Probes(Callback):
    """Record per-layer statistics every ``every`` steps, at most ``max_hz`` times a second.

    Parameters
    ----------
    every : int
        Sample every this many optimizer steps (the first step is always sampled).
    max_hz : float
        Never sample more often than this by wall clock (tiny models run thousands of steps a second).
    hist_values : int or None
        A layer's activation statistics (mean, std, saturation, histogram) read at most this many of its
        values, evenly strided, the histogram's counts scaled to the whole output (``HIST_VALUES``); the
        dead-unit share always reads every value. ``None`` reads every value everywhere (slower).

    After (or during) ``fit(..., callbacks=[probes])``: ``probes.samples`` (a list of ``ProbeSample``),
    ``probes.to_frame()`` (long table: step, layer, quantity, value), ``probes.histogram(layer, kind)``
    (steps × bins, for a heat strip), ``probes.first_layer_images()``.
    """

    def __init__(self, every: int = 25, max_hz: float = 4.0, hist_values: int | None = HIST_VALUES) -> None:
        self.every = check_int(every, "every", "Probes", low=1)
        self.max_hz = check_real(max_hz, "max_hz", "Probes", low=1e-6)
        self.hist_values = (
            None if hist_values is None else check_int(hist_values, "hist_values", "Probes", low=1)
        )
        self.samples: list[ProbeSample] = []
        self.version = 0
        self._lock = threading.Lock()
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []
        self._pending: dict[tuple[str, str], torch.Tensor] = {}
        self._before: dict[str, torch.Tensor] = {}
        self._last_sample = float("-inf")
        self._first_layer: np.ndarray | None = None
        self._input_shape: tuple[int, ...] | None = None
        self._model: nn.Module | None = None

    # -- the loop's hooks ------------------------------------------------------------------------------
    def on_fit_start(self, state: FitState) -> None:
        self._model = state.model
        self._arm(state.model)  # step 1 is always sampled: the initial state is the first thing to see

    def on_step_end(self, state: FitState) -> None:
        if self._hooks:
            self._collect(state)
        nxt = state.step + 1
        if nxt % self.every == 0 and time.monotonic() - self._last_sample >= 1.0 / self.max_hz:
            self._arm(state.model)

    def on_fit_end(self, state: FitState) -> None:
        self._disarm()
        self._before = {}

    # -- arming and collecting ---------------------------------------------------------------------------
    def _arm(self, model: nn.Module) -> None:
        self._disarm()
        self._before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        self._pending = {}
        for name, mod in _probed_modules(model):
            self._hooks.append(mod.register_forward_hook(self._make_hook(name, mod)))
        if self._input_shape is None:  # the model's input shape: a linear first layer's weights as images
            self._hooks.append(model.register_forward_pre_hook(self._note_input))

    def _note_input(self, module: nn.Module, args: tuple) -> None:
        if args and torch.is_tensor(args[0]):
            self._input_shape = tuple(args[0].shape[1:])

    def _disarm(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def _make_hook(self, name: str, mod: nn.Module):
        def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
            # the training forward pass only (not an evaluation pass that happens while armed), once per step
            if not torch.is_grad_enabled() or not module.training or (name, "mean") in self._pending:
                return
            if not torch.is_tensor(out) or not out.is_floating_point() or out.numel() == 0:
                return
            a = out.detach().float()
            p = self._pending
            # mean, std, saturation and the histogram from at most hist_values values (evenly strided);
            # dead units from every value (a unit is dead only if it is 0 everywhere)
            v, scale = _strided(a, self.hist_values)
            p[(name, "mean")] = m = v.mean()
            c = (v - m).reshape(-1)  # two-pass variance by a dot product: ~4x faster than a.std() on CPU
            p[(name, "std")] = (torch.dot(c, c) / max(c.numel() - 1, 1)).sqrt()
            if isinstance(mod, _RELUS) and a.ndim >= 2:
                # a unit (feature or channel) is dead when it is exactly 0 for every sample and position;
                # ReLU outputs are >= 0, so: its largest output is 0 (one reduction, ~15x faster than any())
                alive = a.amax(dim=[d for d in range(a.ndim) if d != 1]) > 0
                p[(name, "dead_fraction")] = 1.0 - alive.float().mean()
            if isinstance(mod, _TANH_LIKE):
                p[(name, "saturated_fraction")] = (v.abs() > SATURATION).float().mean()
            elif isinstance(mod, _SIGMOID_LIKE):
                p[(name, "saturated_fraction")] = ((v < 1 - SATURATION) | (v > SATURATION)).float().mean()
            bins, lo, hi = ACT_BINS
            counts = _histogram(v, bins, lo, hi)
            p[(name, "hist:activation")] = counts if scale == 1.0 else counts * scale

        return hook

    def _collect(self, state: FitState) -> None:
        model = state.model
        self._disarm()
        p = self._pending
        bins, lo, hi = GRAD_BINS
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            w = param.detach().float()
            p[(name, "param_norm")] = w.norm()
            before = self._before.get(name)
            if before is not None:
                p[(name, "update_ratio")] = (w - before.float()).norm() / w.norm().clamp_min(1e-12)
            if param.grad is not None:
                g = param.grad.detach().float()
                p[(name, "grad_norm")] = g.norm()
                logs = g.abs().clamp_min(10.0**lo).log10()
                p[(name, "hist:gradient")] = _histogram(logs, bins, lo, hi)
        first = self._first_layer_weights(model)
        keys = list(p)
        flat = torch.cat([p[k].reshape(-1).float() for k in keys]) if keys else torch.zeros(0)
        host = flat.cpu().numpy()  # the one host sync of this sample
        scalars: dict[tuple[str, str], float] = {}
        hists: dict[tuple[str, str], np.ndarray] = {}
        at = 0
        for k in keys:
            n = p[k].numel()
            name, quantity = k
            if quantity.startswith("hist:"):
                hists[(name, quantity[5:])] = host[at : at + n].copy()
            else:
                scalars[k] = float(host[at])
            at += n
        sample = ProbeSample(state.step, state.epoch, scalars, hists)
        with self._lock:
            self.samples.append(sample)
            if first is not None:
                self._first_layer = first
            self.version += 1
        self._pending, self._before = {}, {}
        self._last_sample = time.monotonic()

    def _first_layer_weights(self, model: nn.Module) -> np.ndarray | None:
        first = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
        if first is None:
            return None
        w = first.weight.detach()
        if isinstance(first, nn.Conv2d) and w.shape[1] in (1, 3):
            return w.float().cpu().numpy()  # (out, C, kh, kw)
        shape = self._input_shape
        if (
            isinstance(first, nn.Linear)
            and shape is not None
            and len(shape) == 3
            and shape[0] in (1, 3)
            and int(np.prod(shape)) == w.shape[1]
        ):
            return w.float().cpu().numpy().reshape(w.shape[0], *shape)  # one image per unit
        return None

    # -- reading ------------------------------------------------------------------------------------------
    def to_frame(self):
        """The long table of every scalar: columns ``step``, ``epoch``, ``layer``, ``quantity``, ``value``."""
        import pandas as pd

        with self._lock:
            rows = [
                (s.step, s.epoch, layer, q, v) for s in self.samples for (layer, q), v in s.scalars.items()
            ]
        return pd.DataFrame(rows, columns=["step", "epoch", "layer", "quantity", "value"])

    def layers(self, quantity: str) -> list[str]:
        """Layers that have ``quantity`` (e.g. ``"dead_fraction"``, ``"update_ratio"``), in model order."""
        with self._lock:
            seen: dict[str, None] = {}
            for s in self.samples:
                for layer, q in s.scalars:
                    if q == quantity:
                        seen.setdefault(layer)
            return list(seen)

    def series(self, layer: str, quantity: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of one scalar over the run."""
        with self._lock:
            pts = [
                (s.step, s.scalars[(layer, quantity)]) for s in self.samples if (layer, quantity) in s.scalars
            ]
        if not pts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        steps, values = zip(*pts, strict=True)
        return np.asarray(steps), np.asarray(values, dtype=np.float64)

    def histogram(self, layer: str, kind: str = "activation") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(steps, bin_edges, counts)``: counts is ``(samples, bins)``, one row per sampled step."""
        if kind not in ("activation", "gradient"):
            raise ValueError(
                f"The 'kind' parameter of Probes.histogram must be 'activation' or 'gradient'. Got {kind!r}."
            )
        bins, lo, hi = ACT_BINS if kind == "activation" else GRAD_BINS
        with self._lock:
            rows = [
                (s.step, s.histograms[(layer, kind)]) for s in self.samples if (layer, kind) in s.histograms
            ]
        edges = np.linspace(lo, hi, bins + 1)
        if not rows:
            return np.zeros(0, dtype=np.int64), edges, np.zeros((0, bins))
        return np.asarray([r[0] for r in rows]), edges, np.stack([r[1] for r in rows])

    def first_layer_images(self) -> np.ndarray | None:
        """The first layer's weights as images ``(units, C, H, W)``, each scaled to [0, 1]; None if it has
        none.

        A conv layer on 1- or 3-channel input gives its kernels; a linear layer on images gives one
        image per unit (its weights reshaped to the input's shape).
        """
        with self._lock:
            w = None if self._first_layer is None else self._first_layer.copy()
        if w is None:
            return None
        lo = w.reshape(len(w), -1).min(axis=1)[:, None, None, None]
        hi = w.reshape(len(w), -1).max(axis=1)[:, None, None, None]
        return (w - lo) / np.maximum(hi - lo, 1e-12)
