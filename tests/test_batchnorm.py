"""BatchNorm2d against torch.nn.BatchNorm2d: train and eval, running statistics, gradients, bad input."""

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

DTYPES = [np.float64, np.float32]


def twins(num_features, dtype=np.float64, **kwargs):
    return (BatchNorm2d(num_features, dtype=dtype, **kwargs),
            torch.nn.BatchNorm2d(num_features, dtype=torch_dtype(dtype), **kwargs))


def randomise_affine(twin, rng):
    """Non-trivial gamma and beta (torch starts at 1 and 0), so their gradients matter."""
    with torch.no_grad():
        if twin.affine:
            twin.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, twin.num_features)))
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
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expected a 4-D input \(N, 3, H, W\), got \(2, 4, 5, 5\)"):
        bn(np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, 3, H, W\), got \(2, 3\)"):
        bn(np.zeros((2, 3)))
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
