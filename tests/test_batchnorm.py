"""BatchNorm1d and BatchNorm2d against torch: train and eval, running statistics, empty batches, gradients,
bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import BatchNorm2d
from scratchnet.nn.normalization import BatchNorm1d

DTYPES = [np.float64, np.float32]


CLASSES = {"BatchNorm1d": (BatchNorm1d, torch.nn.BatchNorm1d), "BatchNorm2d": (BatchNorm2d, torch.nn.BatchNorm2d)}


def twins(num_features, dtype=np.float64, name="BatchNorm2d", **kwargs):
    scratch_cls, torch_cls = CLASSES[name]
    return (scratch_cls(num_features, dtype=dtype, **kwargs),
            torch_cls(num_features, dtype=torch_dtype(dtype), **kwargs))


def randomise_affine(twin, rng):
    """Non-trivial gamma and beta (torch starts at 1 and 0), so their gradients matter."""
    with torch.no_grad():
        if twin.weight is not None:
            twin.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, twin.num_features)))
        if twin.bias is not None:
            twin.bias.copy_(torch.tensor(rng.standard_normal(twin.num_features)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(40)
@given(n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5),
       affine=st.booleans(), track=st.booleans(), momentum=st.sampled_from([0.1, 0.5, None]),
       eps=st.sampled_from([1e-5, 1e-3]), training=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm_matches_torch(dtype, n, c, h, w, affine, track, momentum, eps, training, seed):
    if (training or not track) and n * h * w == 1:
        n = 2  # torch refuses to take batch statistics of a single value per channel (tested below)
    rng = np.random.default_rng(seed)
    scratch, twin = twins(c, dtype, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    randomise_affine(twin, rng)
    if track:
        twin.running_mean.copy_(torch.tensor(rng.standard_normal(c)))
        twin.running_var.copy_(torch.tensor(rng.uniform(0.5, 2.0, c)))
    twin.train(training)
    x = (rng.standard_normal((n, c, h, w)) * 3 + 1).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()  # includes the updated buffers


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
def test_running_statistics_follow_torch_over_many_steps(dtype, momentum):
    """Five training steps without re-syncing (drift would show), then eval on the running stats."""
    rng = np.random.default_rng(0)
    scratch, twin = twins(3, dtype, momentum=momentum)
    randomise_affine(twin, rng)
    for step in range(5):
        x = (rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step).astype(dtype)
        check_module(scratch, twin, x, sync_weights=(step == 0), seed=step).assert_passed()
    assert int(scratch.num_batches_tracked) == int(twin.num_batches_tracked) == 5
    assert scratch.num_batches_tracked.dtype == np.int64 and scratch.num_batches_tracked.shape == ()
    twin.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    check_module(scratch, twin, x, sync_weights=False).assert_passed()
    assert int(scratch.num_batches_tracked) == 5  # eval changes nothing


def test_running_variance_is_unbiased_and_normalisation_biased():
    bn = BatchNorm2d(1, momentum=1.0, dtype=np.float64)
    x = np.array([1.0, 2.0, 3.0, 6.0]).reshape(4, 1, 1, 1)
    y = bn(x)
    assert bn.running_mean[0] == pytest.approx(3.0)
    assert bn.running_var[0] == pytest.approx(x.var(ddof=1))
    np.testing.assert_allclose(y.ravel(), (x.ravel() - 3.0) / np.sqrt(x.var() + 1e-5))


def test_state_dict_keys_buffers_and_defaults_match_torch():
    scratch, twin = twins(4, np.float32)
    assert list(scratch.state_dict()) == list(twin.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    for name, value in twin.state_dict().items():
        mine = scratch.state_dict()[name]
        assert mine.shape == tuple(value.shape) and str(mine.dtype) == str(value.dtype).replace("torch.", ""), name
        np.testing.assert_array_equal(mine, value.numpy())
    bare, bare_twin = twins(4, affine=False, track_running_stats=False)
    assert list(bare.state_dict()) == list(bare_twin.state_dict()) == []
    assert scratch.float().state_dict()["num_batches_tracked"].dtype == np.int64  # casting leaves the counter alone


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(affine, training):
    rng = np.random.default_rng(1)
    bn = BatchNorm2d(3, affine=affine, dtype=np.float64)
    if affine:
        bn.weight.data[:] = rng.uniform(0.5, 2.0, 3)
        bn.bias.data[:] = rng.standard_normal(3)
    bn.running_mean[:] = rng.standard_normal(3)
    bn.running_var[:] = rng.uniform(0.5, 2.0, 3)
    bn.train(training)
    x = rng.standard_normal((3, 3, 2, 3))
    # gradcheck runs forward many times; in training each one updates the running stats,
    # which the batch-statistics output does not read
    assert gradcheck(bn, x) == []


def test_gradcheck_sees_the_batch_statistics_paths():
    """Using the eval formula in training (dropping the paths through mu and var) must fail."""
    bn = BatchNorm2d(2, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 3))
    bn(x)
    bn._used_batch_stats = False
    original_forward = bn.forward

    def forward_then_pretend_eval(inp):
        out = original_forward(inp)
        bn._used_batch_stats = False
        return out
    bn.forward = forward_then_pretend_eval
    assert gradcheck(bn, x) != []


# -- bad input --------------------------------------------------------------------------------


def test_bad_input_names_the_shapes():
    bn = BatchNorm2d(3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expected a 4-D input \(N, 3, H, W\) with C = 3 channels "
                                         r"at dim 1, got \(2, 4, 5, 5\)"):
        bn(np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, 3, H, W\), got a 2-D input \(2, 3\)"):
        bn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\) expected a 2-D or 3-D input \(N, 4\) or \(N, 4, L\), "
                                         r"got a 1-D input \(4,\)"):
        BatchNorm1d(4, dtype=np.float64)(np.zeros(4))
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input \(1, 3, 1, 1\)"):
        bn(np.zeros((1, 3, 1, 1)))
    assert int(bn.num_batches_tracked) == 0  # nothing changed
    with pytest.raises(TypeError, match=r"has dtype float32 but the parameters are float64"):
        bn(np.zeros((2, 3, 2, 2), dtype=np.float32))
    bn.eval()
    assert bn(np.zeros((1, 3, 1, 1))).shape == (1, 3, 1, 1)  # a single value is fine in eval
    untracked = BatchNorm2d(3, track_running_stats=False, dtype=np.float64).eval()
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):
        untracked(np.zeros((1, 3, 1, 1)))  # no running stats: eval uses the batch's too


@pytest.mark.parametrize("value", [0, -2, 2.5, True])
def test_bad_num_features(value):
    with pytest.raises(ValueError, match="positive integer num_features"):
        BatchNorm2d(value)


# -- BatchNorm1d, bias=False, empty batches -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(25)
@given(n=st.integers(1, 5), c=st.integers(1, 4), length=st.one_of(st.none(), st.integers(1, 5)),
       affine=st.booleans(), bias=st.booleans(), track=st.booleans(), momentum=st.sampled_from([0.1, None]),
       training=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm1d_matches_torch(dtype, n, c, length, affine, bias, track, momentum, training, seed):
    """(N, C) features (length None) and (N, C, L) sequences."""
    shape = (n, c) if length is None else (n, c, length)
    if (training or not track) and n * (length or 1) == 1:
        shape = (2, *shape[1:])  # one value per channel is refused (tested below)
    rng = np.random.default_rng(seed)
    scratch, twin = twins(c, dtype, "BatchNorm1d", affine=affine, bias=bias, track_running_stats=track,
                          momentum=momentum)
    randomise_affine(twin, rng)
    if track:
        twin.running_mean.copy_(torch.tensor(rng.standard_normal(c)))
        twin.running_var.copy_(torch.tensor(rng.uniform(0.5, 2.0, c)))
    twin.train(training)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()


@examples(15)
@given(n=st.integers(2, 5), c=st.integers(1, 4), training=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm1d_on_features_is_batchnorm2d_on_1x1_images(n, c, training, seed):
    """(N, C) through BatchNorm1d and (N, C, 1, 1) through BatchNorm2d: the same statistics, outputs,
    gradients and running statistics."""
    rng = np.random.default_rng(seed)
    one, two = BatchNorm1d(c, dtype=np.float64), BatchNorm2d(c, dtype=np.float64)
    for bn in (one, two):
        bn.weight.data[:] = np.linspace(0.5, 2.0, c)
        bn.bias.data[:] = np.linspace(-1.0, 1.0, c)
        bn.train(training)
    x, g = rng.standard_normal((n, c)) * 3, rng.standard_normal((n, c))
    np.testing.assert_allclose(one(x), two(x[:, :, None, None])[:, :, 0, 0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(one.backward(g), two.backward(g[:, :, None, None])[:, :, 0, 0], rtol=1e-13, atol=1e-13)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(one, name), getattr(two, name), rtol=1e-13)
    for a, b in zip(one.parameters(), two.parameters(), strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("affine", [True, False])
def test_bias_false_registers_no_beta_like_torch(name, affine):
    scratch, twin = twins(3, np.float32, name, affine=affine, bias=False)
    assert list(scratch.state_dict()) == list(twin.state_dict())
    assert scratch.bias is None and twin.bias is None
    assert repr(scratch) == repr(twin)  # ... affine=..., bias=False, track_running_stats=True
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2)[:4 if name == "BatchNorm2d" else 3]).astype(np.float32)
    randomise_affine(twin, np.random.default_rng(1))
    check_module(scratch, twin, x).assert_passed()


def test_repr_matches_torch():
    for kwargs in ({}, {"momentum": None, "eps": 1e-3}, {"affine": False, "track_running_stats": False}):
        for name in CLASSES:
            scratch, twin = twins(5, np.float32, name, **kwargs)
            assert repr(scratch) == repr(twin)


@pytest.mark.parametrize("name,shape", [("BatchNorm2d", (0, 3, 2, 2)), ("BatchNorm2d", (2, 3, 0, 2)),
                                        ("BatchNorm1d", (0, 3)), ("BatchNorm1d", (0, 3, 4))])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_empty_batch_like_torch(name, shape, momentum, track, training):
    """torch: an empty output, zero parameter gradients; in training with running statistics the batch is
    counted in num_batches_tracked but moves no statistic -- so a cumulative average (momentum None)
    weighs the next batch by 1/2. Then a real batch, without re-syncing, shows the counter's effect."""
    rng = np.random.default_rng(3)
    scratch, twin = twins(3, np.float64, name, momentum=momentum, track_running_stats=track)
    randomise_affine(twin, rng)
    if track:
        twin.running_mean.copy_(torch.tensor(rng.standard_normal(3)))
        twin.running_var.copy_(torch.tensor(rng.uniform(0.5, 2.0, 3)))
    twin.train(training)
    report = check_module(scratch, twin, np.zeros(shape))
    report.assert_passed()
    assert report["output"].shape == shape and report["grad weight"].shape == (3,)
    np.testing.assert_array_equal(scratch.weight.grad, np.zeros(3))
    if track:
        assert int(scratch.num_batches_tracked) == int(training)
    full = (4, 3, 2, 2) if name == "BatchNorm2d" else (4, 3)
    check_module(scratch, twin, rng.standard_normal(full), sync_weights=False).assert_passed()


@pytest.mark.parametrize("training,track,eps,match", [
    (True, True, 0.0, "eps must be positive during training, but got 0.0"),
    (False, False, 0.0, "eps must be positive during training"),  # batch statistics in eval too
    (False, True, -1.0, "eps must be non-negative, but got -1.0"),
])
def test_bad_eps_is_refused_as_torch_does(training, track, eps, match):
    x = np.ones((2, 3, 2, 2))
    scratch, twin = twins(3, np.float64, eps=eps, track_running_stats=track)
    scratch.train(training), twin.train(training)
    with pytest.raises(ValueError, match=match):
        twin(torch.tensor(x))
    with pytest.raises(ValueError, match=match):
        scratch(x)
    if track:
        assert int(scratch.num_batches_tracked) == 0  # refused before any state changes (torch counts first)
    assert twins(3, np.float64, eps=0.0)[0].eval()(x).shape == x.shape  # eps 0 with running statistics: fine


@pytest.mark.parametrize("name,shape", [("BatchNorm2d", (4, 5, 2, 2)), ("BatchNorm1d", (4, 5)),
                                        ("BatchNorm1d", (4, 5, 3))])
def test_channels_are_free_without_gamma_beta_or_running_stats_as_torch(name, shape):
    """num_features is unused when there is nothing of size C: torch normalises any C then, as here."""
    scratch, twin = twins(3, np.float64, name, affine=False, track_running_stats=False)
    check_module(scratch, twin, np.random.default_rng(0).standard_normal(shape)).assert_passed()
    with pytest.raises(ValueError, match=rf"{name}\(3\) expected"):
        twins(3, np.float64, name, affine=False)[0](np.zeros(shape))  # running statistics of size 3


def test_batchnorm1d_bad_input_names_the_shapes():
    bn = BatchNorm1d(3, dtype=np.float64)
    for shape in [(3,), (2, 3, 4, 5), (2, 4)]:
        with pytest.raises(ValueError, match=r"BatchNorm1d\(3\) expected a 2-D or 3-D input \(N, 3\) or \(N, 3, L\)"):
            bn(np.zeros(shape))
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input \(1, 3\)"):
        bn(np.zeros((1, 3)))
    assert bn(np.zeros((1, 3, 2))).shape == (1, 3, 2)  # N = 1 with L = 2: two values per channel
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(3)(torch.zeros(1, 3))


@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 2)])
def test_batchnorm1d_gradcheck(shape):
    rng = np.random.default_rng(4)
    bn = BatchNorm1d(3, dtype=np.float64)
    bn.weight.data[:] = rng.uniform(0.5, 2.0, 3)
    bn.bias.data[:] = rng.standard_normal(3)
    assert gradcheck(bn, rng.standard_normal(shape)) == []
    assert gradcheck(bn.eval(), rng.standard_normal(shape)) == []


@pytest.mark.parametrize("name,shape", [("BatchNorm2d", (2, 3, 2, 2)), ("BatchNorm1d", (4, 3)),
                                        ("BatchNorm1d", (4, 3, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_backward_checks_grad_output(name, shape, training):
    layer = CLASSES[name][0](3, dtype=np.float64).train(training)
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward: call forward first"):
        layer.backward(np.ones(shape))
    layer(np.random.default_rng(0).standard_normal(shape))
    for bad in [(1,) + shape[1:], shape[:-1] + (1,), shape[1:]]:  # the first two would broadcast
        with pytest.raises(ValueError, match=rf"{name}.backward expected grad_output of the output's shape "
                                             rf"\({', '.join(map(str, shape))}\), got"):
            layer.backward(np.ones(bad))
    assert layer.weight.grad is None and layer.bias.grad is None  # refused before anything accumulated
    assert layer.backward(np.ones(shape)).shape == shape


@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_stay_registered_buffers_after_updates(momentum):
    """The update assigns new arrays (running_mean = (1 - a) running_mean + a mu): Module routes them
    into the buffer registry, so state_dict, load_state_dict and dtype casts keep seeing them."""
    rng = np.random.default_rng(0)
    layer, twin = twins(3, momentum=momentum)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2))
        layer(x), twin(torch.tensor(x))
    assert "running_mean" not in vars(layer) and "running_var" not in vars(layer)
    assert layer._buffers["running_mean"] is layer.running_mean and layer._buffers["running_var"] is layer.running_var
    state = layer.state_dict()
    assert list(state) == list(twin.state_dict())
    np.testing.assert_array_equal(state["running_mean"], layer.running_mean)
    assert int(state["num_batches_tracked"]) == int(twin.num_batches_tracked) == 3
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(state[key], twin.state_dict()[key].numpy(), rtol=1e-12)
    fresh = BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_var, layer.running_var)
    assert layer.float().running_mean.dtype == np.float32 and layer.num_batches_tracked.dtype == np.int64
