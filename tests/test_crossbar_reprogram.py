"""Partial reprogramming of a programmed chip: only changed weights are written, each device keeps its age."""

import copy
import pickle

import numpy as np
import pytest

from sklearn_aimc import AnalogCrossbar, GenericPCM, HermesPCM

from crossbar_helpers import YEAR, CommonDriftPCM, gaussian, ideal_periphery

DAY = 86_400.0


@pytest.fixture
def chip_and_data():
    W, X = gaussian((300, 200), 0), gaussian((400, 300), 1)
    return W, X, AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)


def changed_copy(W, fraction, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(W.shape) < fraction
    W_new = W.copy()
    W_new[mask] *= 0.5  # stays within every column's weight range
    return W_new, mask


def test_only_the_devices_of_changed_weights_are_written(chip_and_data):
    W, _, chip = chip_and_data
    array = chip._array
    before = array.g_prog.copy(), array.nu.copy()
    writes = chip.counters.device_writes
    assert writes == W.size * 2 * 2  # both polarities, two devices each
    W_new, mask = changed_copy(W, 0.01, 2)
    n = chip.reprogram(W_new, at=DAY)
    assert n == mask.sum() * 4 == chip.counters.device_writes - writes
    changed = mask[:, None, None, :].repeat(array.g_prog.shape[1], 1).repeat(2, 2)
    for old, new in zip(before, (array.g_prog, array.nu)):
        np.testing.assert_array_equal(new[~changed], old[~changed])  # realisation kept
        # Fresh noise: every written device differs, but for the devices of a
        # zero target that the clamp at 0 S holds at 0 both times.
        fresh = (new[changed] != 0) | (old[changed] != 0)
        assert (new[changed] != old[changed])[fresh].all()
    np.testing.assert_array_equal(chip.programming_times(), np.where(mask, DAY, 0.0))
    np.testing.assert_array_equal(chip.write_counts(), np.where(mask, 2, 1))
    np.testing.assert_array_equal(chip.target_weights, W_new)
    assert chip.last_write_time == DAY
    assert chip.reprogram(W_new, at=DAY) == 0  # nothing changed: nothing written


def test_reads_see_every_device_at_its_own_age():
    # Drift only (one exponent for all devices, no programming or read noise):
    # each conductance is its target times ((t - t_written + t0) / t0) ** -nu.
    W = gaussian((20, 8), 3)
    pcm = CommonDriftPCM()
    chip = ideal_periphery(pcm=pcm, devices_per_polarity=1, drift_compensation=None).program(W, random_state=0)
    W_new, mask = changed_copy(W, 0.3, 4)
    chip.reprogram(W_new, at=DAY)
    t = 30 * DAY
    nu = float(np.float32(pcm.nu))
    age = np.where(mask, t - DAY, t)
    factor = ((age + pcm.t0) / pcm.t0) ** -nu
    g = chip.conductances(t)
    np.testing.assert_allclose((g[0, 0] - g[0, 1]) * chip._weight_max[0] / pcm.g_max, W_new * factor, rtol=1e-6)
    np.testing.assert_allclose(chip.effective_weights(t), W_new * factor, rtol=1e-6)


def test_per_column_compensation_measures_each_column_at_read_time():
    # Columns rewritten as a whole have one age per column: per-column drift
    # compensation restores every column, old and new, as the chip would.
    W = gaussian((100, 12), 5)
    cb = ideal_periphery(pcm=CommonDriftPCM(), devices_per_polarity=1, drift_compensation="per_column")
    chip = cb.program(W, random_state=0)
    W_new = W.copy()
    W_new[:, :4] *= -0.7
    chip.reprogram(W_new, at=DAY)
    np.testing.assert_allclose(chip.effective_weights(YEAR), W_new, rtol=2e-6)
    drifted = ideal_periphery(pcm=CommonDriftPCM(), devices_per_polarity=1, drift_compensation=None)
    uncompensated = drifted.program(W, random_state=0)
    uncompensated.reprogram(W_new, at=DAY)
    assert np.abs(uncompensated.effective_weights(YEAR) - W_new).max() > 0.1 * np.abs(W_new).max()


def test_bad_input_leaves_the_chip_as_it_was(chip_and_data):
    W, X, chip = chip_and_data
    current = changed_copy(W, 0.05, 7)[0]
    chip.reprogram(current, at=DAY)
    Y = chip.matmul(X, 2 * DAY)
    state = pickle.dumps(chip)
    one_nan, one_inf = current.copy(), current.copy()
    one_nan[3, 2], one_inf[0, 1] = np.nan, -np.inf
    bad = [
        (dict(W=one_nan, at=2 * DAY), "NaN"),
        (dict(W=one_inf, at=2 * DAY), "infinity"),
        (dict(W=np.full_like(W, np.nan), at=2 * DAY), "NaN"),
        (dict(W=np.full_like(W, np.inf), at=2 * DAY), "infinity"),
        (dict(W=W[:, :10], at=2 * DAY), "shape"),
        (dict(W=W, at=DAY / 2), "before the latest write"),
        (dict(W=W, at=-1.0), "at"),
        (dict(W=W, at=np.nan), "at"),
        (dict(W=W, at=2 * DAY, calibration_inputs=X[:, :5]), "features"),
    ]
    for kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            chip.reprogram(**kwargs)
        assert pickle.dumps(chip) == state
    np.testing.assert_array_equal(chip.matmul(X, 2 * DAY), Y)
    with pytest.raises(ValueError, match="before the latest write"):
        chip.matmul(X, t_inference=DAY / 2)


def test_an_exact_chip_cannot_be_reprogrammed():
    W = gaussian((10, 4), 8)
    chip = AnalogCrossbar.ideal().program(W)
    with pytest.raises(ValueError, match="exact .ideal. crossbar"):
        chip.reprogram(W * 2, at=1.0)


def test_exceeding_a_column_range_rewrites_that_column():
    W = gaussian((300, 50), 9)
    chip = AnalogCrossbar().program(W, calibration_inputs=gaussian((100, 300), 10), random_state=0)
    W_new = W.copy()
    W_new[3, 7] = 10 * np.abs(W).max()  # beyond column 7's range in input tile 0
    n = chip.reprogram(W_new, at=1.0)
    rows = chip.grid.row_slices[0]
    expected = np.zeros(W.shape, bool)
    expected[rows, 7] = True
    np.testing.assert_array_equal(chip.programming_times() == 1.0, expected)
    assert n == expected.sum() * 4


def test_a_fixed_weight_range_keeps_columns_mapped():
    W = np.random.default_rng(11).uniform(-0.5, 0.5, (64, 10))
    chip = AnalogCrossbar().program(W, calibration_inputs=gaussian((100, 64), 12), random_state=0, weight_range=1.0)
    np.testing.assert_array_equal(chip._weight_max, 1.0)
    W_new = W.copy()
    W_new[0, 0] = 0.9
    assert chip.reprogram(W_new, at=1.0) == 4
    with pytest.raises(ValueError, match="weight_range"):
        chip.reprogram(W_new * 3, at=2.0)
    with pytest.raises(ValueError, match="weight_range"):
        AnalogCrossbar().program(W * 3, weight_range=1.0)


def test_reprogramming_is_reproducible_and_survives_pickling(chip_and_data):
    W, X, chip = chip_and_data
    twin = copy.deepcopy(chip)
    W_new, _ = changed_copy(W, 0.1, 13)
    for c in (chip, twin):
        c.reprogram(W_new, at=DAY)
    np.testing.assert_array_equal(chip.matmul(X, 2 * DAY), twin.matmul(X, 2 * DAY))
    restored = pickle.loads(pickle.dumps(chip))
    np.testing.assert_array_equal(restored.matmul(X, YEAR), chip.matmul(X, YEAR))


def test_recalibration_after_a_write():
    W, X = gaussian((64, 32), 14), gaussian((500, 64), 15)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    ranges = chip.adc_range_.copy()
    chip.reprogram(3 * W, at=1.0)
    np.testing.assert_array_equal(chip.adc_range_, ranges)  # kept unless asked
    chip.reprogram(4 * W, at=2.0, calibration_inputs=X)
    assert (chip.adc_range_ > 3 * ranges).all()


@pytest.mark.parametrize("pcm", [HermesPCM(1), GenericPCM()], ids=["hermes_single", "generic"])
def test_device_counts_follow_devices_per_polarity(pcm):
    W = gaussian((16, 8), 16)
    dpp = pcm.devices_per_polarity * 2
    chip = AnalogCrossbar(pcm=pcm, devices_per_polarity=dpp).program(W, calibration_inputs=gaussian((50, 16), 17))
    assert chip.counters.device_writes == W.size * 2 * dpp
    W_new = W.copy()
    W_new[0, :3] = 0.0
    assert chip.reprogram(W_new, at=1.0) == 3 * 2 * dpp
    assert chip.counters.programming_seconds == pytest.approx(chip.counters.device_writes * 4.4e-6)
