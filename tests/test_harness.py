"""The checkers can fail: hand-made wrong modules that ``check_module``, ``gradcheck``, ``compare``
and the side-by-side comparison must each catch, naming the tensor.

Every broken module here differs from a correct one in one way only; the correct one passes
(so a failure is caused by the defect, not by the setup).
"""

import numpy as np
import pytest
import torch

import scratchnet
from parity import check_module, compare, tolerances
from parity.compare import matched
from scratchnet import nn
from scratchnet.gradcheck import gradcheck

TOLERANCE = tolerances.for_dtype(tolerances.MODULE, np.float64)


def _rng(seed=0):
    return np.random.default_rng(seed)


class Product(nn.Module):
    """y = x * z element-wise; dx = g * z, dz = g * x."""

    def forward(self, x, z):
        self._x, self._z = x, z
        return x * z

    def backward(self, grad_output):
        return grad_output * self._z, grad_output * self._x


class TorchProduct(torch.nn.Module):
    def forward(self, x, z):
        return x * z


def _product_inputs():
    return _rng(1).standard_normal((3, 4)), _rng(2).standard_normal((3, 4))


def _failures(report):
    return {d.name: d.note for d in report.failures}


def test_the_correct_product_passes():
    check_module(Product(), TorchProduct(), *_product_inputs()).assert_passed()
    assert gradcheck(Product(), *_product_inputs()) == []


def test_a_none_input_gradient_fails():
    class NoneForZ(Product):
        def backward(self, grad_output):
            return super().backward(grad_output)[0], None

    report = check_module(NoneForZ(), TorchProduct(), *_product_inputs())
    assert _failures(report) == {"grad input[1]": "missing on the scratchnet side (None)"}
    assert gradcheck(NoneForZ(), *_product_inputs()) == ["input[1]: no analytic gradient (None)"]


def test_a_missing_input_gradient_fails():
    class OnlyDx(Product):
        def backward(self, grad_output):
            return super().backward(grad_output)[0]

    report = check_module(OnlyDx(), TorchProduct(), *_product_inputs())
    assert set(_failures(report)) == {"input gradients", "grad input[1]"}
    assert "returned 1, expected 2" in _failures(report)["input gradients"]
    assert any("returned 1 input gradients, expected 2" in f for f in gradcheck(OnlyDx(), *_product_inputs()))


def test_an_extra_input_gradient_fails():
    class ThreeGrads(Product):
        def backward(self, grad_output):
            return (*super().backward(grad_output), grad_output)

    report = check_module(ThreeGrads(), TorchProduct(), *_product_inputs())
    assert "returned 3, expected 2" in _failures(report)["input gradients"]
    assert any("returned 3 input gradients, expected 2" in f for f in gradcheck(ThreeGrads(), *_product_inputs()))


def test_a_swapped_pair_of_gradients_fails():
    class Swapped(Product):
        def backward(self, grad_output):
            dx, dz = super().backward(grad_output)
            return dz, dx

    report = check_module(Swapped(), TorchProduct(), *_product_inputs())
    assert set(_failures(report)) == {"grad input[0]", "grad input[1]"}
    assert len(gradcheck(Swapped(), *_product_inputs())) == 2


def test_a_gradient_of_the_wrong_shape_fails():
    class Summed(Product):
        def backward(self, grad_output):
            dx, dz = super().backward(grad_output)
            return dx, dz.sum(axis=0)

    report = check_module(Summed(), TorchProduct(), *_product_inputs())
    assert _failures(report) == {"grad input[1]": "shape (4,) vs torch (3, 4)"}
    assert gradcheck(Summed(), *_product_inputs()) == ["input[1]: analytic shape (4,) but numeric shape (3, 4)"]


def test_an_extra_output_fails():
    class TwoOutputs(Product):
        def forward(self, x, z):
            return super().forward(x, z), x

    report = check_module(TwoOutputs(), TorchProduct(), *_product_inputs())
    assert "scratchnet returned 2 outputs, torch 1" in _failures(report)["outputs"]
    with pytest.raises(AssertionError, match="outputs"):
        report.assert_passed()


def test_a_declared_input_without_gradient_is_not_expected_to_have_one():
    class OnlyDx(Product):
        def backward(self, grad_output):
            return super().backward(grad_output)[0]

    check_module(OnlyDx(), TorchProduct(), *_product_inputs(), requires_grad=(True, False)).assert_passed()
    assert gradcheck(OnlyDx(), *_product_inputs(), requires_grad=(True, False)) == []
    with pytest.raises(ValueError, match="requires_grad has 1 flags for 2 inputs"):
        check_module(OnlyDx(), TorchProduct(), *_product_inputs(), requires_grad=(True,))
    with pytest.raises(ValueError, match="only float inputs can require a gradient"):
        check_module(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), _rng().standard_normal((3, 2)),
                     np.array([0, 1, 1]), requires_grad=(True, True))


def _linears():
    torch.manual_seed(0)
    twin = torch.nn.Linear(3, 2, dtype=torch.float64)
    return nn.Linear(3, 2, dtype=np.float64), twin, _rng().standard_normal((4, 3))


def test_a_parameter_gradient_left_none_fails():
    class NoWeightGrad(nn.Linear):
        def backward(self, grad_output):
            grad_input = super().backward(grad_output)
            self.weight.grad = None
            return grad_input

    _, twin, x = _linears()
    report = check_module(NoWeightGrad(3, 2, dtype=np.float64), twin, x)
    assert _failures(report) == {"grad weight": "missing on the scratchnet side (None)"}
    assert gradcheck(NoWeightGrad(3, 2, dtype=np.float64), x) == ["weight: no analytic gradient (None)"]


def test_a_parameter_missing_on_one_side_fails():
    mine, twin, x = _linears()
    check_module(mine, twin, x).assert_passed()
    no_bias = nn.Linear(3, 2, bias=False, dtype=np.float64)
    no_bias.weight.data[...] = twin.weight.detach().numpy()
    report = check_module(no_bias, twin, x, sync_weights=False)
    assert report["grad bias"].note == "the scratchnet module has no grad 'bias'"
    assert not report.passed
    with pytest.raises(ValueError, match=r"only torch has \['bias'\]"):
        matched("parameters", no_bias.named_parameters(), twin.named_parameters())
    with pytest.raises(ValueError, match=r"only scratchnet has \['bias'\]"):
        matched("parameters", mine.named_parameters(), torch.nn.Linear(3, 2, bias=False).named_parameters())


def test_compare_fails_on_none_either_side():
    value = np.ones((2, 3))
    assert compare("x", None, value, TOLERANCE).note == "missing on the scratchnet side (None)"
    assert compare("x", value, None, TOLERANCE).note == "missing on the torch side (None)"
    assert not compare("x", None, value, TOLERANCE).passed


@pytest.mark.parametrize("broken", ["h0", "c0"])
def test_a_recurrent_layer_dropping_its_state_gradient_fails(broken):
    """The hole this harness had: every RNN/LSTM backward returning None for dL/dh0 or dL/dc0 passed."""
    rng = _rng(4)
    x, h0, c0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 2, 4))

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, dtype=np.float64)

        def forward(self, x, h0, c0):
            return self.lstm(x, (h0, c0))

        def backward(self, grad):
            dx, (dh0, dc0) = self.lstm.backward(grad)
            return dx, None if broken == "h0" else dh0, None if broken == "c0" else dc0

    class TorchWrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)

        def forward(self, x, h0, c0):
            return self.lstm(x, (h0, c0))

    torch.manual_seed(0)
    report = check_module(Wrapper(), TorchWrapper(), x, h0, c0)
    position = 1 if broken == "h0" else 2
    assert _failures(report) == {f"grad input[{position}]": "missing on the scratchnet side (None)"}


def test_side_by_side_training_refuses_models_with_different_parameters():
    from parity.training import train_side_by_side

    X = _rng().standard_normal((8, 3))
    y = np.arange(8) % 2
    scratchnet.manual_seed(0)
    mine = scratchnet.MLP(3, [4], 2, dtype=np.float64)
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="missing keys"):
        train_side_by_side(mine, theirs, (X, X, y, y), epochs=1)


def test_a_layer_with_only_integer_inputs_is_compared_in_its_parameters_dtype():
    class NoPaddingRule(nn.Embedding):
        def backward(self, grad_output):
            result = super().backward(grad_output)
            self.weight.grad[self.padding_idx] += 1.0  # the padding row must get no gradient
            return result

    indices = np.array([[1, 2, 3], [3, 3, 9]])
    for dtype in (torch.float64, torch.float32):
        torch.manual_seed(0)
        twin = torch.nn.Embedding(10, 4, padding_idx=2, dtype=dtype)
        numpy_dtype = np.float64 if dtype == torch.float64 else np.float32
        check_module(nn.Embedding(10, 4, padding_idx=2, dtype=numpy_dtype), twin, indices).assert_passed()
        report = check_module(NoPaddingRule(10, 4, padding_idx=2, dtype=numpy_dtype), twin, indices)
        assert [d.name for d in report.failures] == ["grad weight"]
