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
(:func:`row_keys`, :func:`counter_words`, :func:`box_muller_from_words`).
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "as_generator",
    "box_muller_float32",
    "box_muller_from_words",
    "counter_words",
    "entropy_from",
    "keyed_generator",
    "mix64",
    "normals_from_box_muller",
    "normals_per_row",
    "row_keys",
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


def fill_normal_float32(rng, out, scale=None):
    """Fill a C-contiguous float32 array with Gaussian samples, in place.

    Uses the Box-Muller transform on 32-bit words of the bit generator,
    vectorised in single precision (:func:`box_muller_float32`, then
    :func:`normals_from_box_muller`): on the 2-core machines this project
    targets it is several times faster than numpy's float32 ziggurat (see
    ``benchmarks/``), which matters because every read of the crossbar needs
    one output-noise sample per MVM output.  Box-Muller is an exact transform;
    the 23-bit uniform of the radius bounds samples to ``|z| <= 5.77``, a
    two-sided tail of probability 8e-9.

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
    log_u, tan_half_angle = box_muller_float32(rng, (out.size + 1) // 2)
    normals_from_box_muller(log_u, tan_half_angle, out)
    if scale is not None:
        out *= scale
    return out


def box_muller_float32(rng, n_pairs):
    """The random inputs of ``n_pairs`` Box-Muller pairs, in float32.

    A pair of independent standard normals is ``r cos(theta), r sin(theta)``
    with ``r = sqrt(-2 ln u)``, ``u`` uniform on (0, 1) and ``theta`` uniform
    on [-pi, pi).  ``u`` takes the top 23 bits of a 32-bit word, offset to
    [2**-24, 1 - 2**-24] (never 0 or 1); ``theta / 2`` is a 32-bit word times
    ``pi / 2**32``.  Both come from one 64-bit ``random_raw`` draw per pair.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_pairs : int

    Returns
    -------
    log_u, tan_half_angle : ndarray of float32 of shape (n_pairs,)
        ``ln u`` and ``tan(theta / 2)``; :func:`normals_from_box_muller`
        turns them into the normals.
    """
    words = rng.bit_generator.random_raw(n_pairs).view(np.int32)
    radius_words, angle_words = words[:n_pairs], words[n_pairs:]
    # In place: each float32 result overwrites the int32 word it came from.
    np.right_shift(radius_words, 9, out=radius_words)
    log_u = np.multiply(radius_words, np.float32(2.0**-23), out=radius_words.view(np.float32), dtype=np.float32)
    log_u += np.float32(0.5 + 2.0**-24)
    np.log(log_u, out=log_u)
    tan_half_angle = np.multiply(
        angle_words, np.float32(np.pi / 2.0**32), out=angle_words.view(np.float32), dtype=np.float32
    )
    np.tan(tan_half_angle, out=tan_half_angle)
    return log_u, tan_half_angle


def normals_from_box_muller(log_u, tan_half_angle, out):
    """Standard normals from :func:`box_muller_float32`'s output, written into ``out``.

    With ``t = tan(theta / 2)`` and ``d = t**2 + 1``, ``r cos(theta) = (2 - d) (r / d)``
    and ``r sin(theta) = (t + t) (r / d)``: one ``tan`` replaces a ``cos`` and a ``sin``,
    numpy's costliest float32 functions here.  The pair of draw ``k`` lands at
    flat positions ``k`` (cosine) and ``k + n_pairs`` (sine) of ``out``.
    Every step is an exactly rounded float32 operation.  ``log_u`` is
    overwritten.

    Parameters
    ----------
    log_u, tan_half_angle : ndarray of float32 of shape (n_pairs,)
    out : ndarray of float32 of size ``2 n_pairs`` or ``2 n_pairs - 1``, C-contiguous

    Returns
    -------
    out : ndarray
    """
    n_pairs = log_u.size
    flat = out.reshape(-1)
    cosines, sines = flat[:n_pairs], flat[n_pairs:]
    radius_over_d = log_u
    radius_over_d *= np.float32(-2.0)
    np.sqrt(radius_over_d, out=radius_over_d)
    d = np.square(tan_half_angle, out=cosines)
    d += np.float32(1.0)
    radius_over_d /= d
    np.subtract(np.float32(2.0), d, out=cosines)
    cosines *= radius_over_d
    n_sines = sines.size
    np.add(tan_half_angle[:n_sines], tan_half_angle[:n_sines], out=sines)
    sines *= radius_over_d[:n_sines]
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


def box_muller_from_words(words, log_u, tan_half_angle, scratch=None):
    """The Box-Muller inputs of one pair per 64-bit word, in float32.

    As :func:`box_muller_float32`: the low 32 bits give ``u``, the top 23
    bits of the word offset to [2**-24, 1 - 2**-24]; the high 32 bits give
    ``theta / 2`` as a signed word times ``pi / 2**32``.

    Parameters
    ----------
    words : ndarray of uint64 of shape (n_rows, n_pairs), C-contiguous
    log_u, tan_half_angle : ndarray of float32 of shape (n_rows, n_pairs)
        Receive ``ln u`` and ``tan(theta / 2)``.
    scratch : ndarray of int32 of shape (n_rows, n_pairs), default=None

    Returns
    -------
    log_u, tan_half_angle : ndarray
    """
    halves = words.view(np.int32)  # little-endian: low half first
    radius_words, angle_words = halves[:, 0::2], halves[:, 1::2]
    scratch = np.empty(log_u.shape, dtype=np.int32) if scratch is None else scratch
    np.right_shift(radius_words, 9, out=scratch)
    np.multiply(scratch, np.float32(2.0**-23), out=log_u, dtype=np.float32)
    log_u += np.float32(0.5 + 2.0**-24)
    np.log(log_u, out=log_u)
    np.multiply(angle_words, np.float32(np.pi / 2.0**32), out=tan_half_angle, dtype=np.float32)
    np.tan(tan_half_angle, out=tan_half_angle)
    return log_u, tan_half_angle


def normals_per_row(log_u, tan_half_angle, out):
    """Standard normals from Box-Muller inputs, one row of pairs per output row.

    Row ``r`` of ``out`` (``n`` outputs, ``P = ceil(n / 2)`` pairs) receives
    the cosines of its pairs at positions ``0 .. P-1`` and the sines of the
    first ``n - P`` pairs after them, with the arithmetic of
    :func:`normals_from_box_muller`.  ``log_u`` is overwritten.

    Parameters
    ----------
    log_u, tan_half_angle : ndarray of float32 of shape (n_rows, P)
    out : ndarray of float32 of shape (n_rows, n)

    Returns
    -------
    out : ndarray
    """
    n_pairs = log_u.shape[1]
    cosines, sines = out[:, :n_pairs], out[:, n_pairs:]
    n_sines = sines.shape[1]
    radius_over_d = log_u
    radius_over_d *= np.float32(-2.0)
    np.sqrt(radius_over_d, out=radius_over_d)
    d = np.square(tan_half_angle, out=cosines)
    d += np.float32(1.0)
    radius_over_d /= d
    np.subtract(np.float32(2.0), d, out=cosines)
    cosines *= radius_over_d
    np.add(tan_half_angle[:, :n_sines], tan_half_angle[:, :n_sines], out=sines)
    sines *= radius_over_d[:, :n_sines]
    return out
