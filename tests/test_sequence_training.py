"""The sequence task: the data sets, SequenceClassifier on both sides, and training."""

import time

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from parity import check_module
from parity.training import train_side_by_side
from scratchnet.data import iterate_batches, load_dataset
from scratchnet.nn import CrossEntropyLoss
from scratchnet.optim import Adam
from scratchnet.sequences import digits_as_sequences, make_genre_signals
from scratchnet.training import evaluate, train_step


@pytest.fixture(scope="module")
def digits64():
    return load_dataset("digits-seq", dtype=np.float64).split


def test_digits_as_sequences_reads_rows():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits_as_sequences(digits.data)
    assert X.shape == (1797, 8, 8)
    np.testing.assert_array_equal(X[0], digits.images[0])  # step t is pixel row t
    with pytest.raises(ValueError, match=r"expected flattened square images of shape \(N, 64\), got \(4, 63\)"):
        digits_as_sequences(np.zeros((4, 63)))


def test_digits_seq_split(digits64):
    X_train, X_test, y_train, y_test = digits64
    assert X_train.shape == (1437, 8, 8) and X_test.shape == (360, 8, 8)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert 0 <= X_train.min() and X_train.max() <= 1


def test_genre_signals_shape_balance_and_determinism():
    X, y = make_genre_signals(n_samples=400, seq_len=32, n_features=2, n_classes=4, random_state=3)
    assert X.shape == (400, 32, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100] * 4
    X2, y2 = make_genre_signals(n_samples=400, seq_len=32, n_features=2, n_classes=4, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make_genre_signals(n_samples=400, n_features=2, random_state=4)[0])
    X8, y8 = make_genre_signals(n_samples=80, n_classes=8)
    assert set(y8) == set(range(8))
    # square waves sit at +-amplitude: far fewer samples near zero than a sine's (in the noise-free signal)
    clean, labels = make_genre_signals(n_samples=400, noise=0.0)
    near_zero = (np.abs(clean) < 0.2).mean(axis=(1, 2))
    assert near_zero[labels == 1].mean() < 0.2 * near_zero[labels == 0].mean()
    with pytest.raises(ValueError, match="n_classes must be at most 8"):
        make_genre_signals(n_classes=9)


def test_genre_classes_need_the_sequence():
    """A GRU learns the genres well; a linear model on the bag of values (order ignored) does not."""
    X, y = make_genre_signals(n_samples=800, random_state=0)
    X = X.astype(np.float32)
    train, test = slice(0, 640), slice(640, None)
    scratchnet.manual_seed(0)
    model = scratchnet.SequenceClassifier(1, 32, 4, cell="gru", dtype=np.float32)
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(15):
        for index in iterate_batches(640, 64, shuffle=True, rng=rng):
            train_step(model, criterion, optimizer, X[train][index], y[train][index])
    assert evaluate(model, X[test], y[test], log=None) > 0.85
    sorted_values = np.sort(X[..., 0], axis=1)  # the order of the samples removed
    features = np.c_[sorted_values, np.ones(len(X))]
    weights, *_ = np.linalg.lstsq(features[train], np.eye(4)[y[train]], rcond=None)
    bag_accuracy = ((features[test] @ weights).argmax(axis=1) == y[test]).mean()
    assert bag_accuracy < 0.85


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_train_side_by_side_on_digits_float64(cell, digits64):
    torch.manual_seed(0)
    theirs = torchnet.SequenceClassifier(8, 32, 10, cell=cell, dtype=torch.float64)
    mine = scratchnet.SequenceClassifier(8, 32, 10, cell=cell, dtype=np.float64)
    report = train_side_by_side(mine, theirs, digits64, epochs=2, batch_size=64)
    assert report.passed, report.failures
    assert report.max_abs_diff["param"] < 1e-12
    assert report.prediction_agreement == 1.0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequence_classifier_matches_torch(cell, dtype):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    theirs = torchnet.SequenceClassifier(3, 5, 4, cell=cell, num_layers=2,
                                         dtype=torch.float64 if dtype == np.float64 else torch.float32)
    mine = scratchnet.SequenceClassifier(3, 5, 4, cell=cell, num_layers=2, dtype=dtype)
    check_module(mine, theirs, rng.standard_normal((6, 7, 3)).astype(dtype)).assert_passed()


def test_sequence_classifier_keys_and_config():
    mine = scratchnet.SequenceClassifier(8, 16, 10, cell="gru", num_layers=2)
    theirs = torchnet.SequenceClassifier(**mine.config())
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert list(mine.state_dict())[:2] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]
    assert list(mine.state_dict())[-2:] == ["head.weight", "head.bias"]
    assert mine.config() == {"input_size": 8, "hidden_size": 16, "num_classes": 10, "cell": "gru", "num_layers": 2}
    assert scratchnet.SequenceClassifier(**mine.config()).config() == mine.config()
    for side in (scratchnet, torchnet):
        with pytest.raises(ValueError, match="cell must be one of"):
            side.SequenceClassifier(8, 16, 10, cell="transformer")


def test_scratchnet_lstm_learns_digits():
    """A plain mini-batch loop in NumPy alone: the LSTM reads the digits row by row, > 85% on the test set."""
    X_train, X_test, y_train, y_test = load_dataset("digits-seq", dtype=np.float32).split
    scratchnet.manual_seed(0)
    model = scratchnet.SequenceClassifier(8, 64, 10, cell="lstm", dtype=np.float32)
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    losses = []
    for _ in range(10):
        for index in iterate_batches(len(X_train), 64, shuffle=True, rng=rng):
            losses.append(train_step(model, criterion, optimizer, X_train[index], y_train[index])[1])
    elapsed = time.perf_counter() - start
    accuracy = evaluate(model, X_test, y_test, log=None)
    assert accuracy > 0.85, f"test accuracy {accuracy:.2%}"
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert elapsed < 60, f"training took {elapsed:.1f}s"  # ~2-5 s here; a generous bound for slow CI runners
