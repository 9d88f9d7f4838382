"""Random projection matrices of random-feature kernel approximations.

A shift-invariant kernel ``k(x - y)`` is the characteristic function of its
spectral distribution (Bochner's theorem), so ``k(x - y) = E[cos(w . (x - y))]``
for ``w`` drawn from it (Rahimi & Recht 2007).  :func:`sample_projection` draws
the matrix ``W`` whose columns are such ``w``; the crossbar then computes
``X @ W``.

Spectral distributions (iid coordinates, times the ``scale`` the caller sets):

* ``"gaussian"``: N(0, 1), for the RBF kernel ``exp(-gamma ||x - y||_2^2)``
  with ``scale = sqrt(2 gamma)``.
* ``"cauchy"``: standard Cauchy, for the Laplacian kernel
  ``exp(-gamma ||x - y||_1)`` with ``scale = gamma``.
* ``"laplace"``: Laplace(0, 1), for the Cauchy kernel
  ``prod_i 1 / (1 + gamma (x_i - y_i)^2)`` with ``scale = sqrt(gamma)``.

The scales follow from the characteristic functions ``exp(-c^2 t^2 / 2)``,
``exp(-c |t|)`` and ``1 / (1 + c^2 t^2)`` of ``c`` times each distribution.

Samplings:

* ``"rff"``: iid entries (Rahimi & Recht 2007).
* ``"orf"``: orthogonal random features (Yu et al. 2016).  Each block of ``d``
  projections is a Haar-distributed orthogonal matrix whose columns are
  rescaled by independent chi(d) samples, so every projection is exactly
  N(0, I_d) while projections of a block are orthogonal.
* ``"sorf"``: structured orthogonal random features (Yu et al. 2016), blocks
  ``sqrt(n) H D1 H D2 H D3``.  Entries have unit variance but projections are
  only approximately Gaussian: every row of a block has the same norm
  ``sqrt(n)`` instead of a chi(d) norm, and entries are multiples of ``1 / n``.
  The kernel estimate therefore has a bias (a floor of the error) that
  vanishes as ``d`` grows.

Yu et al. define ORF and SORF for the Gaussian only.  For the other spectral
distributions we apply the Gaussian copula ``w = F^{-1}(Phi(g))`` entry-wise to
each orthogonal Gaussian projection ``g``: for ORF the coordinates of every
projection are then exactly iid ``F`` while projections stay coupled through
their orthogonal Gaussian parents.  This generalisation is ours.

References
----------
.. [1] A. Rahimi and B. Recht, "Random features for large-scale kernel
   machines", NIPS 2007.
.. [2] F. X. Yu, A. T. Suresh, K. Choromanski, D. Holtmann-Rice and S. Kumar,
   "Orthogonal random features", NIPS 2016.
.. [3] J. Büchel et al., "Kernel approximation using analogue in-memory
   computing", Nature Machine Intelligence 2024.
"""

from numbers import Integral, Real

import numpy as np
from scipy import stats
from scipy.linalg import hadamard
from sklearn.utils import check_scalar

from ._random import as_generator

__all__ = ["SAMPLINGS", "SPECTRAL_DISTRIBUTIONS", "sample_projection"]

#: Unit-scale coordinate distribution of each spectral distribution.
SPECTRAL_DISTRIBUTIONS = {
    "gaussian": stats.norm(),
    "cauchy": stats.cauchy(),
    "laplace": stats.laplace(),
}
SAMPLINGS = ("rff", "orf", "sorf")


def sample_projection(
    n_features,
    n_projections,
    *,
    spectral="gaussian",
    scale=1.0,
    sampling="rff",
    random_state=None,
    dtype=np.float64,
):
    """Draw the projection matrix of a random-feature map.

    Parameters
    ----------
    n_features : int
        Input dimension ``d`` (rows of the matrix).
    n_projections : int
        Number of projections ``s`` (columns of the matrix).
    spectral : {"gaussian", "cauchy", "laplace"}, default="gaussian"
        Coordinate distribution of a projection; see the module docstring for
        the kernel each one approximates and the matching ``scale``.
    scale : float, default=1.0
        Positive factor applied to every entry.
    sampling : {"rff", "orf", "sorf"}, default="rff"
        Joint distribution of the projections: iid, orthogonal blocks, or
        structured (Hadamard) orthogonal blocks.
    random_state : numpy.random.Generator, int or None, default=None
        Source of every random draw; a Generator is advanced.
    dtype : {np.float64, np.float32}, default=np.float64
        Output dtype.  Samples are drawn in float64 and rounded, so both dtypes
        give the same matrix up to rounding.

    Returns
    -------
    projection : ndarray of shape (n_features, n_projections)
        C-contiguous; column ``j`` is projection ``w_j``.
    """
    check_scalar(n_features, "n_features", Integral, min_val=1)
    check_scalar(n_projections, "n_projections", Integral, min_val=1)
    check_scalar(scale, "scale", Real, min_val=0, include_boundaries="neither")
    if not np.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale!r}.")
    if spectral not in SPECTRAL_DISTRIBUTIONS:
        raise ValueError(
            f"spectral must be one of {sorted(SPECTRAL_DISTRIBUTIONS)}, got {spectral!r}."
        )
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}.")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}.")

    rng = as_generator(random_state)
    distribution = SPECTRAL_DISTRIBUTIONS[spectral]
    shape = (n_features, n_projections)
    if sampling == "rff":
        projection = distribution.rvs(size=shape, random_state=rng)
    else:
        sample = orthogonal_gaussian if sampling == "orf" else structured_orthogonal
        projection = gaussian_copula(sample(n_features, n_projections, rng), spectral)
    projection *= scale
    return np.ascontiguousarray(projection, dtype=dtype)


def orthogonal_gaussian(n_features, n_projections, rng):
    """Orthogonal random features: N(0, I) columns, orthogonal within blocks of ``d``.

    Returns
    -------
    projection : ndarray of shape (n_features, n_projections)
    """
    n_blocks = -(-n_projections // n_features)
    rotations = stats.ortho_group.rvs(n_features, size=n_blocks, random_state=rng)
    rotations = rotations.reshape(n_blocks, n_features, n_features)
    norms = stats.chi(n_features).rvs(size=n_projections, random_state=rng)
    directions = concatenate_blocks(rotations)[:, :n_projections]
    return directions * norms


def structured_orthogonal(n_features, n_projections, rng):
    """Structured orthogonal random features: blocks ``sqrt(n) H D1 H D2 H D3``.

    ``H`` is the normalised Hadamard matrix of size ``n``, the smallest power
    of two ``>= d``, and the ``Di`` are independent random sign diagonals.  A
    block projects inputs zero-padded to ``n`` features, so in our orientation
    (the transpose of Yu et al.'s) only its first ``d`` rows are kept.

    Returns
    -------
    projection : ndarray of shape (n_features, n_projections)
    """
    size = 1 << (n_features - 1).bit_length()
    n_blocks = -(-n_projections // size)
    d1, d2, d3 = rng.choice(np.array([-1.0, 1.0]), size=(3, n_blocks, size))
    # Kept rows of every transposed block sqrt(n) D3 H D2 H D1 H, all blocks in
    # two matrix products.  With the +-1 Hadamard matrix every product holds
    # integers, so it is exact; sqrt(n) (1 / sqrt(n))^3 = 1 / n comes last.
    plus_minus_one = hadamard(size, dtype=np.float64)
    rows = plus_minus_one[:n_features] * d2[:, None, :]
    rows = (rows.reshape(-1, size) @ plus_minus_one).reshape(rows.shape) * d1[:, None, :]
    rows = (rows.reshape(-1, size) @ plus_minus_one).reshape(rows.shape)
    rows *= d3[:, :n_features, None] / size
    return concatenate_blocks(rows)[:, :n_projections]


def concatenate_blocks(blocks):
    """Stack of ``(d, m)`` blocks side by side into a ``(d, n_blocks * m)`` matrix."""
    n_blocks, n_rows, n_columns = blocks.shape
    return blocks.transpose(1, 0, 2).reshape(n_rows, n_blocks * n_columns)


def gaussian_copula(gaussian, spectral):
    """Map standard normal entries to ``spectral`` entries: ``F^{-1}(Phi(g))``.

    Evaluated through the tail ``sign(g) F^{-1}(1 - Phi(-|g|))`` of the
    symmetric target so that large ``|g|`` keeps full precision.
    """
    if spectral == "gaussian":
        return gaussian
    tail = stats.norm.sf(np.abs(gaussian))
    return np.copysign(SPECTRAL_DISTRIBUTIONS[spectral].isf(tail), gaussian)
