"""Writes notebooks/02_pipeline_sanity_checks.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 2. Build the pipeline, then check it

The recipe: a tiny model, a fixed seed, no augmentation, evaluation on the whole split, and then a list
of checks that catch the bugs which otherwise show up only as "it trains, but badly". Each check is a
plain function returning a `CheckResult` (`passed`, `message`, `details`) and leaves the model, the
optimizer and the random state **exactly** as it found them."""),
    code("""import torch
from torch import nn

from workbench import build_model, load_digits
from workbench.checks import (batch_dependency, causality, first_batch, gradient_check, initial_loss,
                              regularization_raises_loss, run_all)
from workbench.models import init_last_layer_bias
from workbench.train import TrainConfig
from workbench.ui import BatchViewer, ChecksPanel

digits = load_digits(seed=0)
model = build_model("cnn", digits.train, seed=0)"""),
    md("""## Look at the batch *exactly* as `model(x)` receives it

A forward pre-hook captures the input of the model's own forward: not the transforms run again, but the
tensors the model got. Labels are under each image, per-channel statistics below, and the pipeline that
produced them, with any augmentation flagged."""),
    code("""BatchViewer(model, digits.train, batch_size=24)"""),
    md("""## The whole checklist, in recipe order

`run_all` runs every check: the initial loss against log C, real vs. zeroed inputs, overfitting one
batch and then 5 mini-batches (memorising proves capacity, not correctness), more capacity → lower
training loss, batch independence, a gradient check on 3 datapoints (few datapoints: few units sit at a
kink), and your regularisation acting on the training. The panel below does the same without blocking
the notebook; click **run** on one check or **Run all checks**."""),
    code("""checklist = run_all(model, digits.train, digits.val)
print(checklist.summary())"""),
    code("""ChecksPanel(model, digits.train, digits.val)"""),
    md("""## Now break things on purpose

### 1. A reshape that mixes samples

`h.t().reshape(B, -1)` looks like a harmless reshape, trains, and quietly mixes samples in a batch.
The batch-dependency check sets the loss to one sample's outputs and finds gradient on the others."""),
    code("""class Mixer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.fc(x.flatten(1)))
        h = h.t().reshape(h.shape[0], -1)  # the bug: transposes, then reshapes across the batch
        return self.head(h)

x, y = first_batch(digits.train, 16)
print(batch_dependency(Mixer(), x))"""),
    md("""### 2. A custom backward that is off by 2 %

A hand-written `autograd.Function` whose backward is slightly wrong trains almost normally. The gradient
check compares autograd with centred differences on a float64 copy, for a few entries of every
parameter, and names the parameter where they disagree."""),
    code("""class LeakyBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h):
        ctx.save_for_backward(h)
        return h.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved_tensors
        return g * (h > 0).to(g.dtype) * 1.02  # the bug: 2 % too much

class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(LeakyBackward.apply(self.fc(x.flatten(1))))

result = gradient_check(Custom(), (x[:3], y[:3]))
print(result)"""),
    md("""Every parameter gets its own line: how many entries were tried, checked, skipped at a kink or too
small to judge (|gradient| ≤ 1e-10, where a relative error means nothing), and the size of the
gradients beside the worst relative error. A parameter with no entry checked is reported "not checked",
and then the check does not pass."""),
    code("""for name, e in result.details["per_parameter"].items():
    print(
        f"{name:12} checked {e['checked']:2} of {e['tried']:2} (kinks {e['kinks']}, tiny {e['tiny']}): "
        f"max rel. error {e['max_rel_error']:.1e}, |gradient| {e['grad_min']:.1e}..{e['grad_max']:.1e}"
    )"""),
    md("""### 3. An over-confident init

A last layer whose bias spreads the logits makes the model "sure" before it has seen anything: the
initial loss is far above log 10 ≈ 2.30, and the first epochs are wasted undoing it. The check names the
layer and says whether its bias or its weights are to blame; `init_last_layer_bias` fixes it with the
log class priors."""),
    code("""confident = build_model("mlp", digits.train, seed=0)
with torch.no_grad():
    confident.head.bias.copy_(torch.linspace(-6, 6, 10))
print(initial_loss(confident, (x, y)))
init_last_layer_bias(confident, digits.train)
print(initial_loss(confident, (x, y)))"""),
    md("""### 4. A sequence model that peeks at the future

For autoregressive models the output at step *t* may only depend on inputs up to *t*. A convolution
padded on both sides sees one step ahead; padding on the left only is causal."""),
    code("""class Seq(nn.Module):
    def __init__(self, causal):
        super().__init__()
        self.causal = causal
        self.conv = nn.Conv1d(3, 4, kernel_size=3, padding=0 if causal else 1)

    def forward(self, s):  # (B, C, T)
        return self.conv(nn.functional.pad(s, (2, 0)) if self.causal else s)

s = torch.randn(2, 3, 12)
print(causality(Seq(causal=False), s, time_dim=2))
print(causality(Seq(causal=True), s, time_dim=2))"""),
    md("""### 5. A weight decay that never reaches the optimizer

The recipe: turn the regularisation up and the loss should rise. Adding a penalty of the check's own
would prove nothing; what matters is that *your* knob reaches the training. Here the config asks for
weight decay, but the function that builds the optimizer forgets to pass it on. The check takes one
optimizer step at each strength from the same weights and measures how far the weights are pulled toward
zero: with the bug, not at all. (It also fails on a dropout layer that is built but never called.)"""),
    code("""def my_optimizer(params, weight_decay):
    return torch.optim.SGD(params, lr=0.1)  # the bug: weight_decay is never passed on

def fixed_optimizer(params, weight_decay):
    return torch.optim.SGD(params, lr=0.1, weight_decay=weight_decay)

mlp = build_model("mlp", digits.train, seed=0)
config = TrainConfig(optimizer="sgd", lr=0.1, weight_decay=1e-3)
print(regularization_raises_loss(mlp, (x, y), config=config, optimizer_fn=my_optimizer))
print(regularization_raises_loss(mlp, (x, y), config=config, optimizer_fn=fixed_optimizer))"""),
    md("""`run_all(model, data, config=config, optimizer_fn=my_optimizer)` runs the same check with the rest.

## In your own CI

`python -m workbench check --folder path/to/images` runs the same checklist on an ImageFolder and exits 1
when a check fails.

Next: `03_overfit_a_tiny_subset`."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/02_pipeline_sanity_checks.ipynb")
