"""Datasets, CSV files, mini-batches and metrics."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from scratchnet import metrics
from scratchnet.data import (DATASETS, SKLEARN_DATASETS, iterate_batches, load_csv, load_dataset, load_lecture_data,
                             make_plane_dataset, make_spiral)


@pytest.mark.parametrize("name", list(SKLEARN_DATASETS))
def test_shipped_datasets_are_standardised_on_the_training_split_only(name):
    dataset = load_dataset(name)
    X_train, X_test, y_train, y_test = dataset.split
    assert dataset.task == SKLEARN_DATASETS[name][1]
    assert len(X_test) == int(np.ceil(0.2 * (len(X_train) + len(X_test))))
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-10)
    std = X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-10) | (std == 0))  # digits has constant (all-zero) pixels
    assert np.abs(X_test.mean(axis=0)).max() > 1e-3  # the test split was not used to fit the scaling
    if dataset.task == "regression":
        np.testing.assert_allclose(y_train.mean(), 0, atol=1e-10)
        assert dataset.target_std > 1
    else:
        assert y_train.dtype == np.int64 and dataset.num_classes == y_train.max() + 1


def test_lecture_dataset_is_the_lectures_unscaled_split():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=1000, n_features=20, n_informative=15, n_redundant=5, n_classes=2,
                               random_state=42)
    expected = train_test_split(X, y, test_size=0.2, random_state=42)
    for mine, theirs in zip(load_lecture_data(np.float64), expected, strict=True):
        assert np.array_equal(mine, theirs)
    assert "lecture" in DATASETS


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.1, 0.999])
def test_bad_test_size_is_rejected(test_size):
    with pytest.raises(ValueError, match="test_size"):
        load_dataset("iris", test_size=test_size)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="unknown dataset .mnist.; expected one of lecture, moons, circles, spiral, xor, breast_cancer"):
        load_dataset("mnist")


@given(n=st.integers(1, 50), batch_size=st.integers(1, 20), drop_last=st.booleans(), seed=st.integers(0, 100))
def test_batches_are_those_torchs_dataloader_forms_from_the_same_order(n, batch_size, drop_last, seed):
    order = np.random.default_rng(seed).permutation(n)
    mine = list(iterate_batches(n, batch_size, shuffle=True, rng=np.random.default_rng(seed), drop_last=drop_last))
    loader = DataLoader(torch.arange(n), batch_size=batch_size, sampler=order.tolist(), drop_last=drop_last)
    theirs = [batch.numpy() for batch in loader]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs, strict=True):
        assert np.array_equal(a, b)
    if not drop_last:
        assert sorted(np.concatenate(mine).tolist()) == list(range(n))


def test_full_batch_is_a_slice_without_copying():
    assert list(iterate_batches(10)) == [slice(None)]


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        list(iterate_batches(10, 0))


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_rows(n, target):
    rng = np.random.default_rng(0)
    lines = ["a,b,label"]
    for i in range(n):
        lines.append(f"{rng.normal():.4f},{rng.normal():.4f},{target(i)}")
    return "\n".join(lines) + "\n"


def test_csv_with_text_classes_becomes_a_classification_task(tmp_path):
    dataset = load_csv(write(tmp_path, csv_rows(30, lambda i: ["cat", "dog", "emu"][i % 3])), "label")
    assert dataset.task == "multiclass" and dataset.class_names == ("cat", "dog", "emu")
    assert dataset.split.X_train.shape == (24, 2)


def test_csv_with_two_integer_labels_is_binary_and_continuous_is_regression(tmp_path):
    assert load_csv(write(tmp_path, csv_rows(20, lambda i: i % 2)), "label").task == "binary"
    regression = load_csv(write(tmp_path, csv_rows(40, lambda i: i * 0.37)), "label")
    assert regression.task == "regression" and regression.split.y_train.dtype == np.float64


@pytest.mark.parametrize(
    "text, match",
    [
        ("a,b,label\n1,2,0\n3,oops,1\n", r"line 3, column 'b': 'oops' is not a finite number"),
        ("a,b,label\n1,2,0\n3,,1\n", r"line 3, column 'b': missing value"),
        ("a,b,label\n1,2,0\n3,nan,1\n", r"line 3, column 'b': 'nan' is not a finite number"),
        ("a,b,label\n1,2,0\n3,4\n", r"line 3 has 2 fields but the header has 3"),
        ("a,b,price\n1,2,0\n", r"has no column 'label'; its columns are: a, b, price"),
        ("", r"is empty"),
        ("a,b,label\n", r"has a header but no data rows"),
    ],
)
def test_bad_csv_files_name_the_line_and_column(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_csv(write(tmp_path, text), "label")


def test_unreadable_csv_names_the_path(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read .*missing.csv"):
        load_csv(tmp_path / "missing.csv", "label")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="cannot read"):
        load_csv(tmp_path / "binary.csv", "label")


def test_csv_regression_task_on_text_target_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"line 2, column 'label': 'cat' is not a number"):
        load_csv(write(tmp_path, csv_rows(10, lambda i: "cat")), "label", task="regression")


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_classification_metrics_match_scikit_learn(pairs):
    import sklearn.metrics

    y_true, y_pred = np.array(pairs).T
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sklearn.metrics.accuracy_score(y_true, y_pred))
    expected = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(4))
    assert np.array_equal(metrics.confusion_matrix(y_true, y_pred, 4), expected)


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=2, max_size=40))
def test_regression_metrics_match_scikit_learn(pairs):
    import sklearn.metrics

    y_true, y_pred = np.array(pairs).T
    assert metrics.mean_squared_error(y_true, y_pred) == pytest.approx(
        sklearn.metrics.mean_squared_error(y_true, y_pred), rel=1e-12, abs=1e-12)
    assert metrics.mean_absolute_error(y_true, y_pred) == pytest.approx(
        sklearn.metrics.mean_absolute_error(y_true, y_pred), rel=1e-12, abs=1e-12)
    if np.ptp(y_true) > 1e-3:
        assert metrics.r2_score(y_true, y_pred) == pytest.approx(sklearn.metrics.r2_score(y_true, y_pred), rel=1e-9)


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        metrics.accuracy(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("name, classes, samples", [("moons", 2, 1000), ("circles", 2, 1000), ("spiral", 3, 900),
                                                     ("xor", 2, 1000)])
def test_plane_datasets_are_points_in_the_plane_the_same_for_a_seed(name, classes, samples):
    dataset = load_dataset(name)
    X_train, X_test, y_train, y_test = dataset.split
    assert X_train.shape[1] == 2 and len(X_train) + len(X_test) == samples
    assert dataset.num_classes == classes and set(np.unique(y_train)) == set(range(classes))
    assert np.abs(X_train).max() < 3  # near unit scale, as drawn (not standardised)
    X, y = make_plane_dataset(name)
    again = make_plane_dataset(name)
    assert np.array_equal(X, again[0]) and np.array_equal(y, again[1])
    other = make_plane_dataset(name, seed=7)
    assert not np.array_equal(X, other[0])


def test_spiral_arms_are_the_classes():
    X, y = make_spiral(np.random.default_rng(0), points_per_arm=50, arms=4, noise=0.0)
    radius, angle = np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius, np.tile(np.linspace(0, 1, 50), 4), atol=1e-12)
    # without noise, arm k at radius r has angle 4 r + 2 pi k / 4 (mod 2 pi)
    expected = 4 * radius + 2 * np.pi * y / 4
    np.testing.assert_allclose(np.angle(np.exp(1j * (angle - expected)))[radius > 0], 0, atol=1e-12)


def test_xor_labels_are_the_sign_agreement():
    X, y = make_plane_dataset("xor")
    assert np.array_equal(y, (np.sign(X[:, 0]) == np.sign(X[:, 1])).astype(np.int64))
