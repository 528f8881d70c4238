"""Writes notebooks/06_regularize_and_squeeze.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 6. Regularize, then squeeze out the juice

The model can fit (notebook 3) and the LR is tuned (notebook 4). With little data it now **overfits**: the
training accuracy runs away from the validation accuracy. The recipe: regularize (augmentation, dropout,
weight decay, early stopping, a smaller input), then squeeze (average the weights, ensemble several
networks, distil the ensemble back into one).

Each step below is **one change** on top of the previous one, trained through the same `fit` (same seed,
same budget), drawn as a validation curve beside the others, and every model ends up in **one table**
scored on the whole held-out split: accuracy with its 95 % interval, the gain over the step before with a
*paired* interval (the same images for both models), training time, parameters and inference time.

This notebook is kept small so it runs in a minute or two on a laptop CPU: 500 training images, a small
CNN, 10 epochs per run (a third of the benchmark's 30). `benchmarks/squeeze.py` runs the same squeeze
steps at a larger budget (2,000 images, 30 epochs) and checks whether the ensemble's and the student's
gains hold up."""),
    code("""import time

import bqplot as bq
import pandas as pd
import torch

from workbench import TrainConfig, fit
from workbench.data import Augmentation, augment, mnist_test_set, split
from workbench.squeeze import EMA, Ensemble, ModelSpec, compare, distill, mcnemar, train_members

torch.set_num_threads(1)  # nets this small run about as fast on one thread (and a busy machine hurts less)
parts = split(mnist_test_set(), val_fraction=0.1, test_fraction=0.7, seed=0)
train = parts.train.subset(range(500), name="mnist/train[500]")  # little data: it will overfit
val, test = parts.val.subset(range(500), name="mnist/val[500]"), parts.test  # a smaller val: faster epochs
print(train, val, test, sep="\\n")"""),
    md("""## Overfit first

A small CNN, Adam, no regularization. The `run` helper trains one step's model from the same seed,
keeps its history and its training time, and prints the last epoch's train and val accuracy: watch
the gap."""),
    code("""config = TrainConfig(epochs=10, batch_size=32, lr=2e-3)
plain = ModelSpec.for_data("cnn", train, channels=16)
models, runs, seconds = {}, {}, {}


def run(name, spec, data, cfg=config, callbacks=()):
    model = spec.build(seed=0)
    t0 = time.perf_counter()
    runs[name] = fit(model, data, val, config=cfg, callbacks=callbacks)
    seconds[name] = time.perf_counter() - t0
    models[name] = model
    last = runs[name].to_frame().iloc[-1]
    print(f"{name:16s} train acc {last.train_acc:.3f}  val acc {last.val_acc:.3f}  ({seconds[name]:.0f} s)")
    if cfg.patience is not None:
        print(" " * 17 + runs[name].message)
    return model


run("overfit", plain, train);"""),
    md("""## Regularize, one change at a time

**Augmentation** is data: named steps of `torchvision.transforms.v2` (`shift`, `rotate`, `affine`, `erase`,
`flip`, `color`), applied to the training split only, on the fly, seeded by the run's seed. No flip for
digits (a mirrored 2 is not a 2). `group=8` lets 8 images share one random draw: ~8x cheaper, the same
distribution for each image. `augment(parts, ...)` would wrap a whole `DataSplits` the same way (val and
test untouched). Then **dropout** (a model knob), **weight decay** (AdamW) and **early stopping** (stop
when the val loss has not improved for `patience` epochs and put back the best epoch's weights) are each
added on top of the step before. Early stopping watches the val loss, ends the run after `patience` epochs
without improvement and puts back the best epoch's weights: it is what lets you give a run a generous
budget without babysitting it (on this short budget it may well run to the end and change nothing)."""),
    code("""aug = Augmentation.of("shift", rotate={"degrees": 10.0}, group=8)
augmented = augment(train, aug)
print(aug)
run("+ augmentation", plain, augmented)
with_dropout = ModelSpec.for_data("cnn", train, channels=16, dropout=0.2)
run("+ dropout", with_dropout, augmented)
decayed = config.replace(optimizer="adamw", weight_decay=0.05)
run("+ weight decay", with_dropout, augmented, decayed)
regularized = decayed.replace(patience=2)
ema = EMA(decay=0.95, val=val)  # see below: the average of the weights, kept during the same run
run("+ early stopping", with_dropout, augmented, regularized, callbacks=[ema]);"""),
    md("""The curves, validation accuracy per epoch: the plain run's flattens first; each regularizer trades a
little training fit for a better val curve (on this little data and this short budget the last steps
may differ by less than their noise: the table below says which gains are real)."""),
    code("""xs, ys = bq.LinearScale(), bq.LinearScale()
colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
lines = [
    bq.Lines(x=frame.index.to_numpy(), y=frame.val_acc.to_numpy(), scales={"x": xs, "y": ys},
             colors=[c], labels=[name], display_legend=True)
    for (name, frame), c in zip(((n, h.to_frame()) for n, h in runs.items()), colors)
]
ema_frame = ema.history_.to_frame()
lines.append(bq.Lines(x=ema_frame.index.to_numpy(), y=ema_frame.ema_val_acc.to_numpy(),
                      scales={"x": xs, "y": ys}, colors=["#9467bd"], line_style="dashed",
                      labels=["EMA of + early stopping"], display_legend=True))
bq.Figure(marks=lines, title="validation accuracy", legend_location="bottom-right",
          axes=[bq.Axis(scale=xs, label="epoch"),
                bq.Axis(scale=ys, orientation="vertical", label="val accuracy", tick_format=".2f")],
          layout={"width": "720px", "height": "360px"})"""),
    md("""A smaller input is `workbench.data.resize(parts, 14)`: every split resized once, and a model built
from the result is sized for the new shape.

## Average the weights (EMA)

The last run also kept an exponential moving average of its weights (`EMA`, on `torch.optim.swa_utils`),
scored on val after every epoch (`ema.history_`, the dashed line above), beside the live weights: the
average of the last ~20 steps smooths out wherever the last noisy steps left the live weights, which
helps most under a constant LR late in a run; early in a short run it lags behind. It costs nothing at
inference. `SWA` is the same idea with equal weights from a given epoch on."""),
    code("""models["EMA"] = ema.averaged_model()
seconds["EMA"] = 0.0  # kept during the same run
ema.history_.to_frame()[["ema_val_acc"]].join(runs["+ early stopping"].to_frame()[["val_acc"]]).tail(3)"""),
    md("""## An ensemble of 5 seeds

Four more networks trained exactly like the last step, differing only in their seed (init, batch order,
augmentation draws); the ensemble averages the five's probabilities. It costs five trainings and five
times the inference. `train_members(..., store=..., folder=...)` would also record each in the run store
with its weights file, to reload later with `load_member`. (`SnapshotEnsemble` gets several members out
of one run with a cyclic LR.)"""),
    code("""t0 = time.perf_counter()
members = train_members(with_dropout, augmented, val, seeds=(1, 2, 3, 4), config=regularized)
seconds["ensemble of 5"] = seconds["+ early stopping"] + time.perf_counter() - t0
models["ensemble of 5"] = Ensemble([models["+ early stopping"], *(m.model for m in members)])"""),
    md("""## Distil the ensemble into one network

The student (the same small CNN, a fresh seed) learns the ensemble's probabilities on augmented views
of the training images (the ensemble answers for the very view the student sees), softened by a
temperature `T` (2 here) and mixed with the labels (`alpha`, the weight of the soft part, 0.5 here):
one network's cost at inference. Its training time includes the teacher's answers (five forward passes
per batch). Distillation pays off when the teacher is clearly better than one network and the student
trains long enough to match it; on this small budget it may not (the benchmark trains 30 epochs)."""),
    code("""t0 = time.perf_counter()
student = distill(models["ensemble of 5"], with_dropout.build(seed=10), augmented, val,
                  temperature=2.0, alpha=0.5, config=regularized.replace(seed=10))
seconds["distilled"] = seconds["ensemble of 5"] + time.perf_counter() - t0
models["distilled"] = student.student
print(student.history.message)"""),
    md("""## Every step's gain and cost, in one table

All on the **held-out** split (not the val split the choices above were made on). `compare` scores
every model on every held-out image; `gain(a, b)` is the paired difference `a - b` on the same images
with its 95 % interval: a step bought something when its interval stays above 0. Each row's gain is
over the row above it (the EMA's over the live weights of the same run, the student's over the ensemble
it learned from); the last cell compares both squeezes with the best single network. The cost columns:
training seconds (cumulative for the ensemble and the student, which need the members first), parameters
and microseconds per image at inference."""),
    code("""result = compare(models, test)
steps = list(models)
table = result.to_frame()[["accuracy_%", "low_%", "high_%", "parameters", "us_per_image"]]
gains = [result.gain(step, before) for before, step in zip(steps, steps[1:])]
table["gain_pp"] = [float("nan")] + [100 * g.diff for g in gains]
table["gain_low_pp"] = [float("nan")] + [100 * g.low for g in gains]
table["gain_high_pp"] = [float("nan")] + [100 * g.high for g in gains]
table["train_s"] = pd.Series(seconds)
table.round(2)"""),
    code("""best = result.best(["+ early stopping", "EMA"])  # the best single network of the last step
for step in ("ensemble of 5", "distilled"):
    print(f"{result.gain(step, best)}  (McNemar p = {mcnemar(result, step, best):.2g})")
print(f"the student keeps {result.kept('distilled', 'ensemble of 5', best):.2f} of the ensemble's gain")"""),
    md("""## What next

Regularize until val stops improving, then squeeze: the EMA is free, the ensemble costs its size at
inference, and distillation buys part of the ensemble back at one network's cost. With a budget this
small some gains sit inside their noise; the table says how much of each you actually got. `python
benchmarks/squeeze.py` measures the squeeze steps with more data and longer runs."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/06_regularize_and_squeeze.ipynb")
