"""The CNN on scikit-learn's 8x8 digits: side-by-side training parity with torch, and learning on its own."""

import time

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from parity import check_module, train_side_by_side
from scratchnet.data import Split, iterate_batches
from scratchnet.nn import CrossEntropyLoss
from scratchnet.optim import Adam
from scratchnet.training import evaluate, train_step


def load_digits_images(dtype):
    """sklearn's digits as (N, 1, 8, 8) images in [0, 1], split 80/20 with random_state=42."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.data / 16.0).reshape(-1, 1, 8, 8).astype(dtype)
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target.astype(np.int64), test_size=0.2,
                                                        random_state=42)
    return Split(X_train, X_test, y_train, y_test)


@pytest.fixture(scope="module")
def digits64():
    return load_digits_images(np.float64)


def test_cnn_state_dict_and_config_match_torch():
    scratch, twin = scratchnet.CNN(), torchnet.CNN()
    assert list(scratch.state_dict()) == list(twin.state_dict()) == [
        "net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.7.weight", "net.7.bias"]
    for name, value in twin.state_dict().items():
        assert scratch.state_dict()[name].shape == tuple(value.shape), name
    assert scratch.config() == {
        "in_channels": 1, "num_classes": 10, "channels": [16, 32], "kernel_size": 3, "image_size": 8}
    twin_from_config = torchnet.CNN(**scratch.config())  # the config builds the torch twin too (export/import)
    assert {k: tuple(v.shape) for k, v in twin_from_config.state_dict().items()} == {
        k: tuple(v.shape) for k, v in twin.state_dict().items()}
    rebuilt = scratchnet.CNN(**scratch.config())
    shapes = {name: value.shape for name, value in scratch.state_dict().items()}
    assert {name: value.shape for name, value in rebuilt.state_dict().items()} == shapes


@pytest.mark.parametrize("kwargs", [dict(), dict(in_channels=3, num_classes=4, channels=(4, 6, 8), kernel_size=2,
                                                 image_size=17)])
def test_cnn_forward_backward_matches_torch(kwargs):
    scratch, twin = scratchnet.CNN(dtype=np.float64, **kwargs), torchnet.CNN(dtype=torch.float64, **kwargs)
    size = kwargs.get("image_size", 8)
    x = np.random.default_rng(0).random((5, kwargs.get("in_channels", 1), size, size))
    check_module(scratch, twin, x).assert_passed()


def test_cnn_rejects_images_too_small_for_its_stages():
    with pytest.raises(ValueError, match="3 conv-pool stages halve an image of size 4 to 0"):
        scratchnet.CNN(channels=(4, 4, 4), image_size=4)


def test_cnn_trains_side_by_side_with_torch_on_digits(digits64):
    torch.manual_seed(0)
    report = train_side_by_side(scratchnet.CNN(dtype=np.float64), torchnet.CNN(dtype=torch.float64), digits64,
                                epochs=2, batch_size=64, optimizer="Adam")
    assert report.passed, report.failures
    assert len(report.steps) == 2 * int(np.ceil(len(digits64.X_train) / 64))
    assert report.max_abs_diff["param"] < 1e-12 and report.step_max_abs_diff["grad"] < 1e-12
    assert report.prediction_agreement == 1.0
    assert report.losses["scratchnet"][1] < report.losses["scratchnet"][0]


def test_scratchnet_cnn_learns_digits_above_90_percent():
    """float32 (the default), mini-batches of 64, Adam: well above 90% test accuracy in a few seconds."""
    X_train, X_test, y_train, y_test = load_digits_images(np.float32)
    scratchnet.manual_seed(0)
    model = scratchnet.CNN()
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(8):
        for index in iterate_batches(len(X_train), 64, shuffle=True, rng=rng):
            train_step(model, criterion, optimizer, X_train[index], y_train[index])
    elapsed = time.perf_counter() - start
    accuracy = evaluate(model, X_test, y_test, log=None)
    assert accuracy > 0.9, f"test accuracy {accuracy:.2%}"
    assert elapsed < 20, f"8 epochs took {elapsed:.1f} s"
