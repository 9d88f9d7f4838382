"""Tests of sklearn_aimc.fixedpoint: formats, rounding and the NMPU datapath.

Rounding is checked against exact rational arithmetic on Python ints and
:class:`fractions.Fraction`.  Property tests use hypothesis with derandomized
(fixed-seed) example generation.  Statistical tests (stochastic rounding) use
fixed seeds and 5-standard-error tolerances.
"""

import math
import pickle
import struct
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sklearn_aimc.fixedpoint import (
    FixedPointFormat,
    FP16Unit,
    NearMemoryUnit,
    fold_batch_norm,
    quantize,
    shift_round,
)

SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

UQ1_7 = FixedPointFormat(1, 7, signed=False)
SQ7_1 = FixedPointFormat(7, 1, signed=True)


# Pure-Python references --------------------------------------------------------
def round_half_even(q):
    """Nearest integer to a Fraction, ties to even (Python's round is exact here)."""
    return round(Fraction(q))


def round_exact(q, rounding):
    q = Fraction(q)
    if rounding == "half_even":
        return round(q)
    if rounding == "floor":
        return math.floor(q)
    raise AssertionError(rounding)


def format_range(integer_bits, fractional_bits, signed):
    word = integer_bits + fractional_bits
    if signed:
        return -(2 ** (word - 1)), 2 ** (word - 1) - 1
    return 0, 2**word - 1


def ref_quantize(x, fmt, rounding):
    low, high = format_range(fmt.integer_bits, fmt.fractional_bits, fmt.signed)
    if math.isinf(x):
        return high if x > 0 else low
    code = round_exact(Fraction(x) * Fraction(2) ** fmt.fractional_bits, rounding)
    return min(max(code, low), high)


@st.composite
def formats(draw, max_word=62):
    signed = draw(st.booleans())
    word = draw(st.integers(2 if signed else 1, max_word))
    fractional = draw(st.integers(-12, 40))
    return FixedPointFormat(word - fractional, fractional, signed=signed)


# FixedPointFormat ------------------------------------------------------------------
@pytest.mark.parametrize(
    "fmt, word, lsb, min_code, max_code, min_value, max_value, text",
    [
        (SQ7_1, 8, 0.5, -128, 127, -64.0, 63.5, "SQ7.1"),
        (UQ1_7, 8, 1 / 128, 0, 255, 0.0, 255 / 128, "UQ1.7"),
        (FixedPointFormat(8, 0), 8, 1.0, -128, 127, -128.0, 127.0, "SQ8.0"),
        (FixedPointFormat(8, 0, signed=False), 8, 1.0, 0, 255, 0.0, 255.0, "UQ8.0"),
        (FixedPointFormat(1, 0, signed=False), 1, 1.0, 0, 1, 0.0, 1.0, "UQ1.0"),
        (FixedPointFormat(0, 8, signed=False), 8, 1 / 256, 0, 255, 0.0, 255 / 256, "UQ0.8"),
        # Negative fractional bits: steps of 4, an 8-bit word.
        (FixedPointFormat(10, -2), 8, 4.0, -128, 127, -512.0, 508.0, "SQ10.-2"),
        # Negative integer bits: a 4-bit word of 1/64 steps.
        (FixedPointFormat(-2, 6), 4, 1 / 64, -8, 7, -0.125, 7 / 64, "SQ-2.6"),
        (FixedPointFormat(32, 30), 62, 2.0**-30, -(2**61), 2**61 - 1, -(2.0**31), (2**61 - 1) / 2**30, "SQ32.30"),
    ],
)
def test_format_ranges(fmt, word, lsb, min_code, max_code, min_value, max_value, text):
    assert fmt.word_bits == word
    assert fmt.lsb == lsb
    assert fmt.min_code == min_code and fmt.max_code == max_code
    assert fmt.min_value == min_value and fmt.max_value == max_value
    assert str(fmt) == text


def test_format_value_semantics():
    assert FixedPointFormat(1, 7, signed=False) == UQ1_7
    assert hash(FixedPointFormat(1, 7, signed=False)) == hash(UQ1_7)
    assert FixedPointFormat(1, 7) != UQ1_7
    with pytest.raises(AttributeError):
        UQ1_7.fractional_bits = 3  # frozen
    assert pickle.loads(pickle.dumps(SQ7_1)) == SQ7_1
    np.testing.assert_array_equal(SQ7_1.to_float([-128, 1, 127]), [-64.0, 0.5, 63.5])
    np.testing.assert_array_equal(SQ7_1.saturate([-1000, 5, 1000]), [-128, 5, 127])
    assert SQ7_1.saturate([1]).dtype == np.int64


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((1.0, 7), {}, TypeError, "integer_bits"),
        ((1, 7.0), {}, TypeError, "fractional_bits"),
        ((True, 7), {}, TypeError, "integer_bits"),
        ((1, 7), {"signed": 1}, TypeError, "signed"),
        ((1, 7), {"signed": "yes"}, TypeError, "signed"),
        ((0, 0), {}, ValueError, "between 1 and 62"),
        ((3, -3), {"signed": False}, ValueError, "between 1 and 62"),
        ((40, 23), {}, ValueError, "between 1 and 62"),
        ((1, 0), {"signed": True}, ValueError, "at least 2 bits"),
    ],
)
def test_format_validation(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        FixedPointFormat(*args, **kwargs)


def test_format_accepts_numpy_types():
    fmt = FixedPointFormat(np.int64(7), np.int32(1), signed=np.bool_(True))
    assert fmt.max_value == 63.5


# quantize ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rounding, values, expected",
    [
        ("half_even", [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 0.51], [0, 2, 2, 0, -2, -2, 0, 1]),
        ("floor", [0.99, -0.01, -1.0, 1.0, -0.5], [0, -1, -1, 1, -1]),
    ],
)
def test_quantize_examples(rounding, values, expected):
    assert quantize(values, FixedPointFormat(8, 0), rounding=rounding).tolist() == expected


@SETTINGS
@given(fmt=formats(), x=st.floats(allow_nan=False, allow_infinity=True), rounding=st.sampled_from(["half_even", "floor"]))
def test_quantize_matches_exact_rounding(fmt, x, rounding):
    codes = quantize([x], fmt, rounding=rounding)
    assert codes.dtype == np.int64
    assert int(codes[0]) == ref_quantize(x, fmt, rounding)


@SETTINGS
@given(
    fmt=formats(max_word=24),
    codes=st.lists(st.integers(-(2**23), 2**23), min_size=1, max_size=20),
    rounding=st.sampled_from(["half_even", "floor", "stochastic"]),
)
def test_quantize_representable_values_are_exact(fmt, codes, rounding):
    # Values on the grid are returned unchanged by every rounding mode.
    low, high = format_range(fmt.integer_bits, fmt.fractional_bits, fmt.signed)
    codes = np.clip(codes, low, high)
    values = codes * fmt.lsb
    np.testing.assert_array_equal(quantize(values, fmt, rounding=rounding, random_state=0), codes)


@pytest.mark.parametrize("word", [8, 32, 53, 54, 62])
@pytest.mark.parametrize("signed", [True, False])
def test_quantize_saturates(word, signed):
    fmt = FixedPointFormat(word, 0, signed=signed)
    big = 2.0**70
    codes = quantize([np.inf, -np.inf, big, -big], fmt)
    assert codes.tolist() == [fmt.max_code, fmt.min_code, fmt.max_code, fmt.min_code]
    assert codes.max() <= fmt.max_code


def test_quantize_scalar():
    # A Python float is array-like: a 0-d array of codes comes back.
    assert quantize(1.0, SQ7_1).shape == ()
    assert int(quantize(0.26, SQ7_1)) == 1
    assert int(SQ7_1.quantize(np.float64(100.0))) == 127


def test_quantize_shape_and_nan():
    fmt = SQ7_1
    assert quantize(np.zeros((2, 3)), fmt).shape == (2, 3)
    assert quantize([[1.0]], fmt).shape == (1, 1)
    with pytest.raises(ValueError, match="NaN"):
        quantize([1.0, np.nan], fmt)
    with pytest.raises(ValueError, match="rounding"):
        quantize([1.0], fmt, rounding="nearest")
    assert fmt.quantize([0.26, 100.0, -0.75]).tolist() == [1, 127, -2]


@pytest.mark.parametrize("x", [0.3, -0.3, 2.74, -7.1, 0.0625 * 3 + 0.01])
def test_stochastic_rounding_unbiased(x):
    # Each rounding is floor(x/lsb) + Bernoulli(p) with p the discarded
    # fraction: the mean of n roundings has SE lsb sqrt(p (1 - p) / n).
    fmt = FixedPointFormat(8, 4)
    n = 200_000
    codes = quantize(np.full(n, x), fmt, rounding="stochastic", random_state=1)
    scaled = Fraction(x) * 16
    low = math.floor(scaled)
    p = float(scaled - low)
    assert set(np.unique(codes)) <= {low, low + 1}
    assert abs(codes.mean() - float(scaled)) < 5 * np.sqrt(p * (1 - p) / n)
    assert abs(np.mean(codes == low + 1) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_stochastic_rounding_exact_values_and_seeds():
    fmt = FixedPointFormat(8, 4)
    exact = np.arange(-50, 50) / 16
    np.testing.assert_array_equal(quantize(exact, fmt, "stochastic", 0), np.arange(-50, 50))
    x = np.full(1000, 0.3)
    a = quantize(x, fmt, "stochastic", random_state=5)
    b = quantize(x, fmt, "stochastic", random_state=5)
    c = quantize(x, fmt, "stochastic", random_state=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# shift_round --------------------------------------------------------------------------
INT64 = st.integers(-(2**63), 2**63 - 1)


@SETTINGS
@given(codes=st.lists(INT64, min_size=1, max_size=10), shift=st.integers(0, 62), rounding=st.sampled_from(["half_even", "floor"]))
def test_shift_round_matches_exact_rounding(codes, shift, rounding):
    result = shift_round(np.array(codes, dtype=np.int64), shift, rounding=rounding)
    assert result.dtype == np.int64
    expected = [round_exact(Fraction(c, 2**shift), rounding) for c in codes]
    assert result.tolist() == expected


@SETTINGS
@given(data=st.data(), rounding=st.sampled_from(["half_even", "floor"]))
def test_shift_round_per_element_shifts(data, rounding):
    n = data.draw(st.integers(1, 10))
    codes = data.draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n))
    shifts = data.draw(st.lists(st.integers(-20, 40), min_size=n, max_size=n))
    result = shift_round(np.array(codes), np.array(shifts), rounding=rounding)
    expected = [round_exact(Fraction(c) / Fraction(2) ** s, rounding) for c, s in zip(codes, shifts)]
    assert result.tolist() == expected


@SETTINGS
@given(codes=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=10), shift=st.integers(-20, 0))
def test_shift_round_negative_shift_multiplies(codes, shift):
    for rounding in ["half_even", "floor", "stochastic"]:
        result = shift_round(codes, shift, rounding=rounding, random_state=0)
        assert result.tolist() == [c * 2**-shift for c in codes]


def test_shift_round_examples():
    assert shift_round([5, 6, 7, -6, -5], 2).tolist() == [1, 2, 2, -2, -1]
    assert shift_round([2, 6, 10, -2, -6], 2).tolist() == [0, 2, 2, 0, -2]  # ties to even
    assert shift_round([5, -5], 2, rounding="floor").tolist() == [1, -2]
    with pytest.raises(ValueError, match="rounding"):
        shift_round([1], 1, rounding="up")


@pytest.mark.parametrize("code, shift", [(5, 2), (-5, 2), (1, 3), (1000003, 10), (-7, 1)])
def test_shift_round_stochastic_unbiased(code, shift):
    # floor + Bernoulli(p): mean SE sqrt(p (1 - p) / n), values on the two neighbours.
    n = 200_000
    result = shift_round(np.full(n, code), shift, rounding="stochastic", random_state=2)
    exact = Fraction(code, 2**shift)
    low = math.floor(exact)
    p = float(exact - low)
    assert set(np.unique(result)) <= {low, low + 1}
    assert abs(result.mean() - float(exact)) < 5 * np.sqrt(p * (1 - p) / n)


def test_shift_round_stochastic_exact_and_zero_shift():
    codes = np.arange(-40, 40) * 8
    np.testing.assert_array_equal(shift_round(codes, 3, "stochastic", random_state=0), codes // 8)
    np.testing.assert_array_equal(shift_round(codes, 0, "stochastic", random_state=0), codes)


# NearMemoryUnit.encode --------------------------------------------------------------
def ref_exponent(group_max, fmt):
    """Smallest e with group_max <= max_value * 2**e (exact comparisons)."""
    if group_max == 0:
        return None
    e = -200
    while Fraction(group_max) > Fraction(fmt.max_value) * Fraction(2) ** e:
        e += 1
    return e


def test_nmpu_default_formats():
    # Ferro et al. (ISCAS 2024): scale UQ1.7, offset SQ7.1.
    nmpu = NearMemoryUnit()
    assert nmpu.scale_format == FixedPointFormat(1, 7, signed=False)
    assert nmpu.offset_format == FixedPointFormat(7, 1, signed=True)
    assert str(nmpu.scale_format) == "UQ1.7" and str(nmpu.offset_format) == "SQ7.1"
    assert nmpu.output_format is None and nmpu.relu is False and nmpu.rounding == "half_even"
    copy = clone(NearMemoryUnit(relu=True, output_format=FixedPointFormat(8, 0)))
    assert copy.relu is True and copy.output_format == FixedPointFormat(8, 0)


def test_encode_exponents_per_group():
    rng = np.random.default_rng(0)
    scale = rng.uniform(0, 1, 12) * np.logspace(-4, 3, 12)
    scale[4] = 0.0
    starts = [0, 3, 5, 9]
    coef = NearMemoryUnit().encode(scale, group_starts=starts)
    bounds = starts + [12]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        e = ref_exponent(scale[lo:hi].max(), UQ1_7)
        assert (coef.exponents[lo:hi] == e).all()
        # The largest scale of a group uses the top of the format: code > max/2.
        top = coef.scale_codes[lo:hi].max()
        assert UQ1_7.max_code // 2 < top <= UQ1_7.max_code
        # Codes: exact half-even rounding of scale / 2**e on 7 fractional bits.
        for j in range(lo, hi):
            assert coef.scale_codes[j] == round_half_even(Fraction(scale[j]) * Fraction(2) ** (7 - e))
    # The realised scales are within half a scale LSB of the requested ones.
    half_lsb = np.ldexp(0.5, coef.exponents - 7)
    assert (np.abs(coef.scale - scale) <= half_lsb).all()
    assert coef.scale_codes.dtype == coef.exponents.dtype == np.int64


def test_encode_one_group_default():
    scale = np.array([0.01, 0.5, 3.0])
    coef = NearMemoryUnit().encode(scale)
    assert len(set(coef.exponents.tolist())) == 1
    assert coef.exponents[0] == ref_exponent(3.0, UQ1_7)


def test_encode_power_of_two_boundary():
    # max_value * 2**e itself needs exponent e exactly (and code 255).
    scale = np.array([UQ1_7.max_value * 4, UQ1_7.max_value * 4 * (1 + 2**-40)])
    coef = NearMemoryUnit().encode(scale, group_starts=[0, 1])
    assert coef.exponents.tolist() == [2, 3]
    assert coef.scale_codes[0] == 255


def test_encode_zero_columns_and_groups():
    coef = NearMemoryUnit().encode([0.0, 0.0, 0.5, 0.0], group_starts=[0, 2])
    np.testing.assert_array_equal(coef.scale[[0, 1, 3]], 0)
    assert coef.scale[2] == 0.5
    assert np.isfinite(coef.exponents).all()


def test_encode_offsets():
    scale = np.array([0.5, 1.25, 0.75])
    offset = np.array([1.0, -2.0, 0.3])
    coef = NearMemoryUnit().encode(scale, offset)
    e = coef.exponents
    for j in range(3):
        assert coef.offset_codes[j] == round_half_even(Fraction(offset[j]) * Fraction(2) ** (1 - int(e[j])))
    assert (np.abs(coef.offset - offset) <= np.ldexp(0.5, e - 1)).all()
    # Scalar offsets broadcast.
    np.testing.assert_array_equal(NearMemoryUnit().encode(scale, 1.0).offset, 1.0)


def test_encode_offset_not_silently_clipped():
    # A folded batch-norm on a crossbar column: the scale per ADC code is
    # small (range / 127) while the offset is of the order of the output
    # range.  The offset register shares the scale's exponent; an offset it
    # cannot hold must not be silently saturated (that changes the output by
    # far more than the register precision).
    scale, offset = fold_batch_norm([1.0 / 127], [0.0], mean=[-0.8], var=[1.0], eps=0.0)
    try:
        coef = NearMemoryUnit().encode(scale, offset)
    except ValueError as error:
        assert "offset" in str(error)
        return
    half_lsb = np.ldexp(0.5, coef.exponents - 1)
    assert (np.abs(coef.offset - offset) <= half_lsb).all(), (coef.offset, offset)


def test_encode_signed_scale_format():
    nmpu = NearMemoryUnit(scale_format=FixedPointFormat(2, 7, signed=True))
    coef = nmpu.encode([-1.5, 0.75, -0.1])
    assert (coef.scale_codes[[0, 2]] < 0).all()
    assert np.all(np.abs(coef.scale - [-1.5, 0.75, -0.1]) <= np.ldexp(0.5, coef.exponents - 7))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": [0.5, -0.1]}, "signed"),
        ({"scale": [0.5, np.nan]}, "finite"),
        ({"scale": [0.5, np.inf]}, "finite"),
        ({"scale": [0.5, 1.0], "offset": [np.nan, 0]}, "finite"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": [1, 2]}, "group_starts"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": [0, 0]}, "group_starts"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": [0, 2, 1]}, "group_starts"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": [0, 3]}, "group_starts"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": []}, "group_starts"),
        ({"scale": [0.5, 1.0, 2.0], "group_starts": [[0]]}, "group_starts"),
    ],
)
def test_encode_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NearMemoryUnit().encode(**kwargs)


def test_invalid_nmpu_params():
    with pytest.raises(ValueError, match="rounding"):
        NearMemoryUnit(rounding="up").encode([1.0])
    with pytest.raises(ValueError, match="scale_format"):
        NearMemoryUnit(scale_format=(1, 7)).encode([1.0])


# NearMemoryUnit.apply --------------------------------------------------------------
def ref_apply(x_codes, coef, relu, output_format, scale_frac, offset_frac):
    """Integer datapath on Python ints: a x + b, ReLU, requantisation."""
    acc_frac = max(scale_frac, offset_frac)
    out = []
    for row in x_codes:
        out_row = []
        for j, x in enumerate(row):
            a = int(coef.scale_codes[j]) << (acc_frac - scale_frac)
            b = int(coef.offset_codes[j]) << (acc_frac - offset_frac)
            y = a * int(x) + b
            if relu:
                y = max(y, 0)
            if output_format is not None:
                shift = acc_frac - output_format.fractional_bits
                y = round_half_even(Fraction(y) / Fraction(2) ** shift)
                low, high = format_range(
                    output_format.integer_bits, output_format.fractional_bits, output_format.signed
                )
                y = min(max(y, low), high)
            out_row.append(y)
        out.append(out_row)
    return out


@st.composite
def nmpu_cases(draw):
    """ADC codes, per-column scales and offsets, an output format, ReLU, groups.

    Offsets are drawn within +-30 times their group's largest scale: the
    offset register (SQ7.1 times 2**e, with 2**e >= max scale / max UQ1.7
    value) holds at least +-32 times the largest scale, so they never saturate.
    """
    n_rows = draw(st.integers(1, 4))
    n_cols = draw(st.integers(1, 6))
    scale = np.array(
        draw(st.lists(st.floats(0, 4) | st.floats(1e-6, 1e-2), min_size=n_cols, max_size=n_cols))
    )
    split = draw(st.integers(0, n_cols - 1))
    group_starts = [0] if split == 0 else [0, split]
    group_max = np.empty(n_cols)
    for lo, hi in zip(group_starts, group_starts[1:] + [n_cols]):
        largest = scale[lo:hi].max()
        group_max[lo:hi] = largest if largest > 0 else 1.0
    offset = np.array(draw(st.lists(st.floats(-1, 1), min_size=n_cols, max_size=n_cols)))
    offset = offset * 30 * group_max
    x = draw(
        st.lists(
            st.lists(st.integers(-127, 127), min_size=n_cols, max_size=n_cols),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    output_format = None
    if draw(st.booleans()):
        signed = draw(st.booleans())
        word = draw(st.integers(2, 14))
        fractional = draw(st.integers(-3, 10))
        output_format = FixedPointFormat(word - fractional, fractional, signed=signed)
    relu = draw(st.booleans())
    return np.array(x), scale, offset, output_format, relu, group_starts


@SETTINGS
@given(case=nmpu_cases())
def test_apply_matches_integer_reference(case):
    x, scale, offset, output_format, relu, starts = case
    nmpu = NearMemoryUnit(output_format=output_format, relu=relu)
    coef = nmpu.encode(scale, offset, group_starts=starts)
    codes = nmpu.apply(x, coef)
    assert codes.dtype == np.int64
    expected = ref_apply(x, coef, relu, output_format, 7, 1)
    assert codes.tolist() == expected
    # Real values: code * 2**(exponent - output fractional bits).
    frac = 7 if output_format is None else output_format.fractional_bits
    real = [
        [float(Fraction(c) * Fraction(2) ** (int(coef.exponents[j]) - frac)) for j, c in enumerate(row)]
        for row in expected
    ]
    np.testing.assert_array_equal(nmpu.to_float(codes, coef), real)


@SETTINGS
@given(case=nmpu_cases())
def test_apply_exact_affine_without_output_format(case):
    # Without requantisation the unit computes a x + b of its registers exactly.
    x, scale, offset, _, relu, starts = case
    nmpu = NearMemoryUnit(relu=relu)
    coef = nmpu.encode(scale, offset, group_starts=starts)
    y = nmpu.to_float(nmpu.apply(x, coef), coef)
    for i, row in enumerate(x):
        for j, v in enumerate(row):
            exact = Fraction(coef.scale[j]) * int(v) + Fraction(coef.offset[j])
            if relu:
                exact = max(exact, Fraction(0))
            assert Fraction(y[i, j]) == exact


@SETTINGS
@given(case=nmpu_cases(), dtype=st.sampled_from([np.float32, np.float64]))
def test_apply_to_float_bit_identical(case, dtype):
    x, scale, offset, output_format, relu, starts = case
    nmpu = NearMemoryUnit(output_format=output_format, relu=relu)
    coef = nmpu.encode(scale, offset, group_starts=starts)
    expected = nmpu.to_float(nmpu.apply(x, coef), coef).astype(dtype)
    out = np.empty(x.shape, dtype=dtype)
    result = nmpu.apply_to_float(x.astype(dtype), coef, out, input_bits=8)
    assert result is out
    np.testing.assert_array_equal(out, expected)
    # A preallocated work buffer gives the same result.
    work = np.empty(x.shape, dtype=nmpu.integer_dtype(8, coef))
    out2 = np.empty(x.shape, dtype=dtype)
    nmpu.apply_to_float(x.astype(dtype), coef, out2, input_bits=8, work=work)
    np.testing.assert_array_equal(out2, expected)
    # Integer codes that are the work buffer itself (the crossbar's ADC path).
    work[...] = x
    out3 = np.empty(x.shape, dtype=dtype)
    nmpu.apply_to_float(work, coef, out3, input_bits=8, work=work)
    np.testing.assert_array_equal(out3, expected)


@SETTINGS
@given(case=nmpu_cases())
def test_output_factors_are_the_value_of_one_output_code(case):
    x, scale, offset, output_format, relu, starts = case
    nmpu = NearMemoryUnit(output_format=output_format, relu=relu)
    coef = nmpu.encode(scale, offset, group_starts=starts)
    factors = nmpu.output_factors(coef)
    assert factors.dtype == np.float64
    # Powers of two; 0 where a group's registers are all zero, or where the
    # power of two falls below float64's range (scales near 1e-308).
    assert ((np.frexp(factors)[0] == 0.5) | (factors == 0)).all()
    codes = nmpu.apply(x, coef)
    in_range = np.broadcast_to(factors, codes.shape) > 0
    np.testing.assert_array_equal((codes * factors)[in_range], nmpu.to_float(codes, coef)[in_range])
    # In float32: the same powers of two, rounded like a cast (0 below float32's range).
    np.testing.assert_array_equal(nmpu.output_factors(coef, np.float32), factors.astype(np.float32))


def test_encode_subnormal_scales_and_offsets():
    # log2 of a magnitude over the format's limit underflowed to log2(0) for
    # subnormal offsets (5e-324 / 63.5), which cast -inf to a garbage exponent.
    # The exponent is the smallest that brings both registers into range.
    nmpu = NearMemoryUnit()
    scale = np.array([5e-324, 1e-310, 5e-324])
    offset = np.array([5e-324, 0.0, 1e-320])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coef = nmpu.encode(scale, offset, group_starts=[0, 1, 2])
    e = coef.exponents
    scale_limit, offset_limit = nmpu.scale_format.max_value, nmpu.offset_format.max_value
    assert (np.ldexp(scale, -e) <= scale_limit).all() and (np.ldexp(offset, -e) <= offset_limit).all()
    assert ((np.ldexp(scale, 1 - e) > scale_limit) | (np.ldexp(offset, 1 - e) > offset_limit)).all()
    np.testing.assert_allclose(coef.scale, scale, rtol=1 / 255)
    # Half an offset LSB (SQ7.1: 2**(e - 1)) at most.
    assert (np.abs(coef.offset - offset) <= np.ldexp(1.0, e - 2)).all()


def test_integer_dtype_selection():
    nmpu = NearMemoryUnit()
    coef = nmpu.encode([0.5, 1.9], [10.0, -3.0])
    # Scale codes 64 and 243 (exponent 0), offset codes 20 and -6 (aligned by
    # 2**6): |a x + b| <= 243 * 128 + 20 * 64 = 32384 < 2**15 -> int16; a 9-bit
    # input doubles the product -> int32.
    assert nmpu.accumulator_bits(8, coef) == 16
    assert nmpu.integer_dtype(8, coef) == np.int16
    assert nmpu.integer_dtype(9, coef) == np.int32
    assert NearMemoryUnit(output_format=FixedPointFormat(8, 0)).integer_dtype(8, coef) == np.int64
    wide = NearMemoryUnit(scale_format=FixedPointFormat(2, 30, signed=False))
    assert wide.integer_dtype(8, wide.encode([1.0, 3.0])) == np.int64


@pytest.mark.parametrize("relu", [False, True])
def test_narrow_and_int64_paths_agree(relu):
    # The same coefficients through the narrow-integer fast path (apply_to_float:
    # int16 here, since |a x + b| < 2**15 for 8-bit codes) and the int64 path
    # (apply), on every 8-bit code: identical values.
    nmpu = NearMemoryUnit(relu=relu)
    rng = np.random.default_rng(0)
    coef = nmpu.encode(rng.uniform(0, 3, 16), rng.uniform(-50, 50, 16), group_starts=[0, 8])
    assert nmpu.integer_dtype(8, coef) == np.int16
    assert nmpu.integer_dtype(9, coef) == np.int32
    x = np.repeat(np.arange(-127, 128)[:, None], 16, axis=1)
    out = np.empty(x.shape, dtype=np.float64)
    nmpu.apply_to_float(x.astype(np.float64), coef, out, input_bits=8)
    np.testing.assert_array_equal(out, nmpu.to_float(nmpu.apply(x, coef), coef))
    # Largest magnitude reached with wide ADC codes still fits (no overflow).
    x_wide = np.full((1, 16), -(2**15 - 1))
    out = np.empty(x_wide.shape, dtype=np.float64)
    nmpu.apply_to_float(x_wide.astype(np.float64), coef, out, input_bits=16)
    np.testing.assert_array_equal(out, nmpu.to_float(nmpu.apply(x_wide, coef), coef))


def test_apply_rejects_float_codes():
    nmpu = NearMemoryUnit()
    coef = nmpu.encode([1.0])
    with pytest.raises(TypeError, match="integers"):
        nmpu.apply(np.array([[1.5]]), coef)


def test_apply_docstring_example():
    nmpu = NearMemoryUnit()
    coef = nmpu.encode(scale=[0.5, 1.25], offset=[1.0, -2.0])
    np.testing.assert_array_equal(nmpu.to_float(nmpu.apply(np.array([[10, -3]]), coef), coef), [[6.0, -5.75]])


@SETTINGS
@given(case=nmpu_cases())
def test_apply_float_within_quantisation_bound(case):
    # |fixed - float| <= |x| |a_q - a| + |b_q - b| (+ half an output LSB when
    # requantising), with |a_q - a| <= 2**(e - 7) / 2 and |b_q - b| <= 2**(e - 1) / 2;
    # ReLU is 1-Lipschitz.  Saturation of the output is excluded.
    x, scale, offset, output_format, relu, starts = case
    nmpu = NearMemoryUnit(output_format=output_format, relu=relu)
    coef = nmpu.encode(scale, offset, group_starts=starts)
    fixed = nmpu.to_float(nmpu.apply(x, coef), coef)
    reference = nmpu.apply_float(x, scale, offset)
    bound = np.abs(x) * np.ldexp(0.5, coef.exponents - 7) + np.ldexp(0.5, coef.exponents - 1)
    if output_format is not None:
        bound = bound + np.ldexp(0.5, coef.exponents - output_format.fractional_bits)
        limit = np.ldexp(1.0, coef.exponents)
        inside = (reference + bound <= output_format.max_value * limit) & (
            reference - bound >= output_format.min_value * limit
        )
    else:
        inside = np.ones(x.shape, dtype=bool)
    assert (np.abs(fixed - reference)[inside] <= (bound * (1 + 1e-12))[inside]).all()


def test_apply_float():
    nmpu = NearMemoryUnit(relu=True)
    y = nmpu.apply_float([[1.0, -2.0]], [2.0, 3.0], [0.5, 1.0])
    np.testing.assert_array_equal(y, [[2.5, 0.0]])
    np.testing.assert_array_equal(NearMemoryUnit().apply_float([[1.0, -2.0]], [2.0, 3.0]), [[2.0, -6.0]])


def test_stochastic_nmpu_requantisation_unbiased():
    # Requantisation to 2 fractional bits of values with 7: the mean over n
    # reads matches the exact value (SE <= 0.5 LSB / sqrt(n)).
    nmpu = NearMemoryUnit(output_format=FixedPointFormat(12, 2), rounding="stochastic")
    coef = nmpu.encode([0.1171875])  # e = -4, code 240: exact
    assert coef.scale[0] == 0.1171875
    x = np.full((100_000, 1), 37)
    codes = nmpu.apply(x, coef, random_state=3)
    values = nmpu.to_float(codes, coef)
    exact = float(coef.scale[0]) * 37
    lsb = 2.0 ** (int(coef.exponents[0]) - 2)
    assert set(np.unique(values)) <= {math.floor(exact / lsb) * lsb, (math.floor(exact / lsb) + 1) * lsb}
    assert abs(values.mean() - exact) < 5 * 0.5 * lsb / np.sqrt(x.size)


# fold_batch_norm --------------------------------------------------------------------
def test_fold_batch_norm_matches_direct_formula():
    rng = np.random.default_rng(0)
    n = 20
    scale, offset = rng.uniform(0.1, 2, n), rng.normal(0, 1, n)
    mean, var = rng.normal(0, 1, n), rng.uniform(0.1, 4, n)
    weight, bias, eps = rng.normal(1, 0.3, n), rng.normal(0, 1, n), 1e-3
    new_scale, new_offset = fold_batch_norm(scale, offset, mean, var, weight, bias, eps)
    x = rng.normal(0, 3, (50, n))
    direct = weight * ((scale * x + offset) - mean) / np.sqrt(var + eps) + bias
    np.testing.assert_allclose(new_scale * x + new_offset, direct, rtol=1e-12, atol=1e-12)
    assert new_scale.dtype == new_offset.dtype == np.float64


def test_fold_batch_norm_defaults_and_errors():
    scale, offset = fold_batch_norm([1.0], [0.0], mean=[2.0], var=[4.0], eps=0.0)
    np.testing.assert_array_equal(scale, [0.5])
    np.testing.assert_array_equal(offset, [-1.0])
    scale, offset = fold_batch_norm([2.0], [1.0], mean=[0.0], var=[1.0])
    assert scale[0] == pytest.approx(2 / np.sqrt(1 + 1e-5), rel=1e-15)
    with pytest.raises(ValueError, match="var"):
        fold_batch_norm([1.0], [0.0], mean=[0.0], var=[-1.0], eps=0.5)
    with pytest.raises(ValueError, match="var"):
        fold_batch_norm([1.0], [0.0], mean=[0.0], var=[0.0], eps=0.0)


# FP16Unit --------------------------------------------------------------------------
# Reference: Python's struct 'e' format packs a double into IEEE binary16 with
# round-to-nearest-even (CPython's PyFloat_Pack2), independently of numpy.
# Products and sums of two binary16 values are exact in a double (at most 22
# and 41 significant bits), so one struct rounding gives the correctly rounded
# binary16 result of each step.
def round16(value):
    """``value`` rounded to binary16 (a Python float), +-inf on overflow."""
    try:
        return struct.unpack("<e", struct.pack("<e", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def bits16(value):
    """The 16-bit pattern of a binary16 value (distinguishes -0.0 from 0.0)."""
    return struct.unpack("<H", struct.pack("<e", value))[0]


def ref_fp16_apply(x_codes, scale, offset, relu):
    """Separate binary16 multiply and add, ReLU on the sign bit, on Python floats."""
    a = [round16(v) for v in scale]
    b = [round16(v) for v in offset]
    out = []
    for row in x_codes:
        out_row = []
        for j, x in enumerate(row):
            y = round16(round16(round16(float(x)) * a[j]) + b[j])
            if relu and math.copysign(1.0, y) < 0:
                y = 0.0
            out_row.append(y)
        out.append(out_row)
    return out


def as_bits(array):
    return np.asarray(array, dtype=np.float16).view(np.uint16)


def test_fp16_hand_computed_roundings():
    unit = FP16Unit()
    # 0.1 = 1638.4 * 2**-14 is stored as 1638 * 2**-14 = 0.0999755859375.
    coef = unit.encode([0.1, 1.0, 1.0, 600.0, 65504.0, 65504.0], [0.0, 0.0, 0.0, 0.0, 15.0, 16.0])
    assert coef.scale[0] == 1638 * 2.0**-14 == 0.0999755859375
    assert coef.scale_registers.dtype == coef.offset_registers.dtype == np.float16
    x = np.array([[3, 2049, 2051, 127, 1, 1]])
    y = unit.apply(x, coef)
    assert y.dtype == np.float16
    # 3 * 1638 * 2**-14 = 1228.5 units of 2**-12 (the spacing in [0.25, 0.5)): a
    # tie, rounded to the even 1228 -> 0.2998046875.
    assert float(y[0, 0]) == 1228 * 2.0**-12 == 0.2998046875
    # Codes above 2048 are rounded on conversion (spacing 2): 2049 -> 2048 and
    # 2051 -> 2052, both ties to the even significand.
    assert float(y[0, 1]) == 2048.0 and float(y[0, 2]) == 2052.0
    # 600 * 127 = 76200 overflows to +inf.
    assert float(y[0, 3]) == math.inf
    # 65504 + 15 = 65519 is below the midpoint 65520 of 65504 and 2**16: 65504;
    # 65504 + 16 = 65520 is the midpoint, rounded to (even) 2**16, i.e. overflow.
    assert float(y[0, 4]) == 65504.0 and float(y[0, 5]) == math.inf
    assert float(unit.apply(np.array([[-127]]), unit.encode([600.0]))[0, 0]) == -math.inf


def test_fp16_subnormals():
    unit = FP16Unit()
    # 1e-7 = 1.68 * 2**-24 is stored as the subnormal 2 * 2**-24; 2**-25 is the
    # midpoint of 0 and the smallest subnormal and rounds to (even) 0;
    # 1.5 * 2**-25 rounds up to 2**-24.
    coef = unit.encode([1e-7, 2.0**-25, 1.5 * 2.0**-25, 2.0**-14], [0.0, 0.0, 0.0, 2.0**-24])
    np.testing.assert_array_equal(coef.scale, [2 * 2.0**-24, 0.0, 2.0**-24, 2.0**-14])
    assert coef.offset[3] == 2.0**-24
    y = unit.to_float(unit.apply(np.array([[100, 7, -3, 1]]), coef), coef)
    # Products of integers and binary16 numbers are multiples of 2**-24: the
    # subnormal results are exact (gradual underflow, no flush to zero).
    np.testing.assert_array_equal(y, [[200 * 2.0**-24, 0.0, -3 * 2.0**-24, 2.0**-14 + 2.0**-24]])
    assert 0 < y[0, 0] < np.finfo(np.float16).smallest_normal


def test_fp16_relu_signed_zero():
    # Negative scale times code 0 is -0.0; -0.0 + -0.0 stays -0.0, while
    # -0.0 + 0.0 is +0.0 in round-to-nearest.  ReLU clears the sign bit.
    x = np.array([[0, 0, -5, 5]])
    scale, offset = [-1.0, -1.0, 2.0, 2.0], [-0.0, 0.0, 3.0, -20.0]
    plain = FP16Unit().apply(x, FP16Unit().encode(scale, offset))
    assert as_bits(plain).tolist() == [[0x8000, 0x0000, bits16(-7.0), bits16(-10.0)]]
    relu = FP16Unit(relu=True).apply(x, FP16Unit().encode(scale, offset))
    assert as_bits(relu).tolist() == [[0x0000, 0x0000, 0x0000, 0x0000]]
    # ReLU of -inf is +0.0; +inf passes.
    overflow = FP16Unit(relu=True).apply(np.array([[-127, 127]]), FP16Unit().encode([600.0, 600.0]))
    assert as_bits(overflow).tolist() == [[0x0000, 0x7C00]]
    # Without an offset the registers hold +0.0: the -0.0 product becomes +0.0.
    assert as_bits(FP16Unit().apply(np.array([[0]]), FP16Unit().encode([-1.0]))).tolist() == [[0x0000]]


@pytest.mark.parametrize(
    "code, expected",
    [
        (127, 127.0), (-127, -127.0), (128, 128.0),  # 8-bit ADC rails (and the crossbar's clip marker)
        (2047, 2047.0), (-2048, -2048.0),  # 12-bit rails: still exact
        (32767, 32768.0), (-32767, -32768.0),  # 16-bit rails: spacing 16 above 2**14
        (2**15, 32768.0),  # the crossbar's clip marker of a 16-bit ADC
    ],
)
def test_fp16_codes_at_adc_rails(code, expected):
    unit = FP16Unit()
    y = unit.apply(np.array([[code]], dtype=np.int64), unit.encode([1.0]))
    assert float(y[0, 0]) == expected


def test_fp16_encode_overflow_and_errors():
    unit = FP16Unit()
    # 65519 rounds to 65504 (IEEE: no overflow below the midpoint 65520).
    assert unit.encode([65519.0]).scale[0] == 65504.0
    assert unit.encode([1.0], [-65519.0]).offset[0] == -65504.0
    with pytest.raises(ValueError, match=r"scale value 65520\.0 overflows float16"):
        unit.encode([1.0, 65520.0])
    with pytest.raises(ValueError, match=r"offset value -100000\.0 overflows float16"):
        unit.encode([1.0, 1.0], [0.0, -1e5])
    with pytest.raises(ValueError, match="finite"):
        unit.encode([np.nan])
    with pytest.raises(ValueError, match="finite"):
        unit.encode([1.0], [np.inf])
    with pytest.raises(ValueError, match="group_starts"):
        unit.encode([1.0, 2.0], group_starts=[1])
    with pytest.raises(ValueError, match="relu"):
        FP16Unit(relu="yes").encode([1.0])
    with pytest.raises(TypeError, match="integers"):
        unit.apply(np.array([[1.5]]), unit.encode([1.0]))
    # 17-bit codes reach 65520, which has no finite float16 value.
    with pytest.raises(ValueError, match="at most 16 bits"):
        unit.apply(np.array([[2**15 + 1]]), unit.encode([1.0]))
    with pytest.raises(ValueError, match="input_bits=17"):
        unit.apply_to_float(np.zeros((1, 1)), unit.encode([1.0]), np.empty((1, 1)), input_bits=17)


def test_fp16_coefficients_are_read_only_and_exact():
    coef = FP16Unit().encode([[0.3, -2.5]], [[1e-3, 7.0]], group_starts=[0, 1])
    assert coef.scale_registers.shape == (1, 2)
    with pytest.raises(ValueError):
        coef.scale_registers[0, 0] = 1.0
    with pytest.raises(AttributeError):
        coef.scale_registers = None  # frozen
    for realised, requested in ((coef.scale, [0.3, -2.5]), (coef.offset, [1e-3, 7.0])):
        assert realised.dtype == np.float64
        assert realised.ravel().tolist() == [round16(v) for v in requested]
    assert FP16Unit().encode([1.0, 2.0]).offset.tolist() == [0.0, 0.0]
    assert clone(FP16Unit(relu=True)).relu is True
    assert pickle.loads(pickle.dumps(coef)).scale.tolist() == coef.scale.tolist()


FP16_VALUES = st.floats(-65519.0, 65519.0, allow_nan=False, allow_subnormal=True)
FP16_SCALES = FP16_VALUES | st.floats(-1e-3, 1e-3) | st.floats(-1e-6, 1e-6)


@st.composite
def fp16_cases(draw):
    n_rows = draw(st.integers(1, 4))
    n_cols = draw(st.integers(1, 6))
    bits = draw(st.sampled_from([8, 12, 16]))
    rail = 2 ** (bits - 1)
    x = draw(
        st.lists(st.lists(st.integers(-rail, rail), min_size=n_cols, max_size=n_cols), min_size=n_rows, max_size=n_rows)
    )
    scale = draw(st.lists(FP16_SCALES, min_size=n_cols, max_size=n_cols))
    offset = draw(st.lists(FP16_SCALES, min_size=n_cols, max_size=n_cols))
    return np.array(x, dtype=np.int64), scale, offset, draw(st.booleans()), bits


@SETTINGS
@given(case=fp16_cases())
def test_fp16_apply_matches_struct_reference(case):
    x, scale, offset, relu, _ = case
    unit = FP16Unit(relu=relu)
    coef = unit.encode(scale, offset)
    assert coef.scale_registers.view(np.uint16).tolist() == [bits16(round16(v)) for v in scale]
    y = unit.apply(x, coef)
    expected = ref_fp16_apply(x.tolist(), scale, offset, relu)
    assert as_bits(y).tolist() == [[bits16(v) for v in row] for row in expected]


@SETTINGS
@given(case=fp16_cases(), dtype=st.sampled_from([np.float32, np.float64]))
def test_fp16_apply_to_float_bit_identical(case, dtype):
    x, scale, offset, relu, bits = case
    unit = FP16Unit(relu=relu)
    coef = unit.encode(scale, offset)
    expected = unit.apply(x, coef).astype(dtype)
    work = np.empty(x.shape, dtype=unit.integer_dtype(bits, coef))
    work[...] = x
    for codes, scratch in (
        (x, None),  # int64 codes
        (x.astype(dtype), None),  # floats holding integers (exact in float32 up to 2**24)
        (work, work),  # the crossbar's integer work array, passed as both
        (x, np.empty(x.shape, dtype=np.float16)),  # a binary16 scratch buffer
    ):
        out = np.full(x.shape, np.nan, dtype=dtype)
        result = unit.apply_to_float(codes, coef, out, input_bits=bits, work=scratch)
        assert result is out
        # Bit for bit, signed zeros and infinities included.
        np.testing.assert_array_equal(out.view(np.uint32 if dtype == np.float32 else np.uint64),
                                      expected.view(np.uint32 if dtype == np.float32 else np.uint64))
    np.testing.assert_array_equal(unit.to_float(unit.apply(x, coef), coef), expected.astype(np.float64))


def test_fp16_integer_dtype():
    unit = FP16Unit()
    # Codes and the clip marker +-2**(bits - 1): 15 bits fit int16, 16 need int32.
    assert unit.integer_dtype(8) == np.int16 and unit.integer_dtype(15) == np.int16
    assert unit.integer_dtype(16) == np.int32 and unit.integer_dtype(31) == np.int32
    assert unit.integer_dtype(32) == np.int64


def test_fp16_every_8bit_code_and_realistic_scales():
    # Every 8-bit ADC code against per-column scales of a crossbar read-out
    # (1e-3 ... 1e2) and offsets: the whole table equals the struct reference,
    # and the error against exact float arithmetic is at most one rounding of
    # the product and one of the sum: |err| <= 2**-11 (|a x| + |a x + b|) +
    # |x| |a - a16| + |b - b16| (binary16 normals, relative half-ulp 2**-11).
    rng = np.random.default_rng(0)
    scale = np.logspace(-3, 2, 16) * rng.uniform(0.5, 1.0, 16)
    offset = rng.uniform(-20, 20, 16) * scale
    unit = FP16Unit()
    coef = unit.encode(scale, offset)
    x = np.repeat(np.arange(-127, 128)[:, None], 16, axis=1)
    y = unit.to_float(unit.apply(x, coef), coef)
    expected = ref_fp16_apply(x.tolist(), scale.tolist(), offset.tolist(), relu=False)
    np.testing.assert_array_equal(y, expected)
    exact = scale * x + offset
    bound = 2.0**-11 * (np.abs(coef.scale * x) * (1 + 2.0**-11) + np.abs(exact)) + np.abs(x) * np.abs(
        coef.scale - scale
    ) + np.abs(coef.offset - offset)
    assert (np.abs(y - exact) <= bound * (1 + 1e-9)).all()


def test_fp16_bulk_random_registers_match_struct_reference():
    # 40 000 random finite binary16 scales and offsets (uniform bit patterns:
    # every exponent, subnormals, both signs) against random 12-bit codes.
    # Among the products, ties (low 11 bits of the 22-bit exact product equal
    # to 100...0) occur with probability about 2**-11: some 20 of them here.
    rng = np.random.default_rng(1)
    patterns = rng.integers(0, 2**16, size=(2, 40_000), dtype=np.uint16)
    registers = patterns.view(np.float16)
    finite = np.isfinite(registers).all(axis=0)
    scale, offset = registers[0, finite].astype(np.float64), registers[1, finite].astype(np.float64)
    x = rng.integers(-2047, 2048, size=(1, scale.size))
    unit = FP16Unit()
    y = unit.apply(x, unit.encode(scale, offset))
    expected = ref_fp16_apply(x.tolist(), scale.tolist(), offset.tolist(), relu=False)
    assert as_bits(y).tolist() == [[bits16(v) for v in row] for row in expected]
    # The sample does contain ties of the product (exactly halfway between
    # two binary16 neighbours), so ties-to-even was exercised.
    products = (x[0] * scale)[np.abs(x[0] * scale) < 65504]
    nearest = products.astype(np.float16)
    other = np.nextafter(nearest, np.where(products > nearest, np.inf, -np.inf).astype(np.float16))
    ties = (nearest != products) & (np.abs(products - nearest) == np.abs(other.astype(np.float64) - products))
    assert np.count_nonzero(ties) >= 5
