"""Writes notebooks/04_tune_the_learning_rate.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 4. Tune: find a learning rate, then search

The recipe: first find an LR that makes the loss go down within ~100 iterations; then a **coarse random
search** (not a grid) over LR × weight decay for a few epochs; then **refine** around the best and train
longer, with no LR decay yet. Hyperparameters interact, so search them together.

Everything here trains through the same loop as the rest of the workbench, and every trial is saved
(with its curves) in `workbench_runs.sqlite`; the Optuna study lives in the same file."""),
    code("""from workbench import build_model, load_digits
from workbench.tune import ModelSpec, SearchSpace, lr_range_test, quick_probe, refine
from workbench.ui import LRRangeView, SearchView

digits = load_digits(seed=0)
model = build_model("cnn", digits.train, seed=0)"""),
    md("""## The LR range test

One short run in which the LR grows exponentially from 1e-7 to 10, step by step, while the loss is
recorded (smoothed). The loss is flat while the LR is too small, falls, then blows up. The test stops
when the smoothed loss passes 4× its best, then puts the model, the optimizer and the random state back
exactly as they were. Three readings are offered; **min/10** (a tenth of the LR at the lowest loss) is
recommended: in our measurements it was within 2× of the LR that trains best over the next 100 steps.

**Use this LR** hands the choice to an `OverfitLab` (pass `lab=`) or to your own function."""),
    code("""view = LRRangeView(model, digits.train)
view"""),
    code("""view.start()
result = view.wait()
print(result.summary())"""),
    md("""## The quick probe

The recipe's other way: try 1e-1, 1e-2, 1e-3 and 1e-4 for ~100 steps each (small weight decay) and see
which make the loss drop. A LR whose loss first shoots up is flagged *unstable* even if it recovers."""),
    code("""print(quick_probe(model, digits.train).summary())"""),
    md("""## Coarse random search over LR × weight decay

LR log-uniform over four decades around the range test's answer, weight decay from {1e-4, 1e-5, 0}, two
epochs per trial. Trials run in two **worker processes** (the notebook stays free; Stop ends the search
after the running trials). The scatter shows every trial at its (LR, weight decay), coloured by
validation accuracy; failed trials (a diverging LR) are red crosses, with their reason in the table."""),
    code("""lr = result.lr
coarse_view = SearchView(digits, model=ModelSpec("cnn", width=16), space=SearchSpace(lr=(lr / 30, lr * 30)),
                         n_trials=12, epochs=2, workers=2)
coarse_view"""),
    code("""coarse_view.start()
coarse = coarse_view.wait()
coarse.to_frame().head(6)"""),
    md("""## Every trial is one run line

Under the table, pick a trial: its **run line** is the overfit lab's line for it (model, LR, weight decay,
optimizer, batch size, epochs, the seed, and the whole training split as the subset), with **copy line**.
Pasted into the lab (**Use line**) on the same data it trains the trial's curve again;
`coarse_view.trial_lines.link(lab)` adds **Open in lab**, which does that for you. A trial the lab cannot
express (say, a model seed different from the training seed) shows why instead of a line."""),
    code("""from workbench.lab import LabSettings
from workbench.tune import trial_line

best_line = trial_line(coarse.best)
print(best_line)
print(LabSettings.from_line(best_line).name())"""),
    md("""## Refine

Shrink the LR range around the three best trials (and keep their weight decays), train longer (12 epochs
here; 10–20 in the recipe), no LR decay. **Refine top 3** in the view above does the same."""),
    code("""fine = refine(
    coarse, digits, top_k=3, n_trials=4, epochs=12, model=ModelSpec("cnn", width=16), workers=2
)
fine.to_frame()[["trial", "lr", "weight_decay", "val_acc", "status"]]"""),
    md("""## Squeeze the best trials

Every finished trial kept its weights (beside the store, in `workbench_runs-weights/`), so the best trials
reload as they were and average into an **ensemble** (the recipe's "ensemble of the search's top-k"). Both
are scored on the whole test split: accuracy with its 95 % interval, and the ensemble's gain over the best
trial with a paired interval (the same images for both)."""),
    code("""from workbench.squeeze import compare, ensemble_from_search, search_members

best = search_members(fine, k=1)[0]
top3 = ensemble_from_search(fine, k=3)
scores = compare({"best trial": best.model, "ensemble of top 3": top3}, digits.test)
print(scores.gain("ensemble of top 3", "best trial"))
scores.to_frame()"""),
    md("""`SqueezeView` does the same on any stored runs you pick, and more: a snapshot ensemble, EMA or SWA
of the best run's recipe, a student distilled from the ensemble — each scored on the test split, as a bar
of accuracy with its interval and a row of costs. Long work runs in the background; Cancel stops it."""),
    code("""from workbench.ui import SqueezeView

squeeze_view = SqueezeView(digits, store="workbench_runs.sqlite")
squeeze_view.pick_top(3)
squeeze_view.start("ensemble")
squeeze_view"""),
    md("""## Scale out on Dask

The same search runs on a Dask distributed cluster: pass `client=` (a `distributed.Client`, or a scheduler
address). Here a local cluster of two worker processes; on a real cluster, point the study at a shared
database (the SQLite file must be reachable by the workers when pruning is on)."""),
    code("""from distributed import Client, LocalCluster

from workbench.tune import search

with (
    LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
    Client(cluster) as client,
):
    on_dask = search(
        digits,
        model=ModelSpec("cnn", width=16),
        space=SearchSpace(lr=(lr / 30, lr * 30)),
        n_trials=4,
        epochs=2,
        client=client,
        study_name="on-dask",
    )
on_dask.to_frame()[["trial", "lr", "weight_decay", "val_acc", "status"]]"""),
    md("""## Pick it up later

The study and every trial's curves are in `workbench_runs.sqlite`. Running the search again with the same
`study_name` resumes it (trials interrupted by a restart are marked failed and replaced). To browse the
study: `optuna-dashboard sqlite:///workbench_runs.sqlite`."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/04_tune_the_learning_rate.ipynb")
