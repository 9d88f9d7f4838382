"""Random streams of sklearn-aimc.

Every random number of the package comes from a :class:`numpy.random.Generator`.
A programmed crossbar owns one :class:`numpy.random.SeedSequence`; each physical
effect (programming noise, drift exponents, device faults, read noise at a given
time, output noise of a given read) draws from its own child stream, addressed by
a fixed key.  Streams therefore do not depend on the order in which effects are
simulated, on chunking across threads, or on the process: the same seed gives
bit-identical results everywhere.

The output noise of a read is counter-based instead: a function of the chip's
seed, the read time, the row's input codes and the output's position, so that a
row reads the same whether it is read alone or inside any batch
(:func:`row_keys`, :func:`counter_words`, :func:`normals_per_row`).  Gaussian
samples use exactly rounded float32 operations only (:func:`gaussian_pairs`),
so they are the same on every CPU.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "as_generator",
    "counter_words",
    "gaussian_pairs",
    "entropy_from",
    "keyed_generator",
    "log_float32",
    "mix64",
    "normals_per_row",
    "row_keys",
    "sincos_float32",
    "standard_normal",
]

# Stream identifiers of the seed tree of a programmed crossbar.
STREAM_PROGRAMMING = 1
STREAM_READ_NOISE = 2
STREAM_OUTPUT_NOISE = 3
STREAM_CALIBRATION = 4
STREAM_DRIFT_EXPONENTS = 5
STREAM_FAULTS = 6
STREAM_ROW_HASH = 7
STREAM_REFERENCE_READ = 8

# The constants of splitmix64 (Steele, Lea & Flood, "Fast splittable
# pseudorandom number generators", OOPSLA 2014; the finaliser of Java's
# SplittableRandom and of Vigna's splitmix64.c): the golden-ratio increment and
# the two multipliers of the bit mixer.
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
MIX_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))


def entropy_from(random_state):
    """Draw 128 bits of seed entropy from any scikit-learn ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance, Generator or None
        ``None`` draws fresh entropy from the operating system.

    Returns
    -------
    entropy : int
        A non-negative integer suitable for :class:`numpy.random.SeedSequence`.
    """
    if isinstance(random_state, np.random.Generator):
        words = random_state.integers(0, 2**32, size=4, dtype=np.uint64)
    elif random_state is None:
        return np.random.SeedSequence().entropy
    else:
        words = check_random_state(random_state).randint(0, 2**32, size=4, dtype=np.uint64)
    return sum(int(word) << (32 * i) for i, word in enumerate(words))


def as_generator(random_state):
    """Turn a scikit-learn ``random_state`` into a :class:`numpy.random.Generator`.

    A Generator is used as is (draws advance it); an int seeds a new one; a
    :class:`numpy.random.RandomState` seeds a new Generator from its stream.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    return np.random.default_rng(entropy_from(random_state))


def keyed_generator(entropy, *key):
    """Generator of the child stream ``key`` of the seed tree rooted at ``entropy``.

    Parameters
    ----------
    entropy : int
        Root entropy of the tree.
    *key : int
        Non-negative integers addressing the stream (e.g. effect, time, chunk).

    Returns
    -------
    generator : numpy.random.Generator
        Backed by :class:`numpy.random.SFC64`, the fastest of numpy's bit
        generators (it passes the PractRand and TestU01 BigCrush batteries).
    """
    seed = np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in key))
    return np.random.Generator(np.random.SFC64(seed))


def float_key(value):
    """Integer key of a float (its IEEE-754 bits), for time-addressed streams."""
    return int(np.float64(value).view(np.uint64))


def standard_normal(rng, shape, dtype=np.float64):
    """Standard normal samples of the given ``dtype``.

    float64 samples come from :meth:`numpy.random.Generator.standard_normal`;
    float32 samples from :func:`fill_normal_float32`.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : int or tuple of int
    dtype : {np.float64, np.float32}

    Returns
    -------
    samples : ndarray of shape ``shape`` and dtype ``dtype``
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return rng.standard_normal(shape)
    out = np.empty(shape, dtype=np.float32)
    return fill_normal_float32(rng, out)


# The single-precision logarithm and sine / cosine of the Cephes Mathematical
# Library (S. L. Moshier, logf.c, sinf.c, cosf.c; the coefficients as in J.
# Pommier's avx_mathfun.h): minimax polynomials on [sqrt(1/2), sqrt(2)) and on
# [0, pi/4], about one ulp.  Computed here with exactly rounded IEEE additions
# and multiplications only, in a fixed order, they give the same bits on every
# CPU and in the compiled read-out, unlike a library's float32 log or tan.
LOG_POLYNOMIAL = tuple(np.float32(c) for c in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
))
LOG_LN2_LOW, LOG_LN2_HIGH = np.float32(-2.12194440e-4), np.float32(0.693359375)
SQRT_HALF = np.float32(0.707106781186547524)
SIN_POLYNOMIAL = tuple(np.float32(c) for c in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1))
COS_POLYNOMIAL = tuple(np.float32(c) for c in (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2))
# A 32-bit angle word: its top 3 bits are the octant, the next 24 the position in it.
OCTANT_SHIFT, POSITION_SHIFT, POSITION_BITS = 29, 5, 24
QUARTER_PI_PER_POSITION = np.float32(np.pi / 4 / 2.0**24)
_F32 = np.float32


def unit_uniform_float32(words32):
    """``u = (top 23 bits + 1/2) / 2**23``, in (0, 1), from 32-bit words (exact in float32)."""
    u = np.right_shift(words32.astype(np.uint32, copy=False), np.uint32(9)).astype(np.float32)
    u += _F32(0.5)
    u *= _F32(2.0**-23)
    return u


def log_float32(u):
    """Natural logarithm of positive normal float32 values, Cephes' logf with basic operations.

    Parameters
    ----------
    u : ndarray of float32
        Positive normal numbers.

    Returns
    -------
    log_u : ndarray of float32
    """
    bits = u.view(np.int32)
    exponent = (np.right_shift(bits, 23) - 126).astype(np.float32)  # u = m 2**exponent, 0.5 <= m < 1
    m = np.bitwise_or(np.bitwise_and(bits, 0x007FFFFF), 0x3F000000).view(np.float32)
    small = m < SQRT_HALF
    exponent -= small
    x = m - _F32(1.0)
    x += np.where(small, m, _F32(0.0))  # 2m - 1 below sqrt(1/2), m - 1 above: both exact
    z = x * x
    y = np.multiply(x, LOG_POLYNOMIAL[0])
    for coefficient in LOG_POLYNOMIAL[1:]:
        y += coefficient
        y *= x
    y *= z
    y += exponent * LOG_LN2_LOW
    y -= z * _F32(0.5)
    x += y
    x += exponent * LOG_LN2_HIGH
    return x


def sincos_float32(words32):
    """Cosine and sine of the angles ``2 pi w / 2**32`` of 32-bit words, with basic operations.

    The top 3 bits of a word pick one of 8 octants and the next 24 the angle
    in it; the polynomials of Cephes' sinf / cosf run on [0, pi/4] and the
    octant's symmetry gives the result.

    Parameters
    ----------
    words32 : ndarray of uint32 (or int32)

    Returns
    -------
    cos, sin : ndarray of float32
    """
    words = words32.view(np.uint32) if words32.dtype == np.int32 else words32.astype(np.uint32, copy=False)
    octant = np.right_shift(words, np.uint32(OCTANT_SHIFT)).astype(np.int32)
    position = np.bitwise_and(np.right_shift(words, np.uint32(POSITION_SHIFT)), np.uint32(2**POSITION_BITS - 1))
    odd = np.bitwise_and(octant, 1).astype(bool)
    position = np.where(odd, np.int32(2**POSITION_BITS) - position.astype(np.int32), position.astype(np.int32))
    psi = position.astype(np.float32) * QUARTER_PI_PER_POSITION  # in [0, pi/4]
    z = psi * psi
    sine = z * SIN_POLYNOMIAL[0]
    sine += SIN_POLYNOMIAL[1]
    sine *= z
    sine += SIN_POLYNOMIAL[2]
    sine *= z
    sine *= psi
    sine += psi
    cosine = z * COS_POLYNOMIAL[0]
    cosine += COS_POLYNOMIAL[1]
    cosine *= z
    cosine += COS_POLYNOMIAL[2]
    cosine *= z
    cosine *= z
    cosine -= z * _F32(0.5)
    cosine += _F32(1.0)
    # theta = k pi/4 + phi: (cos, sin) of psi, mirrored in odd octants, turned by quarter turns.
    sine = np.where(odd, -sine, sine)
    quarter = np.bitwise_and(np.right_shift(octant + 1, 1), 3)
    cos_theta = np.select([quarter == 0, quarter == 1, quarter == 2], [cosine, -sine, -cosine], sine)
    sin_theta = np.select([quarter == 0, quarter == 1, quarter == 2], [sine, cosine, -sine], -cosine)
    return cos_theta, sin_theta


def gaussian_pairs(words):
    """Two independent standard normals per 64-bit word, by the Box-Muller transform.

    ``r cos(theta)`` and ``r sin(theta)`` with ``r = sqrt(-2 ln u)``: ``u``
    from the low 32 bits (:func:`unit_uniform_float32`, so ``|z| <= 5.77``,
    a two-sided tail of 8e-9), ``theta`` from the high 32 bits
    (:func:`sincos_float32`).  Exactly rounded float32 operations only: the
    same bits on every machine.

    Parameters
    ----------
    words : ndarray of uint64

    Returns
    -------
    z_cos, z_sin : ndarray of float32, shape of ``words``
    """
    halves = np.ascontiguousarray(words).view(np.uint32).reshape(*words.shape, 2)  # little-endian: low first
    radius = log_float32(unit_uniform_float32(halves[..., 0]))
    radius *= _F32(-2.0)
    np.sqrt(radius, out=radius)
    cos_theta, sin_theta = sincos_float32(halves[..., 1])
    cos_theta *= radius
    sin_theta *= radius
    return cos_theta, sin_theta


def fill_normal_float32(rng, out, scale=None):
    """Fill a float32 array with Gaussian samples, in place.

    One 64-bit word of the bit generator per pair of samples
    (:func:`gaussian_pairs`): the cosines of the ``ceil(n / 2)`` pairs fill the
    first half of the flat array, their sines the rest.

    Parameters
    ----------
    rng : numpy.random.Generator
    out : ndarray of float32, C-contiguous
        Receives the samples.
    scale : ndarray of float32 of shape (out.shape[-1],), default=None
        Standard deviation per position along the last axis (1 when None).

    Returns
    -------
    out : ndarray
    """
    n_pairs = (out.size + 1) // 2
    words = rng.bit_generator.random_raw(n_pairs)
    from . import _random_compiled  # the compiled twin gives the same bits, faster

    z_cos, z_sin = _random_compiled.fill_gaussian_pairs(words) if _random_compiled.ENABLED else gaussian_pairs(words)
    flat = out.reshape(-1)
    flat[:n_pairs] = z_cos
    flat[n_pairs:] = z_sin[: out.size - n_pairs]
    if scale is not None:
        out *= scale
    return out


def mix64(words, scratch=None):
    """The splitmix64 bit mixer, applied in place to an array of uint64 words.

    A bijection of 64-bit words whose every output bit depends on every input
    bit (it passes BigCrush as a counter-based generator); all arithmetic wraps
    modulo 2**64.

    Parameters
    ----------
    words : ndarray of uint64
        Mixed in place.
    scratch : ndarray of uint64, shape of ``words``, default=None
        Space for the shifted words (allocated when None).

    Returns
    -------
    words : ndarray
    """
    scratch = np.empty_like(words) if scratch is None else scratch
    for shift, multiplier in zip(MIX_SHIFTS, MIX_MULTIPLIERS):
        np.right_shift(words, shift, out=scratch)
        np.bitwise_xor(words, scratch, out=words)
        np.multiply(words, multiplier, out=words)
    np.right_shift(words, MIX_SHIFTS[2], out=scratch)
    return np.bitwise_xor(words, scratch, out=words)


def hash_multipliers(entropy, n_inputs):
    """Odd 64-bit multipliers of the row hash of :func:`row_keys`, one per input position."""
    rng = keyed_generator(entropy, STREAM_ROW_HASH)
    multipliers = rng.integers(0, 2**63, size=n_inputs, dtype=np.uint64, endpoint=True)
    multipliers <<= np.uint64(1)
    return multipliers | np.uint64(1)


def integer_codes(codes, quantised):
    """Input codes as the uint64 words the row hash sums (two's complement).

    Quantised codes are integers held in floats; unquantised ones enter with
    their float32 bits (``-0.0`` as ``0.0``).
    """
    if quantised:
        return codes.astype(np.int64).view(np.uint64)
    bits = np.add(codes, np.float32(0.0), dtype=np.float32)  # -0.0 + 0.0 is +0.0
    return bits.view(np.int32).astype(np.int64).view(np.uint64)


def row_keys(words, multipliers):
    """64-bit key of each row of input codes: ``mix64(sum_k words[:, k] * multipliers[k])``.

    A multilinear hash with random odd multipliers: two rows that differ get
    the same sum with probability at most 2**-55 over the multipliers (the
    differences of 8-bit codes have at most 8 trailing zero bits), and the
    mixer spreads it over all bits.

    Parameters
    ----------
    words : ndarray of uint64 of shape (n_rows, n_inputs)
        From :func:`integer_codes`.
    multipliers : ndarray of uint64 of shape (n_inputs,)
        From :func:`hash_multipliers`.

    Returns
    -------
    keys : ndarray of uint64 of shape (n_rows,)
    """
    return mix64(words @ multipliers)


def counters(n_pairs):
    """``(k + 1) * GOLDEN_GAMMA`` for k < ``n_pairs``: the counter of each pair of outputs in a row."""
    return np.arange(1, n_pairs + 1, dtype=np.uint64) * GOLDEN_GAMMA


def counter_words(base, pair_counters, out, scratch=None):
    """splitmix64 outputs ``mix64(base[r] + pair_counters[k])``, into ``out[r, k]``.

    Parameters
    ----------
    base : ndarray of uint64 of shape (n_rows,)
        One stream key per row.
    pair_counters : ndarray of uint64 of shape (n_pairs,)
        From :func:`counters`.
    out : ndarray of uint64 of shape (n_rows, n_pairs), C-contiguous
    scratch : ndarray like ``out``, default=None

    Returns
    -------
    out : ndarray
    """
    np.add(base[:, None], pair_counters[None, :], out=out)
    return mix64(out, scratch)


def normals_per_row(words, out):
    """Standard normals of the counter words of each row, one pair per word.

    Row ``r`` of ``out`` (``n`` outputs, ``P = ceil(n / 2)`` words) receives
    the cosine normals of its words at positions ``0 .. P-1`` and the sine
    normals of the first ``n - P`` words after them (:func:`gaussian_pairs`).

    Parameters
    ----------
    words : ndarray of uint64 of shape (n_rows, P)
    out : ndarray of float32 of shape (n_rows, n)

    Returns
    -------
    out : ndarray
    """
    n_pairs = words.shape[1]
    z_cos, z_sin = gaussian_pairs(words)
    out[:, :n_pairs] = z_cos
    out[:, n_pairs:] = z_sin[:, : out.shape[1] - n_pairs]
    return out
