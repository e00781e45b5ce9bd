"""CSV input is never silently wrong: every malformed file is one line naming the line and column.

The basic CSV behaviour (text classes, inferred tasks, bad feature cells) is tested in test_data.py;
these tests cover the files that used to load as something else, raise a traceback or blow up memory.
"""

import csv
import os
import re
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet.cli.main as scratchnet_cli
from scratchnet import metrics
from scratchnet.data import load_csv


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


def regression_rows(n=60, header="a,b,y"):
    """A header and n rows whose target y is continuous (60 distinct values)."""
    rng = np.random.default_rng(0)
    return [header] + [f"{rng.normal():.4f},{rng.normal():.4f},{10 + 3 * rng.normal():.4f}" for _ in range(n)]


def with_cell(rows, line, value):
    """``rows`` with the last field of file line ``line`` (1-based, the header is line 1) replaced by ``value``."""
    rows = list(rows)
    rows[line - 1] = rows[line - 1].rsplit(",", 1)[0] + "," + value
    return "\n".join(rows) + "\n"


# A missing, infinite or text value among numeric targets used to turn the column into text class labels.
@pytest.mark.parametrize("cell, why", [
    ("inf", "'inf' is not a finite number"),
    ("-inf", "'-inf' is not a finite number"),
    ("nan", "'nan' is not a finite number"),
    ("1e999", "'1e999' is not a finite number"),  # overflows to inf
    ("NA", "'NA' is not a number, but the column's other values are numbers"),
    ("?", "'?' is not a number, but the column's other values are numbers"),
    ("", "missing value"),
])
@pytest.mark.parametrize("task", [None, "regression"])
def test_a_non_finite_or_missing_target_is_an_error_naming_line_and_column(tmp_path, cell, why, task):
    path = write(tmp_path, with_cell(regression_rows(), 6, cell))
    with pytest.raises(ValueError, match=rf"line 6, column 'y': {re.escape(why)}"):
        load_csv(path, "y", task=task)


def test_the_task_is_never_inferred_from_a_column_that_failed_to_parse(tmp_path):
    labels = "\n".join(["a,y"] + [f"{i},{i % 2}" for i in range(20)] + ["20,NA"]) + "\n"
    with pytest.raises(ValueError, match=r"line 22, column 'y': 'NA' is not a number"):
        load_csv(write(tmp_path, labels), "y")
    names = "\n".join(["a,y"] + [f"{i},{['cat', 'dog'][i % 2]}" for i in range(20)] + ["20,3"]) + "\n"
    with pytest.raises(ValueError, match=r"line 22, column 'y': '3' reads as a number, but the column's other "
                                         r"values are class names"):
        load_csv(write(tmp_path, names), "y", task="multiclass")


def test_a_non_finite_target_surrounded_by_blank_lines_names_its_file_line(tmp_path):
    text = "a,y\n1,0.5\n\n2,1.5\n\n3,inf\n4,2.5\n"
    with pytest.raises(ValueError, match=r"line 6, column 'y': 'inf'"):
        load_csv(write(tmp_path, text), "y")


@pytest.mark.parametrize("header, repeated, columns", [
    ("label,a,label", "label", "1, 3"),
    ("a,b,a,label", "a", "1, 3"),
    ("a, label ,label", "label", "2, 3"),  # names are compared stripped, as the target is looked up
])
def test_duplicate_column_names_are_an_error(tmp_path, header, repeated, columns):
    width = len(header.split(","))
    rows = [header] + [",".join([str(i % 2)] * width) for i in range(20)]
    with pytest.raises(ValueError, match=rf"the header names column '{repeated}' more than once "
                                         rf"\(columns {columns}\)"):
        load_csv(write(tmp_path, "\n".join(rows) + "\n"), "label")


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    rows = ["y,a"] + [f"{i % 2},{i}" for i in range(20)]
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode())
    dataset = load_csv(path, "y")
    assert dataset.task == "binary" and dataset.split.X_train.shape == (16, 1)


@pytest.mark.parametrize("text, match", [
    (f"a,b,y\n1,2,0\n3,{'9' * (csv.field_size_limit() + 1)},1\n",
     rf"line 3: a field is longer than {csv.field_size_limit()} characters, the csv module's limit"),
    ('a,b,y\n1,2,0\n3,"4,1\n5,6,0\n', r"line 3: a quote opened in this record is never closed"),
    ('a,b,y\n1,2,0\n3,"4"5,1\n', r"line 3: malformed CSV \(',' expected after '\"'\)"),
    # a quoted field may span lines: errors name the file's line, not the record's number
    ('a,b,y\n1,"2\n",0\n3,4\n', r"line 4 has 2 fields but the header has 3"),
], ids=["field-limit", "open-quote", "text-after-quote", "ragged-after-multiline-record"])
def test_malformed_csv_is_one_line_naming_the_line(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_csv(write(tmp_path, text), "y")


@given(cell=st.text(max_size=8))
def test_a_feature_cell_loads_as_its_finite_number_or_is_an_error_naming_it(cell):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cell.csv"
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([["a", "b", "y"], [0, 0, 0], [1, cell, 1]] + [[i, i, i % 2] for i in range(8)])
        try:
            value = float(cell)
        except ValueError:
            value = None
        if value is not None and np.isfinite(value):
            assert np.isfinite(load_csv(path, "y").split.X_train).all()
        else:
            with pytest.raises(ValueError, match=r"line 3, column 'b': "):
                load_csv(path, "y")


def test_text_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,y\n1,0\n2,1\n3,caf\xe9\n")
    with pytest.raises(ValueError, match=r"cannot read .*latin1.csv: line 4 is not UTF-8 text"):
        load_csv(path, "y")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_only_a_regular_file_is_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")  # opening it to read would wait for a writer forever
    for path in (tmp_path / "pipe.csv", tmp_path):
        with pytest.raises(ValueError, match=r"cannot read .*: not a regular file"):
            load_csv(path, "y")


def test_features_that_overflow_when_standardised_are_named(tmp_path):
    rows = ["a,b,y"] + [f"{(-1) ** i * 1e308},{i},{i % 2}" for i in range(20)]
    with pytest.raises(ValueError, match=r"column 'a' overflows float64 when standardised, \(x - mean\) / std "
                                         r"\(its largest value is 1e\+308\)"):
        load_csv(write(tmp_path, "\n".join(rows) + "\n"), "y")


def test_a_target_that_overflows_when_standardised_is_named(tmp_path):
    # std overflows to inf here, which used to scale the whole target to 0 without a word
    rows = ["a,b,y"] + [f"{i},{i % 3},{[1.5e308, -1.5e308, 0.25][i % 3]}" for i in range(20)]
    with pytest.raises(ValueError, match=r"column 'y' overflows float64 when standardised"):
        load_csv(write(tmp_path, "\n".join(rows) + "\n"), "y")


@pytest.mark.parametrize("target, task, match", [
    ("cat", None, r"column 'y' holds one class \('cat'\) in all 30 rows: a classifier needs at least 2"),
    ("1", "multiclass", r"column 'y' holds one class \('1'\) in all 30 rows"),
    ("3.5", None, r"column 'y' is constant \(3.5 in all 30 rows\): a regression has nothing to learn"),
    ("7", "regression", r"column 'y' is constant \(7 in all 30 rows\)"),
])
def test_a_target_with_one_class_or_one_value_is_refused(tmp_path, target, task, match):
    rows = ["a,b,y"] + [f"{i},{i % 4},{target}" for i in range(30)]
    with pytest.raises(ValueError, match=match):
        load_csv(write(tmp_path, "\n".join(rows) + "\n"), "y", task=task)


def test_r2_of_a_constant_target_reads_not_available():
    assert np.isnan(metrics.r2_score(np.full(5, 2.0), np.arange(5.0)))
    assert metrics.format_r2(metrics.r2_score(np.full(5, 2.0), np.arange(5.0))) == "n/a: the target is constant"
    assert metrics.format_r2(metrics.r2_score(np.arange(4.0), np.arange(4.0) + 0.5)) == "0.8000"


@given(endings=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=12, max_size=12),
       blank_after=st.sets(st.integers(0, 11)))
def test_any_line_endings_and_blank_lines_load_every_row(endings, blank_after):
    # The values are parsed into an array sized by the file's line breaks: \r, \n and \r\n all end a line.
    rows = ["a,y"] + [f"{i},{i % 2}" for i in range(11)]
    text = "".join(row + end + (end if k in blank_after else "") for k, (row, end) in enumerate(zip(rows, endings)))
    with tempfile.TemporaryDirectory() as directory:  # hypothesis runs many examples per tmp_path
        X_train, X_test, y_train, y_test = load_csv(write(Path(directory), text), "y").split
    assert len(X_train) + len(X_test) == 11 and sorted(np.concatenate([y_train, y_test])) == [0] * 6 + [1] * 5


def test_loading_a_csv_takes_a_few_times_the_files_size(tmp_path):
    # Peak memory, as tracemalloc counts it (NumPy reports its arrays): 15x the file when every
    # cell was held as a Python string and then a Python float; the values are now parsed straight
    # into one float64 array (8 bytes a value, about 0.8x this file), copied once by the split.
    rng = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    with open(path, "w") as handle:
        handle.write(",".join(f"x{i}" for i in range(20)) + ",y\n")
        X = rng.normal(size=(15_000, 20))
        np.savetxt(handle, np.column_stack([X, X[:, 0] * 3 + rng.normal(size=15_000)]), fmt="%.6f", delimiter=",")
    load_csv(path, "y")  # imports scikit-learn's splitter outside the measurement
    tracemalloc.start()
    try:
        dataset = load_csv(path, "y")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dataset.task == "regression" and len(dataset.split.X_train) == 12_000
    size = os.path.getsize(path)
    assert peak / size < 4, f"peak {peak / 2**20:.1f} MB for a {size / 2**20:.1f} MB file"


def test_the_command_line_prints_a_bad_target_as_one_line_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, with_cell(regression_rows(), 6, "inf"))
    assert scratchnet_cli.main(["--csv", str(path), "--target", "y", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "line 6, column 'y': 'inf' is not a finite number" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
