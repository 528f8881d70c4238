import pytest
import torch

from workbench.models import MLP, LinearClassifier, TinyCNN, build_model, count_parameters


@pytest.mark.parametrize("kind", ["linear", "mlp", "cnn"])
def test_models_are_sized_from_the_data(digits, kind):
    model = build_model(kind, digits.train, seed=0)
    x = torch.stack([digits.train[i][0] for i in range(5)])
    assert model(x).shape == (5, 10)


@pytest.mark.parametrize("shape", [(3, 28, 28), (1, 5, 7), (4, 2, 2)])
def test_cnn_handles_any_image_size(shape):
    model = TinyCNN(shape, 4, channels=4, depth=3)
    assert model(torch.rand(2, *shape)).shape == (2, 4)


def test_capacity_knobs_change_the_parameter_count():
    small = count_parameters(MLP((1, 8, 8), 10, width=16, depth=1))
    wide = count_parameters(MLP((1, 8, 8), 10, width=64, depth=1))
    deep = count_parameters(MLP((1, 8, 8), 10, width=16, depth=3))
    assert small < wide and small < deep
    assert count_parameters(LinearClassifier((1, 8, 8), 10)) == 64 * 10 + 10
    assert count_parameters(TinyCNN((1, 8, 8), 10, channels=4)) < count_parameters(
        TinyCNN((1, 8, 8), 10, channels=8)
    )


def test_seed_fixes_the_init_and_leaves_the_global_rng_alone(digits):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model("mlp", digits.train, seed=7)
    after = torch.rand(1)
    b = build_model("mlp", digits.train, seed=7)
    c = build_model("mlp", digits.train, seed=8)
    assert torch.equal(before, after)  # the global stream did not move
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_build_model_errors(digits):
    with pytest.raises(
        ValueError, match="'kind' parameter of build_model must be one of 'linear', 'mlp', 'cnn'"
    ):
        build_model("resnet", digits.train)
    with pytest.raises(TypeError, match="must be an ImageDataset or an \\(input_shape, num_classes\\) tuple"):
        build_model("mlp", [1, 2, 3])
    with pytest.raises(ValueError, match=r"'width' parameter of MLP must be an int in \[1, 65536\]. Got 0"):
        build_model("mlp", digits.train, width=0)
    with pytest.raises(ValueError, match="input_shape must be \\(C, H, W\\)"):
        build_model("cnn", ((8, 8), 10))
    with pytest.raises(ValueError, match="'num_classes' parameter of TinyCNN must be an int in \\[2, inf\\]"):
        build_model("cnn", ((1, 8, 8), 1))
