"""Writes notebooks/00_start_here.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# Start here: train a tiny model, watch it learn

**workbench** turns the neural-net training recipe into live notebook tools: look at the data, check the
pipeline, overfit a tiny subset, tune, then squeeze out the last points. This first notebook is the
spine every later one hangs on: **data → a tiny model → the one training loop → live curves**.

Everything runs on the CPU in a few seconds (a GPU is used when there is one). Nothing is downloaded: the
default data is scikit-learn's bundled 8×8 handwritten digits."""),
    code("""from workbench import TrainConfig, build_model, count_parameters, evaluate, load_digits
from workbench.ui import TrainingPanel"""),
    md("""## 1. The data

`load_digits()` returns fixed **train / val / test** splits: stratified (every class keeps its share) and
seeded (the same seed gives the same split on every machine). Each split is an `ImageDataset`: a torch
`Dataset` that also knows its class names and every label without decoding an image."""),
    code("""splits = load_digits(seed=0)
for part in splits:
    print(part)
print("class counts in train:", splits.train.class_counts())"""),
    md("""## 2. A tiny model first

The recipe says: start with something small (a linear layer, a tiny CNN) so that the pipeline has few
places for a bug to hide. `build_model` sizes the model from the data (input shape, number of classes),
and `seed=` makes its initial weights reproducible. We pass a *function* that builds the model, so each
run starts from fresh weights."""),
    code("""def make_model():
    return build_model("cnn", splits.train, seed=0, channels=8, depth=2)

print(make_model())
print(f"{count_parameters(make_model()):,} trainable parameters")"""),
    md("""## 3. Train, and watch

The panel below trains in a **worker thread**: the notebook stays responsive while it runs, so **Stop**
works at any moment and you can keep using the kernel.

What to look at:
- **Loss (log scale).** The light line is the loss of every training batch; the dots are per-epoch means
  for train (blue) and for the **whole** validation split (orange). At the start the loss should sit near
  log(10) ≈ 2.3, the loss of a model that guesses uniformly over 10 classes.
- **Accuracy.** Train vs. val per epoch. A gap that keeps growing means overfitting; no gap and both low
  means underfitting.
- **Steps or epochs.** The toggle above the figures switches the x-axis. Compare runs per **epoch**: the
  loss of one step depends on the batch size, an epoch does not.
- **The status line** says how the run ended: finished, stopped, or *diverged* (a NaN/Inf loss stops the
  run and restores the last good weights; the message says why: the corrupted samples of the failing
  batch by index, or exploding gradients, with what to do: lower the LR, clip, run the checks)."""),
    code("""config = TrainConfig(epochs=30, lr=3e-3, seed=0)
panel = TrainingPanel(make_model, splits.train, splits.val, config)
panel"""),
    code("""panel.start()"""),
    md("""Press **Run** again after changing *epochs* or *lr* to compare; the same seed gives the same curve.

The next cell only waits for the run to end so that this notebook can also run top to bottom as a
script; while training interactively you never need it."""),
    code("""history = panel.wait()
panel.curves.x_axis = "epoch"  # the same as clicking "epochs" above the figures
print(history.status, "-", history.message)
history.to_frame().tail()"""),
    md("""## 4. The test split, once, at the end

`evaluate` always covers **every** sample of a split, never a few batches. Look at the test split only
when you are done choosing; choosing by test accuracy makes it a validation split."""),
    code("""result = evaluate(panel.model, splits.test)
print(f"test accuracy {result.accuracy:.1%} on all {result.n} test images (loss {result.loss:.3f})")"""),
    md("""## 5. The whole recipe as one page

`App()` puts every step of the recipe on one page: a tab per step (the data, the pipeline checks, the
overfit lab, tuning, reading a run's curves), each built the first time you open it, and on the side the
recipe's progress: which steps are done on these data, with what was found, and what to do next and why.
What you run in the tabs is recorded (in the run store, `workbench_runs.sqlite`), so the progress is still
there tomorrow. `App(folder="path/to/images")` opens your own ImageFolder tree instead of the digits.

The same page without any code, in the browser: `make app` in the repository (or
`python -m workbench app --folder PATH --port N`)."""),
    code("""from workbench.ui import App

app = App(seed=0)
app"""),
    md("""The data tab inspects the data in the background; waiting for it is only needed in a script."""),
    code("""report = app.wait()
print(app.panel.message)"""),
    md("""## Where next

This loop (`workbench.fit`) is the one every other tool trains through. Bring your own data with
`from_folder(path)` (ImageFolder layout), `from_arrays(images, labels)` or `from_torch(dataset)`: each
returns the same kind of dataset, and bad input gets an error that names the sample or file."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/00_start_here.ipynb")
