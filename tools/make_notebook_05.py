"""Writes notebooks/05_read_the_curves.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 5. Read the curves

The recipe's "babysitting" step: while a net trains, watch more than the loss. This notebook breaks a
small net on purpose, six ways, shows what the **probes** measure and what **`diagnose`** says in
words, then fixes each and checks that the finding goes away.

- `Probes` is a callback for `fit`: every few steps it records, per layer, the activations' mean and
  spread, the share of dead or saturated units, histograms of activations and gradients, the gradient
  norm, and the **update/weight ratio** of every parameter. `probes.to_frame()` is the long table.
- `diagnose(history, probes, human_accuracy=...)` reads the loss curve, the per-epoch metrics and the
  probes, and returns findings: each with a kind, a message with the evidence, and what to try.

Then an LR schedule (warmup and cosine decay) rescues the LR that was far too high, and the views
(`ProbesView`, `DiagnosisView`) show the same as plots and a clickable list.

Everything trains on the 8×8 digits (1,257 training images), so each run takes a second or two."""),
    code("""import bqplot as bq
import numpy as np
import torch
from torch import nn

from workbench import TrainConfig, build_model, fit, load_digits
from workbench.diagnose import Probes, diagnose
from workbench.models import init_weights

torch.set_num_threads(1)  # nets this small run fastest on one thread (and a busy machine hurts less)
digits = load_digits(seed=0)
BASE = TrainConfig(epochs=10, lr=1e-3)  # Adam, batch 64: 20 steps an epoch, 200 steps in all


def run(model, train=None, human=None, **settings):
    \"\"\"Train with probes, then diagnose. A sample every 10 steps and no wall-clock cap (the live
    views keep the default cap of 4 a second), so the samples fall on the same steps on any machine.\"\"\"
    probes = Probes(every=10, max_hz=1000)
    config = BASE.replace(**settings)
    train = digits.train if train is None else train
    history = fit(model, train, digits.val, config=config, callbacks=[probes])
    return history, probes, diagnose(history, probes, human_accuracy=human)


def cnn():
    return build_model("cnn", digits.train, seed=0)  # the same seeded init every time


def show(diagnosis):
    for f in diagnosis.findings:
        print(f"[{f.severity}] {f.kind}: {f.message}")
        if f.advice:
            print(f"      try: {f.advice}")


def last_sample(probes, quantities):
    \"\"\"The last sample of the probes, one row per layer (in model order), one column per quantity.\"\"\"
    frame = probes.to_frame()
    frame = frame[(frame.step == frame.step.max()) & frame.quantity.isin(quantities)]
    table = frame.pivot(index="layer", columns="quantity", values="value")
    return table.reindex([layer for layer in frame.layer.unique() if layer in table.index])


def median_ratio(probes):
    \"\"\"Median update/weight ratio over the weight tensors (not the biases), at every sample.\"\"\"
    frame = probes.to_frame()
    frame = frame[(frame.quantity == "update_ratio") & frame.layer.str.endswith("weight")]
    return frame.groupby("step").value.median()"""),
    md("""## A healthy run, and what the probes measure

The tiny CNN with Adam at 1e-3, the recipe's default. The tables are the probes' last sample, per
layer and per parameter:

- **update_ratio**, ‖ΔW‖/‖W‖: how much one step changed the weights, relative to their size. About
  **1e-3** is healthy (CS231n's rule of thumb); 1e-2 and up, the steps are large and the LR likely
  too high; 1e-5 and below, nothing moves.
- **grad_norm**, **param_norm**: the size of each parameter's gradient and of the parameter.
- **dead_fraction** (after a ReLU): the share of units that output exactly 0 for *every* sample of the
  batch. A dead unit gets no gradient, so it may never come back.
- **saturated_fraction** (after tanh/sigmoid): the share of outputs with |a| > 0.99, where the slope is
  ~0 and the gradient dies the same way.
- **mean**, **std** of each layer's output: they should stay of order 1, not shrink or blow up layer
  after layer."""),
    code("""history, probes, d = run(cnn(), human=0.97)
show(d)
last_sample(probes, ["mean", "std", "dead_fraction"])  # the layers' outputs (body.1, body.4: the ReLUs)"""),
    code("""last_sample(probes, ["param_norm", "grad_norm", "update_ratio"])  # every parameter tensor"""),
    md("""The histograms (40 fixed bins, so the rows line up over time as a heat strip, like fastai's
"colorful dimension" plot) and the first layer's filters as images are there too:"""),
    code("""steps, edges, counts = probes.histogram("body.1", "activation")  # the first ReLU: (samples, bins)
zero_bin = np.searchsorted(edges, 0.0, side="right") - 1
print(f"{len(steps)} samples x {counts.shape[1]} bins; share of ReLU outputs in the bin at 0: "
      f"{counts[0, zero_bin] / counts[0].sum():.0%} at step {steps[0]}, "
      f"{counts[-1, zero_bin] / counts[-1].sum():.0%} at step {steps[-1]}")
print("first-layer filters as images:", probes.first_layer_images().shape)"""),
    md("""## 1. LR far too low

SGD with momentum at 1e-5. The loss barely moves, and the probes say why: each step changes the
weights by a few millionths of their size."""),
    code("""low_history, low_probes, d = run(cnn(), optimizer="momentum", lr=1e-5)
show(d)
print(f"median update/weight ratio at the end: {median_ratio(low_probes).iloc[-1]:.1e}")"""),
    md("""**Fix:** raise the LR until the ratio is near 1e-3 (the range test of notebook 04 finds the
value in one short run). Here 1e-2, a thousand times more:"""),
    code("""fixed_history, fixed_probes, d = run(cnn(), optimizer="momentum", lr=1e-2)
show(d)
print(f"median update/weight ratio at the end: {median_ratio(fixed_probes).iloc[-1]:.1e}")"""),
    md("""## 2. LR far too high

Adam at 0.1. The loss falls fast in the first steps, then stops improving and jumps around; the first
steps rewrite the weights almost entirely (ratio near 1), and some ReLUs die on the way."""),
    code("""high_history, high_probes, d = run(cnn(), lr=0.1)
show(d)
print(f"median update/weight ratio at the first sample: {median_ratio(high_probes).iloc[0]:.1e}")"""),
    md("""**Fix:** lower it. At 3e-3 (30× lower) the diagnosis is clean."""),
    code("""_, lower_probes, d = run(cnn(), lr=3e-3)
show(d)"""),
    md("""The four runs' update/weight ratios on one log axis (median over the weight tensors). The band
is 1e-4 to 1e-2, within 10× of the healthy 1e-3; `diagnose` speaks up above 1e-2 or below 1e-5 (at the
last samples)."""),
    code("""x, y = bq.LinearScale(), bq.LogScale(min=1e-10, max=2.0)  # room below the lines for the legend
band = bq.Lines(x=[0, 200], y=[[1e-4, 1e-4], [1e-2, 1e-2]], scales={"x": x, "y": y}, fill="between",
                fill_colors=["#2ca02c"], fill_opacities=[0.15], colors=["#2ca02c"], opacities=[0, 0])
runs = {"momentum 1e-5": low_probes, "momentum 1e-2": fixed_probes, "Adam 0.1": high_probes,
        "Adam 3e-3": lower_probes}
colors = ["#9467bd", "#1f77b4", "#d62728", "#ff7f0e"]
lines = [
    bq.Lines(x=r.index.to_numpy(), y=r.to_numpy(), scales={"x": x, "y": y}, colors=[c], labels=[name],
             display_legend=True, marker="circle", marker_size=12)
    for (name, p), c in zip(runs.items(), colors)
    for r in [median_ratio(p)]
]
axes = [bq.Axis(scale=x, label="step"),
        bq.Axis(scale=y, orientation="vertical", label="update / weight", tick_format=".0e",
                tick_values=np.logspace(-10, 0, 11))]
bq.Figure(marks=[band, *lines], axes=axes, legend_location="bottom-right",
          title="update/weight ratio at four LRs", layout={"width": "640px", "height": "400px"})"""),
    md("""## 3. A tiny subset trained long: overfitting

200 training digits, a wide MLP (two hidden layers of 256), 60 epochs. Training accuracy reaches 100 %
within a few epochs; the validation loss is best around epoch 8, then climbs while the model memorises
the 200 digits ever more confidently."""),
    code("""subset = digits.train.subset(range(200))


def wide_mlp():
    return build_model("mlp", digits.train, seed=0, width=256, depth=2)


over_history, _, d = run(wide_mlp(), train=subset, epochs=60, batch_size=25, lr=3e-3)
show(d)
over_history.to_frame()[["train_acc", "val_acc", "val_loss"]].iloc[[0, 3, 7, 19, 59]]"""),
    md("""**Fix 1:** more data is the best regulariser. The same model on all 1,257 training digits:"""),
    code("""_, _, d = run(wide_mlp(), epochs=10, lr=3e-3)
show(d)"""),
    md("""**Fix 2:** when there is no more data, **early stopping**: `TrainConfig(patience=5)` watches the
validation loss (`monitor`), ends the run after 5 epochs without an improvement (by more than
`min_delta`), and puts the best epoch's weights back into the model. `History.best_epoch` and
`History.stopped_epoch` say which. The curve still shows the climb of the last 5 epochs, so `diagnose`
still notes the overfitting, as information: early stopping caught it, and the model you get back is the
best epoch's, with the lowest validation loss of the run."""),
    code("""from workbench import evaluate

model = wide_mlp()
es_history, _, d = run(model, train=subset, epochs=60, batch_size=25, lr=3e-3, patience=5)
show(d)
best = es_history.to_frame().loc[es_history.best_epoch]
print(f"best epoch {es_history.best_epoch}, stopped after epoch {es_history.stopped_epoch}")
print(f"val loss recorded at the best epoch {best.val_loss:.4f}; "
      f"of the model fit returned {evaluate(model, digits.val).loss:.4f}")"""),
    md("""## 4. A model too small: underfitting

An MLP with one hidden layer of 4 units. Train and validation accuracy agree, so nothing is
memorised, but both sit far below what a person gets on these digits. `diagnose` needs that number to
call it underfitting: pass `human_accuracy` (measure it with `HumanBaseline` in notebook 03; 97 % here)."""),
    code("""small = build_model("mlp", digits.train, seed=0, width=4, depth=1)
_, _, d = run(small, human=0.97, lr=1e-2)
show(d)"""),
    md("""**Fix:** add capacity. 64 hidden units:"""),
    code("""_, _, d = run(build_model("mlp", digits.train, seed=0, width=64, depth=1), human=0.97, lr=1e-2)
show(d)"""),
    md("""## 5. Dead ReLUs from a bad init

A hidden layer whose biases start at −3: every pre-activation is negative, every ReLU outputs 0 for
every input, no gradient flows through them, and they stay dead. The head sees only zeros, so the
loss cannot fall below the class prior."""),
    code("""def mlp(activation, weight_std=None, bias=None, seed=0):
    torch.manual_seed(seed)
    hidden = nn.Linear(64, 32)
    if weight_std is not None:
        nn.init.normal_(hidden.weight, 0.0, weight_std)
    if bias is not None:
        nn.init.constant_(hidden.bias, bias)
    return nn.Sequential(nn.Flatten(), hidden, activation(), nn.Linear(32, 10))


_, dead_probes, d = run(mlp(nn.ReLU, bias=-3.0), epochs=5, lr=1e-2)
show(d)
last_sample(dead_probes, ["dead_fraction", "grad_norm", "update_ratio"])"""),
    md("""**Fix:** an init made for ReLUs (Kaiming/He: weights scaled by √(2/fan_in), biases 0).
`init_weights` re-initialises every linear and conv layer of a model in place."""),
    code("""kaiming = init_weights(mlp(nn.ReLU, bias=-3.0), "kaiming", seed=0)
_, relu_probes, d = run(kaiming, epochs=5, lr=1e-2)
show(d)
last_sample(relu_probes, ["dead_fraction"])"""),
    md("""## 6. Saturated tanh units

A tanh layer whose weights are drawn with std 3: pre-activations are in the tens, so tanh sits at ±1
almost everywhere, where its slope is ~0. The net still learns a little (through the few unsaturated
units and the head), slowly."""),
    code("""_, sat_probes, d = run(mlp(nn.Tanh, weight_std=3.0), epochs=5, lr=1e-2)
show(d)
last_sample(sat_probes, ["saturated_fraction", "std"])"""),
    md("""**Fix:** the Xavier/Glorot init (weights scaled by √(1/fan_in)-ish, made for tanh) keeps the
pre-activations of order 1."""),
    code("""xavier = init_weights(mlp(nn.Tanh, weight_std=3.0), "xavier", seed=0)
_, tanh_probes, d = run(xavier, epochs=5, lr=1e-2)
show(d)
last_sample(tanh_probes, ["saturated_fraction", "std"])"""),
    md("""## 7. Warmup and decay: an LR schedule

Back to Adam at 0.1, the LR that was far too high in section 2. Its first steps rewrote the weights
almost entirely (update ratio ~0.85) and killed ReLUs. A **schedule** changes the LR step by step:
`TrainConfig(schedule="cosine", warmup_steps=50)` climbs linearly over the first 50 steps to the peak
`lr`, then follows a half cosine down to 0 at the last step (also: `"step"`, `"linear"`,
`"inv_sqrt"`; all on `torch.optim.lr_scheduler`). `schedule_preview(config, steps_per_epoch)` gives the
LR of every step **before** training; the run records the LR it used, and the two agree."""),
    code("""from workbench.train import schedule_preview

cosine = dict(lr=0.1, schedule="cosine", warmup_steps=50)
preview = schedule_preview(BASE.replace(**cosine), steps_per_epoch=20)  # 1,257 digits / batch 64
cos_history, cos_probes, d = run(cnn(), **cosine)
show(d)
snap = cos_history.snapshot()
print("LR at steps 1, 50, 100, 200:", ", ".join(f"{lr:.1e}" for lr in preview[[0, 49, 99, 199]]))
print("the LR the run used is the preview's, step by step:", np.allclose(snap.lr, preview[snap.step - 1]))
print(f"median update/weight ratio at the first sample: {median_ratio(cos_probes).iloc[0]:.1e} "
      f"(constant 0.1: {median_ratio(high_probes).iloc[0]:.1e}); "
      f"val accuracy {cos_history.last('val_acc'):.1%} "
      f"(constant 0.1: {high_history.last('val_acc'):.1%})")"""),
    md("""Warmup keeps the first steps small (ratio ~4e-2 at the first sample instead of ~0.85), and the
decay lets the run settle: 99.6 % validation accuracy at the LR that gave 85 % when held constant.

By the last step a cosine schedule has brought the LR down to ~1e-5, a ten-thousandth of its peak, on
purpose, so the last update ratios are tiny: `diagnose` knows the run's LR and does not call that
`update_ratio_low`. Judge the ratio while the LR is near its peak (steps ~50-150 below)."""),
    code("""xs, ys = bq.LinearScale(), bq.LinearScale()
planned = bq.Lines(x=np.arange(1, len(preview) + 1), y=preview, scales={"x": xs, "y": ys},
                   colors=["#1f77b4"], labels=["schedule_preview"], display_legend=True)
used = bq.Scatter(x=snap.step[::5], y=snap.lr[::5], scales={"x": xs, "y": ys}, colors=["#ff7f0e"],
                  default_size=12, labels=["LR the run used"], display_legend=True)
bq.Figure(marks=[planned, used], title="cosine with 50 warmup steps",
          axes=[bq.Axis(scale=xs, label="step"),
                bq.Axis(scale=ys, orientation="vertical", label="LR")],
          legend_location="bottom", layout={"width": "640px", "height": "300px"})"""),
    md("""## 8. The same, as views

`ProbesView(history, probes)` draws everything the probes recorded: per layer, the activation and
gradient histograms over time as heat strips, the update/weight ratio of every weight tensor on a log
axis with the 1e-4..1e-2 band shaded, the gradient norms, and the first layer's weights as images.
`DiagnosisView(diagnosis, curves=...)` lists the findings in words; click one to mark its evidence
(the steps or epochs) on the loss curve. Both follow a live run too; the `OverfitLab` of notebook 03
shows them in its "training" tab and under its curves. Here the Adam 0.1 run of section 2:"""),
    code("""from workbench.ui import DiagnosisView, LiveCurves, ProbesView

ProbesView(high_history, high_probes)"""),
    code("""import ipywidgets as widgets

curves = LiveCurves()
curves.update(high_history)
findings = DiagnosisView(diagnose(high_history, high_probes), curves=curves)
findings.select("lr_too_high")  # what a click on it does: its steps are marked on the loss curve
widgets.VBox([curves, findings])"""),
    md("""## What to look at, and what to try

| symptom | probes | `diagnose` | try |
|---|---|---|---|
| loss flat from the start | ratio ≪ 1e-3 | `not_learning`, `lr_too_low`, `update_ratio_low` | raise the LR |
| fast drop, then flat/jumpy | ratio ≫ 1e-3, dead ReLUs | `lr_too_high`, `update_ratio_high` | lower the LR |
| train ≫ val, gap growing | — | `overfitting` | more data, augmentation, weight decay, early stop |
| train ≈ val, both low | — | `underfitting` (give the human baseline) | a bigger model, train longer |
| loss stuck at the prior | dead fraction ~100 % | `dead_units` | Kaiming init, lower LR, leaky ReLU |
| slow learning (tanh/sigmoid) | saturated > 50 % | `saturated_units` | Xavier init, normalise inputs, ReLU |
| first steps explode, then stuck | ratio ~1 at the start | `lr_too_high` | warmup, then decay |

Other kinds `diagnose` knows: `diverged`, `plateau`, `decayed_too_early`, `noisy`,
`vanishing_gradients`, `exploding_gradients` (`workbench.diagnose.KINDS` lists them all)."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/05_read_the_curves.ipynb")
