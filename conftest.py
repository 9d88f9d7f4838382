"""pytest configuration for the whole repository (tests, docstring examples, documentation).

Modules of the package that import torch at the top level (the optional
``torch`` extra) are left out of the doctest collection when torch is not
installed; their docstring examples run wherever torch is.
"""

import importlib.util
import os
import re
from pathlib import Path

# scikit-learn's array-API common checks run only when SciPy's array-API
# support is on, which must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

_TOP_LEVEL_TORCH = re.compile(r"^(import torch\b|from torch\b)", re.MULTILINE)
_HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_ignore_collect(collection_path, config):
    """Skip collecting a package module that needs torch when torch is absent."""
    path = Path(collection_path)
    if _HAS_TORCH or path.suffix != ".py" or "sklearn_aimc" not in path.parts:
        return None
    if _TOP_LEVEL_TORCH.search(path.read_text(encoding="utf-8")):
        return True
    return None
