"""The ``device`` parameter: nested device parameters on a device given by name."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_aimc import AnalogCrossbar, AnalogRandomFourierFeatures, AnalogRidge, AnalogRidgeClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


@pytest.mark.parametrize("make", [AnalogRandomFourierFeatures, AnalogRidge, AnalogRidgeClassifier])
@pytest.mark.parametrize("name, preset", [("hermes", AnalogCrossbar()), ("ideal", AnalogCrossbar.ideal())])
def test_nested_parameters_reach_a_named_device(make, name, preset):
    estimator = make(device=name)
    estimator.set_params(device__t_inference=86_400.0, device__adc_bits=6)
    assert isinstance(estimator.device, AnalogCrossbar)
    expected = {**preset.get_params(), "t_inference": 86_400.0, "adc_bits": 6}
    assert estimator.device.get_params() == expected
    # A device set in the same call is the one the nested parameters reach.
    estimator = make().set_params(device="ideal", device__tile_size=16)
    assert estimator.device.get_params() == {**AnalogCrossbar.ideal().get_params(), "tile_size": 16}


def test_reading_a_fitted_default_device_at_another_time():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), AnalogRidgeClassifier(random_state=0)).fit(X, y)
    chip = model[-1].crossbar_
    hour = model.decision_function(X)
    model.set_params(analogridgeclassifier__device__t_inference=30 * 86_400.0)
    month = model.decision_function(X)
    assert model[-1].crossbar_ is chip  # the same programmed chip, read a month later
    assert not np.array_equal(hour, month)
    np.testing.assert_array_equal(month, chip.matmul(model[:-1].transform(X), 30 * 86_400.0).ravel()
                                  + model[-1].intercept_)


def test_grid_over_adc_bits_of_the_default_device():
    X, y = load_breast_cancer(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), AnalogRandomFourierFeatures(32, random_state=0),
                             AnalogRidgeClassifier(device="ideal"))
    search = GridSearchCV(pipeline, {"analograndomfourierfeatures__device__adc_bits": [4, 8]}, cv=2).fit(X, y)
    assert search.best_estimator_.steps[1][1].device.adc_bits in (4, 8)
    assert clone(pipeline).steps[1][1].device == "hermes"  # the original is untouched
