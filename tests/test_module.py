"""Module base: registry, state_dict, load_state_dict, dtype casts, train/eval, seeding."""

import inspect

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from scratchnet import nn


def make_mlp(dtype=np.float32, seed=0):
    scratchnet.manual_seed(seed)
    return scratchnet.MLP(20, 64, 2, dtype=dtype)


def test_state_dict_keys_match_the_lectures_torch_model():
    assert list(make_mlp().state_dict()) == list(torchnet.MLP(20, 64, 2).state_dict())


def test_parameter_shapes_and_default_dtype_match_torch():
    mine = dict(make_mlp().named_parameters())
    for name, param in torchnet.MLP(20, 64, 2).named_parameters():
        assert mine[name].shape == tuple(param.shape)
        assert mine[name].dtype == np.float32


def test_same_seed_gives_bit_identical_weights_and_different_seed_does_not():
    a, b, c = make_mlp(seed=3).state_dict(), make_mlp(seed=3).state_dict(), make_mlp(seed=4).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["net.0.weight"], c["net.0.weight"])


def test_linear_init_follows_torchs_uniform_bound():
    scratchnet.manual_seed(0)
    layer = nn.Linear(400, 300, dtype=np.float64)
    bound = 1 / np.sqrt(400)
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.95 * bound  # the whole range is used
    # U(-b, b) has standard deviation b / sqrt(3)
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_state_dict_returns_copies():
    model = make_mlp()
    state = model.state_dict()
    state["net.0.weight"][...] = 123
    assert not np.any(model.net[0].weight.data == 123)


def test_load_state_dict_copies_values_and_keeps_arrays():
    model, other = make_mlp(seed=1), make_mlp(seed=2)
    weight_array = model.net[0].weight.data
    state = other.state_dict()
    model.load_state_dict(state)
    assert model.net[0].weight.data is weight_array  # copied into, like torch's param.copy_
    assert np.array_equal(weight_array, state["net.0.weight"])
    state["net.0.weight"][...] = 7
    assert not np.any(model.net[0].weight.data == 7)


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (lambda s: s.pop("net.2.bias"), ValueError, r"missing keys \['net.2.bias'\]"),
        (lambda s: s.update(extra=np.zeros(1, np.float32)), ValueError, r"unexpected keys \['extra'\]"),
        (lambda s: s.update({"net.4.weight": np.zeros((3, 64), np.float32)}), ValueError,
         r"'net.4.weight' has shape \(3, 64\) in the state dict but \(2, 64\) in the model"),
        (lambda s: s.update({"net.0.bias": s["net.0.bias"].astype(np.float64)}), TypeError,
         r"'net.0.bias' has dtype float64 in the state dict but float32"),
        (lambda s: s.update({"net.0.bias": [0.0] * 64}), TypeError, r"'net.0.bias' must be a numpy.ndarray"),
    ],
)
def test_bad_state_dict_is_rejected_before_anything_changes(mutate, error, match):
    model = make_mlp(seed=1)
    before = model.state_dict()
    state = make_mlp(seed=2).state_dict()
    mutate(state)
    with pytest.raises(error, match=match):
        model.load_state_dict(state)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_double_and_float_cast_every_parameter_and_gradient():
    model = make_mlp()
    x = np.ones((2, 20), np.float32)
    model(x)
    model.backward(np.ones((2, 2), np.float32))
    model.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    model.float()
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())


def test_train_and_eval_set_every_submodule():
    model = make_mlp()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_sets_to_none_by_default_and_zeros_on_request():
    model = make_mlp()
    model(np.ones((2, 20), np.float32))
    model.backward(np.ones((2, 2), np.float32))
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_across_backward_calls_like_torch():
    model = make_mlp(np.float64)
    x, g = np.random.default_rng(0).standard_normal((3, 20)), np.ones((3, 2))
    model(x)
    model.backward(g)
    once = model.net[0].weight.grad.copy()
    model(x)
    model.backward(g)
    np.testing.assert_allclose(model.net[0].weight.grad, 2 * once)


def test_named_parameters_and_parameters_agree():
    model = make_mlp()
    assert [p for _, p in model.named_parameters()] == list(model.parameters())
    assert len(list(model.parameters())) == 6


def test_linear_without_bias_has_no_bias_key_like_torch():
    assert list(nn.Linear(3, 4, bias=False).state_dict()) == list(torch.nn.Linear(3, 4, bias=False).state_dict())


def test_manual_seed_rejects_bad_seeds():
    with pytest.raises(ValueError, match="non-negative integer"):
        scratchnet.manual_seed(-1)


def test_set_default_dtype_decides_new_parameters_like_torch():
    try:
        scratchnet.set_default_dtype(np.float64)
        assert scratchnet.get_default_dtype() == np.float64 and nn.Linear(2, 3).weight.dtype == np.float64
        with pytest.raises(TypeError, match="expected dtype float32 or float64, got"):
            scratchnet.set_default_dtype(np.float16)
    finally:
        scratchnet.set_default_dtype(np.float32)
    assert nn.Linear(2, 3).weight.dtype == np.float32


# -- calling with torch's keywords: module(input=x) ----------------------------------------------------------

MODULE_CLASSES = sorted(name for name in nn.__all__ if isinstance(getattr(nn, name), type)
                        and issubclass(getattr(nn, name), nn.Module) and getattr(nn, name) is not nn.Module)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _labels(*shape, high=3):
    return np.random.default_rng(1).integers(0, high, shape)


# name -> (a module in float64 and eval mode, the positional inputs of one call), for every exported module class
KEYWORD_CASES = {
    "AvgPool2d": (lambda: nn.AvgPool2d(2), lambda: [_rand(1, 2, 4, 4)]),
    "BCELoss": (lambda: nn.BCELoss(), lambda: [np.full(4, 0.3), np.array([0.0, 1.0, 1.0, 0.0])]),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), lambda: [_rand(4), np.array([0.0, 1.0, 1.0, 0.0])]),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2, dtype=np.float64), lambda: [_rand(3, 2, 2, 2)]),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 2, dtype=np.float64), lambda: [_rand(1, 2, 4, 4)]),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(), lambda: [_rand(4, 3), _labels(4)]),
    "Dropout": (lambda: nn.Dropout(0.5), lambda: [_rand(3, 4)]),
    "ELU": (lambda: nn.ELU(), lambda: [_rand(3, 4)]),
    "Embedding": (lambda: nn.Embedding(5, 3, dtype=np.float64), lambda: [_labels(2, 4, high=5)]),
    "Flatten": (lambda: nn.Flatten(), lambda: [_rand(2, 3, 4)]),
    "GELU": (lambda: nn.GELU(), lambda: [_rand(3, 4)]),
    "GRU": (lambda: nn.GRU(3, 4, dtype=np.float64), lambda: [_rand(5, 2, 3), _rand(1, 2, 4, seed=1)]),
    "GRUCell": (lambda: nn.GRUCell(3, 4, dtype=np.float64), lambda: [_rand(2, 3), _rand(2, 4, seed=1)]),
    "HuberLoss": (lambda: nn.HuberLoss(), lambda: [_rand(4), _rand(4, seed=1)]),
    "Identity": (lambda: nn.Identity(), lambda: [_rand(3, 4)]),
    "L1Loss": (lambda: nn.L1Loss(), lambda: [_rand(4), _rand(4, seed=1)]),
    "LSTM": (lambda: nn.LSTM(3, 4, dtype=np.float64), lambda: [_rand(5, 2, 3), (_rand(1, 2, 4), _rand(1, 2, 4))]),
    "LSTMCell": (lambda: nn.LSTMCell(3, 4, dtype=np.float64), lambda: [_rand(2, 3), (_rand(2, 4), _rand(2, 4))]),
    "LayerNorm": (lambda: nn.LayerNorm(4, dtype=np.float64), lambda: [_rand(3, 4)]),
    "LeakyReLU": (lambda: nn.LeakyReLU(), lambda: [_rand(3, 4)]),
    "Linear": (lambda: nn.Linear(4, 2, dtype=np.float64), lambda: [_rand(3, 4)]),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), lambda: [_rand(3, 4)]),
    "MSELoss": (lambda: nn.MSELoss(), lambda: [_rand(4), _rand(4, seed=1)]),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), lambda: [_rand(1, 2, 4, 4)]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, dtype=np.float64),
                           lambda: [_rand(3, 2, 4), _rand(3, 2, 4, seed=1), _rand(3, 2, 4, seed=2)]),
    "RNN": (lambda: nn.RNN(3, 4, dtype=np.float64), lambda: [_rand(5, 2, 3), _rand(1, 2, 4, seed=1)]),
    "RNNCell": (lambda: nn.RNNCell(3, 4, dtype=np.float64), lambda: [_rand(2, 3), _rand(2, 4, seed=1)]),
    "ReLU": (lambda: nn.ReLU(), lambda: [_rand(3, 4)]),
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Tanh()), lambda: [_rand(3, 4)]),
    "SiLU": (lambda: nn.SiLU(), lambda: [_rand(3, 4)]),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: [_rand(3, 4)]),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(), lambda: [_rand(4), _rand(4, seed=1)]),
    "Softmax": (lambda: nn.Softmax(dim=1), lambda: [_rand(3, 4)]),
    "Softplus": (lambda: nn.Softplus(), lambda: [_rand(3, 4)]),
    "Tanh": (lambda: nn.Tanh(), lambda: [_rand(3, 4)]),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, dtype=np.float64), 2,
                                                         enable_nested_tensor=False),
                           lambda: [_rand(3, 2, 4)]),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, 8, dtype=np.float64),
                                lambda: [_rand(3, 2, 4)]),
    # issue 13's layers, activations and losses
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(2), lambda: [_rand(1, 2, 5)]),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), lambda: [_rand(1, 2, 5, 5)]),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(2), lambda: [_rand(1, 2, 5, 5)]),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), lambda: [_rand(1, 2, 4)]),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(2, dtype=np.float64), lambda: [_rand(3, 2)]),
    "Bilinear": (lambda: nn.Bilinear(3, 2, 4, dtype=np.float64), lambda: [_rand(5, 3), _rand(5, 2, seed=1)]),
    "CELU": (lambda: nn.CELU(), lambda: [_rand(3, 4)]),
    "ConstantPad2d": (lambda: nn.ConstantPad2d(1, 0.5), lambda: [_rand(1, 2, 3, 3)]),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 2, dtype=np.float64), lambda: [_rand(1, 2, 5)]),
    "CosineEmbeddingLoss": (lambda: nn.CosineEmbeddingLoss(),
                            lambda: [_rand(4, 3), _rand(4, 3, seed=1), np.array([1, -1, 1, -1])]),
    "Dropout1d": (lambda: nn.Dropout1d(0.5), lambda: [_rand(2, 3, 4)]),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), lambda: [_rand(2, 3, 4, 4)]),
    "GLU": (lambda: nn.GLU(), lambda: [_rand(3, 4)]),
    "GaussianNLLLoss": (lambda: nn.GaussianNLLLoss(),
                        lambda: [_rand(4), _rand(4, seed=1), np.abs(_rand(4, seed=2)) + 0.1]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, dtype=np.float64), lambda: [_rand(3, 4, 2)]),
    "Hardshrink": (lambda: nn.Hardshrink(), lambda: [_rand(3, 4)]),
    "Hardsigmoid": (lambda: nn.Hardsigmoid(), lambda: [_rand(3, 4)]),
    "Hardswish": (lambda: nn.Hardswish(), lambda: [_rand(3, 4)]),
    "Hardtanh": (lambda: nn.Hardtanh(), lambda: [_rand(3, 4)]),
    "HingeEmbeddingLoss": (lambda: nn.HingeEmbeddingLoss(), lambda: [_rand(4), np.array([1.0, -1.0, 1.0, -1.0])]),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(2), lambda: [_rand(3, 2, 5)]),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(2), lambda: [_rand(3, 2, 3, 3)]),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean"),
                  lambda: [np.log(np.full((2, 3), 1 / 3)), np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])]),
    "LogSigmoid": (lambda: nn.LogSigmoid(), lambda: [_rand(3, 4)]),
    "MarginRankingLoss": (lambda: nn.MarginRankingLoss(),
                          lambda: [_rand(4), _rand(4, seed=1), np.array([1.0, -1.0, 1.0, -1.0])]),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), lambda: [_rand(1, 2, 4)]),
    "MaxUnpool2d": (lambda: nn.MaxUnpool2d(2),
                    lambda: [_rand(1, 1, 2, 2), np.array([[[[0, 3], [9, 14]]]])]),
    "Mish": (lambda: nn.Mish(), lambda: [_rand(3, 4)]),
    "MultiMarginLoss": (lambda: nn.MultiMarginLoss(), lambda: [_rand(4, 3), _labels(4)]),
    "NLLLoss": (lambda: nn.NLLLoss(), lambda: [np.log(np.full((4, 3), 1 / 3)), _labels(4)]),
    "PReLU": (lambda: nn.PReLU(dtype=np.float64), lambda: [_rand(3, 4)]),
    "PoissonNLLLoss": (lambda: nn.PoissonNLLLoss(), lambda: [_rand(4), np.array([0.0, 1.0, 2.0, 3.0])]),
    "ReLU6": (lambda: nn.ReLU6(), lambda: [_rand(3, 4)]),
    "SELU": (lambda: nn.SELU(), lambda: [_rand(3, 4)]),
    "SoftMarginLoss": (lambda: nn.SoftMarginLoss(), lambda: [_rand(4), np.array([1.0, -1.0, 1.0, -1.0])]),
    "Softmin": (lambda: nn.Softmin(dim=1), lambda: [_rand(3, 4)]),
    "Softshrink": (lambda: nn.Softshrink(), lambda: [_rand(3, 4)]),
    "Softsign": (lambda: nn.Softsign(), lambda: [_rand(3, 4)]),
    "Tanhshrink": (lambda: nn.Tanhshrink(), lambda: [_rand(3, 4)]),
    "Threshold": (lambda: nn.Threshold(0.1, 20.0), lambda: [_rand(3, 4)]),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 2)), lambda: [_rand(3, 4)]),
    "ZeroPad2d": (lambda: nn.ZeroPad2d(1), lambda: [_rand(1, 2, 3, 3)]),
}


def _torch_forward_names(name):
    """The names torch's forward of the same class gives its arguments, in order (self left out)."""
    return list(inspect.signature(getattr(torch.nn, name).forward).parameters)[1:]


def _bare(cls):
    """An instance with Module's registries but no __init__ of its own: enough to resolve keywords."""
    module = cls.__new__(cls)
    nn.Module.__init__(module)
    return module


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_every_exported_module_class_has_a_keyword_case():
    """A module class exported from scratchnet.nn without a case below fails here: add one."""
    assert sorted(KEYWORD_CASES) == MODULE_CLASSES


@pytest.mark.parametrize("name", MODULE_CLASSES)
def test_torchs_argument_names_reach_the_same_parameter(name):
    """Every keyword torch's forward takes names, in scratchnet, the parameter at the same position."""
    cls = getattr(nn, name)
    ours = list(inspect.signature(cls.forward).parameters)[1:]
    for position, keyword in enumerate(_torch_forward_names(name)):
        resolved = _bare(cls)._torch_keywords((), {keyword: None})
        assert list(resolved) == [ours[position]], (name, keyword, resolved)


@pytest.mark.parametrize("name", sorted(KEYWORD_CASES))
def test_calling_with_torchs_keywords_equals_calling_positionally(name):
    make, make_inputs = KEYWORD_CASES[name]
    inputs = make_inputs()
    keywords = dict(zip(_torch_forward_names(name), inputs))
    assert "input" in keywords or name in ("MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer",
                                           "Bilinear", "CosineEmbeddingLoss", "MarginRankingLoss", "PoissonNLLLoss")
    scratchnet.manual_seed(0)
    module = make().eval()
    by_position = module(*inputs)
    by_keyword = module(**keywords)
    by_both = module(inputs[0], **dict(list(keywords.items())[1:]))  # the first by position, the rest by name
    for a, b, c in zip(_leaves(by_position), _leaves(by_keyword), _leaves(by_both), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", MODULE_CLASSES)
def test_unknown_keywords_are_refused_as_torch_refuses_them(name):
    cls = getattr(nn, name)
    with pytest.raises(TypeError, match=rf"^{name}.forward\(\) got an unexpected keyword argument 'inputs' \(it takes"):
        _bare(cls)(np.zeros(3), inputs=np.zeros(3))
    # Python's own message where forward names its first argument 'input' (from the class defining forward)
    with pytest.raises(TypeError, match=r"forward\(\) got multiple values for argument 'input'"):
        _bare(cls)(np.zeros(3), input=np.zeros(3))


def test_refusals_read_as_torchs_then_say_more():
    x = np.zeros((2, 4))
    for call in (lambda m: m(x, input=x), lambda m: m(input=x, bogus=1)):
        with pytest.raises(TypeError) as theirs:
            call(torch.nn.Linear(4, 3).double())
        with pytest.raises(TypeError) as ours:
            call(nn.Linear(4, 3, dtype=np.float64))
        assert str(ours.value).startswith(str(theirs.value)), (str(ours.value), str(theirs.value))
    with pytest.raises(TypeError, match=r"multiple values for argument 'input' \(its first argument, 'x'\)"):
        nn.Linear(4, 3, dtype=np.float64)(input=x, x=x)


def test_keywords_pass_through_a_forward_that_takes_any():
    class TakesAny(nn.Module):
        def forward(self, *args, **kwargs):
            return args, kwargs

    assert TakesAny()(1, input=2, other=3) == ((1,), {"input": 2, "other": 3})
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'input' \(it takes none\)"):
        type("OnlyStarArgs", (nn.Module,), {"forward": lambda self, *args: args})()(input=1)
