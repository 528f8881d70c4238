"""Writes notebooks/06_regularize_and_squeeze.ipynb (outputs stripped). Edit here, run, commit both.

DRAFT: not yet run headless through tests/test_notebooks.py (the notebook is not committed); its code ran
as a script up to the EMA table on a heavily loaded machine before a 15-minute limit stopped it.
"""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 6. Regularize, then squeeze out the juice

The model can fit (notebook 3) and the LR is tuned (notebook 4). With little data it now **overfits**: the
training accuracy runs away from the validation accuracy. The recipe: regularize (augmentation, dropout,
weight decay, early stopping, a smaller input), then squeeze (average the weights, ensemble several
networks, distil the ensemble back into one).

Each step below is one change, trained through the same `fit`, and every model ends up in **one table**
scored on the whole held-out split: accuracy with its 95 % interval, loss, parameters, inference time. A
gain is only a gain when its interval (paired: the same images for both models) stays above zero."""),
    code("""import torch

from workbench import TrainConfig, fit
from workbench.data import Augmentation, augment, mnist_test_set, split
from workbench.squeeze import EMA, Ensemble, ModelSpec, compare, distill, train_members

torch.manual_seed(0)
parts = split(mnist_test_set(), val_fraction=0.1, test_fraction=0.7, seed=0)
train = parts.train.subset(range(1000), name="mnist/train[1000]")  # little data: it will overfit
val, test = parts.val, parts.test
print(train, val, test, sep="\\n")"""),
    md("""## Overfit first

A small CNN, Adam, no regularization. Watch the gap between train and val accuracy."""),
    code("""config = TrainConfig(epochs=10, batch_size=64, lr=2e-3)
plain = ModelSpec.for_data("cnn", train, channels=8)
models, runs = {}, {}


def run(name, spec, data, cfg=config, callbacks=()):
    model = spec.build(seed=0)
    runs[name] = fit(model, data, val, config=cfg, callbacks=callbacks)
    models[name] = model
    frame = runs[name].to_frame()
    print(f"{name:14s} train acc {frame.train_acc.iloc[-1]:.3f}  val acc {frame.val_acc.iloc[-1]:.3f}")
    return model


run("overfit", plain, train);"""),
    md("""## Regularize, one change at a time

**Augmentation** is data: named steps of `torchvision.transforms.v2` (`shift`, `rotate`, `affine`, `erase`,
`flip`, `color`), applied to the training split only, on the fly, seeded by the run's seed. No flip for
digits (a mirrored 2 is not a 2). `group=8` lets 8 images share one random draw: ~8x cheaper, the same
distribution for each image. `augment(parts, ...)` would wrap a whole `DataSplits` the same way (val and
test untouched)."""),
    code("""aug = Augmentation.of("shift", rotate={"degrees": 10.0}, group=8)
augmented = augment(train, aug)
print(aug)
run("+ augmentation", plain, augmented)
with_dropout = ModelSpec.for_data("cnn", train, channels=8, dropout=0.2)
run("+ dropout", with_dropout, augmented)
regularized = config.replace(optimizer="adamw", weight_decay=0.05)
ema = EMA(decay=0.95, val=val)  # see below: the average of the weights, kept during the same run
run("+ weight decay", with_dropout, augmented, regularized, callbacks=[ema]);"""),
    md("""A smaller input is `workbench.data.resize(parts, 14)`: every split resized once, and a model built
from the result is sized for the new shape.

## Average the weights (EMA)

The last run also kept an exponential moving average of its weights (`EMA`, on `torch.optim.swa_utils`),
scored on val after every epoch (`ema.history_`), beside the live weights: the average of the last ~20
steps sits in a flatter spot than wherever the last noisy step left the live weights. `SWA` is the same
idea with equal weights from a given epoch on."""),
    code("""models["EMA"] = ema.averaged_model()
ema.history_.to_frame()[["ema_val_acc"]].join(runs["+ weight decay"].to_frame()[["val_acc"]]).tail(3)"""),
    md("""## An ensemble of seeds

Two more networks that differ only in their seed (init, batch order, augmentation draws); the ensemble
averages the three's probabilities. `train_members(..., store=..., folder=...)` would also record each in
the run store with its weights file, to reload later with `load_member`. (`SnapshotEnsemble` gets several
members out of one run with a cyclic LR.)"""),
    code("""members = train_members(with_dropout, augmented, val, seeds=(1, 2), config=regularized)
models |= {f"seed {m.seed}": m.model for m in members}
ensemble = Ensemble([models["+ weight decay"], *(m.model for m in members)])
models["ensemble"] = ensemble"""),
    md("""## Distil the ensemble into one network

The student (the same small CNN) learns the ensemble's probabilities on the same augmented views (the
ensemble answers for each view), softened by a temperature and mixed with the labels (`alpha`): one
network's cost at inference."""),
    code("""student = distill(
    ensemble, with_dropout.build(seed=10), augmented, val, temperature=4.0, alpha=0.9, config=regularized
)
models["distilled"] = student.student"""),
    md("""## Every step's gain and cost, in one table

All on the held-out split (not the val split the choices above were made on)."""),
    code("""result = compare(models, test)
result.to_frame().round(3)"""),
    code("""singles = ["+ weight decay", "seed 1", "seed 2"]
for step, over in [
    ("+ augmentation", "overfit"),
    ("+ weight decay", "overfit"),
    ("EMA", "+ weight decay"),
    ("ensemble", result.best(singles)),
    ("distilled", "+ weight decay"),
]:
    print(result.gain(step, over))"""),
    md("""## What next

Regularize until val stops improving, then squeeze: the EMA is free, the ensemble costs its size at
inference, and distillation buys part of the ensemble back at one network's cost. The table says how much
of each you actually got."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/06_regularize_and_squeeze.ipynb")
