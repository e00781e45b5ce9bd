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
import math
import os
import stat
from collections import Counter, namedtuple
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
                    random_state=42, feature_names=None, target_name=None):
    """Split 80/20 (by default) as the lecture does; standardise features and regression targets on train only.

    ``feature_names`` and ``target_name`` name the columns in errors (default: by index).
    """
    from sklearn.model_selection import train_test_split

    check_test_size(test_size, len(X))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=random_state)
    if standardize:
        X_train, X_test, _, _ = standardise(name, X_train, X_test, feature_names)
    dtype = as_float_dtype(dtype)
    X_train, X_test = X_train.astype(dtype, copy=False), X_test.astype(dtype, copy=False)
    if task == "regression":
        y_train, y_test, y_mean, y_std = standardise(name, y_train, y_test, [target_name or "target"])
        split = Split(X_train, X_test, y_train.astype(dtype), y_test.astype(dtype))
        return Dataset(name, task, split, target_mean=float(y_mean), target_std=float(y_std))
    split = Split(X_train, X_test, y_train.astype(np.int64), y_test.astype(np.int64))
    num_classes = len(class_names) if class_names is not None else int(y.max()) + 1
    return Dataset(name, task, split, num_classes=num_classes, class_names=class_names)


def standardise(name, train, test, columns=None):
    """z = (x - mean) / std per column, with the mean and std of the training split only.

    ``train``: (N_train, D) or (N_train,); returns ``(z_train, z_test, mean, std)``. A constant
    column (std 0) becomes 0 instead of dividing by zero. A column whose mean, std or z
    overflows float64 (values near 1e308) is an error naming it (``columns``: the names).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = train.mean(axis=0), train.std(axis=0)
        std = np.where(std == 0, 1.0, std)
        z_train, z_test = (train - mean) / std, (test - mean) / std
    _check_no_overflow(name, columns, train, test, mean, std, z_train, z_test)
    return z_train, z_test, mean, std


def _check_no_overflow(name, columns, train, test, mean, std, z_train, z_test):
    finite = np.isfinite(mean) & np.isfinite(std) & np.isfinite(z_train).all(axis=0) & np.isfinite(z_test).all(axis=0)
    overflowed = np.flatnonzero(~finite)
    if overflowed.size:
        j = overflowed[0]
        column = columns[j] if columns is not None else f"feature {j}"
        largest = max(np.abs(a.reshape(len(a), -1)[:, j]).max() for a in (train, test))
        raise ValueError(f"{name}: column {column!r} overflows float64 when standardised, (x - mean) / std "
                         f"(its largest value is {largest:.3g}); divide the column by a power of ten first")


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

    The target holds numbers (class labels or a continuous value; the task is inferred
    unless given) or text (class names), never a mix: a missing, infinite or text value
    among numbers is an error, not a reason to read the column as text labels. A target
    with one class, or one value, is refused. Every error is one line naming the file,
    the line and the column.

    Memory: the values are parsed row by row straight into one float64 array sized by the
    file's line breaks, never held as Python strings or lists; with the split's copy and the
    scaling's, the peak is about 3x the file's size for values written with 6 decimals.
    """
    max_rows = _max_records(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:  # utf-8-sig: a leading BOM is not a name
        records = _records(path, handle)
        _, names = next(records, (1, []))
        header = _header(path, names, target)
        target_index = header.index(target)
        feature_names = header[:target_index] + header[target_index + 1:]
        X = np.empty((max_rows, len(feature_names)))
        column = _TargetColumn(path, target, max_rows)
        n = 0
        for line, row in records:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path} line {line} has {len(row)} fields but the header has {len(header)}")
            X[n] = _feature_values(path, line, row[:target_index] + row[target_index + 1:], feature_names)
            column.add(n, line, row[target_index])
            n += 1
    if n == 0:
        raise ValueError(f"{path} has a header but no data rows")
    y, task, class_names = column.resolve(n, task)
    return split_and_scale(str(path), task, X[:n], y, test_size=test_size, dtype=dtype, class_names=class_names,
                           feature_names=feature_names, target_name=target)


def _max_records(path):
    """An upper bound on the file's records, found without parsing: each ends at a \\n, a \\r or a \\r\\n.

    Only a regular file is read: it is read twice (this count, then the values), and a
    pipe or device could not be, or would never end.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError(f"cannot read {path}: not a regular file (a directory, pipe or device)")
        breaks = 0
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                # a \r\n cut between two chunks counts twice: the bound stays a bound
                breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    return breaks + 1


def _records(path, handle):
    """(line, fields) for each record, ``line`` where the record starts; csv's errors as one line naming it."""
    reader = csv.reader(handle, strict=True)  # strict: a quote left open is an error, not the rest of the file
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as error:  # raised for a whole block of text: find the line apart
            raise ValueError(f"cannot read {path}: line {_first_line_not_utf8(path)} is not UTF-8 text "
                             f"({error.reason}); save the file as UTF-8") from None
        except csv.Error as error:
            if "field limit" in str(error):
                reason = (f"a field is longer than {csv.field_size_limit()} characters, the csv module's limit "
                          f"(is a quote left open?)")
            elif "unexpected end of data" in str(error):
                reason = "a quote opened in this record is never closed"
            else:
                reason = f"malformed CSV ({error})"
            raise ValueError(f"{path} line {line}: {reason}") from None
        yield line, row


def _first_line_not_utf8(path):
    with open(path, "rb") as handle:
        for line, text in enumerate(handle, start=1):
            try:
                text.decode("utf-8")
            except UnicodeDecodeError:
                return line


def _header(path, names, target):
    """The column names, checked: present, distinct, holding ``target`` and at least one feature."""
    names = [name.strip() for name in names]
    if not any(names):
        raise ValueError(f"{path} is empty: expected a header row naming the columns, then one row per sample")
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        columns = ", ".join(str(i + 1) for i, name in enumerate(names) if name == repeated[0])
        raise ValueError(f"{path}: the header names column {repeated[0]!r} more than once (columns {columns}); "
                         f"column names must be distinct")
    if target not in names:
        raise ValueError(f"{path} has no column {target!r}; its columns are: {', '.join(names)}")
    if len(names) == 1:
        raise ValueError(f"{path} has no feature columns besides the target {target!r}")
    return names


def _feature_values(path, line, cells, names):
    """One row's features as floats; a missing, text or non-finite cell is an error naming it."""
    try:
        values = [float(cell) for cell in cells]
        if all(map(math.isfinite, values)):
            return values
    except ValueError:
        pass
    for name, cell in zip(names, cells):  # the same parse, cell by cell, to name the first that failed
        if cell.strip() == "":
            raise ValueError(f"{path} line {line}, column {name!r}: missing value (fill or drop missing values first)")
        if _parse_number(cell) is None:
            raise ValueError(f"{path} line {line}, column {name!r}: {cell.strip()!r} is not a finite number "
                             f"(feature columns must be numeric)")


class _TargetColumn:
    """The target's cells as they are read: numbers, or class names coded 0, 1, ... in order of appearance.

    ``values[i]`` is row i's number or its name's code. The column must be all finite
    numbers or all names; ``first_number``, ``first_name`` and ``first_non_finite`` keep
    (line, cell) so that ``resolve`` can name the cell that breaks it.
    """

    def __init__(self, path, name, max_rows):
        self.path, self.name = path, name
        self.values = np.empty(max_rows)
        self.codes = {}
        self.n_names = 0
        self.first_number = self.first_name = self.first_non_finite = None

    def add(self, i, line, cell):
        cell = cell.strip()
        if cell == "":
            raise ValueError(f"{self.path} line {line}, column {self.name!r}: missing value "
                             f"(fill or drop missing values first)")
        try:
            self.values[i] = float(cell)
        except ValueError:
            self.values[i] = self.codes.setdefault(cell, len(self.codes))
            self.n_names += 1
            self.first_name = self.first_name or (line, cell)
            return
        self.first_number = self.first_number or (line, cell)
        if not math.isfinite(self.values[i]):
            self.first_non_finite = self.first_non_finite or (line, cell)

    def resolve(self, n, task):
        """(y, task, class_names) for the first n rows: the task is inferred only from a column that parsed."""
        where = f"{self.path} line {{}}, column {self.name!r}:"
        n_numbers = n - self.n_names
        if self.n_names and n_numbers:
            if n_numbers >= self.n_names:
                line, cell = self.first_name
                raise ValueError(f"{where.format(line)} {cell!r} is not a number, but the column's other values "
                                 f"are numbers (fill or drop missing targets first)")
            line, cell = self.first_number
            raise ValueError(f"{where.format(line)} {cell!r} reads as a number, but the column's other values "
                             f"are class names (use names throughout)")
        if self.n_names:
            if task == "regression":
                line, cell = self.first_name
                raise ValueError(f"{where.format(line)} {cell!r} is not a number, but regression needs a numeric "
                                 f"target")
            class_names = tuple(sorted(self.codes))
            rank = {name: k for k, name in enumerate(class_names)}
            code_to_class = np.array([rank[name] for name in self.codes])  # codes are in order of appearance
            y = code_to_class[self.values[:n].astype(np.int64)]
            task = task or ("binary" if len(class_names) == 2 else "multiclass")
        else:
            if self.first_non_finite:
                line, cell = self.first_non_finite
                raise ValueError(f"{where.format(line)} {cell!r} is not a finite number "
                                 f"(fill or drop missing or infinite targets first)")
            y = self.values[:n]
            task = task or infer_task(y)
            class_names = None
            if task != "regression":
                if not np.all(y == np.round(y)):
                    raise ValueError(f"{self.path}: --task {task} needs class labels, but column {self.name!r} "
                                     f"holds continuous values; use --task regression")
                class_names, y = np.unique(y, return_inverse=True)
                class_names = tuple(str(int(c)) for c in class_names)
        if task == "regression" and np.all(y == y[0]):
            raise ValueError(f"{self.path}: column {self.name!r} is constant ({y[0]:g} in all {n} rows): "
                             f"a regression has nothing to learn")
        if task != "regression" and len(class_names) < 2:
            raise ValueError(f"{self.path}: column {self.name!r} holds one class ({class_names[0]!r}) in all "
                             f"{n} rows: a classifier needs at least 2")
        if task == "binary" and len(class_names) != 2:
            raise ValueError(f"{self.path}: --task binary needs 2 classes, column {self.name!r} has "
                             f"{len(class_names)}")
        return y, task, class_names


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
