"""InstanceNorm1d and InstanceNorm2d against torch: instance and running statistics, unbatched inputs,
gradients, torch's warning and refusals."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from parity.tolerances import Tolerance
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.normalization import InstanceNorm1d, InstanceNorm2d

DTYPES = [np.float64, np.float32]
CLASSES = {"InstanceNorm1d": (InstanceNorm1d, torch.nn.InstanceNorm1d, 1),
           "InstanceNorm2d": (InstanceNorm2d, torch.nn.InstanceNorm2d, 2)}


def twins(name, num_features, dtype=np.float64, **kwargs):
    scratch_cls, torch_cls, _ = CLASSES[name]
    return (scratch_cls(num_features, dtype=dtype, **kwargs),
            torch_cls(num_features, dtype=torch_dtype(dtype), **kwargs))


def randomise(twin, rng):
    """Non-trivial gamma, beta and running statistics (torch starts at 1, 0, 0, 1)."""
    c = twin.num_features
    with torch.no_grad():
        if twin.weight is not None:
            twin.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, c)))
        if twin.bias is not None:
            twin.bias.copy_(torch.tensor(rng.standard_normal(c)))
        if twin.running_mean is not None:
            twin.running_mean.copy_(torch.tensor(rng.standard_normal(c)))
            twin.running_var.copy_(torch.tensor(rng.uniform(0.5, 2.0, c)))


def instances(rng, shape, spatial):
    """Each (n, c)'s positions drawn standardised, then spread by 0.5..2 and offset by -3..3: the
    comparison then measures rounding, not the conditioning of x - mu (see tests/test_layernorm.py)."""
    z = rng.standard_normal(shape)
    axes = tuple(range(len(shape) - spatial, len(shape)))
    z -= z.mean(axis=axes, keepdims=True)
    z /= z.std(axis=axes, keepdims=True)
    kept = shape[:len(shape) - spatial] + (1,) * spatial
    return z * rng.uniform(0.5, 2.0, kept) + rng.uniform(-3, 3, kept)


@st.composite
def configs(draw):
    name = draw(st.sampled_from(sorted(CLASSES)))
    spatial = CLASSES[name][2]
    batch = draw(st.one_of(st.just(()), st.tuples(st.integers(1, 3))))  # () is unbatched
    c = draw(st.integers(1, 3))
    positions = tuple(draw(st.integers(1, 4)) for _ in range(spatial))
    if math.prod(positions) == 1:
        positions = (2,) + positions[1:]  # one value per instance is refused with instance statistics
    return name, batch + (c,) + positions, spatial


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(30)
@given(config=configs(), affine=st.booleans(), bias=st.booleans(), track=st.booleans(),
       momentum=st.sampled_from([0.1, 0.6, None]), training=st.booleans(), seed=st.integers(0, 2**16))
def test_instance_norm_matches_torch(dtype, config, affine, bias, track, momentum, training, seed):
    name, shape, spatial = config
    rng = np.random.default_rng(seed)
    scratch, twin = twins(name, shape[-spatial - 1], dtype, affine=affine, bias=bias,
                          track_running_stats=track, momentum=momentum)
    randomise(twin, rng)
    twin.train(training)
    x = instances(rng, shape, spatial).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()  # the running statistics included


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_follow_torch_over_many_steps(dtype, momentum):
    """Four training steps without re-syncing: the mean over the batch of each instance's mean and
    unbiased variance (momentum None: torch passes 0, nothing moves), then eval on them."""
    rng = np.random.default_rng(0)
    scratch, twin = twins("InstanceNorm2d", 3, dtype, affine=True, track_running_stats=True, momentum=momentum)
    randomise(twin, rng)
    for step in range(4):
        x = instances(rng, (4, 3, 3, 5), 2).astype(dtype)
        check_module(scratch, twin, x, sync_weights=(step == 0), seed=step).assert_passed()
    assert int(scratch.num_batches_tracked) == int(twin.num_batches_tracked) == 0  # never counted, as torch
    twin.eval()
    x = rng.standard_normal((2, 3, 1, 1)).astype(dtype)  # one value each is fine with running statistics
    check_module(scratch, twin, x, sync_weights=False).assert_passed()


def test_instance_statistics_by_hand():
    layer = InstanceNorm1d(1, eps=0.0, track_running_stats=True, momentum=1.0, dtype=np.float64)
    x = np.array([[[1.0, 2.0, 3.0, 6.0]], [[0.0, 0.0, 1.0, 1.0]]])
    y = layer(x)
    np.testing.assert_allclose(y, (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True))
    np.testing.assert_allclose(layer.running_mean, [(3.0 + 0.5) / 2])
    np.testing.assert_allclose(layer.running_var, [(x[0].var(ddof=1) + x[1].var(ddof=1)) / 2])


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("affine,track,training", [(True, False, True), (False, False, True),
                                                   (True, True, True), (True, True, False)])
@pytest.mark.parametrize("batched", [True, False])
def test_instance_norm_gradcheck(name, affine, track, training, batched):
    rng = np.random.default_rng(5)
    spatial = CLASSES[name][2]
    layer = CLASSES[name][0](2, affine=affine, track_running_stats=track, dtype=np.float64).train(training)
    for param in layer.parameters():
        param.data[:] = rng.uniform(0.5, 2.0, 2)
    if track:
        layer.running_mean[:], layer.running_var[:] = rng.standard_normal(2), rng.uniform(0.5, 2.0, 2)
    shape = (2,) * batched + (2,) + (3,) * spatial
    assert gradcheck(layer, rng.standard_normal(shape)) == []


def test_unbatched_is_a_batch_of_one():
    rng = np.random.default_rng(6)
    layer = InstanceNorm2d(3, affine=True, dtype=np.float64)
    layer.weight.data[:] = rng.uniform(0.5, 2.0, 3)
    x, g = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    y, dx = layer(x), layer.backward(g)
    np.testing.assert_allclose(y, layer(x[None])[0], rtol=1e-15)
    np.testing.assert_allclose(dx, layer.backward(g[None])[0], rtol=1e-15)


def test_state_dict_keys_defaults_and_repr_match_torch():
    for kwargs in ({}, {"affine": True}, {"affine": True, "bias": False}, {"track_running_stats": True},
                   {"affine": True, "track_running_stats": True, "momentum": None, "eps": 1e-3}):
        for name in CLASSES:
            scratch, twin = twins(name, 4, np.float32, **kwargs)
            assert list(scratch.state_dict()) == list(twin.state_dict()), kwargs
            for key, value in twin.state_dict().items():
                np.testing.assert_array_equal(scratch.state_dict()[key], value.numpy())
                assert scratch.state_dict()[key].dtype == value.numpy().dtype
            assert repr(scratch) == repr(twin)


# -- torch's warning and refusals ---------------------------------------------------------------


def test_channel_mismatch_without_parameters_warns_and_runs_as_torch():
    """affine=False and no running statistics: num_features is unused; torch warns and normalises anyway."""
    x = np.random.default_rng(7).standard_normal((2, 5, 4))
    scratch, twin = twins("InstanceNorm1d", 3)
    with pytest.warns(UserWarning) as mine:
        scratch(x)
    with pytest.warns(UserWarning) as theirs:
        twin(torch.tensor(x))
    assert [str(w.message) for w in mine] == [str(w.message) for w in theirs]  # torch's text, once
    assert "input's size at dim=1 does not match num_features" in str(mine[0].message)
    assert mine[0].filename == __file__  # points at the caller, as torch's stacklevel does
    with pytest.warns(UserWarning):
        check_module(scratch, twin, x).assert_passed()
    with pytest.warns(UserWarning, match=r"size at dim=0 does not match"):
        scratch(x[0])  # unbatched: the channels are dim 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scratch(x[:, :3])  # matching channels: silent


@pytest.mark.parametrize("kwargs", [{"affine": True}, {"track_running_stats": True}])
def test_channel_mismatch_with_parameters_or_statistics_is_refused(kwargs):
    scratch, twin = twins("InstanceNorm1d", 3, **kwargs)
    x = np.zeros((2, 5, 4))
    with pytest.raises((ValueError, RuntimeError)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin(torch.tensor(x))
    with pytest.raises(ValueError, match=r"InstanceNorm1d\(3\) expected input's size at dim=1 to match num_features "
                                         r"\(3\), but got: 5"):
        scratch(x)


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 4, 4)), ("InstanceNorm1d", (3,)),
                                        ("InstanceNorm2d", (3, 4)), ("InstanceNorm2d", (2, 3, 4, 4, 1))])
def test_wrong_rank_is_refused(name, shape):
    scratch, twin = twins(name, 3)
    with pytest.raises(ValueError, match="expected"):
        twin(torch.zeros(shape, dtype=torch.float64))
    form = r"a 2-D or 3-D input \(3, L\) or \(N, 3, L\)" if name == "InstanceNorm1d" else \
        r"a 3-D or 4-D input \(3, H, W\) or \(N, 3, H, W\)"
    with pytest.raises(ValueError, match=rf"{name}\(3\) expected {form}"):
        scratch(np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 3, 1), (3, 1)])
def test_one_position_is_refused_with_instance_statistics(shape):
    for track, training in [(False, True), (False, False), (True, True)]:
        scratch, twin = twins("InstanceNorm1d", 3, track_running_stats=track)
        scratch.train(training), twin.train(training)
        with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
            twin(torch.zeros(shape, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"expected more than 1 spatial element when training, got input"):
            scratch(np.zeros(shape))
    assert twins("InstanceNorm1d", 3, track_running_stats=True)[0].eval()(np.zeros(shape)).shape == shape


def test_empty_inputs():
    """No positions: an empty output and untouched statistics, as torch. An empty batch: torch fails
    with affine (refused here) and, tracking, writes the mean of nothing (NaN) into its running
    statistics, which scratchnet deliberately leaves unchanged instead."""
    scratch, twin = twins("InstanceNorm1d", 3, affine=True, track_running_stats=True)
    randomise(twin, np.random.default_rng(8))
    check_module(scratch, twin, np.zeros((2, 3, 0))).assert_passed()
    with pytest.raises(IndexError):
        twin(torch.zeros(0, 3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="affine=True cannot take an empty batch"):
        scratch(np.zeros((0, 3, 4)))
    scratch, twin = twins("InstanceNorm1d", 3, track_running_stats=True)
    twin(torch.zeros(0, 3, 4, dtype=torch.float64))
    assert torch.isnan(twin.running_mean).all()
    assert scratch(np.zeros((0, 3, 4))).shape == (0, 3, 4)
    np.testing.assert_array_equal(scratch.running_mean, np.zeros(3))


def test_dtype_is_checked_against_parameters_only():
    with pytest.raises(TypeError, match=r"InstanceNorm2d input has dtype float32 but the parameters are float64"):
        InstanceNorm2d(2, affine=True, dtype=np.float64)(np.zeros((2, 2, 2), np.float32))
    assert InstanceNorm2d(2, dtype=np.float64)(np.ones((2, 2, 2), np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="InstanceNorm1d input must have dtype float32 or float64"):
        InstanceNorm1d(2)(np.zeros((2, 3), np.int64))


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_bad_num_features(value):
    with pytest.raises(ValueError, match="positive integer num_features"):
        InstanceNorm1d(value)


# -- a large offset and a small spread: the conditioning of x - mu ------------------------------

# x = 1000 + 0.01 z: x - mu cancels about log10(1000 / 0.01) = 5 of float64's 16 digits, on both sides
# and differently, so they agree to ~eps * cond = 2e-16 * 1e5 in x_hat and 100x that in dx (times
# 1 / sqrt(var) = 100); the tolerance is 50x that bound (tests/test_norm_group.py shows a one-pass
# variance failing it). float32 is left out: there cond * eps = 1e5 * 1.2e-7 ~ 1e-2, no test at all.
OFFSET, SPREAD = 1000.0, 0.01
CONDITIONED = Tolerance(atol=50 * np.finfo(np.float64).eps * OFFSET / SPREAD ** 2, rtol=1e-10)


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 50)), ("InstanceNorm1d", (3, 40)),
                                        ("InstanceNorm2d", (2, 3, 6, 6)), ("InstanceNorm2d", (3, 5, 7))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, True)])
def test_large_offset_small_spread_matches_torch_in_float64(name, shape, affine, track):
    rng = np.random.default_rng(22)
    scratch, twin = twins(name, 3, affine=affine, track_running_stats=track)
    randomise(twin, rng)
    x = OFFSET + SPREAD * rng.standard_normal(shape)
    check_module(scratch, twin, x, tolerance=CONDITIONED).assert_passed()  # training: instance statistics
    spatial = CLASSES[name][2]
    rows = x.astype(np.longdouble).reshape(*shape[:-spatial], -1)  # each instance's positions, exactly
    mu = rows.mean(axis=-1, keepdims=True)
    x_hat = (rows - mu) / np.sqrt(((rows - mu) ** 2).mean(axis=-1, keepdims=True) + np.longdouble(1e-5))
    bare = CLASSES[name][0](3, dtype=np.float64)
    np.testing.assert_allclose(bare(x), x_hat.reshape(shape).astype(np.float64), rtol=0,
                               atol=50 * np.finfo(np.float64).eps * OFFSET / SPREAD)


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_backward_checks_grad_output(shape, training):
    layer = InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=np.float64).train(training)
    with pytest.raises(RuntimeError, match="InstanceNorm1d.backward called before forward"):
        layer.backward(np.ones(shape))
    layer(np.random.default_rng(0).standard_normal(shape))
    bad = (1,) + shape[1:] if len(shape) == 3 else (3, 1)  # both would broadcast
    with pytest.raises(ValueError, match=rf"InstanceNorm1d.backward expected grad_output of the output's shape "
                                         rf"\({', '.join(map(str, shape))}\), got"):
        layer.backward(np.ones(bad))
    assert layer.weight.grad is None
    assert layer.backward(np.ones(shape)).shape == shape
