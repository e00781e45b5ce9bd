"""Datasets as NumPy arrays, shared by scratchnet, torchnet and parity.

- ``load_lecture_data``: the lecture's ``make_classification`` data, split 80/20.
- ``load_dataset(name)``: the lecture's data or a dataset that ships inside scikit-learn.
- ``load_csv(path, target)``: a user's own file of numeric features.
- ``iterate_batches``: one epoch's mini-batch indices, as torch's DataLoader forms them.

scikit-learn is imported inside the loaders, never when scratchnet is imported.
Features of real datasets are standardised with the mean and standard deviation of the
training split only, so nothing about the test split leaks into training.
"""

import csv
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from scratchnet._dtype import as_float_dtype

Split = namedtuple("Split", ["X_train", "X_test", "y_train", "y_test"])

TASKS = ("binary", "multiclass", "regression")

# name -> (scikit-learn loader, task, what it is)
SKLEARN_DATASETS = {
    "breast_cancer": ("load_breast_cancer", "binary", "569 tumours, 30 features: malignant or benign"),
    "iris": ("load_iris", "multiclass", "150 flowers, 4 features, 3 species"),
    "wine": ("load_wine", "multiclass", "178 wines, 13 features, 3 cultivars"),
    "digits": ("load_digits", "multiclass", "1797 8x8 images of handwritten digits, 10 classes"),
    "diabetes": ("load_diabetes", "regression", "442 patients, 10 features: disease progression after a year"),
}
# Sequences (N, T, features) for the recurrent models.
SEQUENCE_DATASETS = {
    "digits-seq": "the digits read row by row: 8 steps of 8 pixels, 10 classes",
    "genre": "1000 generated signals of 32 steps whose class is their waveform and frequency, 4 classes",
}
DATASETS = {
    "lecture": "the lecture's make_classification data: 1000 samples, 20 features, 2 classes",
    **{name: description for name, (_, _, description) in SKLEARN_DATASETS.items()},
    **SEQUENCE_DATASETS,
}

# A numeric CSV target with at most this many distinct integer values is read as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass
class Dataset:
    """A train/test split with what a model needs to know about it.

    ``split`` holds float features and targets: int64 class labels for classification,
    float values for regression (standardised on the training split; ``target_mean`` and
    ``target_std`` turn predictions back into the original units).
    """

    name: str
    task: str
    split: Split
    num_classes: int = None
    class_names: tuple = None
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def sample_shape(self):
        """One sample's shape: (features,) for tables, (steps, features) for sequences."""
        return self.split.X_train.shape[1:]


def load_lecture_data(dtype=np.float64):
    """The lecture's data: ``Split(X_train (800, 20), X_test (200, 20), y_train (800,), y_test (200,))``.

    Features of ``dtype``, int64 labels; see ``load_dataset("lecture")``.
    """
    return load_dataset("lecture", dtype=dtype).split


def check_test_size(test_size, n_samples):
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (a fraction of the samples), got {test_size}")
    n_test = int(np.ceil(test_size * n_samples))
    if n_test < 1 or n_samples - n_test < 1:
        raise ValueError(f"test_size {test_size} leaves an empty train or test split of {n_samples} samples")


def split_and_scale(name, task, X, y, *, test_size=0.2, dtype=np.float64, standardize=True, class_names=None,
                    random_state=42):
    """Split 80/20 (by default) as the lecture does; standardise features and regression targets on train only."""
    from sklearn.model_selection import train_test_split

    check_test_size(test_size, len(X))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=random_state)
    if standardize:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        std[std == 0] = 1.0  # a constant feature stays constant (0) instead of dividing by zero
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    dtype = as_float_dtype(dtype)
    if task == "regression":
        y_mean, y_std = float(y_train.mean()), float(y_train.std()) or 1.0
        split = Split(X_train.astype(dtype), X_test.astype(dtype),
                      ((y_train - y_mean) / y_std).astype(dtype), ((y_test - y_mean) / y_std).astype(dtype))
        return Dataset(name, task, split, target_mean=y_mean, target_std=y_std)
    split = Split(X_train.astype(dtype), X_test.astype(dtype), y_train.astype(np.int64), y_test.astype(np.int64))
    num_classes = len(class_names) if class_names is not None else int(y.max()) + 1
    return Dataset(name, task, split, num_classes=num_classes, class_names=class_names)


def load_dataset(name, *, test_size=0.2, dtype=np.float64):
    """A dataset by name (see ``DATASETS``), split and standardised; the lecture's data is left as the lecture has it."""
    if name == "lecture":
        # The lecture's call, unscaled as in the lecture; with the default test_size the
        # split is the lecture's train_test_split(X, y, test_size=0.2, random_state=42).
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=1000, n_features=20, n_informative=15, n_redundant=5, n_classes=2, random_state=42
        )
        return split_and_scale("lecture", "binary", X, y, test_size=test_size, dtype=dtype, standardize=False)
    if name in SEQUENCE_DATASETS:
        from scratchnet.sequences import digits_as_sequences, make_genre_signals

        if name == "genre":
            X, y = make_genre_signals()
        else:
            import sklearn.datasets

            digits = sklearn.datasets.load_digits()
            X, y = digits_as_sequences(digits.data / 16.0), digits.target  # pixels scaled to [0, 1]
        return split_and_scale(name, "multiclass", X, y, test_size=test_size, dtype=dtype, standardize=False)
    if name not in SKLEARN_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    import sklearn.datasets

    loader, task, _ = SKLEARN_DATASETS[name]
    X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    return split_and_scale(name, task, X, y, test_size=test_size, dtype=dtype)


def _parse_number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def infer_task(values):
    """binary / multiclass for a few distinct integer values, regression otherwise."""
    distinct = np.unique(values)
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_INFERRED_CLASSES:
        return "binary" if len(distinct) == 2 else "multiclass"
    return "regression"


def load_csv(path, target, *, task=None, test_size=0.2, dtype=np.float64):
    """A user's CSV file: a header row, numeric feature columns and a ``target`` column.

    The target may be numbers (class labels or a continuous value; the task is inferred
    unless given) or text (class names). Every error names the file, the line and the column.
    """
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValueError(f"{path} is empty: expected a header row naming the columns, then one row per sample")
    header = [cell.strip() for cell in rows[0]]
    if target not in header:
        raise ValueError(f"{path} has no column {target!r}; its columns are: {', '.join(header)}")
    target_index = header.index(target)
    feature_names = [name for i, name in enumerate(header) if i != target_index]
    if not feature_names:
        raise ValueError(f"{path} has no feature columns besides the target {target!r}")
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise ValueError(f"{path} has a header but no data rows")

    features, targets = [], []
    for line, row in body:
        if len(row) != len(header):
            raise ValueError(f"{path} line {line} has {len(row)} fields but the header has {len(header)}")
        values = []
        for i, cell in enumerate(row):
            cell = cell.strip()
            if cell == "":
                raise ValueError(f"{path} line {line}, column {header[i]!r}: missing value "
                                 f"(fill or drop missing values first)")
            if i == target_index:
                targets.append(cell)
                continue
            number = _parse_number(cell)
            if number is None:
                raise ValueError(f"{path} line {line}, column {header[i]!r}: {cell!r} is not a finite number "
                                 f"(feature columns must be numeric)")
            values.append(number)
        features.append(values)
    X = np.array(features, dtype=np.float64)

    numbers = [_parse_number(cell) for cell in targets]
    class_names = None
    if all(number is not None for number in numbers):
        y = np.array(numbers)
        task = task or infer_task(y)
        if task != "regression":
            if not np.all(y == np.round(y)):
                raise ValueError(f"{path}: --task {task} needs class labels, but column {target!r} holds "
                                 f"continuous values; use --task regression")
            class_names, y = np.unique(y, return_inverse=True)
            class_names = tuple(str(int(c)) for c in class_names)
    else:
        if task == "regression":
            first = next(i for i, number in enumerate(numbers) if number is None)  # an index into body
            raise ValueError(f"{path} line {body[first][0]}, column {target!r}: {targets[first]!r} is not a number, "
                             f"but regression needs a numeric target")
        class_names, y = np.unique(np.array(targets), return_inverse=True)
        class_names = tuple(class_names.tolist())
        task = task or ("binary" if len(class_names) == 2 else "multiclass")
    if task == "binary" and class_names is not None and len(class_names) != 2:
        raise ValueError(f"{path}: --task binary needs 2 classes, column {target!r} has {len(class_names)}")
    return split_and_scale(str(path), task, X, y, test_size=test_size, dtype=dtype, class_names=class_names)


def check_batches(n, batch_size, drop_last):
    """Refuse, before training starts, batch settings that would leave an epoch without a step."""
    if batch_size is not None and drop_last and n < batch_size:
        raise ValueError(f"drop_last with batch_size {batch_size} drops all {n} training samples: no batch is left")


def iterate_batches(n, batch_size=None, *, shuffle=False, rng=None, drop_last=False):
    """The index arrays of one epoch's mini-batches, in order, as torch's DataLoader forms them.

    ``batch_size=None`` gives one full batch (``slice(None)``: no copy of the data).
    ``shuffle`` draws one permutation per call from ``rng`` (a NumPy Generator), which
    both sides of a parity run share. The last partial batch is kept unless ``drop_last``.
    """
    if batch_size is None:
        yield slice(None)
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]
