"""Writes notebooks/03_overfit_a_tiny_subset.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 3. Overfit a tiny subset

The recipe's third step: before regularising anything, make sure the model **can** fit the data. Take
a tiny subset, turn regularisation off, and drive the training loss to ~0 and the training accuracy to
~100 %. If it cannot, there is a bug (or far too little capacity), and no amount of tuning will help.

First, though: how good would a *person* be? That number goes on the accuracy curve as a line."""),
    code("""from workbench import load_digits
from workbench.diagnose import verdict
from workbench.lab import LabSettings, prepare_run
from workbench.train import fit
from workbench.ui import HumanBaseline, OverfitLab

digits = load_digits(seed=0)"""),
    md("""## The human baseline

Label 20 random validation digits yourself: click the class, or click into the box under the buttons and
press its key (a digit is its own key; other class names show theirs on the button; space skips). You
get your accuracy with a 95 % confidence interval (Wilson's; with 20 samples it is wide, which is the
honest answer) and the digits you got wrong."""),
    code("""human = HumanBaseline(digits.val, n=20, seed=0)
human"""),
    md("""Run the next cell **after** labelling. If you skipped it (or run this notebook as a script), it
types in a placeholder of 95 %: replace it with your own number, or one you know for your task."""),
    code("""if human.accuracy is None:
    human.set_known(0.95)
print(f"human baseline: {human.accuracy:.1%}")"""),
    md("""## Overfit one batch, as plain code

The lab is a view over plain functions: `LabSettings` → `prepare_run` → `fit` → `verdict`. One batch of
32 digits, Adam, no weight decay, no dropout."""),
    code("""settings = LabSettings(
    model="mlp", width=64, depth=2, optimizer="adam", lr=3e-3, subset=32, batch_size=32, epochs=150
)
model, part, config = prepare_run(settings, digits.train)
history = fit(model, part, digits.val, config=config)
print(verdict(history, human.accuracy).message)"""),
    md("""## The lab

Everything above, with controls. **LR** is a log slider; moving it while a run trains changes the running
optimizer's LR from the next step (watch the curve bend). Changing anything else (model, capacity,
init, seed, subset, batch size, weight decay, dropout) restarts the run; the stopped run stays as a faded
line whose legend says what changed. Every run is saved as it trains in `workbench_runs.sqlite` (the
**runs** tab lists, reloads and deletes them), so a kernel restart loses nothing.

What to look at:
- **loss** (log scale): the light line is every batch, the dark line its moving average, the band the
  spread. One batch should go to ~0;
- **accuracy** against the dashed **human** line;
- the *wiggle*, under the loss: how much the predictions on a fixed batch moved between updates. A big
  wiggle late in training means the LR is too high. The **predictions** tab shows that batch (8
  validation digits) with their class probabilities as bars, the true class in green;
- the **verdict** under the curves."""),
    code("""lab = OverfitLab(digits, LabSettings(subset=32, epochs=150, lr=3e-3), human_accuracy=human)
lab"""),
    code("""lab.start()
lab.wait();"""),
    md("""## Then a tiny subset

One batch is memorised easily. 256 samples take more steps; the validation accuracy now starts to mean
something (it is still far below the human line: the model sees too little data)."""),
    code("""lab.subset.value = 256
lab.start()
lab.wait()
print(lab.verdict.message)"""),
    md("""## Compare optimizers, then inits

Same data, same seed, one change at a time. Plain SGD at this LR is slow; momentum helps; Adam is the
recipe's default for a reason. Then the init: *zeros* makes every hidden unit identical, so they stay
identical; the loss cannot go below the class prior (the verdict says the model is not learning)."""),
    code("""for opt in ["sgd", "momentum", "adam"]:
    lab.optimizer.value = opt
    lab.start()
    lab.wait()
    print(f"{opt:9s} final train loss {lab.history.last('train_loss'):.4f}")"""),
    code("""for init in ["zeros", "kaiming"]:
    lab.init.value = init
    lab.start()
    lab.wait()
    print(f"{init:8s} {lab.verdict.kind}: {lab.verdict.message}")"""),
    md("""## The regularize row

Once the model can fit, the row under the controls takes the gap between train and val one change at a
time: **augmentation** (tick a step, its slider sets how much; the grid beside it shows the same four
training digits as they are and augmented six times, seeded, so a change in the picker is a change in the
grid; augmentation touches the training data only, never val), **dropout**, **weight decay**, **early
stop** (patience on the val loss), **input size** (every split resized; the model follows) and **EMA
decay**: an average of the weights kept during the run and scored on val after every epoch, drawn as the
dashed "EMA" line beside the live curves. All of it is in the run line (`augment=shift:2,rotate:10;...`)."""),
    code("""lab.augment.value = "shift:2,rotate:10"  # the picker's boxes and sliders follow
lab.ema.value = 0.99
lab.start()
lab.wait()
ema = lab.core.ema.history_.to_frame()
print(f"val acc: live {lab.history.last('val_acc'):.3f}, EMA {ema.ema_val_acc.iloc[-1]:.3f}")"""),
    code("""lab.store.list()[["id", "name", "status", "final_train_acc", "final_val_acc"]].head(8)"""),
    md("""## Share a run: one line, or one HTML file

The **run line** under the buttons holds every setting and the seed (`wb1:model=mlp;width=64;...;seed=0`).
**copy line** puts it on the clipboard; paste a line into the box and press **Use line** to set every
control from it: on the same data and machine it trains the same curve. **Save HTML** writes the lab as it
is now (curves, tables, controls) next to this notebook as one file that opens offline in any browser: the
widget JavaScript is inside it, nothing is fetched when it is opened. In code: `lab.use_line(line)`,
`lab.save_html(path)`, and `workbench.ui.export_html(widget, path)` for any other view."""),
    code("""line = lab.run_line.value
print(line)
lab.use_line(line)  # the same settings back
saved = lab.save_html("overfit_lab.html")
print(f"{saved.name}: {saved.stat().st_size / 1e6:.1f} MB, opens offline")"""),
    md("""## What next

The model can fit. Now give it data back (a bigger subset, the whole split), then regularise with the row
above, one knob at a time, and watch the gap between the train and val curves close. Then:
`04_tune_the_learning_rate`."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/03_overfit_a_tiny_subset.ipynb")
