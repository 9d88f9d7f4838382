"""Tests of sklearn_aimc.crossbar: the simulated PCM crossbar and its periphery.

Oracles: the exact float product (ideal devices and periphery), a naive
per-tile simulation of the DAC / ADC chain written here, the drift of a device
model with one common drift exponent, and the output-noise model of
hardware-model.md section 3.  Floating-point tolerances are derived from the
float32 arithmetic of the analog path: a float32 dot product of k terms is
within (k + c) 2**-24 sum |x_i w_i| of the exact one (Higham's gamma_k), plus
a few roundings c of the weights.  Statistical tests use fixed seeds and 5
standard errors.
"""

import pickle
import threading
import tracemalloc
import warnings

import numpy as np
import pytest
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import clone
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from sklearn_aimc import (
    AnalogClippingWarning,
    AnalogCrossbar,
    GenericPCM,
    HermesPCM,
    IdealPCM,
    FP16Unit,
    NearMemoryUnit,
    ProgrammedCrossbar,
    WorkCounters,
)
from sklearn_aimc.crossbar import read as crossbar_module
from sklearn_aimc._parallel import available_threads
from sklearn_aimc._parallel import near_equal_bounds
from sklearn_aimc.crossbar import check_device
from sklearn_aimc.crossbar.read import ufunc_buffer_for_rows as _ufunc_buffer_for_rows

from crossbar_helpers import U32, YEAR, CommonDriftPCM, float32_bound, gaussian, ideal_periphery, noiseless_generic

# Configuration ----------------------------------------------------------------------
def test_defaults_are_the_hermes_preset():
    cb = AnalogCrossbar()
    assert cb.pcm == "hermes"
    assert cb.tile_size == 256
    assert cb.dac_bits == 8 and cb.adc_bits == 8
    assert cb.devices_per_polarity == 2
    assert cb.output_noise == 0.04
    assert cb.t_inference == 3600.0
    assert cb.drift_compensation == "global"
    assert cb.weight_mapping == "per_column"
    assert cb.nmpu is None
    model = cb.validate()
    assert isinstance(model, HermesPCM) and model.num_devices == 2
    assert not cb.is_exact and cb.needs_calibration
    single = AnalogCrossbar(devices_per_polarity=1).validate()
    assert isinstance(single, HermesPCM) and single.num_devices == 1


def test_ideal_preset():
    cb = AnalogCrossbar.ideal()
    assert cb.pcm == "ideal" and isinstance(cb.validate(), IdealPCM)
    assert cb.dac_bits is None and cb.adc_bits is None
    assert cb.output_noise == 0 and cb.post_processing == "float" and cb.drift_compensation is None
    assert cb.is_exact and not cb.needs_calibration
    assert AnalogCrossbar.ideal(tile_size=16).tile_size == 16
    assert not AnalogCrossbar.ideal(dac_bits=8).is_exact
    assert not AnalogCrossbar.ideal(pcm=IdealPCM(stuck_reset_fraction=0.1)).is_exact


def test_get_set_params_and_clone():
    cb = AnalogCrossbar(pcm=HermesPCM(1), devices_per_polarity=1, nmpu=NearMemoryUnit())
    params = cb.get_params(deep=True)
    assert params["pcm__num_devices"] == 1 and params["pcm__drift_scale"] == 1.0
    assert params["nmpu__relu"] is False and params["tile_size"] == 256
    cb.set_params(pcm__drift_scale=0.5, nmpu__relu=True, tile_size=64)
    assert cb.pcm.drift_scale == 0.5 and cb.nmpu.relu is True and cb.tile_size == 64
    copy = clone(cb)
    assert copy.pcm is not cb.pcm and copy.nmpu is not cb.nmpu
    assert copy.get_params(deep=False).keys() == cb.get_params(deep=False).keys()
    assert copy.pcm.get_params() == cb.pcm.get_params()
    assert copy.nmpu.get_params() == cb.nmpu.get_params()
    assert copy.tile_size == 64


def test_check_device():
    assert check_device("hermes").get_params() == AnalogCrossbar().get_params()
    assert check_device("ideal").get_params() == AnalogCrossbar.ideal().get_params()
    cb = AnalogCrossbar(tile_size=32)
    assert check_device(cb) is cb
    for bad in ["HERMES", "generic", None, HermesPCM(), 3]:
        with pytest.raises(ValueError, match="device"):
            check_device(bad)


def test_programmed_keeps_a_copy_of_the_configuration():
    W, X = gaussian((20, 10), 0), gaussian((100, 20), 1)
    cb = AnalogCrossbar()
    chip = cb.program(W, calibration_inputs=X, random_state=0)
    Y = chip.matmul(X)
    cb.set_params(output_noise=0.5, tile_size=4)
    assert chip.crossbar.output_noise == 0.04 and chip.crossbar.tile_size == 256
    np.testing.assert_array_equal(chip.matmul(X), Y)


# Exact oracle ----------------------------------------------------------------------
EXACT_SHAPES = [((5, 3), 10), ((256, 256), 7), ((300, 520), 40), ((1, 700), 3), ((700, 1), 9)]


@pytest.mark.parametrize("w_shape, n", EXACT_SHAPES)
def test_ideal_is_exact(w_shape, n, global_dtype):
    W = gaussian(w_shape, 0, global_dtype)
    X = gaussian((n, w_shape[0]), 1, global_dtype)
    chip = AnalogCrossbar.ideal().program(W)
    Y = chip.matmul(X)
    assert Y.dtype == global_dtype
    np.testing.assert_array_equal(Y, X @ W)
    np.testing.assert_array_equal(chip.effective_weights(), W)


def test_ideal_sparse_input():
    W = gaussian((300, 520), 0)
    X = sparse.random(60, 300, density=0.1, format="csr", random_state=1)
    Y = AnalogCrossbar.ideal().program(W).matmul(X)
    assert isinstance(Y, np.ndarray)
    np.testing.assert_array_equal(Y, X @ W)
    np.testing.assert_allclose(Y, X.toarray() @ W, rtol=1e-12, atol=1e-12)


def test_ideal_map_matmul_delivers_the_same_rows():
    # Enough rows for several parallel tasks.
    W, X = gaussian((50, 1000), 0), gaussian((5000, 50), 1)
    chip = AnalogCrossbar.ideal().program(W)
    seen = np.zeros(X.shape[0], dtype=int)
    out = np.empty((X.shape[0], W.shape[1]))

    def consume(rows, Y_rows):
        seen[rows] += 1
        out[rows] = Y_rows

    chip.map_matmul(X, consume)
    np.testing.assert_array_equal(seen, 1)
    np.testing.assert_array_equal(out, X @ W)


def test_map_matmul_matches_matmul_on_the_chip():
    W, X = gaussian((64, 512), 0), gaussian((9000, 64), 1)
    chip = AnalogCrossbar().program(W, calibration_inputs=X[:1000], random_state=0)
    Y = chip.matmul(X)
    out = np.full_like(Y, np.nan)
    seen = np.zeros(X.shape[0], dtype=int)

    def consume(rows, Y_rows):
        seen[rows] += 1
        out[rows] = Y_rows

    assert chip.map_matmul(X, consume) is None
    np.testing.assert_array_equal(seen, 1)
    np.testing.assert_array_equal(out, Y)


# Tiling -------------------------------------------------------------------------------
@pytest.mark.parametrize("n, tile, expected", [(300, 256, [0, 150, 300]), (10, 4, [0, 4, 7, 10]), (256, 256, [0, 256]), (1, 256, [0, 1]), (5, 1, [0, 1, 2, 3, 4, 5])])
def test_near_equal_bounds_examples(n, tile, expected):
    assert near_equal_bounds(n, tile).tolist() == expected


def test_near_equal_bounds_properties():
    for n in range(1, 700, 7):
        for tile in [1, 2, 3, 16, 100, 255, 256, 257, 1000]:
            bounds = near_equal_bounds(n, tile)
            sizes = np.diff(bounds)
            n_blocks = -(-n // tile)  # fewest blocks of at most tile
            assert bounds[0] == 0 and bounds[-1] == n
            assert len(sizes) == n_blocks
            assert sizes.max() <= tile and sizes.max() - sizes.min() <= 1
            # The same multiset of sizes as the naive split: n // b blocks, the first n % b one larger.
            naive = [n // n_blocks + (i < n % n_blocks) for i in range(n_blocks)]
            assert sizes.tolist() == naive  # the larger blocks first, as gen_even_slices


@pytest.mark.parametrize("tile_size", [1, 7, 64, 100, 149, 256])
@pytest.mark.parametrize("mapping", ["per_column", "per_tile"])
def test_tiled_path_equals_product(tile_size, mapping, global_dtype):
    W = gaussian((150, 90), 0)
    X = gaussian((60, 150), 1, global_dtype)
    cb = ideal_periphery(pcm=noiseless_generic(), tile_size=tile_size, weight_mapping=mapping)
    assert not cb.is_exact
    chip = cb.program(W, random_state=0)
    rows = -(-150 // tile_size)
    cols = -(-90 // tile_size)
    assert chip.n_tiles == rows * cols
    np.testing.assert_array_equal(chip.row_bounds, near_equal_bounds(150, tile_size))
    np.testing.assert_array_equal(chip.col_bounds, near_equal_bounds(90, tile_size))
    Y = chip.matmul(X)
    assert Y.dtype == global_dtype
    k = int(np.diff(chip.row_bounds).max())
    # float32 within a tile, partial sums of the row tiles added in the input dtype.
    bound = float32_bound(X.astype(np.float64), W, k + rows)
    np.testing.assert_array_less(np.abs(Y - X.astype(np.float64) @ W), bound)
    np.testing.assert_allclose(chip.effective_weights(), W, rtol=8 * U32, atol=0)


def test_mapping_to_conductances():
    # hardware-model.md section 3: scale = g_max / max|W| per tile column (or
    # per tile), G+ = clip(scale W, 0, g_max), G- = clip(-scale W, 0, g_max).
    W = gaussian((100, 70), 2)
    W[:, 3] = 0.0  # an all-zero column
    for mapping in ["per_column", "per_tile"]:
        cb = AnalogCrossbar(pcm="ideal", devices_per_polarity=1, dac_bits=8, adc_bits=None, output_noise=0.0, post_processing="float", tile_size=64, weight_mapping=mapping)
        chip = cb.program(W, random_state=0)
        g = chip.conductances(0.0)
        assert g.shape == (1, 2, 100, 70)
        expected_pos, expected_neg = np.zeros_like(W), np.zeros_like(W)
        rb, cb_ = chip.row_bounds, chip.col_bounds
        for r0, r1 in zip(rb[:-1], rb[1:]):
            for c0, c1 in zip(cb_[:-1], cb_[1:]):
                block = W[r0:r1, c0:c1]
                w_max = np.abs(block).max(axis=0) if mapping == "per_column" else np.abs(block).max()
                with np.errstate(divide="ignore", invalid="ignore"):
                    scaled = np.where(w_max > 0, block * (1.0 / w_max), 0.0)
                expected_pos[r0:r1, c0:c1] = np.clip(scaled, 0, 1)
                expected_neg[r0:r1, c0:c1] = np.clip(-scaled, 0, 1)
        np.testing.assert_allclose(g[0, 0], expected_pos, rtol=4 * U32, atol=0)
        np.testing.assert_allclose(g[0, 1], expected_neg, rtol=4 * U32, atol=0)
        assert g.max() <= 1.0


def test_devices_per_polarity_spread_the_weight():
    W = gaussian((40, 30), 3)
    chip = AnalogCrossbar(devices_per_polarity=4).program(W, random_state=0)
    g = chip.conductances(0.0)
    # HermesPCM(2) models a pair: 4 devices per polarity are 2 modelled conductances.
    assert isinstance(chip.pcm, HermesPCM) and chip.pcm.num_devices == 2
    assert g.shape == (2, 2, 40, 30)
    assert not np.array_equal(g[0], g[1])  # independent programming noise
    positive = W > 0
    for stack in range(2):
        assert g[stack, 0][positive].mean() > 5 * g[stack, 0][~positive].mean()
    # Both devices of a pair keep their state across drift.
    g_year = chip.conductances(YEAR)
    for stack in range(2):
        assert 0 < g_year[stack, 0][positive].mean() < g[stack, 0][positive].mean()


# DAC / ADC against a naive per-tile simulation ------------------------------------------------
def naive_tiles(X, W, chip, dac_bits=8, adc_bits=8):
    """Per row tile: ADC codes q, ADC step per column, rounding-ambiguous mask, input clips, output clips.

    DAC: x / (range / 127), rint, clip at +-127; exact MVM of the quantised
    inputs; ADC: / (adc_range / 127), rint, clip at +-127.  An output whose
    exact value lies within the float32 error bound of a rounding boundary
    may round either way on the chip: it is flagged as ambiguous.
    """
    in_fs, out_fs = 2 ** (dac_bits - 1) - 1, 2 ** (adc_bits - 1) - 1
    rb, cb = chip.row_bounds, chip.col_bounds
    tiles, input_clips, output_clips = [], 0, 0
    for i, (lo, hi) in enumerate(zip(rb[:-1], rb[1:])):
        s_in = chip.input_range_[i] / in_fs
        c = np.rint(X[:, lo:hi] / s_in)
        input_clips += np.count_nonzero(np.abs(c) > in_fs)
        c = np.clip(c, -in_fs, in_fs)
        s_adc = np.repeat(chip.adc_range_[i] / out_fs, np.diff(cb))
        v = (c * s_in) @ W[lo:hi] / s_adc
        err = (hi - lo + 8) * 2 * U32 * (np.abs(c * s_in) @ np.abs(W[lo:hi])) / s_adc
        ambiguous = np.abs(v - np.floor(v) - 0.5) <= err
        q = np.rint(v)
        output_clips += np.count_nonzero(np.abs(q) > out_fs)
        tiles.append((np.clip(q, -out_fs, out_fs), s_adc, ambiguous))
    return tiles, input_clips, output_clips


def realised_scale(s):
    """The UQ1.7 register value of a positive scale s with its exponent e:
    smallest e with s <= (255/128) 2**e, code rint(s 2**(7 - e)), value code 2**(e - 7)."""
    e = int(np.ceil(np.log2(s / (255 / 128))))
    while s > 255 / 128 * 2.0**e:
        e += 1
    while s <= 255 / 128 * 2.0 ** (e - 1):
        e -= 1
    return np.rint(np.ldexp(s, 7 - e)) * 2.0 ** (e - 7)


def assert_matches_tiles(Y, tiles, scales):
    """Y equals sum_i q_i scale_i, except ambiguous roundings (one ADC step each)."""
    expected = sum(q * s for (q, _, _), s in zip(tiles, scales))
    allowed = sum(a * s for (_, _, a), s in zip(tiles, scales))
    magnitude = sum(np.abs(q) * s for (q, _, _), s in zip(tiles, scales))
    deviation = np.abs(Y - expected)
    assert (deviation <= allowed * 1.000001 + 1e-12 * magnitude).all()
    # The worst-case float32 bound flags about 2 % of the outputs as
    # ambiguous (the chip's actual errors are far smaller): the comparison
    # stays essentially exact.
    ambiguous = np.mean(sum(a for _, _, a in tiles) > 0)
    assert ambiguous < 0.05


@pytest.fixture(scope="module")
def converter_setup():
    W = gaussian((300, 200), 10)
    X_cal = gaussian((3000, 300), 11)
    X = gaussian((400, 300), 12)
    X[:5] *= 4  # some inputs beyond the calibrated range
    return W, X_cal, X


@pytest.fixture(params=["one_block", "small_tasks_and_blocks"])
def read_granularity(request, monkeypatch):
    """Reads of the 400 x 300 converter batch in one block, or in several tasks
    of unequal rows (133, 133, 134) cut into blocks of 64 rows with a short last
    one: each thread reuses its scratch space from task to task and block to block."""
    if request.param == "small_tasks_and_blocks":
        n_outputs = 200
        monkeypatch.setattr(crossbar_module, "BLOCK_ELEMENTS", 64 * n_outputs)
        monkeypatch.setattr(crossbar_module, "TASK_ELEMENTS", 150 * n_outputs)
        monkeypatch.setattr(crossbar_module, "MIN_TASK_ELEMENTS", 150 * n_outputs)
    return request.param


def converter_chip(W, X_cal, post_processing, adc_bits=8):
    cb = AnalogCrossbar(
        pcm="ideal", output_noise=0.0, post_processing=post_processing, tile_size=128, drift_compensation=None,
        adc_bits=adc_bits,
    )
    return cb.program(W, calibration_inputs=X_cal, random_state=0)


def test_calibrated_ranges(converter_setup):
    W, X_cal, _ = converter_setup
    chip = converter_chip(W, X_cal, "float")
    # At most 1024 evenly spaced rows: every 3rd of 3000.
    used = X_cal[::3]
    assert chip.counters.calibration_vectors == used.shape[0] == 1000
    rb, cb = chip.row_bounds, chip.col_bounds
    assert chip.input_range_.shape == (3,) and chip.adc_range_.shape == (3, 2)
    for i, (lo, hi) in enumerate(zip(rb[:-1], rb[1:])):
        expected = np.percentile(np.abs(used[:, lo:hi]), 99.9, method="inverted_cdf")
        assert chip.input_range_[i] == expected
        s_in = expected / 127
        z = np.clip(np.rint(used[:, lo:hi] / s_in), -127, 127) * s_in @ W[lo:hi]
        for j, (c0, c1) in enumerate(zip(cb[:-1], cb[1:])):
            adc = np.percentile(np.abs(z[:, c0:c1]), 99.9, method="inverted_cdf")
            # The chip's calibration read is float32: relative (k + 8) 2**-23.
            assert chip.adc_range_[i, j] == pytest.approx(adc, rel=(hi - lo + 8) * 2 * U32)


def test_converters_match_naive_simulation_float_nmpu(converter_setup, read_granularity):
    W, X_cal, X = converter_setup
    chip = converter_chip(W, X_cal, "float")
    Y = chip.matmul(X)
    tiles, input_clips, output_clips = naive_tiles(X, W, chip)
    assert_matches_tiles(Y, tiles, [s for _, s, _ in tiles])
    assert input_clips > 0 and output_clips > 0
    assert chip.counters.clipped_inputs == input_clips
    n_ambiguous = sum(np.count_nonzero(a) for _, _, a in tiles)
    assert abs(chip.counters.clipped_outputs - output_clips) <= n_ambiguous


def test_converters_match_naive_simulation_fixed_point_nmpu(converter_setup, read_granularity):
    W, X_cal, X = converter_setup
    fixed = converter_chip(W, X_cal, "fixed")
    Y_fixed = fixed.matmul(X)
    tiles, input_clips, output_clips = naive_tiles(X, W, fixed)
    # Exactly the naive codes times the scales the UQ1.7 registers realise.
    scales = [np.array([realised_scale(v) for v in s]) for _, s, _ in tiles]
    assert_matches_tiles(Y_fixed, tiles, scales)
    assert output_clips > 0
    assert fixed.counters.clipped_inputs == input_clips
    n_ambiguous = sum(np.count_nonzero(a) for _, _, a in tiles)
    assert abs(fixed.counters.clipped_outputs - output_clips) <= n_ambiguous
    # And within the scale-quantisation bound of the float path: every
    # register is within 1/255 of its scale (the code is >= 127.5 before
    # rounding, the error <= 0.5), so |fixed - float| <= sum_i |q_i| s_i / 255.
    Y_float = converter_chip(W, X_cal, "float").matmul(X)
    bound = sum(np.abs(q) * s for q, s, _ in tiles) / 255
    allowed = sum(a * s for _, s, a in tiles) * 2
    assert (np.abs(Y_fixed - Y_float) <= bound + allowed + 1e-12).all()
    assert np.abs(Y_fixed - Y_float).max() > 0  # the registers do quantise


@pytest.mark.parametrize("adc_bits", [8, 12, 16])
def test_integer_and_float_nmpu_paths_see_the_same_adc_codes(converter_setup, adc_bits, read_granularity):
    # The fixed-point path converts the ADC codes to integers (int16 up to 8
    # bits; int32 from there, where the clipping rail 2**(bits - 1) no longer
    # fits int16); the float path keeps them as floats.  Same analog values,
    # same codes: the clip counts agree exactly, and the outputs within the
    # scale registers' quantisation bound (as in the test above).
    W, X_cal, X = converter_setup
    fixed = converter_chip(W, X_cal, "fixed", adc_bits)
    floating = converter_chip(W, X_cal, "float", adc_bits)
    Y_fixed, Y_float = fixed.matmul(X), floating.matmul(X)
    assert fixed.counters.clipped_outputs == floating.counters.clipped_outputs > 0
    tiles, _, _ = naive_tiles(X, W, fixed, adc_bits=adc_bits)
    bound = sum(np.abs(q) * s for q, s, _ in tiles) / 255 + sum(s for _, s, _ in tiles) * 2
    assert (np.abs(Y_fixed - Y_float) <= bound).all()


@pytest.mark.parametrize("n_inputs", [200, 300, 700], ids=["1_row_tile", "2_row_tiles", "3_row_tiles"])
def test_nmpu_relu_acts_on_the_accumulated_output(n_inputs):
    # The NMPU's ReLU is part of the layer's output stage: for a matrix spread
    # over several input tiles it must act on the digitally accumulated sum,
    # max(sum_i partial_i, 0), not on each tile's partial sum.  With the same
    # codes and registers the linear chip gives sum_i partial_i exactly.
    W, X = gaussian((n_inputs, 50), 22), gaussian((200, n_inputs), 23)

    def chip(relu):
        cb = AnalogCrossbar(pcm="ideal", output_noise=0.0, nmpu=NearMemoryUnit(relu=relu), drift_compensation=None)
        return cb.program(W, calibration_inputs=X, random_state=0)

    linear = chip(False).matmul(X)
    np.testing.assert_array_equal(chip(True).matmul(X), np.maximum(linear, 0))


# Drift oracle --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["global", "per_column", None])
@pytest.mark.parametrize("mapping", ["per_column", "per_tile"])
def test_drift_oracle(mode, mapping):
    W, X = gaussian((300, 100), 20), gaussian((50, 300), 21)
    cb = ideal_periphery(pcm=CommonDriftPCM(), devices_per_polarity=1, tile_size=128, drift_compensation=mode, weight_mapping=mapping)
    chip = cb.program(W, random_state=0)
    k = 100 + 3
    Y0 = chip.matmul(X, t_inference=0.0)
    np.testing.assert_array_less(np.abs(Y0 - X @ W), float32_bound(X, W, k))
    Y1 = chip.matmul(X, t_inference=YEAR)
    # The factor of the stored (float32) drift exponent.
    nu = float(np.float32(0.06))
    factor = ((YEAR + 100.0) / 100.0) ** -nu
    assert factor < 0.7  # a year of drift is large
    if mode is None:
        # (k + 16): the drifted conductances add a few float32 roundings.
        np.testing.assert_array_less(np.abs(Y1 - factor * (X @ W)), float32_bound(X, W, k, 16))
        np.testing.assert_allclose(chip.effective_weights(YEAR), factor * W, rtol=16 * U32)
    else:
        np.testing.assert_array_less(np.abs(Y1 - Y0), 2 * float32_bound(X, W, k, 16))
        np.testing.assert_allclose(chip.effective_weights(YEAR), W, rtol=16 * U32)


# Reading at several times ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def hermes_chip():
    W, X = gaussian((64, 256), 30), gaussian((500, 64), 31)
    return W, X, AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)


def test_reading_at_several_times(hermes_chip):
    W, X, chip = hermes_chip
    W0, W_day = chip.effective_weights(0.0), chip.effective_weights(86_400.0)
    assert not np.array_equal(W0, W_day)
    Y_day = chip.matmul(X, t_inference=86_400.0)
    # Other times in between (the state cache holds 2 times) do not change a read.
    chip.matmul(X, t_inference=1.0)
    chip.matmul(X, t_inference=YEAR)
    np.testing.assert_array_equal(chip.matmul(X, t_inference=86_400.0), Y_day)
    np.testing.assert_array_equal(chip.effective_weights(0.0), W0)
    # The default time is the configuration's t_inference.
    np.testing.assert_array_equal(chip.matmul(X), chip.matmul(X, t_inference=3600.0))


def test_conductances_share_the_programming_state(hermes_chip):
    _, _, chip = hermes_chip
    g0 = chip.conductances(0.0)
    chip.conductances(86_400.0)
    chip.conductances(YEAR)
    np.testing.assert_array_equal(chip.conductances(0.0), g0)
    assert (g0 >= 0).all()
    means = [chip.conductances(t).mean() for t in [0.0, 3600.0, 86_400.0, YEAR]]
    assert all(a > b for a, b in zip(means, means[1:]))


def test_uncompensated_drift_shrinks_weights():
    W, X = gaussian((64, 128), 32), gaussian((300, 64), 33)
    chip = AnalogCrossbar(drift_compensation=None).program(W, calibration_inputs=X, random_state=0)
    norms = [np.linalg.norm(chip.effective_weights(t)) for t in [0.0, 86_400.0, YEAR]]
    assert norms[0] > norms[1] > norms[2]


def test_exact_chip_has_no_conductances():
    with pytest.raises(ValueError, match="conductances"):
        AnalogCrossbar.ideal().program(np.eye(3)).conductances()


# Determinism ---------------------------------------------------------------------------------
def program_and_read(W, X, seed, **params):
    chip = AnalogCrossbar(**params).program(W, calibration_inputs=X[:1000], random_state=seed)
    return chip.matmul(X)


def read(chip, X):
    return chip.matmul(X)


def test_same_seed_same_output():
    W, X = gaussian((64, 200), 40), gaussian((300, 64), 41)
    a = program_and_read(W, X, 0)
    np.testing.assert_array_equal(a, program_and_read(W, X, 0))
    assert not np.array_equal(a, program_and_read(W, X, 1))
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=np.random.RandomState(5))
    again = AnalogCrossbar().program(W, calibration_inputs=X, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(chip.matmul(X), again.matmul(X))
    # Reading the same inputs twice gives the same output (content-seeded noise).
    np.testing.assert_array_equal(chip.matmul(X), chip.matmul(X))


def test_pickle_round_trip():
    W, X = gaussian((64, 200), 42), gaussian((300, 64), 43)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    Y = chip.matmul(X)
    restored = pickle.loads(pickle.dumps(chip))
    assert isinstance(restored, ProgrammedCrossbar)
    np.testing.assert_array_equal(restored.matmul(X), Y)
    np.testing.assert_array_equal(restored.matmul(X, t_inference=YEAR), chip.matmul(X, t_inference=YEAR))
    assert restored.input_range_.tolist() == chip.input_range_.tolist()


def test_identical_in_other_processes():
    W, X = gaussian((64, 200), 44), gaussian((300, 64), 45)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    Y = chip.matmul(X)
    results = Parallel(n_jobs=2, backend="loky")(
        [delayed(program_and_read)(W, X, 0), delayed(program_and_read)(W, X, 0), delayed(read)(chip, X)]
    )
    for result in results:
        np.testing.assert_array_equal(result, Y)


def test_read_tasks_depend_on_the_batch_only():
    # Large batches: tasks of at most 2**22 outputs (8192 rows of 512);
    # smaller ones are split into 32 tasks for the cores, down to 2**20
    # outputs (2048 rows).  The split never depends on the thread count (and
    # results depend on neither: see the invariance tests below).
    engine = AnalogCrossbar().program(gaussian((64, 512), 48), calibration_inputs=gaussian((100, 64), 49))._engine
    assert engine.task_rows(10**6) == 8192
    assert engine.task_rows(4000 * 32) == 4000
    assert engine.task_rows(9000) == engine.task_rows(10) == 2048
    with threadpool_limits(limits=1):
        assert engine.task_rows(4000 * 32) == 4000


def test_thread_count_does_not_change_results():
    # Enough rows for several programming tasks (about 2**18 devices each)
    # and several read tasks.
    W, X = gaussian((300, 512), 46), gaussian((9000, 300), 47)
    with threadpool_limits(limits=1):
        assert available_threads() == 1
        single = program_and_read(W, X, 0)
    with threadpool_limits(limits=2, user_api="blas"):  # two threads where the machine has them
        np.testing.assert_array_equal(program_and_read(W, X, 0), single)
    np.testing.assert_array_equal(program_and_read(W, X, 0), single)  # the default


def test_scratch_space_of_a_small_read_is_sized_by_the_batch():
    # A 10-row read allocates scratch for 10 rows, not for a full task of
    # 2048 rows (over 8 MB here): its peak is the output, the scratch of the
    # exact MVM, the noise words and the read-out for 10 rows, about 160 kB
    # with the compiled read-out and 250 kB with numpy's.
    W, X = gaussian((64, 512), 60), gaussian((2000, 64), 61)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    chip.matmul(X[:10])  # derive the read state
    tracemalloc.start()
    try:
        chip.matmul(X[:10])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400_000


def test_ufunc_buffer_is_one_row_within_a_read(monkeypatch):
    # Rows of 1024 to 8191 outputs run numpy's ufuncs with buffers of one row (a
    # speed setting, restored afterwards); results are those of numpy's default.
    default = np.getbufsize()
    for row_width, expected in [(512, default), (1024, 1024), (4096, 4096), (10_000, default)]:
        with _ufunc_buffer_for_rows(row_width):
            assert np.getbufsize() == expected
        assert np.getbufsize() == default
    W, X = gaussian((64, 1024), 54), gaussian((3000, 64), 55)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    Y = chip.matmul(X)
    assert np.getbufsize() == default
    monkeypatch.setattr(crossbar_module, "MIN_UNBUFFERED_ROW", 10**9)
    np.testing.assert_array_equal(chip.matmul(X), Y)


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_concurrent_reads():
    # Reads of one chip from several Python threads (e.g. a threading joblib
    # backend) give the same results as sequential reads, and leave the
    # process's BLAS thread count as they found it.
    W, X = gaussian((300, 512), 52), gaussian((4000, 300), 53)
    chip = AnalogCrossbar().program(W, calibration_inputs=X[:1000], random_state=0)
    times = [3600.0, 86_400.0]
    expected = {t: chip.matmul(X, t_inference=t) for t in times}
    results, errors = [], []

    def work(index):
        try:
            for _ in range(3):
                t = times[index % 2]
                results.append((t, chip.matmul(X, t_inference=t)))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    before = _blas_threads()
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = _blas_threads()
    finally:  # undo any change, so that later tests run as before
        ThreadpoolController().select(user_api="blas").limit(limits=max(before, default=1))
    assert not errors
    assert len(results) == 12
    for t, Y in results:
        np.testing.assert_array_equal(Y, expected[t])
    assert after == before


@pytest.mark.parametrize("device", ["hermes", "ideal"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_into_out(device, dtype):
    W, X = gaussian((64, 100), 56), gaussian((300, 64), 57, dtype)
    chip = check_device(device).program(W, calibration_inputs=X, random_state=0)
    expected = chip.matmul(X)
    out = np.full((300, 100), np.nan, dtype=dtype)
    assert chip.matmul(X, out=out) is out
    np.testing.assert_array_equal(out, expected)
    strided = np.full((300, 200), np.nan, dtype=dtype)[:, ::2]
    np.testing.assert_array_equal(chip.matmul(X, out=strided), expected)
    if device == "ideal":
        np.testing.assert_array_equal(chip.matmul(sparse.csr_matrix(X), out=out), chip.matmul(sparse.csr_matrix(X)))


def test_matmul_out_errors():
    W, X = gaussian((64, 64), 58), gaussian((50, 64), 59)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    with pytest.raises(TypeError, match="out must be a numpy array"):
        chip.matmul(X, out=[[0.0] * 64] * 50)
    with pytest.raises(ValueError, match=r"out must have shape \(50, 64\) and dtype float64"):
        chip.matmul(X, out=np.empty((50, 63)))
    with pytest.raises(ValueError, match="dtype float32 for this X, got shape .* dtype float64"):
        chip.matmul(X.astype(np.float32), out=np.empty((50, 64)))
    read_only = np.empty((50, 64))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        chip.matmul(X, out=read_only)
    X_before = X.copy()
    with pytest.raises(ValueError, match="out shares memory with X"):
        chip.matmul(X, out=X)
    np.testing.assert_array_equal(X, X_before)


def test_float32_in_float32_out():
    W, X = gaussian((64, 100), 48), gaussian((200, 64), 49)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    Y32 = chip.matmul(X.astype(np.float32))
    assert Y32.dtype == np.float32
    assert chip.matmul(X).dtype == np.float64
    W32 = AnalogCrossbar().program(W.astype(np.float32), calibration_inputs=X, random_state=0)
    assert W32.matmul(X.astype(np.float32)).dtype == np.float32


def test_memory_layout_and_sparsity_do_not_change_results():
    W, X = gaussian((64, 100), 50), gaussian((200, 64), 51)
    X[np.abs(X) < 1] = 0.0
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    Y = chip.matmul(X)
    np.testing.assert_array_equal(chip.matmul(np.asfortranarray(X)), Y)
    np.testing.assert_array_equal(chip.matmul(sparse.csr_matrix(X)), Y)
    from_sparse = AnalogCrossbar().program(W, calibration_inputs=sparse.csr_matrix(X), random_state=0)
    np.testing.assert_array_equal(from_sparse.input_range_, chip.input_range_)
    np.testing.assert_array_equal(from_sparse.adc_range_, chip.adc_range_)
    np.testing.assert_array_equal(from_sparse.matmul(X), Y)


# Output noise ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tile_size, mapping", [(256, "per_column"), (64, "per_tile")])
@pytest.mark.parametrize("small_blocks", [False, True])
def test_output_noise_statistics(tile_size, mapping, small_blocks, monkeypatch):
    # Ideal devices and converters: Y - X @ W is the output noise alone, with
    # std s * input_range * full-scale weight per tile (max|W| of the tile
    # column, or of the tile), variances adding over row tiles.  Pooled
    # standardised residuals: SE of the std 1/sqrt(2N), of the mean 1/sqrt(N).
    # Small blocks: tasks of 285 or 286 rows in blocks of 62, so that blocks of
    # an odd number of rows (sampled without pairing rows) occur too.
    if small_blocks:
        monkeypatch.setattr(crossbar_module, "BLOCK_ELEMENTS", 62 * 200)
        monkeypatch.setattr(crossbar_module, "TASK_ELEMENTS", 333 * 200)
        monkeypatch.setattr(crossbar_module, "MIN_TASK_ELEMENTS", 333 * 200)
    s = 0.1
    W, X_cal = gaussian((100, 200), 60), gaussian((1000, 100), 61)
    X = gaussian((2000, 100), 62)
    cb = ideal_periphery(pcm="ideal", output_noise=s, tile_size=tile_size, weight_mapping=mapping)
    chip = cb.program(W, calibration_inputs=X_cal, random_state=0)
    residual = chip.matmul(X) - X @ W
    rb, cb_ = chip.row_bounds, chip.col_bounds
    variance = np.zeros(W.shape[1])
    for i, (lo, hi) in enumerate(zip(rb[:-1], rb[1:])):
        w_max = np.abs(W[lo:hi]).max(axis=0)
        if mapping == "per_tile":
            w_max = np.concatenate([np.full(c1 - c0, w_max[c0:c1].max()) for c0, c1 in zip(cb_[:-1], cb_[1:])])
        variance += (s * chip.input_range_[i] * w_max) ** 2
    z = residual / np.sqrt(variance)
    n = z.size
    assert abs(z.std() - 1) < 5 / np.sqrt(2 * n)
    assert abs(z.mean()) < 5 / np.sqrt(n)


def test_output_noise_is_a_function_of_the_row():
    # The same input row read 4000 times in one batch gets one noise
    # realisation (noise is keyed by the row's codes, the seed and the time).
    W, X_cal = gaussian((50, 20), 63), gaussian((500, 50), 64)
    chip = ideal_periphery(pcm="ideal", output_noise=0.1).program(W, calibration_inputs=X_cal, random_state=0)
    Y = chip.matmul(np.repeat(X_cal[:1], 4000, axis=0))
    assert (Y == Y[:1]).all()
    assert not np.array_equal(Y[0], X_cal[0] @ W)


def test_read_index_gives_independent_repeated_reads():
    # Residuals of the same rows read with two read indices are uncorrelated
    # (|r| < 5 standard errors, SE 1/sqrt(N)) and have the noise's std (SE of a
    # std 1/sqrt(2N)); read index 0 is the default read.
    s = 0.1
    W, X_cal = gaussian((50, 20), 63), gaussian((2000, 50), 64)
    chip = ideal_periphery(pcm="ideal", output_noise=s).program(W, calibration_inputs=X_cal, random_state=0)
    scale = s * chip.input_range_[0] * np.abs(W).max(axis=0)
    Y0 = chip.matmul(X_cal, read_index=0)
    np.testing.assert_array_equal(chip.matmul(X_cal), Y0)
    z0 = (Y0 - X_cal @ W) / scale
    z1 = (chip.matmul(X_cal, read_index=1) - X_cal @ W) / scale
    n = z0.size
    assert abs(np.corrcoef(z0.ravel(), z1.ravel())[0, 1]) < 5 / np.sqrt(n)
    assert abs(z1.std() - 1) < 5 / np.sqrt(2 * n)
    for bad in [-1, 1.5, True, "0"]:
        with pytest.raises(ValueError, match="read_index"):
            chip.matmul(X_cal[:2], read_index=bad)


# HERMES preset accuracy -------------------------------------------------------------------------
def test_hermes_preset_error_band():
    W, X = gaussian((64, 512), 70), gaussian((2000, 64), 71)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    exact = X @ W
    err = np.linalg.norm(chip.matmul(X) - exact) / np.linalg.norm(exact)
    weight_err = np.linalg.norm(chip.effective_weights() - W) / np.linalg.norm(W)
    assert 0.02 < err < 0.40, err
    assert 0.02 < weight_err < 0.40, weight_err
    assert chip.n_tiles == 2


# Clipping ---------------------------------------------------------------------------------------
def clipping_warnings(chip, X):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chip.matmul(X)
    return [w for w in record if issubclass(w.category, AnalogClippingWarning)]


@pytest.mark.parametrize(
    "params",
    [{}, {"adc_bits": None, "post_processing": "float"}, {"dac_bits": None}],
    ids=["hermes", "dac_only", "adc_only"],
)
def test_one_clipping_warning_per_chip(params):
    W, X = gaussian((64, 128), 80), gaussian((1000, 64), 81)
    chip = AnalogCrossbar(**params).program(W, calibration_inputs=X, random_state=0)
    assert clipping_warnings(chip, X) == []
    caught = clipping_warnings(chip, 10 * X[:200])
    assert len(caught) == 1
    assert caught[0].filename == __file__  # points at the caller's matmul
    assert clipping_warnings(chip, 10 * X[:200]) == []  # once per chip
    chip = AnalogCrossbar(**params).program(W, calibration_inputs=X, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chip.map_matmul(10 * X[:200], lambda rows, Y_rows: None)
    caught = [w for w in record if issubclass(w.category, AnalogClippingWarning)]
    assert len(caught) == 1 and caught[0].filename == __file__


def test_single_row_reads_of_calibrated_data_do_not_warn():
    # 1000 reads of one in-distribution row each clip about as often as the
    # calibration percentile says, counted over all of them: no warning (a
    # per-read rule warned 78 times here).
    W, X = gaussian((30, 64), 84), gaussian((2000, 30), 85)
    chip = AnalogCrossbar().program(W, calibration_inputs=X[:1000], random_state=0)
    caught = sum((clipping_warnings(chip, X[1000 + i : 1001 + i]) for i in range(1000)), [])
    assert caught == []
    assert chip.counters.clipped_inputs > 0


def test_clip_counters():
    W, X = gaussian((64, 128), 82), gaussian((1000, 64), 83)
    chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    chip.matmul(X)
    # Calibration at the 99.9th percentile: about 0.1 % of in-range inputs clip.
    in_range_clips = chip.counters.clipped_inputs
    assert in_range_clips <= 0.002 * X.size
    chip.counters.reset()
    big = 10 * X[:200]
    clipping_warnings(chip, big)
    expected = np.count_nonzero(np.abs(np.rint(big / (chip.input_range_[0] / 127))) > 127)
    assert chip.counters.clipped_inputs == expected
    assert chip.counters.clipped_outputs > 0.1 * 200 * 128


# Work counters ---------------------------------------------------------------------------------
def test_work_counters():
    W, X_cal = gaussian((300, 200), 90), gaussian((2000, 300), 91)
    chip = AnalogCrossbar().program(W, calibration_inputs=X_cal, random_state=0)
    counters = chip.counters
    assert counters.n_tiles == chip.n_tiles == 2
    assert counters.calibration_vectors == 1000 and counters.input_vectors == 0
    chip.matmul(X_cal[:123])
    assert counters.input_vectors == 123
    # The first read at t > 0 adds two global drift-compensation reads (the
    # reference at t = 0 and the read at t) of 64 probe vectors each.
    assert counters.calibration_vectors == 1000 + 2 * 64
    assert counters.dac_conversions == 123 * 300
    assert counters.adc_conversions == 123 * 200 * 2  # every tile digitises its columns
    assert counters.core_mvms == (123 + 1128) * 2
    # 13.4 nJ per core MVM (2 * 256**2 operations at 9.76 TOPS/W = 13.43 nJ).
    assert counters.energy_joules == pytest.approx(counters.core_mvms * 13.4e-9, rel=5e-3)
    # 133 ns per MVM, all tiles in parallel.
    assert counters.latency_seconds == pytest.approx(1251 * 133e-9, rel=5e-3)
    as_dict = counters.as_dict()
    assert as_dict["input_vectors"] == 123 and as_dict["core_mvms"] == counters.core_mvms
    assert "_lock" not in as_dict
    restored = pickle.loads(pickle.dumps(counters))
    assert restored == counters
    restored.add(input_vectors=2)
    assert restored.input_vectors == 125 and counters.input_vectors == 123
    counters.reset()
    assert counters.n_tiles == 2
    assert all(value == 0 for name, value in counters.as_dict().items() if name != "n_tiles")


def test_work_counters_exact_path():
    chip = AnalogCrossbar.ideal().program(gaussian((10, 5), 92))
    chip.matmul(gaussian((7, 10), 93))
    assert chip.counters.input_vectors == 7 and chip.counters.dac_conversions == 70
    assert chip.counters.adc_conversions == 35


def test_work_counters_standalone():
    counters = WorkCounters(n_tiles=3)
    counters.add(input_vectors=4, calibration_vectors=1)
    assert counters.core_mvms == 15


# Calibration ------------------------------------------------------------------------------------
def test_calibration_required():
    W, X = gaussian((20, 10), 100), gaussian((50, 20), 101)
    chip = AnalogCrossbar().program(W, random_state=0)
    assert not chip.is_calibrated
    with pytest.raises(ValueError, match="calibrate"):
        chip.matmul(X)
    assert chip.calibrate(X) is chip and chip.is_calibrated
    assert chip.matmul(X).shape == (50, 10)


def test_calibration_sample_weight_counts_rows():
    # A row of weight w counts as w copies of that row (inverted CDF).
    W, X = gaussian((30, 12), 102), gaussian((200, 30), 103)
    weights = np.random.default_rng(104).integers(0, 4, 200)
    weighted = AnalogCrossbar().program(W, calibration_inputs=X, calibration_weights=weights, random_state=0)
    repeated = AnalogCrossbar().program(W, calibration_inputs=np.repeat(X, weights, axis=0), random_state=0)
    np.testing.assert_array_equal(weighted.input_range_, repeated.input_range_)
    np.testing.assert_allclose(weighted.adc_range_, repeated.adc_range_, rtol=1e-12)


# Errors ---------------------------------------------------------------------------------------
W_SMALL = np.arange(12, dtype=float).reshape(4, 3) - 5


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tile_size": 0}, "tile_size"),
        ({"tile_size": -4}, "tile_size"),
        ({"tile_size": 2.5}, "tile_size"),
        ({"dac_bits": -1}, "dac_bits"),
        ({"adc_bits": 0}, "adc_bits"),
        ({"adc_bits": 1}, "adc_bits"),
        ({"adc_bits": None}, "adc_bits"),
        ({"adc_bits": None, "nmpu": NearMemoryUnit()}, "adc_bits"),
        ({"pcm": "pcm"}, "pcm"),
        ({"pcm": HermesPCM(2), "devices_per_polarity": 1}, "multiple"),
        ({"pcm": HermesPCM(2), "devices_per_polarity": 3}, "multiple"),
        ({"devices_per_polarity": 0}, "devices_per_polarity"),
        ({"output_noise": -0.1}, "output_noise"),
        ({"t_inference": -1.0}, "t_inference"),
        ({"weight_mapping": "per_row"}, "weight_mapping"),
        ({"drift_compensation": "local"}, "drift_compensation"),
        ({"input_percentile": 0}, "input_percentile"),
        ({"nmpu": "fixed"}, "nmpu"),
        ({"pcm": GenericPCM(drift_scale=-1.0)}, "drift_scale"),
    ],
)
def test_invalid_configurations(params, match):
    with pytest.raises(ValueError, match=match):
        AnalogCrossbar(**params).program(W_SMALL, random_state=0)


def test_valid_devices_per_polarity_multiples():
    AnalogCrossbar(pcm=HermesPCM(2), devices_per_polarity=4).validate()
    AnalogCrossbar(pcm=HermesPCM(1), devices_per_polarity=3).validate()
    AnalogCrossbar(devices_per_polarity=3).validate()  # "hermes" resolves to the 1-device fit


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_rejected(bad):
    W = W_SMALL.copy()
    W[1, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        AnalogCrossbar.ideal().program(W)
    X = np.ones((3, 4))
    X[0, 2] = bad
    for chip in [AnalogCrossbar.ideal().program(W_SMALL), AnalogCrossbar().program(W_SMALL, calibration_inputs=np.ones((3, 4)), random_state=0)]:
        with pytest.raises(ValueError, match="NaN|infinity"):
            chip.matmul(X)
        with pytest.raises(ValueError, match="NaN|infinity"):
            chip.calibrate(X)


def test_input_shape_errors():
    for chip in [AnalogCrossbar.ideal().program(W_SMALL), AnalogCrossbar().program(W_SMALL, calibration_inputs=np.ones((3, 4)), random_state=0)]:
        with pytest.raises(ValueError, match="features"):
            chip.matmul(np.ones((2, 5)))
        with pytest.raises(ValueError, match="2D"):
            chip.matmul(np.ones(4))
        with pytest.raises(ValueError, match="features"):
            chip.map_matmul(np.ones((2, 3)), lambda rows, Y: None)
    with pytest.raises(ValueError, match="2D"):
        AnalogCrossbar.ideal().program(np.ones(4))


@pytest.mark.parametrize("t", [-1.0, np.nan, np.inf, "1h", True])
def test_invalid_read_times(t):
    chip = AnalogCrossbar().program(W_SMALL, calibration_inputs=np.ones((3, 4)), random_state=0)
    with pytest.raises(ValueError, match="t_inference"):
        chip.matmul(np.ones((2, 4)), t_inference=t)
    with pytest.raises(ValueError, match="t_inference"):
        chip.map_matmul(np.ones((2, 4)), lambda rows, Y: None, t_inference=t)
    with pytest.raises(ValueError, match="t_inference"):
        chip.effective_weights(t)
    with pytest.raises(ValueError, match="t_inference"):
        chip.conductances(t)


@pytest.mark.parametrize("t", [-1.0, np.nan, "1h"])
def test_invalid_read_times_exact_chip(t):
    # The exact chip ignores time, but an invalid time is still an error, as
    # for every other configuration (and for its own effective_weights).
    chip = AnalogCrossbar.ideal().program(W_SMALL)
    with pytest.raises(ValueError, match="t_inference"):
        chip.effective_weights(t)
    with pytest.raises(ValueError, match="t_inference"):
        chip.matmul(np.ones((2, 4)), t_inference=t)
    with pytest.raises(ValueError, match="t_inference"):
        chip.map_matmul(np.ones((2, 4)), lambda rows, Y: None, t_inference=t)


@pytest.mark.parametrize("mode", ["global", "per_column"])
def test_drift_compensation_restores_the_weight_scale_of_the_hermes_preset(mode):
    # Least-squares gain <W_eff, W> / <W, W> one year after programming.  Without
    # compensation the HERMES drift exponents (mean ~0.07) shrink weights to ~0.55;
    # a compensation read must restore the scale to within a few percent, for the
    # global and the per-column mode alike (a per-column read that weighed every
    # device equally once over-corrected by ~10 %).
    W, X = gaussian((256, 64), 110), gaussian((500, 256), 111)
    one_year = 360 * 86400.0
    compensated = AnalogCrossbar(drift_compensation=mode).program(W, calibration_inputs=X, random_state=0)
    uncompensated = AnalogCrossbar(drift_compensation=None).program(W, calibration_inputs=X, random_state=0)

    def gain(chip):
        return float((chip.effective_weights(one_year) * W).sum() / (W * W).sum())

    assert 0.93 < gain(compensated) < 1.03
    assert gain(uncompensated) < 0.7


def test_fp16_post_processing_is_the_fp16_unit_on_the_adc_codes(converter_setup):
    # Same chip, same ADC codes: the FP16 stage equals FP16Unit applied to the
    # codes the float stage scales (one input tile, so no partial sums).
    W, X_cal, X = converter_setup
    W, X_cal, X = W[:100], X_cal[:, :100], X[:, :100]
    floating = converter_chip(W, X_cal, "float")
    fp16 = converter_chip(W, X_cal, "fp16")
    scale = floating._state(3600.0).digital[0]
    codes = np.rint(floating.matmul(X) / np.where(scale > 0, scale, 1.0))
    unit = FP16Unit()
    expected = unit.apply_to_float(codes, unit.encode(scale), np.empty_like(codes), input_bits=8)
    np.testing.assert_array_equal(fp16.matmul(X), expected)
    assert fp16._state(3600.0).compiled is None  # the compiled read-out covers the NMPU only
    with pytest.raises(ValueError, match="at most 16 bits"):
        AnalogCrossbar(post_processing="fp16", adc_bits=17).validate()


@pytest.mark.parametrize("scale", [2.0**-1000, 2.0**-130, 2.0**100, 2.0**1000])
def test_any_finite_weight_scale_programs(scale):
    # The mapping, calibration and near-memory registers follow the weights'
    # scale exactly: a power-of-two scale of W scales the outputs, bit for bit.
    W, X = gaussian((300, 40), 90), gaussian((100, 300), 91)
    Y = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0).matmul(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing overflows or underflows on the way
        Y_scaled = AnalogCrossbar().program(W * scale, calibration_inputs=X, random_state=0).matmul(X)
    np.testing.assert_array_equal(Y_scaled, Y * scale)
    assert np.count_nonzero(Y) > 0.95 * Y.size
