"""Optimizer state dicts: torch's layout, key names and types; torch's state loads here and training
continues as torch's does, and back; round trips; refusals before any change."""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from scratchnet.nn import Parameter
from scratchnet.optim.lr_scheduler import StepLR
from test_optim import OPTIMIZERS, assert_params_match, step_both, twins

# One configuration per optimizer that creates every state entry it can (amsgrad, centered, momentum...).
FULL_STATE = [
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9)}),
    ("Adamax", {"lr": 0.01}),
    ("Adadelta", {"rho": 0.5}),
    ("ASGD", {"lr": 0.05, "t0": 2, "lambd": 0.01}),
]
IDS = [name for name, _ in FULL_STATE]


def torch_to_numpy(state_dict):
    """torch's optimizer state dict as scratchnet holds one: 0-d tensors as np.float32, others as arrays."""
    def convert(value):
        if value.dim() == 0:
            assert value.dtype == torch.float32  # torch's scalar state is in its default dtype
            return np.float32(value.item())
        return value.detach().numpy().copy()
    return {"state": {index: {key: convert(value) for key, value in entry.items()}
                      for index, entry in state_dict["state"].items()},
            "param_groups": copy.deepcopy(state_dict["param_groups"])}


def numpy_to_torch(state_dict):
    """The reverse: np.float32 scalars as float32 0-d tensors (as torch builds them), arrays as tensors."""
    def convert(value):
        if isinstance(value, np.ndarray):
            return torch.tensor(value)
        return torch.tensor(float(value), dtype=torch.float32)
    return {"state": {index: {key: convert(value) for key, value in entry.items()}
                      for index, entry in state_dict["state"].items()},
            "param_groups": copy.deepcopy(state_dict["param_groups"])}


def trained_twins(name, kwargs, dtype=np.float64, steps=6, seed=0):
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, kwargs, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    return scratch_params, scratch_opt, torch_params, torch_opt, rng


@pytest.mark.parametrize("name,kwargs", FULL_STATE, ids=IDS)
def test_state_dict_has_torchs_layout_names_types_and_values(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt, _ = trained_twins(name, kwargs)
    mine, theirs = scratch_opt.state_dict(), torch_to_numpy(torch_opt.state_dict())
    assert mine["param_groups"] == theirs["param_groups"]
    assert list(mine["state"]) == list(theirs["state"])
    for index, entry in theirs["state"].items():
        assert list(mine["state"][index]) == list(entry), index  # the same names, in the same order
        for key, value in entry.items():
            assert type(mine["state"][index][key]) is type(value), key
            assert np.asarray(mine["state"][index][key]).dtype == np.asarray(value).dtype, key
            np.testing.assert_allclose(mine["state"][index][key], value, rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", FULL_STATE, ids=IDS)
def test_torchs_state_dict_loads_and_training_continues_as_torchs(name, kwargs, dtype):
    """torch trains 6 steps; a fresh scratchnet optimizer over torch's current weights loads torch's
    state dict; both continue on the same gradients and stay together."""
    _, _, torch_params, torch_opt, rng = trained_twins(name, kwargs, dtype)
    scratch_params = [Parameter(p.detach().numpy().copy()) for p in torch_params]
    scratch_opt = OPTIMIZERS[name](scratch_params, lr=123.0)  # hyperparameters come from the state dict
    scratch_opt.load_state_dict(torch_to_numpy(torch_opt.state_dict()))
    for _ in range(10):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    assert_params_match(scratch_params, torch_params, 1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", FULL_STATE, ids=IDS)
def test_our_state_dict_loads_into_torch_and_training_continues_as_ours(name, kwargs, dtype):
    scratch_params, scratch_opt, _, _, rng = trained_twins(name, kwargs, dtype)
    torch_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in scratch_params]
    torch_opt = getattr(torch.optim, name)(torch_params, lr=123.0)
    torch_opt.load_state_dict(numpy_to_torch(scratch_opt.state_dict()))
    for _ in range(10):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    # (torch's load casts scalar state other than 'step' to the parameter's dtype, so the loaded torch
    # NAdam multiplies mu_product in float64 from then on; by step 6 mu_product is ~8e-3 and that
    # rounding no longer reaches 1e-12.)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert_params_match(scratch_params, torch_params, tolerance)


@given(st.sampled_from(FULL_STATE), st.integers(0, 8), st.integers(0, 2**32 - 1))
@examples(20)
def test_round_trip_continues_bit_for_bit(config, steps, seed):
    """After any number of steps, a fresh optimizer loading the state dict continues exactly as the original."""
    name, kwargs = config
    rng = np.random.default_rng(seed)
    originals = [Parameter(rng.standard_normal(shape)) for shape in ((3, 2), (4,))]
    original = OPTIMIZERS[name](originals, **kwargs)
    for _ in range(steps):
        for param in originals:
            param.grad = rng.standard_normal(param.shape)
        original.step()
    copies = [Parameter(param.data.copy()) for param in originals]
    restored = OPTIMIZERS[name](copies)
    restored.load_state_dict(original.state_dict())
    for _ in range(3):
        for mine, theirs in zip(originals, copies, strict=True):
            mine.grad = rng.standard_normal(mine.shape)
            theirs.grad = mine.grad.copy()
        original.step()
        restored.step()
    for mine, theirs in zip(originals, copies, strict=True):
        np.testing.assert_array_equal(mine.data, theirs.data)


def test_groups_are_numbered_in_order_and_extra_keys_survive():
    params = [Parameter(np.ones(2)), Parameter(np.ones(3)), Parameter(np.ones(1))]
    optimizer = OPTIMIZERS["Adam"]([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}])
    scheduler = StepLR(optimizer, step_size=1)  # adds 'initial_lr' to each group
    params[1].grad = np.ones(3)
    optimizer.step()
    scheduler.step()
    state = optimizer.state_dict()
    assert [group["params"] for group in state["param_groups"]] == [[0, 1], [2]]
    assert list(state["state"]) == [1]  # only the parameter that has stepped has state
    assert [group["initial_lr"] for group in state["param_groups"]] == [1e-3, 0.5]
    twin = OPTIMIZERS["Adam"]([{"params": [Parameter(np.ones(2)), Parameter(np.ones(3))]},
                               {"params": [Parameter(np.ones(1))]}])
    twin.load_state_dict(state)
    assert [group["lr"] for group in twin.param_groups] == [1e-4, 0.05]
    assert [group["initial_lr"] for group in twin.param_groups] == [1e-3, 0.5]
    np.testing.assert_array_equal(twin.state[twin.param_groups[0]["params"][1]]["exp_avg"],
                                  optimizer.state[params[1]]["exp_avg"])


def test_state_dict_is_a_copy_and_loading_copies():
    param = Parameter(np.ones(2))
    optimizer = OPTIMIZERS["SGD"]([param], lr=0.1, momentum=0.9)
    param.grad = np.ones(2)
    optimizer.step()
    saved = optimizer.state_dict()
    buffer = saved["state"][0]["momentum_buffer"].copy()
    optimizer.step()
    optimizer.param_groups[0]["lr"] = 7.0
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], buffer)
    assert saved["param_groups"][0]["lr"] == 0.1
    optimizer.load_state_dict(saved)
    saved["state"][0]["momentum_buffer"][...] = 99.0
    np.testing.assert_array_equal(optimizer.state[param]["momentum_buffer"], buffer)


def test_loaded_state_takes_the_parameters_dtype():
    """As torch casts floating state to each parameter's dtype (scalars stay float32)."""
    source = Parameter(np.ones(2))
    optimizer = OPTIMIZERS["Adam"]([source])
    source.grad = np.ones(2)
    optimizer.step()
    target = Parameter(np.ones(2, np.float32))
    twin = OPTIMIZERS["Adam"]([target])
    twin.load_state_dict(optimizer.state_dict())
    assert twin.state[target]["exp_avg"].dtype == np.float32 and type(twin.state[target]["step"]) is np.float32


def test_adamw_stays_decoupled_after_loading():
    param = Parameter(np.ones(2))
    saved = OPTIMIZERS["Adam"]([param], weight_decay=0.1).state_dict()
    adamw = OPTIMIZERS["AdamW"]([Parameter(np.ones(2))])
    adamw.load_state_dict(saved)
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True  # as torch's AdamW


def test_older_state_dicts_get_new_options_from_the_defaults():
    optimizer = OPTIMIZERS["Adam"]([Parameter(np.ones(2))])
    saved = optimizer.state_dict()
    del saved["param_groups"][0]["maximize"]
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["maximize"] is False


def _bad_state_dicts():
    def good():
        params = [Parameter(np.ones((2, 2))), Parameter(np.ones(3))]
        optimizer = OPTIMIZERS["Adam"](params)
        for param in params:
            param.grad = np.ones(param.shape)
        optimizer.step()
        return optimizer.state_dict()

    two_groups = good()
    two_groups["param_groups"].append(copy.deepcopy(two_groups["param_groups"][0]))
    short_group = good()
    short_group["param_groups"][0]["params"] = [0]
    wrong_shape = good()
    wrong_shape["state"][1]["exp_avg"] = np.zeros(4)
    wrong_type = good()
    wrong_type["state"][0]["exp_avg_sq"] = "zeros"
    return [
        ([], ValueError, "a dict with keys 'param_groups' and 'state'"),
        ({"state": {}}, ValueError, "a dict with keys 'param_groups' and 'state'"),
        (two_groups, ValueError, "loaded state dict has a different number of parameter groups"),
        (short_group, ValueError, "doesn't match the size of optimizer's group"),
        (wrong_shape, ValueError, r"state\[1\]\['exp_avg'\] has shape \(4,\), but .* parameter 1 has shape \(3,\)"),
        (wrong_type, TypeError, r"state\[0\]\['exp_avg_sq'\] should be a numpy array or a number, got str"),
    ]


@pytest.mark.parametrize("bad,error,message", _bad_state_dicts(),
                         ids=["not-a-dict", "no-groups", "group-count", "group-size", "shape", "type"])
def test_bad_state_dicts_are_refused_before_any_change(bad, error, message):
    params = [Parameter(np.ones((2, 2))), Parameter(np.ones(3))]
    optimizer = OPTIMIZERS["Adam"](params, lr=0.3)
    for param in params:
        param.grad = np.full(param.shape, 0.5)
    optimizer.step()
    before = optimizer.state_dict()
    with pytest.raises(error, match=message):
        optimizer.load_state_dict(bad)
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entry in before["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["state"][index][key], value)


def test_torch_refuses_what_we_refuse_for_group_count_and_size():
    """The two structural refusals carry torch's own messages."""
    torch_opt = torch.optim.Adam([torch.zeros(2, requires_grad=True)])
    saved = torch_opt.state_dict()
    saved["param_groups"] = saved["param_groups"] * 2
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        torch_opt.load_state_dict(saved)
    saved["param_groups"] = [{**saved["param_groups"][0], "params": [0, 1]}]
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        torch_opt.load_state_dict(saved)


def test_state_it_cannot_place_is_kept_under_its_key_and_saved_again_as_torch():
    """torch keeps a saved state entry whose index matches no parameter, and state_dict() hands it back
    under that index (an optimizer built over fewer parameters than the one that saved)."""
    scratch_params, scratch_opt, torch_params, torch_opt, _ = trained_twins("SGD", {"lr": 0.05, "momentum": 0.9})
    saved, their_saved = scratch_opt.state_dict(), torch_opt.state_dict()
    saved["state"][5] = {"momentum_buffer": np.full(3, 7.0)}
    their_saved["state"][5] = {"momentum_buffer": torch.full((3,), 7.0, dtype=torch.float64)}
    scratch_opt.load_state_dict(saved)
    torch_opt.load_state_dict(their_saved)
    mine, theirs = scratch_opt.state_dict(), torch_opt.state_dict()
    assert list(mine["state"]) == list(theirs["state"]) == [0, 1, 2, 5]
    np.testing.assert_array_equal(mine["state"][5]["momentum_buffer"], theirs["state"][5]["momentum_buffer"].numpy())


@pytest.mark.parametrize("kwargs", [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9}])
def test_sgd_without_momentum_saves_no_state_as_torch(kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt, _ = trained_twins("SGD", kwargs, steps=2)
    assert list(scratch_opt.state_dict()["state"]) == list(torch_opt.state_dict()["state"])
