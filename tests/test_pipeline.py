"""The estimators inside scikit-learn pipelines and parallel grid searches."""

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_aimc import AnalogCrossbar, AnalogRandomFourierFeatures, AnalogRidgeClassifier

# Held-out folds (and the threading backend surfaces it) sometimes read a few
# outputs beyond the ADC range calibrated on the training folds; the chip
# clips and warns, which is the physics, not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")

PARAM_GRID = {
    "analograndomfourierfeatures__gamma": [0.01, 0.05],
    "analograndomfourierfeatures__n_components": [16, 48],
    "analograndomfourierfeatures__device__adc_bits": [4, 8],
}


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).permutation(y.size)[:200]
    return X[rows], y[rows]


def _pipeline():
    return make_pipeline(
        StandardScaler(),
        AnalogRandomFourierFeatures(device=AnalogCrossbar(), random_state=0),
        AnalogRidgeClassifier(random_state=0),
    )


def _search(X, y, backend):
    search = GridSearchCV(
        _pipeline(), PARAM_GRID, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=2
    )
    with joblib.parallel_config(backend=backend):
        search.fit(X, y)
    return search


def _dask_search(X, y):
    """The search under joblib's dask backend, on a small local cluster (two worker processes)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        return _search(X, y, "dask")


@pytest.fixture(scope="module")
def searches(data):
    X, y = data
    return {
        "loky": _search(X, y, "loky"),
        "loky_again": _search(X, y, "loky"),
        "threading": _search(X, y, "threading"),
        "dask": _dask_search(X, y),
    }


def test_grid_search_tunes_nested_device_parameter(searches):
    search = searches["loky"]
    params = search.cv_results_["params"]
    assert len(params) == 8
    assert {p["analograndomfourierfeatures__device__adc_bits"] for p in params} == {4, 8}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # The refitted best pipeline holds the best device configuration.
    best_device = search.best_estimator_.named_steps["analograndomfourierfeatures"].device
    assert isinstance(best_device, AnalogCrossbar)
    assert best_device.adc_bits == search.best_params_["analograndomfourierfeatures__device__adc_bits"]
    features = search.best_estimator_.named_steps["analograndomfourierfeatures"]
    assert features.crossbar_.crossbar.adc_bits == best_device.adc_bits
    # Breast cancer is easy: the tuned chip pipeline must be good.
    assert search.best_score_ > 0.9
    # The base estimator's device object was not touched by the search.
    assert search.estimator.named_steps["analograndomfourierfeatures"].device.adc_bits == 8


@pytest.mark.parametrize("other", ["loky_again", "threading", "dask"])
def test_grid_search_reproducible_across_runs_and_backends(searches, other):
    reference, result = searches["loky"].cv_results_, searches[other].cv_results_
    assert result["params"] == reference["params"]
    # identical, not just close: every read is seeded from the chip's seed and
    # the input content, whatever process or thread runs it.
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert_array_equal(result[key], reference[key])
    for split in range(3):
        assert_array_equal(result[f"split{split}_test_score"], reference[f"split{split}_test_score"])
    assert searches[other].best_params_ == searches["loky"].best_params_


def test_best_pipeline_predictions_identical_across_backends(searches, data):
    X, _ = data
    predictions = {
        name: search.best_estimator_.decision_function(X) for name, search in searches.items()
    }
    assert_array_equal(predictions["loky_again"], predictions["loky"])
    assert_array_equal(predictions["threading"], predictions["loky"])
    assert_array_equal(predictions["dask"], predictions["loky"])


def test_adc_bits_changes_the_pipeline_output(data):
    # The nested parameter is really used (so tuning it is meaningful).
    X, y = data
    outputs = []
    for adc_bits in (4, 8):
        pipeline = _pipeline().set_params(analograndomfourierfeatures__device__adc_bits=adc_bits)
        outputs.append(pipeline.fit(X, y).decision_function(X))
    assert not np.allclose(outputs[0], outputs[1])


def test_clone_pipeline(data):
    X, y = data
    pipeline = _pipeline().set_params(
        analograndomfourierfeatures__device__adc_bits=6, analograndomfourierfeatures__gamma=0.02
    )
    pipeline.fit(X, y)
    cloned = clone(pipeline)
    features, cloned_features = (p.named_steps["analograndomfourierfeatures"] for p in (pipeline, cloned))
    # same parameters, deep-copied device, unfitted
    assert cloned.get_params(deep=True).keys() == pipeline.get_params(deep=True).keys()
    assert cloned_features.device is not features.device
    assert cloned_features.device.get_params() == features.device.get_params()
    assert cloned_features.device.adc_bits == 6
    assert cloned_features.gamma == 0.02
    assert not hasattr(cloned_features, "crossbar_")
    assert not hasattr(cloned.named_steps["analogridgeclassifier"], "coef_")
    # refitting the clone reproduces the original exactly
    assert_array_equal(cloned.fit(X, y).decision_function(X), pipeline.decision_function(X))
    # changing the clone's device leaves the original alone
    cloned.set_params(analograndomfourierfeatures__device__adc_bits=5)
    assert features.device.adc_bits == 6
