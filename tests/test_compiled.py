"""The compiled stages of a read equal the numpy stages bit for bit."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from sklearn_aimc import AnalogCrossbar, _random
from sklearn_aimc import _random_compiled as random_compiled
from sklearn_aimc.crossbar import _compiled
from sklearn_aimc.crossbar import read as crossbar_module
from sklearn_aimc.exceptions import AnalogClippingWarning
from sklearn_aimc.fixedpoint import FixedPointFormat, NearMemoryUnit

pytestmark = pytest.mark.skipif(
    not _compiled.ENABLED, reason="no compiled read-out: numba is not installed or SKLEARN_AIMC_COMPILED=0"
)


def noise_keys(n_rows, n_columns, seed=1):
    """Noise keys of ``n_rows`` rows and the pair counters of ``n_columns`` outputs."""
    keys = _random.mix64(np.random.default_rng(seed).integers(0, 2**63, size=n_rows, dtype=np.uint64))
    return keys, _random.counters(-(-n_columns // 2))


def numpy_normals(keys, pair_counters, shape):
    """The numpy path's normals of each row's counter words."""
    words = _random.counter_words(keys, pair_counters, np.empty((shape[0], pair_counters.size), np.uint64))
    return _random.normals_per_row(words, np.empty(shape, np.float32))


def numpy_read_out(analog, noise, full_scale, coefficients, unit, out, accumulate, low=None):
    """The numpy steps: the parts' sum, noise, ADC rounding and saturation, the unit's integer path."""
    levels = analog if low is None else analog + low
    if noise is not None:
        keys, pair_counters, sigma = noise
        levels = numpy_normals(keys, pair_counters, analog.shape) * sigma + levels
    levels = np.rint(levels)
    n_clipped = np.count_nonzero(np.abs(levels) > full_scale)
    codes = np.clip(levels, -full_scale, full_scale).astype(np.int64)
    values = unit.apply_to_float(codes, coefficients, np.empty_like(out), input_bits=8)
    if accumulate:
        out += values
    else:
        out[...] = values
    return n_clipped


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [37, 38], ids=["odd_rows", "even_rows"])
@pytest.mark.parametrize("with_noise", [True, False])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("with_low", [False, True], ids=["one_part", "two_parts"])
def test_read_out_equals_the_numpy_steps(dtype, n_rows, with_noise, relu, accumulate, with_low):
    rng = np.random.default_rng(0)
    n_columns, padding = 301, 16
    analog_rows = (rng.standard_normal((n_rows, n_columns + padding)) * 80).astype(np.float32)
    analog_rows[:, :5] *= 1e6  # far beyond the ADC range
    analog_rows[0, :8] = [126.5, 127.5, -127.5, 128.5, 0.5, -0.5, 1.5, -2.5]  # rounding ties
    noise = None
    if with_noise:
        # Draws with both cosines and sines splitting a row (an odd size), sigma 0 on the ties.
        sigma = rng.uniform(0.5, 4.0, n_columns).astype(np.float32)
        sigma[:8] = 0
        noise = (*noise_keys(n_rows, n_columns), sigma)
    unit = NearMemoryUnit(relu=relu)
    coefficients = unit.encode(rng.uniform(1e-3, 2.0, n_columns), rng.uniform(-50, 50, n_columns))
    assert coefficients.largest_magnitudes[1] > 0  # offsets exercised
    start = rng.standard_normal((n_rows, n_columns)).astype(dtype)
    expected, got = start.copy(), start.copy()
    low = (rng.standard_normal((n_rows, n_columns)) * 1e-3).astype(np.float32) if with_low else None
    n_expected = numpy_read_out(analog_rows[:, :n_columns], noise, 127, coefficients, unit, expected, accumulate, low)
    n_got = _compiled.read_out(
        analog_rows,
        low,
        noise,
        127,
        np.broadcast_to(coefficients.multiplier, n_columns).astype(np.int64),
        np.broadcast_to(coefficients.addend, n_columns).astype(np.int64),
        relu,
        np.broadcast_to(unit.output_factors(coefficients, dtype), n_columns).copy(),
        got,
        accumulate=accumulate,
    )
    assert n_got == n_expected > 5 * n_rows
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == dtype


@pytest.mark.parametrize("shape", [(37, 301), (38, 300), (1, 7)])
def test_noise_is_numpys_normals_bit_for_bit(shape):
    # A standard deviation of 2**30 LSB keeps about every bit of the float32
    # normals through the ADC's rounding: any one-ulp difference from
    # normals_per_row shows (only |z| < 2**-7 lose low bits).
    n_rows, n_columns = shape
    keys, pair_counters = noise_keys(n_rows, n_columns, seed=2)
    expected = numpy_normals(keys, pair_counters, shape)
    expected = np.rint(expected * np.float32(2.0**30)).astype(np.float64)
    out = np.empty(shape)
    _compiled.read_out(
        np.zeros(shape, np.float32),
        None,
        (keys, pair_counters, np.full(n_columns, 2.0**30, np.float32)),
        2**33,
        np.ones(n_columns, np.int64),
        np.zeros(n_columns, np.int64),
        False,
        np.ones(n_columns),
        out,
    )
    np.testing.assert_array_equal(out, expected)


def test_compiled_sampler_equals_numpys_bit_for_bit():
    # Every 64-bit word pattern class: random words, the extremes of both
    # halves, and angle words on the octant boundaries.
    words = np.random.default_rng(3).integers(0, 2**64, size=200_000, dtype=np.uint64, endpoint=False)
    edges = np.array([0, 2**32 - 1, 2**31, 2**31 - 1, 1, 2**9 - 1], dtype=np.uint64)
    octants = np.arange(9, dtype=np.uint64) * np.uint64(2**29)
    special = (octants[:, None] % np.uint64(2**32)) << np.uint64(32) | edges[None, :]
    words = np.concatenate([words, special.ravel(), (special + np.uint64(1 << 37)).ravel()])
    expected = _random.gaussian_pairs(words)
    got = random_compiled.fill_gaussian_pairs(words)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("n_inputs", [1, 5, 300])
def test_row_keys_equal_numpys(n_inputs):
    rng = np.random.default_rng(3)
    codes = rng.integers(-127, 128, size=(50, n_inputs)).astype(np.float32)
    codes[0] = -0.0  # negative zeros are code 0
    codes[1] = 0.0
    multipliers = _random.hash_multipliers(11, n_inputs)
    expected = _random.row_keys(_random.integer_codes(codes, quantised=True), multipliers)
    got = _compiled.row_keys(codes, multipliers, np.empty(50, np.uint64))
    np.testing.assert_array_equal(got, expected)
    assert got[0] == got[1]
    assert np.unique(got[2:]).size == np.unique(codes[2:], axis=0).shape[0]  # distinct rows, distinct keys


def read_both_ways(monkeypatch, make_crossbar, W, X_cal, X, **matmul_params):
    """Outputs and clip counts of the same chip read with and without the compiled read-out."""
    results = []
    for enabled in (False, True):
        monkeypatch.setattr(_compiled, "ENABLED", enabled)
        chip = make_crossbar().program(W, calibration_inputs=X_cal, random_state=7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnalogClippingWarning)
            Y = chip.matmul(X, **matmul_params)
        assert (chip._state(chip._read_time(matmul_params.get("t_inference"))).compiled is not None) == enabled
        results.append((Y, chip.counters.clipped_outputs))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"output_noise": 0.0},
        {"pcm": "generic", "drift_compensation": "per_column", "adc_bits": 6},
        {"nmpu": NearMemoryUnit(relu=True)},
        {"tile_size": 128},
    ],
    ids=["hermes", "no_noise", "generic_per_column_6bit", "relu", "small_tiles"],
)
@pytest.mark.parametrize("n_inputs", [100, 300], ids=["1_row_tile", "2_row_tiles"])
def test_crossbar_reads_are_identical_with_and_without_it(monkeypatch, dtype, params, n_inputs):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((n_inputs, 300))
    X_cal = rng.standard_normal((500, n_inputs)).astype(dtype)
    X = rng.standard_normal((333, n_inputs)).astype(dtype)
    X[:4] *= 8  # clips at the ADC
    # Small tasks and blocks of odd rows, a short last one.
    monkeypatch.setattr(crossbar_module, "BLOCK_ELEMENTS", 41 * 300)
    monkeypatch.setattr(crossbar_module, "TASK_ELEMENTS", 120 * 300)
    monkeypatch.setattr(crossbar_module, "MIN_TASK_ELEMENTS", 120 * 300)
    (Y_numpy, clips_numpy), (Y_compiled, clips_compiled) = read_both_ways(
        monkeypatch, lambda: AnalogCrossbar(**params), W, X_cal, X
    )
    assert Y_compiled.dtype == dtype
    np.testing.assert_array_equal(Y_compiled, Y_numpy)
    assert clips_compiled == clips_numpy > 0


def test_into_a_non_contiguous_out_and_through_a_consumer(monkeypatch):
    rng = np.random.default_rng(2)
    W, X_cal, X = rng.standard_normal((64, 40)), rng.standard_normal((200, 64)), rng.standard_normal((50, 64))
    expected = None
    for enabled in (False, True):
        monkeypatch.setattr(_compiled, "ENABLED", enabled)
        chip = AnalogCrossbar().program(W, calibration_inputs=X_cal, random_state=3)
        out = np.empty((40, 50)).T  # Fortran-ordered
        chip.matmul(X, out=out)
        streamed = np.empty((50, 40))

        def keep(rows, Y_rows):
            streamed[rows] = Y_rows

        chip.map_matmul(X, keep)
        if expected is None:
            expected = (out.copy(), streamed)
        else:
            np.testing.assert_array_equal(out, expected[0])
            np.testing.assert_array_equal(streamed, expected[1])


@pytest.mark.parametrize("params", [{"post_processing": "float"}, {"nmpu": NearMemoryUnit(output_format=FixedPointFormat(8, 4, signed=True))}])
def test_other_read_outs_stay_in_numpy(params):
    rng = np.random.default_rng(3)
    W, X = rng.standard_normal((20, 10)), rng.standard_normal((30, 20))
    chip = AnalogCrossbar(**params).program(W, calibration_inputs=X, random_state=0)
    assert chip._state(chip._read_time(None)).compiled is None


_TRANSFORM_SCRIPT = """
import sys
import numpy as np
from sklearn_aimc import AnalogRandomFourierFeatures
from sklearn_aimc.crossbar import _compiled
X = np.random.default_rng(4).standard_normal((300, 20)).astype(np.float32)
features = AnalogRandomFourierFeatures(n_components=300, device="hermes", random_state=5).fit(X)
np.save(sys.argv[1], features.transform(X))
print(_compiled.ENABLED)
"""


def test_a_process_without_it_gives_the_same_features(tmp_path):
    # The same seed gives the same features whether or not numba is installed.
    outputs = {}
    for setting in ("0", "1"):
        path = tmp_path / f"features_{setting}.npy"
        result = subprocess.run(
            [sys.executable, "-c", _TRANSFORM_SCRIPT, str(path)],
            env={**os.environ, "SKLEARN_AIMC_COMPILED": setting},
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == str(setting == "1")
        outputs[setting] = np.load(path)
    np.testing.assert_array_equal(outputs["0"], outputs["1"])
