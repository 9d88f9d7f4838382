"""Random streams of sklearn-aimc.

Every random number of the package comes from a :class:`numpy.random.Generator`.
A programmed crossbar owns one :class:`numpy.random.SeedSequence`; each physical
effect (programming noise, drift exponents, device faults, read noise at a given
time, output noise of a given read) draws from its own child stream, addressed by
a fixed key.  Streams therefore do not depend on the order in which effects are
simulated, on chunking across threads, or on the process: the same seed gives
bit-identical results everywhere.
"""

import hashlib
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "as_generator",
    "box_muller_float32",
    "entropy_from",
    "keyed_generator",
    "normals_from_box_muller",
    "standard_normal",
]

# Stream identifiers of the seed tree of a programmed crossbar.
STREAM_PROGRAMMING = 1
STREAM_READ_NOISE = 2
STREAM_OUTPUT_NOISE = 3
STREAM_CALIBRATION = 4


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


def content_key(array):
    """64-bit digest of an array's bytes, for content-addressed streams.

    SHA-256 runs on the CPU's SHA extensions where present, the fastest of
    :mod:`hashlib`'s digests on the machines this project targets.
    """
    digest = hashlib.sha256(np.ascontiguousarray(array).data).digest()
    return int.from_bytes(digest[:8], "little")


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
        turns them into the normals (the compiled read-out of
        :mod:`sklearn_aimc._compiled` does the same arithmetic inline).
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
