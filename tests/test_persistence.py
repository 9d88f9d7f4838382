"""Fitted estimators and their programmed chips round-trip through skops.io and pickle, bit for bit."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_aimc import persistence

from test_common import ESTIMATORS

pytest.importorskip("skops")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")

DAY = 86_400.0


def _fitted(estimator):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return clone(estimator).fit(X, y), X


def _outputs(estimator, X):
    for method in ("transform", "decision_function", "predict", "attend"):
        if hasattr(estimator, method):
            if method == "attend":
                return estimator.attend(X[None], X[None], X[None])
            return getattr(estimator, method)(X)
    raise AssertionError(f"no output method on {estimator!r}")


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: f"{type(est).__name__}-{est.device}")
def test_round_trip_gives_bit_identical_outputs(estimator, tmp_path):
    fitted, X = _fitted(estimator)
    expected = _outputs(fitted, X)
    path = tmp_path / "model.skops"
    persistence.dump(fitted, path)
    for loaded in (persistence.load(path), pickle.loads(pickle.dumps(fitted))):
        np.testing.assert_array_equal(_outputs(loaded, X), expected)
    if fitted.device != "ideal":  # the same programmed chip, read a day later
        for model in (fitted, persistence.load(path)):
            model.set_params(device__t_inference=DAY)
        np.testing.assert_array_equal(_outputs(persistence.load(path).set_params(device__t_inference=DAY), X),
                                      _outputs(fitted, X))


def test_the_trusted_types_are_the_packages_own():
    names = persistence.trusted_types()
    assert "sklearn_aimc.crossbar.array.DeviceArray" in names
    assert all(name.startswith("sklearn_aimc.") for name in names)
    assert not any(name.startswith(("sklearn_aimc.experiments", "sklearn_aimc.torch")) for name in names)


def test_types_of_other_packages_need_trust(tmp_path):
    from fractions import Fraction

    import skops.io

    estimator, _ = _fitted(ESTIMATORS[-1])
    path = tmp_path / "model.skops"
    persistence.dump({"model": estimator, "note": Fraction(1, 3)}, path)
    with pytest.raises(TypeError, match=r"not trusted: \['fractions.Fraction'\]"):
        persistence.load(path)
    assert skops.io.get_untrusted_types(file=path).count("fractions.Fraction") == 1
    loaded = persistence.load(path, trusted=["fractions.Fraction"])
    assert loaded["note"] == Fraction(1, 3)
