"""Shared fixtures of the test suite."""

import os

# scikit-learn's array-API common checks run only when SciPy's array-API
# support is on, which must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def global_dtype(request):
    """Each floating-point dtype the package supports end to end."""
    return np.dtype(request.param)
