"""Test setup: hypothesis profiles (see ``hypothesis_profiles.py``) and single-threaded BLAS.

BLAS runs single-threaded in the tests (unless the caller chose otherwise): the tests' small
matrix products gain nothing from a second thread, and on a 2-core machine OpenBLAS's spinning
workers make them several times slower. This must happen before NumPy is first imported.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest
import hypothesis_profiles  # noqa: F401  (registers and loads the profile)

DTYPES = [np.float64, np.float32]


@pytest.fixture(params=DTYPES, ids=["float64", "float32"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def no_torch_fastpath():
    """torch's attention without its fused fast path, which is other math (see parity/tolerances.py)."""
    from parity.harness import torch_fast_path_off

    with torch_fast_path_off():
        yield
