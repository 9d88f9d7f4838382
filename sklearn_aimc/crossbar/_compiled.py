"""Compiled stages of a crossbar read, when numba is installed (the ``fast`` extra).

numpy runs the steps of a read after the analog MVM (the output noise's
counter words and their conversion, adding the noise, the ADC's rounding and
saturation, the near-memory unit's integer affine and its conversion to real
values) as one pass over memory each: about thirty passes, which cost more
than the MVM itself.  These kernels do them in few loops.

They are a drop-in implementation of the same stages, not a second model:
every step is an exactly rounded IEEE or integer operation in the same order
as the numpy path (:func:`sklearn_aimc._random.row_keys`,
:func:`~sklearn_aimc._random.counter_words`,
:func:`~sklearn_aimc._random.box_muller_from_words`,
:func:`~sklearn_aimc._random.normals_per_row`, the ADC of
:class:`~sklearn_aimc.crossbar.converters.ADC` and
:meth:`NearMemoryUnit.apply_to_float`), fed the same constants (the mixer's
multipliers and shifts come from :mod:`sklearn_aimc._random`), so both give
bit-identical outputs and clip counts; ``tests/test_compiled.py`` checks this.
The transcendental functions of the noise (``log`` and ``tan``) stay in
numpy, whose float32 results need not round like another library's.

Setting the environment variable ``SKLEARN_AIMC_COMPILED=0`` before import
switches the compiled path off.
"""

import os

import numpy as np

from .._random import MIX_MULTIPLIERS, MIX_SHIFTS

try:
    import numba
except ImportError:
    numba = None

__all__ = ["ENABLED", "noise_inputs", "read_out", "row_keys"]

#: True when reads use the compiled stages.  numba's ``NUMBA_DISABLE_JIT``
#: would run the loops in the interpreter, so it switches them off too.
ENABLED = (
    numba is not None
    and not numba.config.DISABLE_JIT
    and os.environ.get("SKLEARN_AIMC_COMPILED", "1") != "0"
)

_M1, _M2 = MIX_MULTIPLIERS
_S1, _S2, _S3 = MIX_SHIFTS
_LOW_BITS = np.uint64(0xFFFFFFFF)
_HIGH_SHIFT = np.uint64(32)
_RADIUS_SCALE = np.float32(2.0**-23)
_RADIUS_OFFSET = np.float32(0.5 + 2.0**-24)
_ANGLE_SCALE = np.float32(np.pi / 2.0**32)
_TWO = np.float32(2.0)
_ONE = np.float32(1.0)
_MINUS_TWO = np.float32(-2.0)



def _mix(z):
    z = (z ^ (z >> _S1)) * _M1
    z = (z ^ (z >> _S2)) * _M2
    return z ^ (z >> _S3)


def _row_keys(codes, multipliers, out):
    n_rows, n_inputs = codes.shape
    for r in range(n_rows):
        accumulator = np.uint64(0)
        for k in range(n_inputs):
            accumulator += np.uint64(np.int64(codes[r, k])) * multipliers[k]
        out[r] = _mix(accumulator)


def _noise_inputs(keys, counters, radius, angle):
    n_rows, n_pairs = radius.shape
    for r in range(n_rows):
        key = keys[r]
        for p in range(n_pairs):
            word = _mix(key + counters[p])
            low = np.int32(np.uint32(word & _LOW_BITS))
            high = np.int32(np.uint32(word >> _HIGH_SHIFT))
            radius[r, p] = np.float32(low >> np.int32(9)) * _RADIUS_SCALE + _RADIUS_OFFSET
            angle[r, p] = np.float32(high) * _ANGLE_SCALE


def _read_out_segment(
    analog, low, add_low, out, add_noise, log_u, tan_half_angle, cosines, sigma, full_scale, multiplier, addend,
    relu, factor, accumulate,
):
    """One run of consecutive outputs of a row, whose noise draws are the same run of pairs."""
    clipped = 0
    for j in range(out.size):
        level = analog[j] + low[j] if add_low else analog[j]
        if add_noise:
            t = tan_half_angle[j]
            d = t * t + _ONE
            # r cos(theta) = (2 - d) (r / d), r sin(theta) = (t + t) (r / d)
            numerator = _TWO - d if cosines else t + t
            normal = numerator * (np.sqrt(log_u[j] * _MINUS_TWO) / d)
            level = normal * sigma[j] + level
        level = np.rint(level)
        clipped += np.int64(abs(level) > full_scale)
        code = np.int64(min(max(level, -full_scale), full_scale))
        accumulator = code * multiplier[j] + addend[j]
        if relu:
            accumulator = max(accumulator, 0)
        value = out.dtype.type(accumulator) * factor[j]
        out[j] = out[j] + value if accumulate else value
    return clipped


def _read_out(
    analog, low, add_low, add_noise, log_u, tan_half_angle, sigma, full_scale, multiplier, addend, relu, factor,
    accumulate, out,
):
    n_rows, n_columns = out.shape
    # Positions below n_pairs take the cosine of their pair, the others the sine of pair j - n_pairs.
    n_pairs = log_u.shape[1] if add_noise else n_columns
    clipped = 0
    for i in range(n_rows):
        for lo, hi, cosines in ((0, n_pairs, True), (n_pairs, n_columns, False)):
            if lo == hi:
                continue
            # Without noise the draws are empty and never read.
            pairs = slice(0, hi - lo) if add_noise else slice(0, 0)
            low_part = low[i, lo:hi] if add_low else low[0, 0:0]
            draw_row = i if add_noise else 0
            clipped += _read_out_segment(
                analog[i, lo:hi], low_part, add_low, out[i, lo:hi], add_noise, log_u[draw_row, pairs],
                tan_half_angle[draw_row, pairs], cosines, sigma[lo:hi], full_scale, multiplier[lo:hi], addend[lo:hi], relu,
                factor[lo:hi], accumulate,
            )
    return clipped


_NO_DRAWS = np.zeros((1, 0), dtype=np.float32)
_NO_SIGMA = np.zeros(0, dtype=np.float32)

if ENABLED:
    _jit = numba.njit(nogil=True, cache=True, error_model="numpy")
    _mix = _jit(_mix)
    _row_keys = _jit(_row_keys)
    _noise_inputs = _jit(_noise_inputs)
    _read_out_segment = _jit(_read_out_segment)
    _read_out = _jit(_read_out)


def row_keys(codes, multipliers, out):
    """:func:`sklearn_aimc._random.row_keys` of quantised float32 codes, into ``out`` (uint64)."""
    _row_keys(codes, multipliers, out)
    return out


def noise_inputs(keys, counters, radius, angle):
    """Box-Muller inputs before ``log`` and ``tan``: ``u`` into ``radius``, ``theta / 2`` into ``angle``.

    The same words and arithmetic as :func:`sklearn_aimc._random.counter_words`
    followed by :func:`~sklearn_aimc._random.box_muller_from_words` (whose
    ``log`` and ``tan`` the caller applies in numpy).

    Parameters
    ----------
    keys : ndarray of uint64 of shape (n_rows,)
    counters : ndarray of uint64 of shape (>= n_pairs,)
    radius, angle : ndarray of float32 of shape (n_rows, n_pairs), C-contiguous
    """
    _noise_inputs(keys, counters, radius, angle)


def read_out(analog, low, noise, full_scale, multiplier, addend, relu, factor, out, accumulate=False):
    """Output noise, ADC and near-memory unit of a block of analog outputs, into ``out``.

    Parameters
    ----------
    analog : ndarray of float32 of shape (n_rows, >= n_columns), C-contiguous
        MVM outputs in ADC LSBs; columns beyond ``out``'s are ignored (padding).
    low : ndarray of float32 of shape (n_rows, n_columns) or None
        The second part of an exact product (:class:`~sklearn_aimc.crossbar.mvm.ExactMVM`):
        each output is first ``analog + low``, rounded once, as numpy adds them.
    noise : tuple or None
        ``(log_u, tan_half_angle, sigma)``: ``ln u`` and ``tan(theta / 2)`` of
        the row's ``ceil(n_columns / 2)`` Box-Muller pairs, laid out as
        :func:`~sklearn_aimc._random.normals_per_row` lays them out, shape
        (n_rows, pairs), and the noise's standard deviation per column in ADC
        LSBs, float32.  None: no noise.
    full_scale : int
        Largest ADC code magnitude.
    multiplier, addend : ndarray of int64 of shape (n_columns,)
        The unit's integer affine, aligned to the accumulator's binary point.
    relu : bool
        Apply a ReLU to the accumulator.
    factor : ndarray of shape (n_columns,), dtype of ``out``
        Powers of two turning accumulators into real values.
    out : ndarray of float32 or float64 of shape (n_rows, n_columns)
    accumulate : bool, default=False
        Add to ``out`` (a later input tile's partial sums) instead of overwriting it.

    Returns
    -------
    n_clipped : int
        ADC outputs that saturated.
    """
    add_noise = noise is not None
    log_u, tan_half_angle, sigma = noise if add_noise else (_NO_DRAWS, _NO_DRAWS, _NO_SIGMA)
    add_low = low is not None
    return int(
        _read_out(
            analog, low if add_low else _NO_DRAWS, add_low, add_noise, log_u, tan_half_angle, sigma,
            np.float32(full_scale),
            multiplier, addend, relu, factor, accumulate, out,
        )
    )
