"""MaxUnpool2d against torch: parity (default and given output sizes, batched and unbatched, repeated
indices), gradient checks, unpool(pool(x)) as a property, and the refusals torch makes."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.pooling import MaxPool2d, MaxUnpool2d

DTYPES = [np.float64, np.float32]


class UnpoolTo(MaxUnpool2d):
    """MaxUnpool2d with a fixed output_size, so check_module can pass (x, indices) alone."""

    def __init__(self, output_size, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.size = output_size

    def forward(self, x, indices):
        return super().forward(x, indices, self.size)


class TorchUnpoolTo(torch.nn.MaxUnpool2d):
    def __init__(self, output_size, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.size = output_size

    def forward(self, x, indices):
        return super().forward(x, indices, self.size)


def pooled(x, **kwargs):
    """y and indices of MaxPool2d over x, as the inputs an unpool takes."""
    return MaxPool2d(return_indices=True, **kwargs)(x)


CASES = [  # pool's kwargs, input shape, output_size (None: the default)
    (dict(kernel_size=2), (2, 3, 6, 6), None),
    (dict(kernel_size=2), (2, 3, 7, 5), (7, 5)),  # the odd row and column the pool dropped
    (dict(kernel_size=3, stride=2, padding=1), (1, 2, 7, 7), None),
    (dict(kernel_size=3, stride=2, padding=1), (1, 2, 7, 8), (1, 2, 7, 8)),  # (N, C, H, W) form
    (dict(kernel_size=(2, 3), stride=(1, 2)), (2, 1, 5, 8), (5, 8)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs, shape, output_size", CASES, ids=[str(c) for c in range(len(CASES))])
def test_unpool_matches_torch(kwargs, shape, output_size, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    y, indices = pooled(x, **kwargs)
    unpool_kwargs = {k: v for k, v in kwargs.items() if k in ("kernel_size", "stride", "padding")}
    scratch, twin = UnpoolTo(output_size, **unpool_kwargs), TorchUnpoolTo(output_size, **unpool_kwargs)
    check_module(scratch, twin, y, indices).assert_passed()
    check_module(scratch, twin, y[0], indices[0]).assert_passed()  # unbatched (C, H, W)


def test_repeated_index_last_write_wins_and_backward_gathers_like_torch():
    """Two inputs pointing at one output: torch's forward keeps the last; its backward gives both the gradient there."""
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    indices = np.array([[[[3, 3, 0]]]])
    check_module(UnpoolTo((2, 6), 2), TorchUnpoolTo((2, 6), 2), x, indices).assert_passed()
    y = MaxUnpool2d(2)(x, indices, output_size=(2, 6))
    assert y[0, 0, 0, 3] == 2.0 and y[0, 0, 0, 0] == 3.0 and np.count_nonzero(y) == 2


def test_unpool_gradcheck():
    """Windows that do not overlap, so no index repeats (where torch's forward and backward disagree, above)."""
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 7))
    y, indices = pooled(x[..., :6], kernel_size=2, stride=2, padding=1)
    assert gradcheck(MaxUnpool2d(2, stride=2, padding=1), y, indices) == []
    y, indices = pooled(x, kernel_size=(2, 3), stride=(3, 3))
    assert gradcheck(UnpoolTo((6, 7), (2, 3), stride=3), y[1], indices[1]) == []


@examples(25)
@given(kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       extra=st.tuples(st.integers(0, 4), st.integers(0, 4)), channels=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_unpool_of_pool_puts_each_max_back_where_it_was_read(kernel, stride, extra, channels, seed):
    """unpool(pool(x)) equals x at every index the pool returned and is 0 elsewhere; its size is x's."""
    shape = (channels, kernel[0] + extra[0], kernel[1] + extra[1])
    x = np.random.default_rng(seed).standard_normal(shape)
    y, indices = pooled(x, kernel_size=kernel, stride=stride)
    back = MaxUnpool2d(kernel, stride)(y, indices, output_size=shape[1:])
    assert back.shape == shape
    was_max = np.zeros(shape, dtype=bool).reshape(channels, -1)
    np.put_along_axis(was_max, indices.reshape(channels, -1), True, axis=1)
    was_max = was_max.reshape(shape)
    np.testing.assert_array_equal(back[was_max], x[was_max])
    assert np.all(back[~was_max] == 0.0)


def test_unpool_refusals_like_torch():
    y, indices = pooled(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), kernel_size=2)
    unpool, twin = MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    y_t, indices_t = torch.from_numpy(y), torch.from_numpy(indices)
    bad = [  # (scratch's error, its message, arguments), each refused by torch too
        (ValueError, r"found an invalid index \d+: the output planes are 4x4, so indices must lie in \[0, 16\)",
         (y, indices + 16)),
        (ValueError, r"found an invalid index -1", (y, indices * 0 - 1)),
        (ValueError, r"expected indices of the input's shape \(1, 2, 2, 2\), got \(1, 1, 2, 2\)", (y, indices[:, :1])),
        (TypeError, r"indices must have dtype int64 \(as MaxPool2d returns them\), got int32",
         (y, indices.astype(np.int32))),
        (ValueError, r"expected a 4-D input \(N, C, H, W\) or a 3-D unbatched input \(C, H, W\), with C and the sizes "
                     r"non-zero, got shape \(2, 2\)", (y[0, 0], indices[0, 0])),
        (ValueError, r"got output_size \(6, 6\): dim 0 must be between 2 and 6 \(exclusive\), the default being 4",
         (y, indices, (6, 6))),
        (ValueError, r"expected output_size to be 2 ints \(H, W\) or 4 \(N, C, H, W\), got \(4,\)", (y, indices, (4,))),
    ]
    for error, message, args in bad:
        with pytest.raises(error, match="^MaxUnpool2d " + message):
            unpool(*args)
        torch_args = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
        with pytest.raises((RuntimeError, ValueError)):
            twin(*torch_args)
    with pytest.raises(TypeError, match="MaxUnpool2d input must have dtype float32 or float64, got int64"):
        unpool(indices, indices)
    twin(y_t, indices_t)  # and the well-formed call passes on both sides
    unpool(y, indices)


def test_unpool_attributes_and_repr_mirror_torch():
    for args in [(2,), ((2, 3), 1, (1, 0))]:
        scratch, twin = MaxUnpool2d(*args), torch.nn.MaxUnpool2d(*args)
        assert repr(scratch) == repr(twin)
        assert (scratch.kernel_size, scratch.stride, scratch.padding) == (twin.kernel_size, twin.stride, twin.padding)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_an_empty_batch_matches_torch(dtype):
    """N = 0 gives an empty output of torch's shape and an empty dx."""
    x, indices = np.zeros((0, 2, 3, 2), dtype=dtype), np.zeros((0, 2, 3, 2), dtype=np.int64)
    scratch, twin = MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert scratch(x, indices).shape == tuple(twin(torch.tensor(x), torch.tensor(indices)).shape) == (0, 2, 6, 4)
    check_module(scratch, twin, x, indices, requires_grad=[True, False]).assert_passed()


def test_backward_refuses_a_grad_output_not_of_the_outputs_shape():
    unpool = MaxUnpool2d(2)
    with pytest.raises(RuntimeError, match=r"MaxUnpool2d.backward called before forward: call forward first"):
        unpool.backward(np.zeros((1, 2, 6, 4)))
    y = unpool(*pooled(np.random.default_rng(0).standard_normal((1, 2, 6, 4)), kernel_size=2))  # (1, 2, 6, 4)
    for g in [y.swapaxes(-1, -2), y[None], y[..., :-1], y.reshape(-1)]:  # transposed, extra axis, short, flat
        with pytest.raises(ValueError, match=r"MaxUnpool2d.backward expected grad_output of the output's shape "
                                             r"\(1, 2, 6, 4\), got"):
            unpool.backward(np.ascontiguousarray(g))
    assert unpool.backward(np.ones_like(y)).shape == (1, 2, 3, 2)
