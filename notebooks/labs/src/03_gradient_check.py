# Source of a teaching lab: tools/make_labs.py builds the student and solution notebooks from it.
# ruff: noqa: B018 (notebook cells: a last expression is displayed)

# %% [markdown]
# # Lab 3: write a backward, let the gradient check grade it
#
# Autograd is so reliable that we forget it can be wrong — until we write a layer of our own. Here you
# write the backward pass of a linear layer, `y = x @ weight.T + bias`, by hand, as a
# `torch.autograd.Function`. The grader is the workbench's own `gradient_check`: it compares your analytic
# gradients with float64 centred differences `(f(w+h) - f(w-h)) / 2h` on a small two-layer net built from
# your Function, and reports the relative error per tensor.
#
# Shapes: `x` is `(B, n_in)`, `weight` is `(n_out, n_in)`, `bias` is `(n_out,)` and `grad_out`, the
# gradient of the loss with respect to `y`, is `(B, n_out)`. `backward` returns one gradient per input of
# `forward`, each with that input's shape.

# %%
import torch

from workbench.labs import check_backward


class MyLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        ### BEGIN SOLUTION
        grad_x = grad_out @ weight  # (B, n_out) @ (n_out, n_in) -> (B, n_in)
        grad_weight = grad_out.T @ x  # (n_out, B) @ (B, n_in) -> (n_out, n_in)
        grad_bias = grad_out.sum(0)  # the bias is added to every sample: sum over the batch
        return grad_x, grad_weight, grad_bias
        ### END SOLUTION


# %% [markdown]
# ## Feedback
#
# A relative error around 1e-7 or below is good; the check's threshold for this small smooth net is far
# stricter than 1e-2. If only some tensors are off, the hint says which kind.

# %%
feedback = check_backward(MyLinear)
feedback
