"""Exact kernels approximated by the random-feature estimators, and the error metric.

The functions follow :mod:`sklearn.metrics.pairwise`: they take ``X`` of shape
(n_samples_X, n_features) and ``Y`` of shape (n_samples_Y, n_features), with
``Y=None`` meaning ``Y=X``, and return the kernel matrix of shape
(n_samples_X, n_samples_Y).  The RBF and Laplacian kernels are
:func:`sklearn.metrics.pairwise.rbf_kernel` and
:func:`sklearn.metrics.pairwise.laplacian_kernel`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.metrics.pairwise import check_pairwise_arrays
from sklearn.preprocessing import normalize
from sklearn.utils import check_array, gen_batches
from sklearn.utils._param_validation import Interval, Options, validate_params
from sklearn.utils.extmath import row_norms, safe_sparse_dot

__all__ = [
    "arccos_kernel",
    "cauchy_kernel",
    "kernel_approximation_error",
    "softmax_kernel",
]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "Y": ["array-like", "sparse matrix", None],
        "order": [Options(Integral, {0, 1, 2})],
    },
    prefer_skip_nested_validation=True,
)
def arccos_kernel(X, Y=None, order=0):
    """Arc-cosine kernel of order 0, 1 or 2 (Cho & Saul, 2009).

    ``k_n(x, y) = (1 / pi) ||x||^n ||y||^n J_n(theta)`` with ``theta`` the
    angle between ``x`` and ``y`` and

    * ``J_0 = pi - theta``
    * ``J_1 = sin(theta) + (pi - theta) cos(theta)``
    * ``J_2 = 3 sin(theta) cos(theta) + (pi - theta) (1 + 2 cos(theta)^2)``

    It equals ``2 E[H(w.x) H(w.y) (w.x)^n (w.y)^n]`` for ``w ~ N(0, I)`` and
    the Heaviside step ``H``, so the features ``sqrt(2 / s) H(W x) (W x)^n``
    of ``s`` Gaussian projections approximate it.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        A feature array.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        An optional second feature array.  If `None`, uses `Y=X`.
    order : {0, 1, 2}, default=0
        Order ``n`` of the kernel: 0 is the step, 1 the ramp (ReLU), 2 the
        quarter-pipe activation of an infinitely wide one-layer network.

    Returns
    -------
    kernel : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix.

    Notes
    -----
    The cosine of the angle is clipped to [-1, 1] and is exactly 1 on the
    diagonal of ``arccos_kernel(X)``.  A zero vector makes an angle of
    ``pi / 2`` with every vector, itself included: this is the value of the
    integral above with ``H(0) = 1 / 2``, so ``k_0(x, 0) = 1 / 2``, while
    ``k_1`` and ``k_2`` vanish through the norm factor.

    References
    ----------
    .. [1] Y. Cho and L. K. Saul, "Kernel methods for deep learning",
       NIPS 2009.
    .. [2] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 2024.

    Examples
    --------
    >>> from sklearn_aimc.kernels import arccos_kernel
    >>> X = [[1.0, 0.0], [0.0, 2.0]]
    >>> arccos_kernel(X, order=0)
    array([[1. , 0.5],
           [0.5, 1. ]])
    >>> arccos_kernel(X, order=1)
    array([[1.        , 0.63661977],
           [0.63661977, 4.        ]])
    """
    X, Y = check_pairwise_arrays(X, Y)
    X_directions, X_norms = normalize(X), row_norms(X)
    if Y is X:
        Y_directions, Y_norms = X_directions, X_norms
    else:
        Y_directions, Y_norms = normalize(Y), row_norms(Y)

    # Zero rows stay zero after normalize: cosine 0, i.e. theta = pi / 2.
    cosine = safe_sparse_dot(X_directions, Y_directions.T, dense_output=True)
    np.clip(cosine, -1.0, 1.0, out=cosine)
    if Y is X:
        np.fill_diagonal(cosine, X_norms > 0)

    kernel = _arccos_angular_part(cosine, order)
    kernel /= np.pi
    if order > 0:
        kernel *= np.outer(X_norms, Y_norms) ** order
    return kernel


def _arccos_angular_part(cosine, order):
    """``J_n(theta)`` of Cho & Saul (2009), eq. (6), from ``cos(theta)``."""
    theta = np.arccos(cosine)
    if order == 0:
        return np.pi - theta
    sine = np.sin(theta)
    if order == 1:
        return sine + (np.pi - theta) * cosine
    return 3 * sine * cosine + (np.pi - theta) * (1 + 2 * cosine**2)


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like", None],
        "gamma": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def cauchy_kernel(X, Y=None, gamma=1.0):
    """Cauchy kernel ``prod_i 1 / (1 + gamma (x_i - y_i)^2)``.

    The product of one-dimensional Cauchy kernels over features, whose
    spectral distribution is iid Laplace(0, sqrt(gamma)) (Rahimi & Recht,
    2007).  It is evaluated as ``exp(-sum_i log1p(gamma (x_i - y_i)^2))`` on
    blocks of rows and features, so the temporary memory stays within
    scikit-learn's ``working_memory`` (see :func:`sklearn.set_config`), or one
    row of the result if that is larger.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        A feature array.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        An optional second feature array.  If `None`, uses `Y=X`.
    gamma : float, default=1.0
        Inverse squared length scale; must be positive.

    Returns
    -------
    kernel : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix.

    References
    ----------
    .. [1] A. Rahimi and B. Recht, "Random features for large-scale kernel
       machines", NIPS 2007.

    Examples
    --------
    >>> from sklearn_aimc.kernels import cauchy_kernel
    >>> X = [[0.0, 0.0], [1.0, 1.0]]
    >>> cauchy_kernel(X)
    array([[1.  , 0.25],
           [0.25, 1.  ]])
    """
    X, Y = check_pairwise_arrays(X, Y, accept_sparse=False)
    log_kernel = np.zeros((X.shape[0], Y.shape[0]), dtype=X.dtype)
    row_chunk, feature_block = _cauchy_block_sizes(*X.shape, Y.shape[0], X.dtype.itemsize)
    for rows in gen_batches(X.shape[0], row_chunk):
        for features in gen_batches(X.shape[1], feature_block):
            terms = np.subtract(X[rows, None, features], Y[None, :, features])
            np.square(terms, out=terms)
            terms *= gamma
            np.log1p(terms, out=terms)
            log_kernel[rows] -= terms.sum(axis=2)
    return np.exp(log_kernel, out=log_kernel)


def _cauchy_block_sizes(n_samples_X, n_features, n_samples_Y, itemsize):
    """Rows of X and features per block of the ``(rows, n_samples_Y, features)`` temporary."""
    budget = max(int(get_config()["working_memory"] * 2**20) // itemsize, 1)
    feature_block = min(max(budget // n_samples_Y, 1), n_features)
    row_chunk = min(max(budget // (n_samples_Y * feature_block), 1), n_samples_X)
    return row_chunk, feature_block


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "Y": ["array-like", "sparse matrix", None],
    },
    prefer_skip_nested_validation=True,
)
def softmax_kernel(X, Y=None):
    """Unnormalised softmax kernel ``exp(<x, y>)``.

    The kernel of dot-product attention: ``softmax(Q K^T)`` normalises the
    rows of ``softmax_kernel(Q, K)``.  FAVOR+ (Choromanski et al., 2021)
    approximates it with positive random features; attention scales queries and
    keys by ``n_features ** -0.25`` first, which the caller does.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        A feature array (e.g. queries).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        An optional second feature array (e.g. keys).  If `None`, uses `Y=X`.

    Returns
    -------
    kernel : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; overflows to ``inf`` where ``x . y`` exceeds the
        range of the dtype.

    References
    ----------
    .. [1] K. Choromanski et al., "Rethinking attention with Performers",
       ICLR 2021.

    Examples
    --------
    >>> from sklearn_aimc.kernels import softmax_kernel
    >>> softmax_kernel([[1.0, 0.0], [0.0, 0.0]])
    array([[2.71828183, 1.        ],
           [1.        , 1.        ]])
    """
    X, Y = check_pairwise_arrays(X, Y)
    kernel = safe_sparse_dot(X, Y.T, dense_output=True)
    return np.exp(kernel, out=kernel)


@validate_params(
    {"K": ["array-like"], "K_approx": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def kernel_approximation_error(K, K_approx):
    """Relative Frobenius error ``||K - K_approx||_F / ||K||_F``.

    The kernel approximation error of Büchel et al. (2024).

    Parameters
    ----------
    K : array-like of shape (n_samples_X, n_samples_Y)
        Exact kernel matrix; must not be all zero.
    K_approx : array-like of shape (n_samples_X, n_samples_Y)
        Its approximation, e.g. ``Z_X @ Z_Y.T`` for random features ``Z``.

    Returns
    -------
    error : float
        Non-negative relative error; 0 for an exact approximation.

    References
    ----------
    .. [1] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 2024.

    Examples
    --------
    >>> from sklearn_aimc.kernels import kernel_approximation_error
    >>> kernel_approximation_error([[4.0, 0.0], [0.0, 3.0]], [[4.0, 0.0], [0.0, 0.0]])
    0.6
    """
    K = check_array(K, dtype="numeric", input_name="K")
    K_approx = check_array(K_approx, dtype="numeric", input_name="K_approx")
    if K.shape != K_approx.shape:
        raise ValueError(
            f"K and K_approx must have the same shape, got {K.shape} and {K_approx.shape}."
        )
    reference = np.linalg.norm(K)
    if reference == 0:
        raise ValueError("K must not be all zero: the relative error is undefined.")
    return float(np.linalg.norm(K - K_approx) / reference)
