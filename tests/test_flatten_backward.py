"""Flatten and Unflatten refuse a backward before forward and a grad_output not of the output's shape
(a reshape alone would take any gradient of the right size, a transposed one included)."""

import numpy as np
import pytest

from scratchnet.nn.flatten import Flatten, Unflatten


@pytest.mark.parametrize("layer,shape,out_shape,bad", [
    (Flatten(), (2, 3, 4), (2, 12), (12, 2)),
    (Flatten(0, 1), (2, 3, 4), (6, 4), (4, 6)),
    (Unflatten(1, (3, 4)), (2, 12), (2, 3, 4), (2, 4, 3)),
])
def test_backward_checks_grad_output(layer, shape, out_shape, bad):
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}.backward called before forward"):
        layer.backward(np.ones(out_shape))
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    assert layer(x).shape == out_shape
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}.backward expected grad_output of the output's "
                                         rf"shape \({', '.join(map(str, out_shape))}\), got"):
        layer.backward(np.ones(bad))
    np.testing.assert_array_equal(layer.backward(layer(x)), x)
