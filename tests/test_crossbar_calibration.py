"""Converter calibration: percentile and robust MSE ranges, badly used ranges, expected clipping."""

import warnings

import numpy as np
import pytest

from sklearn_aimc import AnalogCrossbar
from sklearn_aimc.crossbar.calibration import calibrate_converter, far_out_fence, mse_range
from sklearn_aimc.exceptions import AnalogCalibrationWarning, AnalogClippingWarning

from crossbar_helpers import gaussian


def brute_force_error(magnitudes, r, full_scale):
    """Expected squared error of a range r: uniform rounding inside, clipping outside (one candidate)."""
    inside = magnitudes <= r
    rounding = inside.mean() * (r / full_scale) ** 2 / 12
    clipping = np.mean(np.where(inside, 0.0, (magnitudes - r) ** 2))
    return rounding + clipping


def test_mse_range_minimises_the_expected_error_over_the_candidates():
    values = gaussian((400, 5), 0)
    magnitudes = np.minimum(np.abs(values).ravel(), far_out_fence(np.abs(values).ravel(), None))
    r = mse_range(values, None, 127)
    errors = [brute_force_error(magnitudes, c, 127) for c in magnitudes]
    assert brute_force_error(magnitudes, r, 127) == pytest.approx(min(errors), rel=1e-9)
    # For Gaussian data and 127 levels the optimum clips at about 3 - 4 sigma.
    assert 2.5 < r < 4.5


def test_mse_range_is_robust_to_a_few_huge_outliers():
    values = gaussian((1000, 30), 1)
    contaminated = values.copy()
    contaminated[np.random.default_rng(2).random(values.shape) < 0.002] = 1e3
    clean = mse_range(values, None, 127)
    robust = mse_range(contaminated, None, 127)
    assert robust == pytest.approx(clean, rel=0.1)
    # Without the fence, the outliers' clipping error would dominate.
    assert far_out_fence(np.abs(contaminated).ravel(), None) < 5


def test_weighted_rows_count_as_repeated_rows():
    values = gaussian((300, 4), 3)
    weights = np.random.default_rng(4).integers(0, 4, 300)
    repeated = np.repeat(values, weights, axis=0)
    assert mse_range(values, weights.astype(float), 127) == mse_range(repeated, None, 127)


def test_calibrate_converter_reports_ranges_that_starve_the_bulk():
    values = gaussian((1000, 30), 5)
    values[np.random.default_rng(6).random(values.shape) < 0.002] = 1e3
    blocks = [("block 0", values)]
    percentile = calibrate_converter(blocks, None, "percentile", 99.9, 127, "DAC")
    assert percentile.ranges[0] == 1e3 and len(percentile.reports) == 1
    assert "DAC (block 0)" in percentile.reports[0]
    robust = calibrate_converter(blocks, None, "mse", 99.9, 127, "DAC")
    assert robust.ranges[0] < 5 and robust.reports == []
    assert robust.clip_share == pytest.approx(np.mean(np.abs(values) > robust.ranges[0]))
    # A 4-bit converter on clean Gaussian data is coarse, not badly used.
    assert calibrate_converter([("b", gaussian((1000, 8), 7))], None, "percentile", 99.9, 7, "ADC").reports == []


def test_outliers_in_the_calibration_data_warn_and_mse_calibration_copes():
    W, X = gaussian((30, 64), 8), gaussian((1000, 30), 9)
    X_bad = X.copy()
    X_bad[np.random.default_rng(10).random(X.shape) < 0.002] = 1e3
    with pytest.warns(AnalogCalibrationWarning, match="DAC"):
        starved = AnalogCrossbar().program(W, calibration_inputs=X_bad, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        robust = AnalogCrossbar(calibration="mse").program(W, calibration_inputs=X_bad, random_state=0)
        clean = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
        exact = X @ W
        errors = {
            name: np.linalg.norm(chip.matmul(X) - exact) / np.linalg.norm(exact)
            for name, chip in [("starved", starved), ("robust", robust), ("clean", clean)]
        }
    assert errors["starved"] > 0.9  # most inputs quantise to code 0
    assert errors["robust"] < 1.2 * errors["clean"]


def test_clipping_expected_from_the_calibration_does_not_warn():
    # The robust range clips the calibration data's outliers by design: reading
    # that same data clips as the calibration said, and does not warn; data
    # ten times larger does.
    W, X = gaussian((30, 64), 11), gaussian((1000, 30), 12)
    X[np.random.default_rng(13).random(X.shape) < 0.01] = 50.0
    chip = AnalogCrossbar(calibration="mse").program(W, calibration_inputs=X, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnalogClippingWarning)
        chip.matmul(X)
    with pytest.warns(AnalogClippingWarning, match="calibration data lay beyond it"):
        chip.matmul(10 * X)
