"""Fixed-point arithmetic and the near-memory digital processing unit (NMPU).

The HERMES chip digitises every crossbar column with an 8-bit ADC and hands the
codes to a small digital unit next to the array.  Ferro et al. (ISCAS 2024,
"A precision-optimized fixed-point near-memory digital processing unit for
analog in-memory computing") replaced the FP16 post-processing of that unit by fixed-point arithmetic: a
per-column affine correction ``y = a x + b`` (circuit mismatch, drift
compensation, folded batch-norm), an optional ReLU, and requantisation to the
format the next stage expects.  This module implements that datapath
bit-exactly on integers (:class:`NearMemoryUnit`), the FP16 unit it replaces
bit-exactly in IEEE binary16 (:class:`FP16Unit`), and an exact floating-point
reference path to compare both with.

Nothing here knows about devices or crossbars: inputs are integer codes, outputs
are integer codes and the real value of their least significant bit.
"""

from dataclasses import dataclass
from functools import cached_property
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions

from ._random import as_generator

__all__ = [
    "ROUNDING_MODES",
    "FP16Coefficients",
    "FP16Unit",
    "FixedPointFormat",
    "NMPUCoefficients",
    "NearMemoryUnit",
    "fold_batch_norm",
    "quantize",
    "shift_round",
]

ROUNDING_MODES = ("half_even", "floor", "stochastic")

_MAX_WORD_BITS = 62  # leaves headroom for products and sums in int64
_NO_CONSTRAINT = -(2**40)  # exponent bound of an all-zero group


@dataclass(frozen=True)
class FixedPointFormat:
    """A two's-complement (or unsigned) fixed-point number format.

    A value is ``code * 2**-fractional_bits`` with an integer ``code`` of
    ``word_bits = integer_bits + fractional_bits`` bits.  For signed formats the
    sign bit counts as one of the integer bits (so the NMPU offset format
    "signed 7.1" is an 8-bit word holding -64 ... 63.5 in steps of 0.5).

    Parameters
    ----------
    integer_bits : int
        Bits left of the binary point (including the sign bit when signed).
        May be negative or zero for purely fractional formats as long as the
        word has at least one bit.
    fractional_bits : int
        Bits right of the binary point; may be negative (coarser than 1).
    signed : bool, default=True
        Two's complement when True, unsigned otherwise.

    Attributes
    ----------
    word_bits : int
        Total number of bits of a code.
    lsb : float
        Real value of one code step, ``2**-fractional_bits``.
    min_code, max_code : int
        Range of the integer codes.
    min_value, max_value : float
        Range of the represented values.

    Examples
    --------
    >>> from sklearn_aimc.fixedpoint import FixedPointFormat
    >>> fmt = FixedPointFormat(7, 1, signed=True)
    >>> fmt.min_value, fmt.max_value, fmt.lsb
    (-64.0, 63.5, 0.5)
    >>> fmt.quantize([0.26, 100.0, -0.75]).tolist()
    [1, 127, -2]
    """

    integer_bits: int
    fractional_bits: int
    signed: bool = True

    def __post_init__(self):
        for name in ("integer_bits", "fractional_bits"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}.")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"signed must be a bool, got {self.signed!r}.")
        if not 1 <= self.word_bits <= _MAX_WORD_BITS:
            raise ValueError(
                f"integer_bits + fractional_bits must be between 1 and {_MAX_WORD_BITS}, "
                f"got {self.integer_bits} + {self.fractional_bits}."
            )
        if self.signed and self.word_bits < 2:
            raise ValueError("A signed format needs at least 2 bits (sign and magnitude).")

    @property
    def word_bits(self):
        """Total number of bits of a code."""
        return self.integer_bits + self.fractional_bits

    @property
    def lsb(self):
        """Real value of one code step."""
        return 2.0 ** -self.fractional_bits

    @property
    def min_code(self):
        """Smallest integer code."""
        return -(1 << (self.word_bits - 1)) if self.signed else 0

    @property
    def max_code(self):
        """Largest integer code."""
        return (1 << (self.word_bits - 1)) - 1 if self.signed else (1 << self.word_bits) - 1

    @property
    def min_value(self):
        """Smallest representable value."""
        return self.min_code * self.lsb

    @property
    def max_value(self):
        """Largest representable value."""
        return self.max_code * self.lsb

    def __str__(self):
        prefix = "SQ" if self.signed else "UQ"
        return f"{prefix}{self.integer_bits}.{self.fractional_bits}"

    def quantize(self, x, rounding="half_even", random_state=None):
        """Codes of the values ``x`` in this format (rounded, saturated); see :func:`quantize`.

        Parameters
        ----------
        x : array-like of float
            Values to quantise.
        rounding : {"half_even", "floor", "stochastic"}, default="half_even"
            Rounding mode (see :func:`quantize`).
        random_state : int, RandomState instance or None, default=None
            Seeds ``"stochastic"`` rounding.

        Returns
        -------
        codes : ndarray of int64
            Integer codes, saturated to the format's range.
        """
        return quantize(x, self, rounding=rounding, random_state=random_state)

    def to_float(self, codes):
        """Real values (float64) of integer ``codes``.

        Parameters
        ----------
        codes : array-like of int
            Codes of this format.

        Returns
        -------
        values : ndarray of float64
            ``codes`` times the value of one LSB.
        """
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def saturate(self, codes):
        """Clip integer ``codes`` to the range of the format (int64 result).

        Parameters
        ----------
        codes : array-like of int
            Codes, possibly outside the format's range.

        Returns
        -------
        codes : ndarray of int64
            Clipped to ``[min_code, max_code]``.
        """
        return np.clip(np.asarray(codes, dtype=np.int64), self.min_code, self.max_code)


def _check_rounding(rounding):
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}.")


def quantize(x, fmt, rounding="half_even", random_state=None):
    """Quantise real values to the integer codes of a fixed-point format.

    Parameters
    ----------
    x : array-like of float
        Values to quantise.  NaN raises; infinities saturate.
    fmt : FixedPointFormat
        Target format.
    rounding : {"half_even", "floor", "stochastic"}, default="half_even"
        ``"half_even"`` rounds to the nearest code, ties to even (IEEE
        default); ``"floor"`` truncates towards minus infinity (dropping LSBs
        of a two's-complement word); ``"stochastic"`` rounds up with
        probability equal to the discarded fraction (unbiased on average).
    random_state : int, Generator, RandomState or None, default=None
        Source of the uniforms of stochastic rounding; unused otherwise.

    Returns
    -------
    codes : ndarray of int64
        Saturated to ``[fmt.min_code, fmt.max_code]``.

    Examples
    --------
    >>> from sklearn_aimc.fixedpoint import FixedPointFormat, quantize
    >>> quantize([0.5, 1.5, 2.5, -0.5], FixedPointFormat(8, 0)).tolist()
    [0, 2, 2, 0]
    >>> quantize([0.99, -0.01], FixedPointFormat(8, 0), rounding="floor").tolist()
    [0, -1]
    """
    _check_rounding(rounding)
    with np.errstate(over="ignore"):  # values beyond float64 saturate like infinities
        scaled = np.array(np.ldexp(np.asarray(x, dtype=np.float64), fmt.fractional_bits))
    if np.isnan(scaled).any():
        raise ValueError("Cannot quantise NaN values to a fixed-point format.")
    if rounding == "half_even":
        np.rint(scaled, out=scaled)
    elif rounding == "floor":
        np.floor(scaled, out=scaled)
    else:
        scaled += as_generator(random_state).random(scaled.shape)
        np.floor(scaled, out=scaled)
    # Clip in float first (codes beyond 2**53 are not exact there), then exactly.
    np.clip(scaled, fmt.min_code, fmt.max_code, out=scaled)
    return np.clip(scaled.astype(np.int64), fmt.min_code, fmt.max_code)


def shift_round(codes, shift, rounding="half_even", random_state=None):
    """Divide integer codes by ``2**shift`` with rounding, in integer arithmetic.

    This is the requantisation step of a fixed-point datapath: dropping
    ``shift`` least significant bits.  Negative shifts multiply exactly.

    Parameters
    ----------
    codes : array-like of int
        Integer codes (converted to int64).
    shift : int or array-like of int
        Number of bits to drop, broadcast against ``codes``.
    rounding : {"half_even", "floor", "stochastic"}, default="half_even"
    random_state : int, Generator, RandomState or None, default=None
        Source of the random bits of stochastic rounding.

    Returns
    -------
    shifted : ndarray of int64

    Examples
    --------
    >>> from sklearn_aimc.fixedpoint import shift_round
    >>> shift_round([5, 6, 7, -6, -5], 2).tolist()  # 1.25, 1.5, 1.75, -1.5, -1.25
    [1, 2, 2, -2, -1]
    """
    _check_rounding(rounding)
    codes = np.asarray(codes, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(-shift, 0)
    right = np.maximum(shift, 0)
    codes = np.left_shift(codes, left)
    if rounding == "stochastic":
        rng = as_generator(random_state)
        # Uniform integers in [0, 2**right): a random fraction of one output LSB.
        bits = rng.integers(
            0, np.iinfo(np.int64).max, size=np.broadcast(codes, right).shape, endpoint=True
        )
        codes = codes + np.right_shift(bits, 63 - right)
        return np.right_shift(codes, right)
    floor = np.right_shift(codes, right)
    if rounding == "floor":
        return floor
    remainder = codes - np.left_shift(floor, right)
    half = np.left_shift(1, right) >> 1  # zero where nothing is dropped
    round_up = (remainder > half) | ((remainder == half) & (half > 0) & ((floor & 1) == 1))
    return floor + round_up


def _check_group_starts(group_starts, n_columns):
    """``group_starts`` as an array of first columns (``[0]`` when None), validated."""
    starts = np.zeros(1, dtype=np.intp) if group_starts is None else np.asarray(group_starts)
    if starts.ndim != 1 or starts.size == 0 or starts[0] != 0 or (np.diff(starts) <= 0).any() or (
        starts[-1] >= n_columns
    ):
        raise ValueError("group_starts must be strictly increasing column indices starting at 0.")
    return starts


def _read_only(array):
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class NMPUCoefficients:
    """Per-column affine coefficients of the NMPU, as stored in its registers.

    Produced by :meth:`NearMemoryUnit.encode`; the real output of column ``j``
    is ``(scale_codes[j] * x + aligned offset) * 2**(exponents[j] - accumulator
    fractional bits)``.

    Attributes
    ----------
    scale_codes : ndarray of int64
        Codes of the scale ``a`` in the NMPU's scale format.
    offset_codes : ndarray of int64
        Codes of the offset ``b`` in the NMPU's offset format.
    exponents : ndarray of int64
        Power-of-two weight of each column's output (shared within a group:
        one shift per tile), chosen so the scales use the top of their format.
    scale_fractional_bits, offset_fractional_bits : int
        Binary points of the two register formats.

    The arrays are a snapshot of the registers: treat them as immutable (the
    aligned ``multiplier`` and ``addend`` are derived once and cached).
    """

    scale_codes: np.ndarray
    offset_codes: np.ndarray
    exponents: np.ndarray
    scale_fractional_bits: int
    offset_fractional_bits: int

    @property
    def accumulator_fractional_bits(self):
        """Binary point of the accumulator: the finer of the two register formats."""
        return max(self.scale_fractional_bits, self.offset_fractional_bits)

    @cached_property
    def multiplier(self):
        """Scale codes aligned to the accumulator's binary point."""
        shift = self.accumulator_fractional_bits - self.scale_fractional_bits
        return _read_only(np.left_shift(self.scale_codes, shift))

    @cached_property
    def addend(self):
        """Offset codes aligned to the accumulator's binary point."""
        shift = self.accumulator_fractional_bits - self.offset_fractional_bits
        return _read_only(np.left_shift(self.offset_codes, shift))

    @cached_property
    def largest_magnitudes(self):
        """Largest ``|multiplier|`` and ``|addend|``, as Python ints (they size the datapath)."""
        return (
            int(np.abs(self.multiplier).max(initial=0)),
            int(np.abs(self.addend).max(initial=0)),
        )

    @property
    def scale(self):
        """Real scales realised by the registers (float64)."""
        return np.ldexp(self.scale_codes.astype(np.float64), self.exponents - self.scale_fractional_bits)

    @property
    def offset(self):
        """Real offsets realised by the registers (float64)."""
        return np.ldexp(
            self.offset_codes.astype(np.float64), self.exponents - self.offset_fractional_bits
        )


class NearMemoryUnit(BaseEstimator):
    """Fixed-point near-memory digital processing unit after the ADCs.

    Computes, per column ``j`` and ADC code ``x``, ``y = a_j x + b_j`` in
    integer arithmetic, optionally applies a ReLU, and optionally requantises
    ``y`` to ``output_format``.  Scales and offsets are stored with a shared
    power-of-two exponent per group of columns (one shift per core), so any
    positive scale is representable with the full precision of the scale
    format.  Batch-norm layers fold into ``(a, b)`` with :func:`fold_batch_norm`.

    Parameters
    ----------
    scale_format : FixedPointFormat, default=FixedPointFormat(1, 7, signed=False)
        Format of the scale register: unsigned, 1 integer and 7 fractional
        bits, as reported for the NMPU of Ferro et al. (ISCAS 2024).
    offset_format : FixedPointFormat, default=FixedPointFormat(7, 1, signed=True)
        Format of the offset register: signed, 7 integer (sign included) and
        1 fractional bit, as reported for the same NMPU.
    output_format : FixedPointFormat or None, default=None
        Format the result is requantised to (saturating), in units of the
        group's shared power-of-two scale: a code ``c`` stands for
        ``c * 2**(exponent - output_format.fractional_bits)``.  ``None`` keeps
        the exact accumulator value, which is what a digital consumer of full
        precision (the estimators' cos / sin / exp stages) receives.  Set it to
        e.g. ``FixedPointFormat(9, 0)`` to model handing integer codes to the
        next crossbar layer; its integer bits must hold the largest
        ``scale * x + offset`` of a group.
    relu : bool, default=False
        Apply ``max(y, 0)`` before requantisation.
    rounding : {"half_even", "floor", "stochastic"}, default="half_even"
        Rounding of the coefficient encoding and of the requantisation.

    See Also
    --------
    sklearn_aimc.AnalogCrossbar : uses this unit on its output path.

    References
    ----------
    .. [1] E. Ferro et al., "A precision-optimized fixed-point near-memory
       digital processing unit for analog in-memory computing", ISCAS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.fixedpoint import NearMemoryUnit
    >>> nmpu = NearMemoryUnit()
    >>> coef = nmpu.encode(scale=[0.5, 1.25], offset=[1.0, -2.0])
    >>> codes = nmpu.apply(np.array([[10, -3]]), coef)
    >>> nmpu.to_float(codes, coef)
    array([[ 6.  , -5.75]])
    """

    _parameter_constraints = {
        "scale_format": [FixedPointFormat],
        "offset_format": [FixedPointFormat],
        "output_format": [FixedPointFormat, None],
        "relu": ["boolean"],
        "rounding": [StrOptions(set(ROUNDING_MODES))],
    }

    def __init__(
        self,
        scale_format=FixedPointFormat(1, 7, signed=False),
        offset_format=FixedPointFormat(7, 1, signed=True),
        output_format=None,
        relu=False,
        rounding="half_even",
    ):
        self.scale_format = scale_format
        self.offset_format = offset_format
        self.output_format = output_format
        self.relu = relu
        self.rounding = rounding

    def encode(self, scale, offset=None, group_starts=None, random_state=None):
        """Quantise real per-column scales and offsets into NMPU registers.

        Parameters
        ----------
        scale : array-like of shape (..., n_columns)
            Real scale of each column.  Must be non-negative when the scale
            format is unsigned.
        offset : array-like of shape (..., n_columns), default=None
            Real offset of each column (zero when None).
        group_starts : array-like of int, default=None
            First column of each group sharing one exponent (e.g. the first
            column of each tile); one group when None.  Each group's exponent
            is the smallest that fits both its scales and its offsets, so no
            coefficient saturates.
        random_state : int, Generator, RandomState or None, default=None
            Only used with stochastic rounding.

        Returns
        -------
        coefficients : NMPUCoefficients
        """
        self._validate_params()
        scale = np.asarray(scale, dtype=np.float64)
        offset = np.zeros_like(scale) if offset is None else np.broadcast_to(
            np.asarray(offset, dtype=np.float64), scale.shape
        )
        if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
            raise ValueError("NMPU scales and offsets must be finite.")
        if not self.scale_format.signed and (scale < 0).any():
            raise ValueError(
                "Negative scales need a signed scale_format; the default NMPU scale "
                "format is unsigned (UQ1.7)."
            )
        if not self.offset_format.signed and (offset < 0).any():
            raise ValueError("Negative offsets need a signed offset_format.")
        exponents = np.maximum(
            self._group_exponents(np.abs(scale), self.scale_format, group_starts),
            self._group_exponents(np.abs(offset), self.offset_format, group_starts),
        )
        exponents[exponents == _NO_CONSTRAINT] = 0
        rng = as_generator(random_state) if self.rounding == "stochastic" else None
        scale_codes = quantize(np.ldexp(scale, -exponents), self.scale_format, self.rounding, rng)
        offset_codes = quantize(np.ldexp(offset, -exponents), self.offset_format, self.rounding, rng)
        return NMPUCoefficients(
            scale_codes=scale_codes,
            offset_codes=offset_codes,
            exponents=exponents,
            scale_fractional_bits=self.scale_format.fractional_bits,
            offset_fractional_bits=self.offset_format.fractional_bits,
        )

    @staticmethod
    def _group_exponents(magnitude, fmt, group_starts):
        """Smallest power of two per group that brings every magnitude into ``fmt``."""
        n_columns = magnitude.shape[-1]
        starts = _check_group_starts(group_starts, n_columns)
        group_max = np.maximum.reduceat(magnitude, starts, axis=-1)
        limit = fmt.max_value
        # log2 of each side, not of the ratio, which underflows for subnormal magnitudes.
        with np.errstate(divide="ignore"):
            log_ratio = np.log2(group_max) - np.log2(limit)
        exponents = np.where(group_max > 0, np.ceil(log_ratio), 0).astype(np.int64)
        # Exact corrections of the float log2's rounding at powers of two.
        exponents += np.ldexp(group_max, -exponents) > limit
        exponents -= (group_max > 0) & (np.ldexp(group_max, 1 - exponents) <= limit)
        exponents = np.where(group_max > 0, exponents, _NO_CONSTRAINT)
        sizes = np.diff(np.append(starts, n_columns))
        return np.repeat(exponents, sizes, axis=-1)

    def accumulator_bits(self, input_bits, coefficients):
        """Bits needed by the accumulator for signed inputs of ``input_bits`` bits.

        Parameters
        ----------
        input_bits : int
            Width of the signed input codes (ADC codes).
        coefficients : NMPUCoefficients
            From :meth:`encode`.

        Returns
        -------
        bits : int
            Width of a signed word that holds ``a x + b`` for every input code.
        """
        multiplier, addend = coefficients.largest_magnitudes
        largest = multiplier * (1 << (input_bits - 1)) + addend
        return largest.bit_length() + 1

    def apply(self, x_codes, coefficients, random_state=None):
        """Run integer ADC codes through the unit; returns integer output codes.

        Parameters
        ----------
        x_codes : array-like of int of shape (n_samples, n_columns)
            ADC codes.
        coefficients : NMPUCoefficients
            From :meth:`encode`, broadcastable to ``x_codes``.
        random_state : int, Generator, RandomState or None, default=None
            Only used with stochastic rounding.

        Returns
        -------
        codes : ndarray of int64
            Output codes; their real value is ``to_float(codes, coefficients)``.
        """
        self._validate_params()
        x_codes = np.asarray(x_codes)
        if not np.issubdtype(x_codes.dtype, np.integer):
            raise TypeError(f"x_codes must hold integers, got dtype {x_codes.dtype}.")
        accumulator = self._affine(x_codes.astype(np.int64), coefficients)
        return self._requantize(accumulator, coefficients, random_state)

    def to_float(self, codes, coefficients):
        """Real values (float64) of output codes of :meth:`apply`.

        Parameters
        ----------
        codes : array-like of int of shape (n_samples, n_columns)
            Output codes of :meth:`apply`.
        coefficients : NMPUCoefficients
            The coefficients they were computed with.

        Returns
        -------
        values : ndarray of float64 of shape (n_samples, n_columns)
        """
        return np.ldexp(np.asarray(codes, dtype=np.float64), self._output_exponents(coefficients))

    def integer_dtype(self, input_bits, coefficients):
        """Narrowest integer type (int16, int32 or int64) that holds every intermediate.

        With the default formats and an 8-bit ADC, ``a x`` stays below 2**15
        (255 * 127) and the datapath runs on int16, like the 16-bit products of
        the hardware.  Requantisation (``output_format``) always runs in int64.

        Parameters
        ----------
        input_bits : int
            Width of the signed input codes (ADC codes).
        coefficients : NMPUCoefficients
            From :meth:`encode`.

        Returns
        -------
        dtype : numpy.dtype
        """
        if self.output_format is not None:
            return np.dtype(np.int64)
        bits = self.accumulator_bits(input_bits, coefficients)
        for dtype in (np.int16, np.int32):
            if bits <= np.iinfo(dtype).bits:
                return np.dtype(dtype)
        return np.dtype(np.int64)

    def apply_to_float(self, x_codes, coefficients, out, *, input_bits, work=None, random_state=None):
        """Fast path of :meth:`apply` followed by :meth:`to_float`, writing into ``out``.

        ``x_codes`` holds ADC codes, as integers or as floats holding exact
        integers.  The arithmetic runs on integers, in :meth:`integer_dtype`;
        the results equal ``to_float(apply(...))`` bit for bit.

        Parameters
        ----------
        x_codes : ndarray of shape (n_samples, n_columns)
            Signed integer codes of at most ``input_bits`` bits, of an integer
            or float dtype.  It may be ``work`` itself (the crossbar's ADC
            writes its codes there), which the call then overwrites.
        coefficients : NMPUCoefficients
        out : ndarray of float, shape (n_samples, n_columns)
            Receives the real output values.
        input_bits : int
            Word length of the codes (the ADC resolution); sizes the integers.
        work : ndarray of shape (n_samples, n_columns), default=None
            Scratch space of dtype :meth:`integer_dtype`, to avoid an allocation.
        random_state : int, Generator, RandomState or None, default=None
            Only used with stochastic rounding.

        Returns
        -------
        out : ndarray
        """
        integer_type = self.integer_dtype(input_bits, coefficients)
        if work is None or work.dtype != integer_type or work.shape != x_codes.shape:
            work = np.empty(x_codes.shape, dtype=integer_type)
        if work is not x_codes:
            np.copyto(work, x_codes, casting="unsafe")
        codes = self._requantize(self._affine(work, coefficients), coefficients, random_state)
        np.copyto(out, codes, casting="unsafe")
        out *= self.output_factors(coefficients, out.dtype)
        return out

    def output_factors(self, coefficients, dtype=np.float64):
        """Real value of one unit of the output codes, per column.

        ``to_float(codes, coefficients)`` is ``codes * output_factors(coefficients)``;
        without an ``output_format`` the output codes are the accumulators.

        Parameters
        ----------
        coefficients : NMPUCoefficients
        dtype : {np.float64, np.float32}, default=np.float64

        Returns
        -------
        factors : ndarray of ``dtype``, broadcastable to the columns
            Powers of two; 0 for columns of a group whose registers are all
            zero, and where the power of two is below the range of ``dtype``.
        """
        return np.ldexp(np.ones((), dtype=dtype), self._output_exponents(coefficients))

    def apply_float(self, x, scale, offset=None):
        """Floating-point reference of the unit (the FP16/FP32 path it replaces).

        Parameters
        ----------
        x : array-like of shape (n_samples, n_columns)
        scale, offset : array-like of shape (n_columns,)

        Returns
        -------
        y : ndarray of float64
            ``scale * x + offset``, ReLU applied when ``relu`` is set; no
            rounding and no saturation.
        """
        y = np.asarray(scale, dtype=np.float64) * np.asarray(x, dtype=np.float64)
        if offset is not None:
            y += np.asarray(offset, dtype=np.float64)
        if self.relu:
            np.maximum(y, 0.0, out=y)
        return y

    def _affine(self, x, coefficients):
        """``a x + b`` on the accumulator's binary point, in place on ``x``."""
        x *= coefficients.multiplier.astype(x.dtype, copy=False)
        if coefficients.largest_magnitudes[1]:
            x += coefficients.addend.astype(x.dtype, copy=False)
        if self.relu:
            np.maximum(x, 0, out=x)
        return x

    def _requantize(self, accumulator, coefficients, random_state):
        if self.output_format is None:
            return accumulator
        shift = coefficients.accumulator_fractional_bits - self.output_format.fractional_bits
        codes = shift_round(accumulator, shift, self.rounding, random_state)
        return self.output_format.saturate(codes)

    def _output_exponents(self, coefficients):
        fractional_bits = (
            coefficients.accumulator_fractional_bits
            if self.output_format is None
            else self.output_format.fractional_bits
        )
        # int32 exponents select numpy's native ldexp loop (int64 ones are cast element-wise).
        return (coefficients.exponents - fractional_bits).astype(np.intc)


_FLOAT16 = np.finfo(np.float16)
# Signed ADC codes of 16 bits (|x| <= 2**15 - 1, and the crossbar's clip marker
# 2**15) are finite in binary16; 17-bit codes reach 65520, which rounds to inf.
_MAX_FP16_INPUT_BITS = 16
_MAX_FP16_CODE = 2**15


@dataclass(frozen=True)
class FP16Coefficients:
    """Per-column scale and offset registers of the FP16 post-processing unit.

    Produced by :meth:`FP16Unit.encode`.  Each column has its own binary16
    scale and offset: a floating-point unit needs no shared exponent and no
    accumulator format, so there is nothing else to store.

    Attributes
    ----------
    scale_registers : ndarray of float16
        The scale ``a`` of each column, rounded to binary16 (read-only).
    offset_registers : ndarray of float16
        The offset ``b`` of each column, rounded to binary16 (read-only).
    """

    scale_registers: np.ndarray
    offset_registers: np.ndarray

    @property
    def scale(self):
        """Real scales realised by the registers (float64, exact)."""
        return self.scale_registers.astype(np.float64)

    @property
    def offset(self):
        """Real offsets realised by the registers (float64, exact)."""
        return self.offset_registers.astype(np.float64)


class FP16Unit(BaseEstimator):
    """The FP16 post-processing unit after the ADCs, emulated bit-exactly.

    The baseline that the fixed-point :class:`NearMemoryUnit` replaces: the
    per-core digital unit of the HERMES chip applies, per column ``j`` and
    ADC code ``x``, ``y = a_j x + b_j`` and optionally a ReLU in IEEE 754
    binary16 (FP16) arithmetic (Le Gallo et al. 2023; Ferro et al. 2024).
    Every step is rounded to binary16, round to nearest, ties to even, as
    :class:`numpy.float16` does:

    1. the ADC code is converted to binary16 (exact for ``|x| <= 2048``, i.e.
       ADCs of up to 12 bits; the codes of 13- to 16-bit ADCs are rounded;
       wider ADCs are rejected, as their codes reach beyond binary16's range);
    2. the product ``a_j x`` is rounded to binary16;
    3. the offset is added and the sum rounded to binary16;
    4. ReLU (when ``relu=True``) replaces every value whose sign bit is set by
       ``+0.0`` - also ``-0.0`` and ``-inf``.

    Multiplication and addition are two separately rounded operations, not a
    fused multiply-add (an assumption: the sources describe an FP16 unit
    without saying it fuses them; an FMA would round once and could differ
    by one unit in the last place).  Overflow gives ``+-inf`` and small results
    are gradual (subnormal) exactly as in IEEE binary16; nothing saturates.
    Within the unit, products and sums of binary16 operands are computed in
    float32 and rounded once more to binary16, which gives the correctly
    rounded binary16 result (float32's 24-bit significand is at least
    ``2 * 11 + 2`` bits, so the double rounding is innocuous).

    Dynamic range of binary16: largest finite value 65504 (values from 65520
    up round to infinity), smallest normal ``2**-14 = 6.1e-5``, smallest
    subnormal ``2**-24 = 6.0e-8``; a normal value carries 11 significant bits
    (relative rounding error at most ``2**-11 = 4.9e-4``), subnormals fewer.
    Scales of a crossbar read-out (the ADC step times the drift gain,
    typically ``1e-3 ... 1e2``) are normal numbers; a product ``a x`` of an
    8-bit code overflows only for ``|a| > 515`` (``65520 / 127``).

    Parameters
    ----------
    relu : bool, default=False
        Apply a ReLU after the affine.

    See Also
    --------
    NearMemoryUnit : the fixed-point unit that replaces this one.

    References
    ----------
    .. [1] M. Le Gallo et al., "A 64-core mixed-signal in-memory compute chip
       based on phase-change memory for deep neural network inference",
       Nature Electronics 6, 680-693 (2023).
    .. [2] E. Ferro et al., "A precision-optimized fixed-point near-memory
       digital processing unit for analog in-memory computing", ISCAS 2024.
    .. [3] IEEE Standard for Floating-Point Arithmetic, IEEE 754-2019
       (binary16 format).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.fixedpoint import FP16Unit
    >>> unit = FP16Unit()
    >>> coef = unit.encode(scale=[0.1, 600.0], offset=[0.0, 0.0])
    >>> coef.scale  # 0.1 is not a binary16 number
    array([9.99755859e-02, 6.00000000e+02])
    >>> y = unit.apply(np.array([[3, 127]]), coef)
    >>> y.dtype, unit.to_float(y, coef)  # 3 x 0.09998 is a tie, rounded to even; 76200 overflows
    (dtype('float16'), array([[0.29980469,        inf]]))
    """

    _parameter_constraints = {"relu": ["boolean"]}

    def __init__(self, relu=False):
        self.relu = relu

    def encode(self, scale, offset=None, group_starts=None, random_state=None):
        """Round real per-column scales and offsets into binary16 registers.

        Parameters
        ----------
        scale : array-like of shape (..., n_columns)
            Real scale of each column (any sign).
        offset : array-like of shape (..., n_columns), default=None
            Real offset of each column; ``+0.0`` when None.
        group_starts : array-like of int, default=None
            First column of each group (validated as in
            :meth:`NearMemoryUnit.encode`).  A floating-point unit stores an
            exponent per value, so groups change nothing; the parameter is
            there so the crossbar calls both units alike.
        random_state : None
            Unused: the registers are rounded to nearest, ties to even.  Kept
            for the same reason as ``group_starts``.

        Returns
        -------
        coefficients : FP16Coefficients

        Raises
        ------
        ValueError
            If a scale or offset is not finite, or overflows binary16 (its
            magnitude rounds to infinity, i.e. is at least 65520; the largest
            finite binary16 value is 65504).
        """
        self._validate_params()
        scale = np.asarray(scale, dtype=np.float64)
        offset = np.zeros_like(scale) if offset is None else np.broadcast_to(
            np.asarray(offset, dtype=np.float64), scale.shape
        )
        if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
            raise ValueError("FP16 scales and offsets must be finite.")
        if group_starts is not None:
            _check_group_starts(group_starts, scale.shape[-1])
        return FP16Coefficients(
            scale_registers=_read_only(_to_binary16(scale, "scale")),
            offset_registers=_read_only(_to_binary16(offset, "offset")),
        )

    def apply(self, x_codes, coefficients, random_state=None):
        """Run integer ADC codes through the unit; returns binary16 results.

        Parameters
        ----------
        x_codes : array-like of int of shape (n_samples, n_columns)
            ADC codes.
        coefficients : FP16Coefficients
            From :meth:`encode`, broadcastable to ``x_codes``.
        random_state : None
            Unused (kept so the crossbar calls both units alike).

        Returns
        -------
        y : ndarray of float16
            ``round16(round16(round16(x) a) + b)``, ReLU applied when set.

        Raises
        ------
        ValueError
            If a code's magnitude exceeds ``2**15`` (an ADC of more than 16
            bits), which has no finite binary16 value.
        """
        self._validate_params()
        x_codes = np.asarray(x_codes)
        if not np.issubdtype(x_codes.dtype, np.integer):
            raise TypeError(f"x_codes must hold integers, got dtype {x_codes.dtype}.")
        if x_codes.size and np.abs(x_codes).max() > _MAX_FP16_CODE:
            raise ValueError(
                f"ADC codes of magnitude above {_MAX_FP16_CODE} (more than 16 bits) have no "
                "finite float16 value; the FP16 unit takes ADCs of at most 16 bits."
            )
        shape = np.broadcast_shapes(x_codes.shape, coefficients.scale_registers.shape)
        y = np.empty(shape, dtype=np.float16)
        return self._affine(x_codes, coefficients, y)

    def to_float(self, values, coefficients):
        """Real values (float64, exact) of binary16 results of :meth:`apply`.

        ``coefficients`` is unused (the results carry their own exponents);
        the signature matches :meth:`NearMemoryUnit.to_float`.

        Parameters
        ----------
        values : array-like of float16
        coefficients : FP16Coefficients

        Returns
        -------
        y : ndarray of float64
        """
        return np.asarray(values, dtype=np.float64)

    def integer_dtype(self, input_bits, coefficients=None):
        """Narrowest integer type holding the codes of an ``input_bits``-bit ADC.

        The crossbar writes its ADC codes into a scratch array of this type
        before calling :meth:`apply_to_float`; the type also holds the clip
        marker one step beyond full scale, ``+-2**(input_bits - 1)`` (int16 up
        to 15 bits, int32 up to 31, int64 beyond).  The arithmetic itself runs
        on float16.  ``coefficients`` is unused.

        Parameters
        ----------
        input_bits : int
        coefficients : FP16Coefficients, default=None

        Returns
        -------
        dtype : numpy.dtype
        """
        for dtype in (np.int16, np.int32):
            if input_bits < np.iinfo(dtype).bits:
                return np.dtype(dtype)
        return np.dtype(np.int64)

    def apply_to_float(self, x_codes, coefficients, out, *, input_bits, work=None, random_state=None):
        """:meth:`apply` followed by a conversion to ``out``'s dtype, writing into ``out``.

        Parameters
        ----------
        x_codes : ndarray of shape (n_samples, n_columns)
            ADC codes, of an integer dtype or floats holding integers.
        coefficients : FP16Coefficients
        out : ndarray of float32 or float64, shape (n_samples, n_columns)
            Receives the results; binary16 values convert exactly, so they
            equal ``apply(...)`` bit for bit.
        input_bits : int
            Word length of the codes, at most 16 (codes wider than 12 bits are
            rounded by the conversion to binary16).
        work : ndarray of float16 of shape (n_samples, n_columns), default=None
            Scratch space for the binary16 intermediate results; any other
            array (e.g. the crossbar's integer codes) is not used and a
            scratch array is allocated.
        random_state : None
            Unused.

        Returns
        -------
        out : ndarray
        """
        if input_bits > _MAX_FP16_INPUT_BITS:
            raise ValueError(
                f"input_bits={input_bits}: the FP16 unit takes ADCs of at most "
                f"{_MAX_FP16_INPUT_BITS} bits (wider codes have no finite float16 value)."
            )
        if work is None or work.dtype != np.float16 or work.shape != x_codes.shape:
            work = np.empty(x_codes.shape, dtype=np.float16)
        self._affine(x_codes, coefficients, work)
        np.copyto(out, work, casting="same_kind")
        return out

    def _affine(self, x_codes, coefficients, y):
        """The binary16 datapath, into the float16 array ``y`` (which may be ``x_codes``)."""
        # Overflow to +-inf and gradual underflow are the hardware's behaviour, not errors.
        with np.errstate(over="ignore", under="ignore"):
            np.copyto(y, x_codes, casting="unsafe")
            np.multiply(y, coefficients.scale_registers, out=y)
            np.add(y, coefficients.offset_registers, out=y)
        if self.relu:
            np.copyto(y, np.float16(0.0), where=np.signbit(y))
        return y


def _to_binary16(values, name):
    """``values`` rounded to float16; raises when a value overflows to infinity."""
    with np.errstate(over="ignore"):
        registers = values.astype(np.float16)
    overflow = np.isinf(registers)
    if overflow.any():
        first = float(values[overflow].flat[0])
        raise ValueError(
            f"The {name} value {first!r} overflows float16: magnitudes of at least 65520 round "
            f"to infinity (the largest finite float16 is {float(_FLOAT16.max):g}).  Rescale the "
            "column (e.g. move a power of two into the next stage)."
        )
    return registers


def fold_batch_norm(scale, offset, mean, var, weight=1.0, bias=0.0, eps=1e-5):
    """Fold a batch-norm layer that follows ``y = scale x + offset`` into the affine.

    ``weight (y - mean) / sqrt(var + eps) + bias`` equals ``scale' x + offset'``
    with ``g = weight / sqrt(var + eps)``, ``scale' = g scale`` and
    ``offset' = g (offset - mean) + bias``.

    Parameters
    ----------
    scale, offset : array-like of shape (n_columns,)
        The affine before batch-norm.
    mean, var : array-like of shape (n_columns,)
        Running statistics of the batch-norm layer.
    weight, bias : array-like of shape (n_columns,) or float, default=1.0, 0.0
        Learned affine parameters of the batch-norm layer.
    eps : float, default=1e-5
        Added to the variance (PyTorch's default).

    Returns
    -------
    scale, offset : ndarray of float64
        Coefficients to pass to :meth:`NearMemoryUnit.encode`.

    Examples
    --------
    >>> from sklearn_aimc.fixedpoint import fold_batch_norm
    >>> fold_batch_norm([1.0], [0.0], mean=[2.0], var=[4.0], eps=0.0)
    (array([0.5]), array([-1.]))
    """
    var = np.asarray(var, dtype=np.float64)
    if (var + eps <= 0).any():
        raise ValueError("var + eps must be positive to fold a batch-norm layer.")
    gain = np.asarray(weight, dtype=np.float64) / np.sqrt(var + eps)
    new_scale = gain * np.asarray(scale, dtype=np.float64)
    new_offset = gain * (np.asarray(offset, dtype=np.float64) - np.asarray(mean, dtype=np.float64))
    return new_scale, new_offset + np.asarray(bias, dtype=np.float64)
