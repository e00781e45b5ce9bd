"""Comparing arrays: one row per tensor (largest absolute and relative difference, tolerance, pass)."""

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class TensorDiff:
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    atol: float
    rtol: float
    passed: bool
    note: str = ""


def compare(name, scratch, torch_value, tolerance):
    """Compare scratchnet's array with torch's (already converted to NumPy).

    Shapes must be equal and so must float dtypes: a float32 layer that quietly computes in
    float64 is a parity failure too (the values are then compared in float64). A value that
    is missing (``None``) on either side fails, named as such: nothing is skipped.
    """
    if scratch is None or torch_value is None:
        side = "scratchnet" if scratch is None else "torch"
        other = torch_value if scratch is None else scratch
        return missing(name, np.shape(other), tolerance, f"missing on the {side} side (None)")
    dtypes = np.asarray(scratch).dtype, np.asarray(torch_value).dtype
    a = np.asarray(scratch, dtype=np.float64)
    b = np.asarray(torch_value, dtype=np.float64)
    if a.shape != b.shape:
        return TensorDiff(name, tuple(b.shape), float("inf"), float("inf"), tolerance.atol, tolerance.rtol, False,
                          note=f"shape {tuple(a.shape)} vs torch {tuple(b.shape)}")
    if dtypes[0] != dtypes[1] and all(dtype.kind == "f" for dtype in dtypes):
        return TensorDiff(name, a.shape, float(np.abs(a - b).max(initial=0.0)), float("nan"), tolerance.atol,
                          tolerance.rtol, False, note=f"dtype {dtypes[0]} vs torch {dtypes[1]}")
    if a.size == 0:
        return TensorDiff(name, a.shape, 0.0, 0.0, tolerance.atol, tolerance.rtol, True)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    same_nans = bool(np.array_equal(nan_a, nan_b))
    ok = ~(nan_a | nan_b)
    with np.errstate(invalid="ignore", over="ignore"):
        both_inf_equal = np.isinf(a) & (a == b)
        diff = np.where(both_inf_equal, 0.0, np.abs(a - b))
        diff = np.where(ok, diff, 0.0)
        rel = diff / np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    max_abs = float(diff.max())
    max_rel = float(np.where(diff > 0, rel, 0.0).max())
    passed = same_nans and bool(np.all(diff <= tolerance.atol + tolerance.rtol * np.abs(np.where(ok, b, 0.0))))
    return TensorDiff(name, a.shape, max_abs, max_rel, tolerance.atol, tolerance.rtol, passed,
                      note="" if same_nans else "NaN in different places")


def missing(name, shape, tolerance, note):
    """A failed row for a tensor that one side does not have (``note`` says which and why)."""
    return TensorDiff(name, tuple(shape), float("inf"), float("inf"), tolerance.atol, tolerance.rtol, False,
                      note=note)


def matched(kind, scratch_named, torch_named):
    """Pair scratchnet's and torch's named tensors by name; any name on one side only is an error.

    ``scratch_named`` and ``torch_named`` are (name, value) iterables such as ``named_parameters()``.
    Returns [(name, scratch value, torch value)] in torch's order.
    """
    mine, theirs = dict(scratch_named), dict(torch_named)
    only_mine, only_theirs = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
    if only_mine or only_theirs:
        parts = ([f"only scratchnet has {only_mine}"] if only_mine else []) + (
            [f"only torch has {only_theirs}"] if only_theirs else [])
        raise ValueError(f"the two models' {kind} differ: " + "; ".join(parts))
    return [(name, mine[name], value) for name, value in theirs.items()]


@dataclass
class ParityReport:
    """The rows of one parity check; ``passed`` when every row passed."""

    diffs: list = field(default_factory=list)

    @property
    def passed(self):
        return all(d.passed for d in self.diffs)

    @property
    def failures(self):
        return [d for d in self.diffs if not d.passed]

    def add(self, diff):
        self.diffs.append(diff)
        return diff

    def __getitem__(self, name):
        for diff in self.diffs:
            if diff.name == name:
                return diff
        raise KeyError(name)

    def to_dict(self):
        return {"passed": self.passed, "diffs": [asdict(d) for d in self.diffs]}

    def format(self):
        width = max([len(d.name) for d in self.diffs] + [6])
        lines = [f"{'tensor':<{width}}  {'shape':<14} {'max |diff|':>10} {'max rel':>10} {'atol':>8} {'rtol':>8}  result"]
        for d in self.diffs:
            result = "ok" if d.passed else "FAIL" + (f" ({d.note})" if d.note else "")
            lines.append(f"{d.name:<{width}}  {str(tuple(d.shape)):<14} {d.max_abs:>10.2e} {d.max_rel:>10.2e} "
                         f"{d.atol:>8.0e} {d.rtol:>8.0e}  {result}")
        lines.append("PASS" if self.passed else f"FAIL: {len(self.failures)} of {len(self.diffs)} tensors differ")
        return "\n".join(lines)

    __str__ = format

    def assert_passed(self):
        """Raise AssertionError with the whole table when any tensor differs (for tests)."""
        if not self.passed:
            raise AssertionError("parity failed\n" + self.format())
        return self
