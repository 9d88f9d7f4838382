"""Shared fixtures of the test suite."""

import numpy as np
import pytest


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def global_dtype(request):
    """Each floating-point dtype the package supports end to end."""
    return np.dtype(request.param)
