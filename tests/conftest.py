"""Shared fixtures of the test suite."""

import gzip

import numpy as np
import pytest


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def global_dtype(request):
    """Each floating-point dtype the package supports end to end."""
    return np.dtype(request.param)


def write_fake_magic04(directory, n_rows=400, seed=0):
    """A magic04.csv.gz look-alike: header x0..x9,y; 10 features; labels g / h."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, 10)) * rng.uniform(0.5, 50, 10) + rng.uniform(-20, 20, 10)
    score = X[:, 0] / X[:, 0].std() - X[:, 1] / X[:, 1].std() + 0.5 * rng.standard_normal(n_rows)
    labels = np.where(score > 0, "g", "h")
    directory.mkdir(parents=True, exist_ok=True)
    lines = [",".join([f"x{i}" for i in range(10)] + ["y"])]
    lines += [",".join([f"{v:.4f}" for v in row] + [label]) for row, label in zip(X, labels)]
    with gzip.open(directory / "magic04.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return directory


@pytest.fixture(scope="session")
def fake_data_home(tmp_path_factory):
    """A data directory with a small magic04.csv.gz look-alike (the studies' tests)."""
    return write_fake_magic04(tmp_path_factory.mktemp("data"))
