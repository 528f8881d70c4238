"""Writes notebooks/07_transfer_and_scale_out.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 7. Transfer learning, and training on several processes

Two recipe points for when the tiny baselines are not enough. **Use a pretrained network**: with few
labels, features learnt on a related task beat learning them from scratch; freeze them and train a new
head, or fine-tune everything with a lower LR for the body. **Scale out**: the same loop on several
processes with PyTorch's `DistributedDataParallel`.

Nothing is downloaded here, so this notebook makes its own pretrained weights: a small CNN learns the
MNIST digits 0–4, its weights go to a file, and the digits 5–9 are then learnt from that file."""),
    code("""import numpy as np
import pandas as pd
import torch
import torchvision

from workbench.data import from_arrays, mnist_test_set
from workbench.models import (
    TinyCNN,
    freeze,
    from_pretrained,
    layer_groups,
    param_groups,
    transfer_optimizer,
)
from workbench.train import TrainConfig, evaluate, fit
from workbench.tune import lr_range_test
from workbench.ui import BatchViewer, LiveCurves

torch.set_num_threads(1)  # small models: one thread is as fast, and leaves the other cores alone
x, y = mnist_test_set().tensors()
digits04 = from_arrays(x[y < 5], y[y < 5].numpy(), name="mnist 0-4")
digits59 = from_arrays(x[y >= 5], (y[y >= 5] - 5).numpy(), [str(c) for c in range(5, 10)], name="mnist 5-9")
order = np.random.default_rng(0).permutation(len(digits59))
pool, held_out = digits59.subset(order[:2000], "5-9 pool"), digits59.subset(order[2000:], "5-9 held out")
watch = held_out.subset(np.arange(300), "5-9 val")  # a small val split for the curves


def per_class(data, k, seed=0):
    \"\"\"k random samples of each class.\"\"\"
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(data.targets == c), k, replace=False) for c in range(data.num_classes)]
    return data.subset(np.sort(np.concatenate(picks)), f"{k} per class")


print(digits04, digits59, sep="\\n")"""),
    md("""## Pretrain on 0–4 and save the weights

`torch.save(model.state_dict(), path)`: a weights file holds tensors only. It is read back with
`torch.load(weights_only=True)`, which refuses pickled objects (they could run code)."""),
    code("""pretrained = TinyCNN((1, 28, 28), 5, channels=8)
torch.manual_seed(0)
print(fit(pretrained, digits04, config=TrainConfig(epochs=2, lr=3e-3, seed=0)).message)
torch.save(pretrained.state_dict(), "mnist04.pt")"""),
    md("""## `from_pretrained`: the weights, a new head, named layer groups

Pass a torchvision name (`"resnet18"`, `"mobilenet_v3_small"`) or your own module built as it was when
the weights were saved; the old head's weights are dropped and a new one is sized from the data. Every
other layer must match the file, or the error lists the layers that differ. The layer groups (input to
output, the head last) are what `freeze` and `param_groups` work with."""),
    code("""few = per_class(pool, 10)
model = from_pretrained(TinyCNN((1, 28, 28), 5, channels=8), "mnist04.pt", data=few)
print(model.source)
[(g.name, g.modules) for g in layer_groups(model)]"""),
    md("""**Freeze up to a group** and give each group its LR. The groups come **head first**, so the run's LR
is the head's and `set_lr`, a live LR slider and the schedules keep the ratios: here the group below the
head trains at 0.3× and each one further down at half of that again (discriminative LRs)."""),
    code("""print("frozen:", freeze(model, upto="body.0"))
[(g["name"], g["lr"]) for g in param_groups(model, 3e-3, body_lr_factor=0.3, layer_decay=0.5)]"""),
    md("""## An LR for the new head alone

The LR range test on the head only (`train_only="head"`): the body stays frozen during the sweep, and
the model is put back exactly as it was afterwards."""),
    code("""result = lr_range_test(model, few, train_only="head", num_iter=60, start_lr=1e-5, end_lr=1.0)
print(result.summary())"""),
    md("""## Scratch vs frozen features vs fine-tuning, at 10 / 50 / all samples per class

Same architecture, same LR (3e-3, Adam) and the same 120 steps for each; accuracy on the ~2,900
held-out 5–9 images (`benchmarks/transfer_gain.py` repeats this over several draws of the samples).
*frozen*: the pretrained body frozen, a new linear head trained. *fine-tune*: everything trains, the
body at 0.3× the head's LR."""),
    code("""config = TrainConfig(epochs=1000, max_steps=120, batch_size=32, lr=3e-3, seed=0)


def train(kind, data, val=None):
    if kind == "scratch":
        net, opt = TinyCNN((1, 28, 28), 5, channels=8), None
    else:
        net = from_pretrained(TinyCNN((1, 28, 28), 5, channels=8), "mnist04.pt", data=data)
        if kind == "frozen":
            freeze(net)
        opt = transfer_optimizer(net, config, body_lr_factor=0.3)
    history = fit(net, data, val, config=config, optimizer=opt)
    return history, evaluate(net, held_out).accuracy


rows, curves_at_10 = {}, {}
for k in (10, 50, None):
    data = pool if k is None else per_class(pool, k)
    label = "all" if k is None else f"{k} per class"
    for kind in ("scratch", "frozen", "fine-tune"):
        history, acc = train(kind, data, watch if k == 10 else None)  # curves at 10 per class
        rows.setdefault(label, {})[kind] = round(100 * acc, 1)
        if k == 10:
            curves_at_10[kind] = history
table = pd.DataFrame(rows).T
table["fine-tune - scratch (pp)"] = table["fine-tune"] - table["scratch"]
table"""),
    md("""The curves at 10 samples per class: fine-tuning (solid) against scratch and frozen features (faded).
With so few labels, a network trained from scratch learns features that fit 50 images; the pretrained
ones were learnt from 5,000."""),
    code("""curves = LiveCurves(x_axis="step")
curves.add_ghost(curves_at_10["scratch"], "scratch")
curves.add_ghost(curves_at_10["frozen"], "frozen")
curves.update(curves_at_10["fine-tune"], force=True)
curves"""),
    md("""## In the lab: freeze up to, and the body's LR

The overfit lab starts from the same file: `OverfitLab(..., pretrained="mnist04.pt")` builds its own
model (`model="cnn", width=8, depth=2` is the pretrained network), loads the weights and puts a new head
on it. A transfer row then shows the weights file, **freeze up to** (the model's layer groups) and the
**body LR** factor (the head trains at the LR slider's value, the body at that times the factor; the
slider keeps the ratio). The run line carries all three, the file's path included: pasted into
another lab, it starts the same run."""),
    code("""from workbench.lab import LabSettings
from workbench.ui import OverfitLab

settings = LabSettings(
    model="cnn", width=8, depth=2, subset=50, epochs=40, lr=3e-3, freeze_upto="body.0", body_lr=0.3
)
lab = OverfitLab((few, watch), settings, pretrained="mnist04.pt")
lab"""),
    code("""lab.start()
lab.wait()
print(lab.run_line.value)
[(g["name"], g["lr"]) for g in lab.core.optimizer.param_groups]  # head first; body.0 frozen: not there"""),
    md("""Freeze the whole body (a frozen feature extractor) and the lab's LR range test sweeps the head
alone; its choice goes to the lab's LR slider."""),
    code("""lab.transfer_row.freeze_upto.value = "body"
sweep = lab.lr_range_view(num_iter=60, start_lr=1e-5, end_lr=1.0)
sweep.start()
sweep.wait()
print(sweep.result.summary())
sweep"""),
    md("""## The batch a pretrained torchvision network sees

`from_pretrained` puts an `InputAdapter` in front of the network: the gray channel repeated to RGB, a
resize, and the weights' normalisation (ImageNet's for torchvision), on the training device. The batch
viewer shows its output, exactly what the first layer gets (un-normalised for display). The weights here
are random, saved to a file to show the loading path: for real ones, copy the file torchvision uses
(the error of a missing file says how)."""),
    code("""torch.manual_seed(0)
torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), "mobilenet_v3_small.pth")
mobile = from_pretrained("mobilenet_v3_small", "mobilenet_v3_small.pth", data=few, input_size=64)
print(mobile.adapter)
BatchViewer(mobile, few, batch_size=16)"""),
    md("""## Scale out: the same model on 1 and 2 processes

`fit_ddp` runs the same loop in `world_size` processes with `DistributedDataParallel` (gloo on a CPU,
NCCL on GPUs); each process builds the model with `make_model` and trains on its share of every batch.
Two processes with batch 32 each take the same steps as one process with batch 64: with SGD the weights
agree to float rounding. Across machines, the same code is started by `torchrun` (see the README)."""),
    code("""from pathlib import Path

from workbench.distributed import fit_ddp

weights = str(Path("mnist04.pt").resolve())
def make_model():  # called in every process
    return from_pretrained(TinyCNN((1, 28, 28), 5, channels=8), weights, num_classes=5)


sgd = TrainConfig(epochs=1, batch_size=32, lr=3e-2, optimizer="sgd", seed=0)
two = fit_ddp(make_model, pool, watch, config=sgd, world_size=2, threads=1)
one = fit_ddp(make_model, pool, watch, config=sgd.replace(batch_size=64), world_size=1, threads=1)
diff = max(
    (a - b).abs().max().item()
    for a, b in zip(two.model.state_dict().values(), one.model.state_dict().values(), strict=True)
)
print(f"2 processes x batch 32: {two.history.message}")
print(f"1 process  x batch 64: {one.history.message}")
print(f"largest weight difference: {diff:.1e}")"""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/07_transfer_and_scale_out.ipynb")
