"""workbench.labs: each checker says "not yet" on the planted bug and "pass" once it is fixed; in lab 2 each
bug, planted alone into the fixed script, is caught by the check the lab names for it."""

import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from workbench import from_arrays
from workbench.labs import (
    PIPELINE_CHECKS,
    Feedback,
    FeedbackList,
    check_backward,
    check_data_fixed,
    check_pipeline,
    planted_digits,
)


def test_feedback_says_pass_or_not_yet_with_the_hint_only_when_it_fails():
    ok, no = Feedback(True, "3 of 3", "look", "x"), Feedback(False, "1 left", "look at the groups", "y")
    assert str(ok) == "x: pass — 3 of 3"
    assert str(no) == "y: not yet — 1 left\n  hint: look at the groups"
    assert "not yet" in no._repr_html_() and "look at the groups" in no._repr_html_()
    both = FeedbackList((ok, no))
    assert not both.passed and both.verdict == "not yet" and both["x"] is ok
    assert str(both).startswith("not yet — 1 of 2 checks pass")
    with pytest.raises(KeyError, match="No check named 'z'"):
        both["z"]


# -- lab 1: the data ---------------------------------------------------------------------------------------
def test_data_checker_counts_every_planted_problem_and_passes_once_they_are_gone():
    data = planted_digits(seed=0)
    before = check_data_fixed(data.train, data.test)
    assert [f.passed for f in before] == [False, False, False, False, True]
    assert before["leakage"].message.startswith("15 ")
    assert before["near_duplicates"].message.startswith("15 ")
    assert before["flipped_labels"].message.startswith("20 of the 20")
    # the planted truth, removed by hand: what is left passes (the checker is not fooled by a reorder)
    report_free = check_data_fixed(data.test, data.test)  # a split identical to test leaks everything
    assert not report_free["leakage"].passed
    images, _ = data.train.tensors()
    leaked = {im.numpy().tobytes() for im in data.test.tensors()[0]}
    keep = [i for i, im in enumerate(images) if im.numpy().tobytes() not in leaked]
    train = data.train.subset(keep[::-1])
    after = check_data_fixed(train, data.test)
    assert after["leakage"].passed and not after["near_duplicates"].passed


def test_data_checker_refuses_what_is_not_a_dataset():
    data = planted_digits(seed=0)
    with pytest.raises(TypeError, match="The 'train' parameter of check_data_fixed must be an ImageDataset"):
        check_data_fixed(data.train.tensors(), data.test)


def test_data_checker_sees_the_small_class_filled_up_from_extra():
    data = planted_digits(seed=0)
    images, labels = data.train.tensors()
    more_images, more_labels = data.extra.tensors()
    train = from_arrays(torch.cat([images, more_images]), torch.cat([labels, more_labels]).numpy())
    assert not check_data_fixed(data.train, data.test)["smallest_class"].passed
    assert check_data_fixed(train, data.test)["smallest_class"].passed


# -- lab 2: pipeline bugs (the fixed pieces and the buggy ones, as in the lab) -------------------------------
def shuffle_fixed(images, labels, seed):
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return images[order], labels[order]


def shuffle_buggy(images, labels, seed):
    g = torch.Generator().manual_seed(seed)
    return images[torch.randperm(len(labels), generator=g)], labels[torch.randperm(len(labels), generator=g)]


def normalise_fixed(images):
    return (images - images.mean()) / images.std()


def normalise_buggy(images):
    return images / 255  # already in [0, 1]


class Net(nn.Module):
    def __init__(self, softmax=False, mixing_view=False):
        super().__init__()
        self.softmax, self.mixing_view = softmax, mixing_view
        self.hidden, self.out = nn.Linear(64, 64), nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, x.shape[0]).t() if self.mixing_view else x.view(x.shape[0], -1)
        x = self.out(torch.relu(self.hidden(x)))
        return x.softmax(dim=1) if self.softmax else x


def step_fixed(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_buggy(model, optimizer, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


FIXED = {
    "shuffle": shuffle_fixed,
    "normalise": normalise_fixed,
    "model_fn": Net,
    "train_step": step_fixed,
    "val_transform": None,
}
BUGS = {  # bug -> (the one piece that changes, the checks that must fail)
    "labels shuffled apart": ({"shuffle": shuffle_buggy}, {"pairs_kept"}),
    "wrong normalisation": ({"normalise": normalise_buggy}, {"normalisation"}),
    "softmax before CrossEntropyLoss": ({"model_fn": lambda: Net(softmax=True)}, {"overfit_batch"}),
    # mixing samples also keeps the model from memorising one batch in the check's 200 steps
    "a view that mixes samples": (
        {"model_fn": lambda: Net(mixing_view=True)},
        {"batch_dependency", "overfit_batch"},
    ),
    "zero_grad forgotten": ({"train_step": step_buggy}, {"gradients_reset"}),
    "augmentation on validation": (
        {"val_transform": v2.RandomAffine(degrees=10, translate=(0.1, 0.1))},
        {"validation_pipeline"},
    ),
}


def failing(feedback: FeedbackList) -> set[str]:
    return {f.name for f in feedback if not f.passed}


def test_the_fixed_pipeline_passes_every_check():
    threads = torch.get_num_threads()
    feedback = check_pipeline(**FIXED)
    assert torch.get_num_threads() == threads  # the checks run on one thread and put the setting back
    assert [f.name for f in feedback] == list(PIPELINE_CHECKS)
    assert feedback.passed, str(feedback)


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_bug_alone_is_caught_by_its_check(bug):
    change, caught_by = BUGS[bug]
    assert failing(check_pipeline(**{**FIXED, **change})) == caught_by


def test_all_bugs_together_fail_every_check():
    buggy = {k: v for change, _ in BUGS.values() for k, v in change.items()}
    buggy["model_fn"] = lambda: Net(softmax=True, mixing_view=True)
    assert failing(check_pipeline(**{**FIXED, **buggy})) == set(PIPELINE_CHECKS)


def test_a_piece_that_raises_is_not_yet_with_the_error():
    def todo(images, labels, seed):
        raise NotImplementedError

    feedback = check_pipeline(**{**FIXED, "shuffle": todo})
    assert failing(feedback) == {"pairs_kept"}
    assert "NotImplementedError" in feedback["pairs_kept"].message


def test_check_pipeline_refuses_a_piece_that_is_not_a_function():
    with pytest.raises(TypeError, match="The 'model_fn' parameter of check_pipeline must be a function"):
        check_pipeline(**{**FIXED, "model_fn": "Net"})


# -- lab 3: a hand-written backward ------------------------------------------------------------------------
class GoodLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out @ weight, grad_out.T @ x, grad_out.sum(0)


class InputGradWrong(GoodLinear):
    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return 2 * grad_out @ weight, grad_out.T @ x, grad_out.sum(0)


class BiasAveraged(GoodLinear):
    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out @ weight, grad_out.T @ x, grad_out.mean(0)


class NotWritten(GoodLinear):
    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError


class WrongShape(GoodLinear):
    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out @ weight, x.T @ grad_out, grad_out.sum(0)


def test_check_backward_passes_a_correct_backward():
    assert check_backward(GoodLinear).passed


@pytest.mark.parametrize(
    ("function", "hint"),
    [
        (InputGradWrong, "only the first layer"),
        (BiasAveraged, "only the biases"),
        (NotWritten, "one gradient per input"),
        (WrongShape, "shape"),
    ],
)
def test_check_backward_says_not_yet_with_a_hint_at_the_symptom(function, hint):
    feedback = check_backward(function)
    assert not feedback.passed
    assert hint in feedback.hint


def test_check_backward_refuses_apply_or_an_instance():
    with pytest.raises(
        TypeError, match=r"The 'function' parameter of check_backward must be a torch\.autograd"
    ):
        check_backward(GoodLinear.apply)


# -- labs 4 and 5: the run store, the range test, the diagnosis ---------------------------------------------
@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # nets this small train fastest on one thread
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    from workbench import load_digits

    return load_digits(seed=0)


def _record(store, name, model, data, val=None, **config):
    from workbench import TrainConfig, fit

    return fit(model, data, val, config=TrainConfig(**config), callbacks=[store.recorder(name, {})])


def test_check_overfit_reads_the_newest_run_of_that_name(tmp_path, digits, one_thread):
    from workbench import build_model
    from workbench.labs import check_overfit
    from workbench.train import RunStore

    path = tmp_path / "runs.sqlite"
    assert "no run store" in check_overfit(path).message
    store = RunStore(path)
    assert "no run named 'overfit'" in check_overfit(path).message
    tiny = digits.train.subset(range(40))
    model = build_model("mlp", digits.train, seed=0)
    _record(store, "overfit", model, tiny, epochs=5, lr=1e-5, batch_size=20)
    assert not check_overfit(path).passed
    model = build_model("mlp", digits.train, seed=0)
    _record(store, "overfit", model, tiny, epochs=30, lr=1e-2, batch_size=20)
    assert check_overfit(path).passed


def test_check_lr_wants_the_range_tests_lr_and_a_good_run(tmp_path, digits, one_thread):
    from workbench import build_model, lr_range_test
    from workbench.labs import check_lr
    from workbench.train import RunStore

    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    result = lr_range_test(build_model("mlp", digits.train, seed=0), digits.train)
    for lr, passes in ((1.0, False), (result.lr, True)):
        model = build_model("mlp", digits.train, seed=0)
        _record(store, "chosen_lr", model, digits.train, digits.val, epochs=5, lr=lr)
        assert check_lr(path, result).passed is passes
    with pytest.raises(TypeError, match="The 'result' parameter of check_lr must be the LRRangeResult"):
        check_lr(path, result.lr)


def test_check_diagnosis_agrees_with_diagnose(digits, one_thread):
    from workbench import TrainConfig, build_model, fit
    from workbench.labs import check_diagnosis

    model = build_model("mlp", digits.train, seed=0)
    history = fit(model, digits.train, digits.val, config=TrainConfig(epochs=10, lr=1e-5))
    assert check_diagnosis("not_learning", history, name="run D").passed
    wrong = check_diagnosis("overfitting", history, name="run D")
    assert not wrong.passed and wrong.name == "run D"
    unknown = check_diagnosis("too slow", history)
    assert not unknown.passed and "not_learning" in unknown.hint
    with pytest.raises(TypeError, match="The 'history' parameter of check_diagnosis must be the History"):
        check_diagnosis("healthy", history.snapshot())
