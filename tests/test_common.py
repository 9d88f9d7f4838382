"""scikit-learn's common estimator checks over every public estimator.

Each estimator runs in its ideal configuration (``device="ideal"``, the exact
float product) and in its HERMES configuration (the default simulated chip,
with output noise), with few projections and ``random_state=0`` so that the
whole suite stays fast and reproducible.  Reads are a function of (seed, row,
time), so no estimator is ``non_deterministic`` and every check runs on both,
the sample-order and subset invariance checks included.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from sklearn_aimc import (
    AnalogArcCosineFeatures,
    AnalogKernelAttention,
    AnalogMLPClassifier,
    AnalogMLPRegressor,
    AnalogRandomFourierFeatures,
    AnalogRidge,
    AnalogRidgeClassifier,
    AnalogSoftmaxFeatures,
)

# The checks feed tiny synthetic data sets whose later batches fall outside the
# ranges calibrated at fit: the chip clips them and says so, as it should.
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning"),
    # The MLPs train for few iterations to keep the checks fast: they stop before converging.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

DEVICES = ["ideal", "hermes"]


def _estimators(device):
    return [
        *(
            AnalogRandomFourierFeatures(n_components=8, kernel=kernel, device=device, random_state=0)
            for kernel in ("rbf", "laplacian", "cauchy")
        ),
        *(
            AnalogArcCosineFeatures(n_components=8, order=order, device=device, random_state=0)
            for order in (0, 1, 2)
        ),
        AnalogSoftmaxFeatures(n_components=8, device=device, random_state=0),
        *(
            AnalogKernelAttention(n_components=8, feature_map=feature_map, device=device, random_state=0)
            for feature_map in ("favor+", "relu")
        ),
        AnalogRidge(device=device, random_state=0),
        AnalogRidgeClassifier(device=device, random_state=0),
        # Small layers and few iterations keep the checks fast.  The solvers are those with which
        # scikit-learn's own MLPs meet the sample-weight equivalence check (lbfgs for the classifier,
        # sgd with tol=1e-2 for the regressor, whose learning rate of 0.01 lets it fit the checks'
        # regression data in few iterations); alpha=0.1 keeps the classifier's weights moderate:
        # unregularised, lbfgs on the checks' separable blobs grows output logits of hundreds that
        # cancel, and the PCM weight noise then flips their sign.
        AnalogMLPClassifier(
            hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=100, device=device, random_state=0
        ),
        AnalogMLPRegressor(
            hidden_layer_sizes=(8,), solver="sgd", tol=1e-2, learning_rate_init=0.01, max_iter=100, device=device,
            random_state=0,
        ),
    ]


ESTIMATORS = [estimator for device in DEVICES for estimator in _estimators(device)]


def expected_failed_checks(estimator):
    """Common checks an estimator is expected to fail, with the physical reason.

    Every check passes at present, so this returns ``{}``.  A new entry must
    name the check and the device effect that breaks it (quantisation,
    drift, noise), never a software shortcut.
    """
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_expected_failed_checks_is_empty():
    # Documented above: any new expected failure must be added with a reason;
    # today there is none for any configuration.
    for estimator in ESTIMATORS:
        assert expected_failed_checks(estimator) == {}


@pytest.mark.parametrize("estimator", _estimators("ideal"), ids=lambda est: type(est).__name__)
def test_check_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: f"{type(est).__name__}-{est.device}")
def test_no_estimator_is_non_deterministic(estimator):
    # The same seed, row and read time give the same output: nothing for
    # scikit-learn to skip.
    assert get_tags(estimator).non_deterministic is False


def test_every_public_estimator_is_covered():
    import sklearn_aimc
    from sklearn.base import BaseEstimator

    public = {
        name
        for name in sklearn_aimc.__all__
        if isinstance(getattr(sklearn_aimc, name), type)
        and issubclass(getattr(sklearn_aimc, name), BaseEstimator)
        # device and NMPU configurations are BaseEstimator-like parameter
        # objects without fit; estimators are what has fit.
        and hasattr(getattr(sklearn_aimc, name), "fit")
    }
    # Estimators whose fit needs a model meta-trained in PyTorch (the torch
    # extra) cannot run scikit-learn's checks; they are tested in their own
    # files (tests/test_few_shot.py).
    torch_trained = {"AnalogFewShotClassifier"}
    covered = {type(estimator).__name__ for estimator in ESTIMATORS}
    assert public - torch_trained == covered, (public - torch_trained) ^ covered
    for device in DEVICES:
        assert {
            type(est).__name__ for est in ESTIMATORS if est.device == device
        } == covered


def test_hermes_configuration_is_noisy():
    # The HERMES configurations above really exercise the noisy path and the
    # ideal ones the exact path: the suite covers both.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 5))
    for ideal, hermes in zip(_estimators("ideal"), _estimators("hermes")):
        if hasattr(ideal, "transform"):
            out_ideal = clone(ideal).fit_transform(X)
            out_hermes = clone(hermes).fit_transform(X)
        elif hasattr(ideal, "attend"):
            out_ideal = clone(ideal).fit(X).attend(X, X, X)
            out_hermes = clone(hermes).fit(X).attend(X, X, X)
        else:
            y = rng.randint(0, 2, 30)
            out_ideal = clone(ideal).fit(X, y).predict(X)
            out_hermes = clone(hermes).fit(X, y).predict(X)
            if hasattr(ideal, "decision_function"):
                out_ideal = clone(ideal).fit(X, y).decision_function(X)
                out_hermes = clone(hermes).fit(X, y).decision_function(X)
        assert not np.allclose(out_ideal, out_hermes, rtol=1e-6, atol=1e-9)
