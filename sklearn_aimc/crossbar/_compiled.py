"""Compiled stages of a crossbar read, when numba is installed (the ``fast`` extra).

numpy runs the steps of a read after the analog MVM (the output noise's
counter words and Gaussian transform, adding the noise, the ADC's rounding and
saturation, the near-memory unit's integer affine and its conversion to real
values) as one pass over memory each: dozens of passes, which cost more than
the MVM itself.  :func:`read_out` does them in one loop.

It is a drop-in implementation of the same stages, not a second model: every
step is an exactly rounded IEEE or integer operation in the same order as the
numpy path (:func:`sklearn_aimc._random.row_keys`,
:func:`~sklearn_aimc._random.counter_words`,
:func:`~sklearn_aimc._random.normals_per_row`, the ADC of
:class:`~sklearn_aimc.crossbar.converters.ADC` and
:meth:`NearMemoryUnit.apply_to_float`), fed the same constants (the mixer's
and the sampler's come from :mod:`sklearn_aimc._random`), so both give
bit-identical outputs and clip counts; ``tests/test_compiled.py`` checks this.

Setting the environment variable ``SKLEARN_AIMC_COMPILED=0`` before import
switches the compiled path off.
"""

import numpy as np

from .._random import MIX_MULTIPLIERS, MIX_SHIFTS
from .._random_compiled import ENABLED, gaussian_pair

try:
    import numba
except ImportError:
    numba = None

__all__ = ["ENABLED", "read_out", "row_keys"]

_M1, _M2 = MIX_MULTIPLIERS
_S1, _S2, _S3 = MIX_SHIFTS


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


def _stage(level, full_scale, multiplier, addend, relu, factor, out, j, accumulate):
    """ADC and near-memory unit of one output into ``out[j]``; returns 1 when the ADC clipped."""
    level = np.rint(level)
    clipped = np.int64(abs(level) > full_scale)
    code = np.int64(min(max(level, -full_scale), full_scale))
    accumulator = code * multiplier[j] + addend[j]
    if relu:
        accumulator = max(accumulator, 0)
    value = out.dtype.type(accumulator) * factor[j]
    out[j] = out[j] + value if accumulate else value
    return clipped


def _row_noise(key, counters, noise):
    """The row's normals into ``noise``: pair ``p`` gives output ``p`` (cosine) and ``P + p`` (sine)."""
    n_pairs = counters.size
    for p in range(n_pairs):
        noise[p], noise[n_pairs + p] = gaussian_pair(_mix(key + counters[p]))


def _read_out(analog, low, add_low, noisy, keys, counters, sigma, full_scale, multiplier, addend, relu, factor,
              accumulate, out):
    n_rows, n_columns = out.shape
    noise = np.zeros(2 * counters.size if noisy else n_columns, dtype=np.float32)
    clipped = 0
    for i in range(n_rows):
        if noisy:
            _row_noise(keys[i], counters, noise)
        row = out[i]
        for j in range(n_columns):
            level = analog[i, j] + low[i, j] if add_low else analog[i, j]
            if noisy:
                level = noise[j] * sigma[j] + level
            clipped += _stage(level, full_scale, multiplier, addend, relu, factor, row, j, accumulate)
    return clipped


_NO_LOW = np.zeros((1, 0), dtype=np.float32)
_NO_SIGMA = np.zeros(0, dtype=np.float32)
_NO_KEYS = np.zeros(0, dtype=np.uint64)

if ENABLED:
    _jit = numba.njit(nogil=True, cache=True, error_model="numpy")
    _inline = numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
    _mix = _inline(_mix)
    _stage = _inline(_stage)
    _row_keys = _jit(_row_keys)
    _row_noise = _inline(_row_noise)
    _read_out = _jit(_read_out)


def row_keys(codes, multipliers, out):
    """:func:`sklearn_aimc._random.row_keys` of quantised float32 codes, into ``out``.

    Parameters
    ----------
    codes : ndarray of float32 of shape (n_rows, n_inputs)
        Integer DAC codes.
    multipliers : ndarray of uint64 of shape (n_inputs,)
    out : ndarray of uint64 of shape (n_rows,)

    Returns
    -------
    out : ndarray
    """
    _row_keys(codes, multipliers, out)
    return out


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
        ``(keys, counters, sigma)``: the noise key of each row (the
        :func:`sklearn_aimc._random.mix64` of the row's key and the tile's),
        the pair counters (:func:`sklearn_aimc._random.counters`) and the
        noise's standard deviation per column in ADC LSBs, float32.  The
        normals are those of :func:`sklearn_aimc._random.counter_words` and
        :func:`~sklearn_aimc._random.normals_per_row`.  None: no noise.
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
    noisy = noise is not None
    keys, counters, sigma = noise if noisy else (_NO_KEYS, _NO_KEYS, _NO_SIGMA)
    add_low = low is not None
    return int(
        _read_out(
            analog, low if add_low else _NO_LOW, add_low, noisy, keys, counters, sigma, np.float32(full_scale),
            multiplier, addend, relu, factor, accumulate, out,
        )
    )
