"""Compiled twins of the Gaussian sampler of :mod:`sklearn_aimc._random`, when numba is installed.

:func:`gaussian_pair` is the scalar form of :func:`sklearn_aimc._random.gaussian_pairs`:
the same exactly rounded float32 operations in the same order, with the same
constants (imported from :mod:`sklearn_aimc._random`), so both give the same
bits.  numba compiles without fast-math, so no multiply and add are fused.
The crossbar's compiled read-out inlines it; :func:`fill_gaussian_pairs` fills
arrays for device noise.

Setting the environment variable ``SKLEARN_AIMC_COMPILED=0`` before import
switches the compiled path off.
"""

import os

import numpy as np

from ._random import (
    COS_POLYNOMIAL,
    LOG_LN2_HIGH,
    LOG_LN2_LOW,
    LOG_POLYNOMIAL,
    OCTANT_SHIFT,
    POSITION_BITS,
    POSITION_SHIFT,
    QUARTER_PI_PER_POSITION,
    SIN_POLYNOMIAL,
    SQRT_HALF,
)

try:
    import numba
    from numba import types
    from numba.extending import intrinsic
except ImportError:
    numba = None

__all__ = ["ENABLED", "fill_gaussian_pairs", "gaussian_pair"]

#: True when numba compiles the sampler (and the crossbar's read-out).
ENABLED = (
    numba is not None
    and not numba.config.DISABLE_JIT
    and os.environ.get("SKLEARN_AIMC_COMPILED", "1") != "0"
)

_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = LOG_POLYNOMIAL
_S0, _S1, _S2 = SIN_POLYNOMIAL
_C0, _C1, _C2 = COS_POLYNOMIAL
_HALF, _ONE, _ZERO, _MINUS_TWO = np.float32(0.5), np.float32(1.0), np.float32(0.0), np.float32(-2.0)
_UNIT = np.float32(2.0**-23)
_LOW_BITS = np.uint64(0xFFFFFFFF)
_HIGH_SHIFT = np.uint64(32)
_POSITION_MASK = np.uint32(2**POSITION_BITS - 1)
_FULL_OCTANT = np.int32(2**POSITION_BITS)

if ENABLED:

    @intrinsic
    def _bits_of(typingctx, value):
        """The int32 bit pattern of a float32 (an LLVM bitcast)."""
        if value != types.float32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int32))

        return types.int32(types.float32), codegen

    @intrinsic
    def _float_of(typingctx, value):
        """The float32 of an int32 bit pattern (an LLVM bitcast)."""
        if value != types.int32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float32))

        return types.float32(types.int32), codegen

    _inline = numba.njit(nogil=True, cache=True, inline="always", error_model="numpy")

    # Branch-free (selects only), so that loops over words vectorise.
    @_inline
    def _log(u):
        bits = _bits_of(u)
        exponent = np.float32(np.int32((bits >> np.int32(23)) - np.int32(126)))
        m = _float_of(np.int32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F000000)))
        small = m < SQRT_HALF
        exponent = exponent - (_ONE if small else _ZERO)
        x = (m - _ONE) + (m if small else _ZERO)
        z = x * x
        y = x * _P0
        y = (y + _P1) * x
        y = (y + _P2) * x
        y = (y + _P3) * x
        y = (y + _P4) * x
        y = (y + _P5) * x
        y = (y + _P6) * x
        y = (y + _P7) * x
        y = (y + _P8) * x
        y = y * z
        y = y + exponent * LOG_LN2_LOW
        y = y - z * _HALF
        x = x + y
        return x + exponent * LOG_LN2_HIGH

    @_inline
    def _sincos(word):
        octant = np.int32(word >> np.uint32(OCTANT_SHIFT))
        position = np.int32((word >> np.uint32(POSITION_SHIFT)) & _POSITION_MASK)
        odd = (octant & np.int32(1)) == np.int32(1)
        position = (_FULL_OCTANT - position) if odd else position
        psi = np.float32(position) * QUARTER_PI_PER_POSITION
        z = psi * psi
        sine = ((z * _S0 + _S1) * z + _S2) * z * psi + psi
        cosine = (((z * _C0 + _C1) * z + _C2) * z) * z - z * _HALF + _ONE
        sine = -sine if odd else sine
        # Quarter turns q: (cos, sin) -> (c, s), (-s, c), (-c, -s), (s, -c).
        quarter = ((octant + np.int32(1)) >> np.int32(1)) & np.int32(3)
        swap = (quarter & np.int32(1)) == np.int32(1)
        first = sine if swap else cosine
        second = cosine if swap else sine
        first = -first if (quarter == np.int32(1)) | (quarter == np.int32(2)) else first
        second = -second if quarter >= np.int32(2) else second
        return first, second

    @_inline
    def gaussian_pair(word):
        """Two standard normals of one 64-bit word, as :func:`sklearn_aimc._random.gaussian_pairs`."""
        low = np.uint32(word & _LOW_BITS)
        u = (np.float32(np.int32(low >> np.uint32(9))) + _HALF) * _UNIT
        radius = np.sqrt(_log(u) * _MINUS_TWO)
        cos_theta, sin_theta = _sincos(np.uint32(word >> _HIGH_SHIFT))
        return cos_theta * radius, sin_theta * radius

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def _fill(words, z_cos, z_sin):
        for k in range(words.size):
            z_cos[k], z_sin[k] = gaussian_pair(words[k])

else:  # pragma: no cover - without numba the numpy sampler runs
    gaussian_pair = None
    _fill = None


def fill_gaussian_pairs(words):
    """:func:`sklearn_aimc._random.gaussian_pairs` of a 1-D array of words, compiled.

    Parameters
    ----------
    words : ndarray of uint64 of shape (n,)

    Returns
    -------
    z_cos, z_sin : ndarray of float32 of shape (n,)
    """
    z_cos = np.empty(words.shape, np.float32)
    z_sin = np.empty(words.shape, np.float32)
    _fill(words, z_cos, z_sin)
    return z_cos, z_sin
