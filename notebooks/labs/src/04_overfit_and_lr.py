# Source of a teaching lab: tools/make_labs.py builds the student and solution notebooks from it.
# ruff: noqa: B018 (notebook cells: a last expression is displayed)

# %% [markdown]
# # Lab 4: overfit a tiny subset, then find the learning rate
#
# Two steps of the recipe. First, **overfit**: a model that cannot memorise 40 images has a bug or no
# capacity, and no amount of tuning will fix that. Then, **tune the learning rate** with the range test:
# sweep the LR up over a hundred steps and read where the loss falls fastest.
#
# Every run records itself in a run store (one SQLite file, `lab4_runs.sqlite`). The feedback reads the
# store — what you really trained — not the variables in this notebook.

# %%
import torch

from workbench import TrainConfig, build_model, fit, load_digits, lr_range_test
from workbench.labs import FeedbackList, check_lr, check_overfit
from workbench.train import RunStore

torch.set_num_threads(1)  # nets this small train fastest on one thread
digits = load_digits(seed=0)
tiny = digits.train.subset(range(40))  # 40 images, about 4 per class
store = RunStore("lab4_runs.sqlite")


def make_model():
    return build_model("mlp", digits.train, seed=0)


# %% [markdown]
# ## 1. Overfit 40 images
#
# Pick an LR and a number of epochs that drive the training accuracy on `tiny` to 100 %. Watch the
# training loss: it should fall towards 0.

# %%
### BEGIN SOLUTION
overfit_lr, overfit_epochs = 1e-2, 30
### BUGGY
overfit_lr, overfit_epochs = 1e-5, 5
### END SOLUTION
history = fit(
    make_model(),
    tiny,
    config=TrainConfig(epochs=overfit_epochs, lr=overfit_lr, batch_size=20),
    callbacks=[store.recorder("overfit", {"lr": overfit_lr, "epochs": overfit_epochs})],
)
print(f"training accuracy {history.last('train_acc'):.1%}, training loss {history.last('train_loss'):.3g}")

# %% [markdown]
# ## 2. The LR range test
#
# `lr_range_test` sweeps the LR exponentially and suggests values. Read its summary, then choose the LR
# for a real run on the full training split.

# %%
result = lr_range_test(make_model(), digits.train)
print(result.summary())

# %%
### BEGIN SOLUTION
chosen_lr = result.lr
### BUGGY
chosen_lr = 1.0
### END SOLUTION
history = fit(
    make_model(),
    digits.train,
    digits.val,
    config=TrainConfig(epochs=5, lr=chosen_lr),
    callbacks=[store.recorder("chosen_lr", {"lr": chosen_lr})],
)
print(f"validation accuracy {history.last('val_acc'):.1%}")

# %% [markdown]
# ## Feedback

# %%
feedback = FeedbackList((check_overfit("lab4_runs.sqlite"), check_lr("lab4_runs.sqlite", result)))
feedback
