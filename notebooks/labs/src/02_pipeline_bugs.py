# Source of a teaching lab: tools/make_labs.py builds the student and solution notebooks from it.
# ruff: noqa: B018 (notebook cells: a last expression is displayed)

# %% [markdown]
# # Lab 2: six bugs in a training script
#
# This training script for the 8x8 digits runs without an error — and trains badly. It holds six classic
# bugs, one in each piece below (the model holds two). None of them crashes; each one shows up in one of
# the recipe's sanity checks or in the batch viewer, and the feedback cell names the check that sees it.
#
# Fix the pieces one at a time and rerun the feedback: a fix turns exactly one line from "not yet" into
# "pass". The checks run on fresh copies of your pieces; they never look at your code.

# %%
import torch
from torch import nn
from torchvision.transforms import v2

from workbench import from_arrays, load_digits
from workbench.labs import check_pipeline
from workbench.ui import BatchViewer

digits = load_digits(seed=0)
images, labels = digits.train.tensors()  # (N, 1, 8, 8) in [0, 1], (N,)

# %% [markdown]
# ## The pieces
#
# **Shuffling**: a new order of the training samples every epoch.

# %%
def shuffle(images, labels, seed):
    generator = torch.Generator().manual_seed(seed)
    ### BEGIN SOLUTION
    order = torch.randperm(len(labels), generator=generator)
    return images[order], labels[order]
    ### BUGGY
    images = images[torch.randperm(len(labels), generator=generator)]
    return images, labels[torch.randperm(len(labels), generator=generator)]
    ### END SOLUTION


# %% [markdown]
# **Normalising**: inputs with mean 0 and standard deviation 1 train best.

# %%
def normalise(images):
    ### BEGIN SOLUTION
    return (images - images.mean()) / images.std()
    ### BUGGY
    return images / 255
    ### END SOLUTION


# %% [markdown]
# **The model**: a small MLP on the flattened 8x8 image; `CrossEntropyLoss` is the loss.

# %%
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x):  # x: (B, 1, 8, 8)
        ### BEGIN SOLUTION
        x = x.view(x.shape[0], -1)  # (B, 64)
        return self.out(torch.relu(self.hidden(x)))  # (B, 10) logits
        ### BUGGY
        x = x.view(-1, x.shape[0]).t()  # (B, 64)
        return self.out(torch.relu(self.hidden(x))).softmax(dim=1)  # (B, 10)
        ### END SOLUTION


# %% [markdown]
# **One training step.**

# %%
def train_step(model, optimizer, x, y):
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    ### BUGGY
    ### END SOLUTION
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


# %% [markdown]
# **Transforms**: a little random shifting and rotation makes the training data go further.

# %%
train_transform = v2.RandomAffine(degrees=10, translate=(0.1, 0.1))
### BEGIN SOLUTION
val_transform = None
### BUGGY
val_transform = train_transform
### END SOLUTION

# %% [markdown]
# ## Look at a batch
#
# The batch viewer shows a batch exactly as the model gets it: images, labels, and the statistics of the
# input tensor. Here: the training images after your `normalise` and `shuffle`.

# %%
prepared_images, prepared_labels = shuffle(normalise(images), labels, 0)
BatchViewer(Net(), from_arrays(prepared_images, prepared_labels.numpy()), batch_size=24)

# %% [markdown]
# ## Feedback

# %%
feedback = check_pipeline(
    shuffle=shuffle, normalise=normalise, model_fn=Net, train_step=train_step, val_transform=val_transform
)
feedback
