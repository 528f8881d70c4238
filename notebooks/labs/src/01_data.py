# Source of a teaching lab: tools/make_labs.py builds the student and solution notebooks from it.
# ruff: noqa: E402, B018 (notebook cells: imports where they are used, a last expression is displayed)

# %% [markdown]
# # Lab 1: the data
#
# A colleague collected this digits dataset for you. Before you train anything, the recipe says: **become
# one with the data**. Somebody warned you that the training split has problems — but not which, nor how
# many. Your task: find them with `inspect` and the data browser, and hand back a `train` split that is
# clean, and a `test` split that measures what it should.
#
# Four kinds of problems are hidden in `data.train`. The feedback cell at the end counts what is still
# wrong, without telling you which samples.

# %%
from workbench import from_arrays, inspect
from workbench.labs import check_data_fixed, planted_digits
from workbench.ui import DataBrowser

data = planted_digits(seed=0)
print(data.train)
print(data.test)
print("held back for later:", data.extra)

# %% [markdown]
# ## 1. Look
#
# `inspect` compares the splits (duplicates, leakage, label quality...); the browser lets you look at
# each finding. Spend a few minutes here: what kinds of problems do you see?

# %%
report = inspect(data.train, data.test, progress=None)
print(report.summary())
DataBrowser({"train": data.train, "test": data.test}, report)

# %% [markdown]
# ## 2. Fix
#
# Build the `train` and `test` you would hand to the training loop. Useful tools: `report.flagged(issue,
# split)` gives the flagged indices, `report.rows` one row per finding (with its `group`),
# `dataset.subset(indices)` a view on some samples, `dataset.tensors()` the images and labels, and
# `from_arrays(images, labels, classes)` a new dataset. `data.extra` holds more images you may use.

# %%
### BEGIN SOLUTION
import torch

drop = set(report.flagged("leakage", "train")) | set(report.flagged("suspicious_label", "train"))
groups: dict = {}
for row in report.rows:
    if row["issue"] == "near_duplicate" and row["split"] == "train":
        groups.setdefault(row["group"], []).append(row["index"])
for members in groups.values():
    drop |= set(sorted(members)[1:])  # keep one image of each group
kept = data.train.subset([i for i in range(len(data.train)) if i not in drop])
images, labels = kept.tensors()
more_images, more_labels = data.extra.tensors()
train = from_arrays(
    torch.cat([images, more_images]), torch.cat([labels, more_labels]).numpy(), data.train.classes
)
test = data.test
### BUGGY
train = data.train  # hand back something better
test = data.test
### END SOLUTION

# %% [markdown]
# ## 3. Feedback
#
# Run this cell after each fix. "pass" on every line means the data is ready.

# %%
feedback = check_data_fixed(train, test)
feedback
