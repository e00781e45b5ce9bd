"""Module base: registry, state_dict, load_state_dict, dtype casts, train/eval, seeding."""

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
