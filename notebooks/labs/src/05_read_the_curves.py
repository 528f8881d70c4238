# Source of a teaching lab: tools/make_labs.py builds the student and solution notebooks from it.
# ruff: noqa: B018 (notebook cells: a last expression is displayed)

# %% [markdown]
# # Lab 5: read the curves
#
# Four runs on the digits, each with one thing wrong (or more). You get the curves; name what went
# wrong, in the words the diagnosis uses. The grader is `workbench.diagnose.diagnose`, which reads the
# same curves — try first without calling it yourself.
#
# The names: `diverged`, `not_learning`, `lr_too_low`, `lr_too_high`, `plateau`, `decayed_too_early`,
# `overfitting`, `underfitting`, `noisy`. A person gets about 97 % right on these digits (the human
# baseline): a run far below it on *training* data is underfitting.

# %%
import torch

from workbench import TrainConfig, build_model, fit, load_digits
from workbench.labs import FeedbackList, check_diagnosis

torch.set_num_threads(1)  # nets this small train fastest on one thread
digits = load_digits(seed=0)
HUMAN = 0.97
runs = {
    "A": fit(
        build_model("cnn", digits.train, seed=0),
        digits.train,
        digits.val,
        config=TrainConfig(epochs=10, lr=0.1),
    ),
    "B": fit(
        build_model("mlp", digits.train, seed=0, width=4, depth=1),
        digits.train,
        digits.val,
        config=TrainConfig(epochs=10, lr=1e-2),
    ),
    "C": fit(
        build_model("mlp", digits.train, seed=0, width=256, depth=2),
        digits.train.subset(range(100)),
        digits.val,
        config=TrainConfig(epochs=60, lr=1e-3, batch_size=20),
    ),
    "D": fit(
        build_model("mlp", digits.train, seed=0),
        digits.train,
        digits.val,
        config=TrainConfig(epochs=10, lr=1e-5),
    ),
}

# %% [markdown]
# ## The curves
#
# Each run's epoch metrics: training and validation loss and accuracy.

# %%
for name, history in runs.items():
    print(f"run {name}")
    print(history.to_frame().round(3).to_string(index=False))

# %% [markdown]
# ## Your answers

# %%
### BEGIN SOLUTION
answers = {"A": "lr_too_high", "B": "underfitting", "C": "overfitting", "D": "not_learning"}
### BUGGY
answers = {"A": "healthy", "B": "healthy", "C": "healthy", "D": "healthy"}
### END SOLUTION

# %% [markdown]
# ## Feedback

# %%
feedback = FeedbackList(
    tuple(check_diagnosis(answers[name], runs[name], HUMAN, name=f"run {name}") for name in runs)
)
feedback
