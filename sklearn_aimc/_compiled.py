"""Compiled read-out of a crossbar block, when numba is installed (the ``fast`` extra).

numpy runs the steps of a read after the analog MVM (turning random draws into
the output noise and adding it, the ADC's rounding and saturation, the
near-memory unit's integer affine and its conversion to real values) as one
pass over memory each: about twenty passes, which cost more than the MVM
itself.  :func:`read_out` does them in one loop.

It is an accelerated twin, not a second model: every step is an exactly
rounded IEEE or integer operation in the same order as the numpy path
(``normals_from_box_muller`` of :mod:`sklearn_aimc._random`,
``ProgrammedCrossbar._adc`` and ``NearMemoryUnit.apply_to_float``), so both
give bit-identical outputs and clip counts; ``tests/test_compiled.py`` checks
this.  The random draws and the transcendental functions of the noise
(``box_muller_float32``) stay in numpy, whose float32 ``log`` and ``tan`` need
not round like another library's.

Setting the environment variable ``SKLEARN_AIMC_COMPILED=0`` before import
switches the compiled path off.
"""

import os

import numpy as np

try:
    import numba
except ImportError:
    numba = None

__all__ = ["ENABLED", "read_out"]

#: True when reads use :func:`read_out`.  numba's ``NUMBA_DISABLE_JIT`` would
#: run the loop in the interpreter, so it switches the compiled path off too.
ENABLED = (
    numba is not None
    and not numba.config.DISABLE_JIT
    and os.environ.get("SKLEARN_AIMC_COMPILED", "1") != "0"
)


def _read_out_segment(
    analog, out, add_noise, log_u, tan_half_angle, cosines, sigma, full_scale, multiplier, addend, relu, factor, accumulate
):
    """One run of consecutive outputs, whose noise draws are the same run of draws.

    Every argument is indexed by position in the run (so that the loop vectorises).
    """
    clipped = 0
    for j in range(out.size):
        level = analog[j]
        if add_noise:
            t = tan_half_angle[j]
            d = t * t + np.float32(1.0)
            # r cos(theta) = (2 - d) (r / d), r sin(theta) = (t + t) (r / d)
            numerator = np.float32(2.0) - d if cosines else t + t
            normal = numerator * (np.sqrt(log_u[j] * np.float32(-2.0)) / d)
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
    analog, add_noise, log_u, tan_half_angle, sigma, full_scale, multiplier, addend, relu, factor, accumulate, out
):
    n_rows, n_columns = out.shape
    n_pairs = log_u.size
    clipped = 0
    for i in range(n_rows):
        first = i * n_columns
        # Flat positions f below n_pairs take the cosine of draw f, the others the sine of draw f - n_pairs.
        split = min(max(n_pairs - first, 0), n_columns) if add_noise else n_columns
        for lo, hi, first_draw, cosines in ((0, split, first, True), (split, n_columns, first - n_pairs, False)):
            if lo == hi:
                continue
            # Without noise the draws are empty and never read.
            draws = slice(first_draw + lo, first_draw + hi)
            clipped += _read_out_segment(
                analog[i, lo:hi], out[i, lo:hi], add_noise, log_u[draws], tan_half_angle[draws], cosines,
                sigma[lo:hi], full_scale, multiplier[lo:hi], addend[lo:hi], relu, factor[lo:hi], accumulate,
            )
    return clipped


_NO_DRAWS = np.zeros(0, dtype=np.float32)

if ENABLED:
    _jit = numba.njit(nogil=True, cache=True, error_model="numpy")
    _read_out_segment = _jit(_read_out_segment)
    _read_out = _jit(_read_out)


def read_out(analog, noise, full_scale, multiplier, addend, relu, factor, out, accumulate=False):
    """Output noise, ADC and near-memory unit of a block of analog outputs, into ``out``.

    Parameters
    ----------
    analog : ndarray of float32 of shape (n_rows, >= n_columns), C-contiguous
        MVM outputs in ADC LSBs; columns beyond ``out``'s are ignored (padding).
    noise : tuple or None
        ``(log_u, tan_half_angle, sigma)``: the output noise of the block as
        :func:`sklearn_aimc._random.box_muller_float32` draws
        (``ceil(n_rows * n_columns / 2)`` of them, laid out over the block as
        :func:`~sklearn_aimc._random.normals_from_box_muller` lays them out)
        and its standard deviation per column in ADC LSBs, float32.  None: no
        noise.
    full_scale : int
        Largest ADC code magnitude, ``2**(adc_bits - 1) - 1``.
    multiplier, addend : ndarray of int64 of shape (n_columns,)
        The unit's integer affine, aligned to the accumulator's binary point.
    relu : bool
        Apply a ReLU to the accumulator.
    factor : ndarray of shape (n_columns,), dtype of ``out``
        Powers of two turning accumulators into real values.
    out : ndarray of float32 or float64 of shape (n_rows, n_columns), C-contiguous
    accumulate : bool, default=False
        Add to ``out`` (a later input tile's partial sums) instead of overwriting it.

    Returns
    -------
    n_clipped : int
        ADC outputs that saturated.
    """
    add_noise = noise is not None
    log_u, tan_half_angle, sigma = noise if add_noise else (_NO_DRAWS, _NO_DRAWS, _NO_DRAWS)
    return int(
        _read_out(
            analog, add_noise, log_u, tan_half_angle, sigma, np.float32(full_scale),
            multiplier, addend, relu, factor, accumulate, out,
        )
    )

