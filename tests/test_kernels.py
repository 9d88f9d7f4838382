"""Tests of sklearn_aimc.kernels.

Monte-Carlo checks use fixed seeds and a tolerance of 5 standard errors per
kernel entry (two-sided p = 6e-7, below 1e-4 over the 100 entries tested), the
standard error being the sample standard deviation of the per-projection
products divided by sqrt(s).
"""

import doctest
import math
import tracemalloc

import numpy as np
import pytest
from scipy import integrate, sparse, stats
from sklearn import config_context

from sklearn_aimc import kernels
from sklearn_aimc.kernels import (
    arccos_kernel,
    cauchy_kernel,
    kernel_approximation_error,
    softmax_kernel,
)

ORDERS = [0, 1, 2]


def random_rotation(n_features, seed):
    return stats.ortho_group.rvs(n_features, random_state=np.random.default_rng(seed))


def pair_at_angle(theta, x_norm, y_norm, n_features=5, seed=0):
    """Vectors of the given norms at angle ``theta``, in a random orientation."""
    x = np.zeros(n_features)
    y = np.zeros(n_features)
    x[0] = x_norm
    y[:2] = y_norm * np.cos(theta), y_norm * np.sin(theta)
    rotation = random_rotation(n_features, seed)
    return (rotation @ x)[None, :], (rotation @ y)[None, :]


def arccos_by_integration(theta, x_norm, y_norm, order):
    """2 E[H(w.x) H(w.y) (w.x)^n (w.y)^n] for w ~ N(0, I), by quadrature.

    Only the plane of x and y matters.  In polar coordinates w = r (cos phi,
    sin phi) with x along phi = 0, the radial integral of r^(2n) against the 2-D
    Gaussian density is 2^n n! / (2 pi), and both steps are on for
    phi in (theta - pi/2, pi/2).
    """
    angular, _ = integrate.quad(
        lambda phi: np.cos(phi) ** order * np.cos(phi - theta) ** order,
        theta - np.pi / 2,
        np.pi / 2,
        epsabs=1e-13,
    )
    radial = 2**order * math.factorial(order) / (2 * np.pi)
    return 2 * radial * (x_norm * y_norm) ** order * angular


def arccos_features(X, W, order):
    """sqrt(2 / s) H(X W) (X W)^n, with H(0) = 1/2."""
    projected = X @ W
    return np.sqrt(2 / W.shape[1]) * np.heaviside(projected, 0.5) * projected**order


# --------------------------------------------------------------------------- arc-cosine


@pytest.mark.parametrize(
    "order, expected",
    # k_n at theta = 0, pi/2, pi divided by (|x||y|)^n: J_n / pi.
    [(0, [1.0, 0.5, 0.0]), (1, [1.0, 1 / np.pi, 0.0]), (2, [3.0, 0.5, 0.0])],
)
def test_arccos_special_angles(order, expected):
    x_norm, y_norm = 1.5, 0.8
    values = [
        arccos_kernel(*pair_at_angle(theta, x_norm, y_norm), order=order)[0, 0]
        for theta in (0.0, np.pi / 2, np.pi)
    ]
    expected = np.multiply(expected, (x_norm * y_norm) ** order)
    np.testing.assert_allclose(values, expected, atol=1e-7)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("theta", [0.0, 0.3, 1.0, np.pi / 2, 2.2, 3.0, np.pi])
def test_arccos_matches_integral(order, theta):
    x_norm, y_norm = 1.3, 0.6
    X, Y = pair_at_angle(theta, x_norm, y_norm, seed=int(10 * theta))
    expected = arccos_by_integration(theta, x_norm, y_norm, order)
    # theta = 0 and pi sit where arccos loses half the digits of the cosine.
    actual = arccos_kernel(X, Y, order=order)[0, 0]
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_scales_with_norms(order):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    scaled = arccos_kernel(2.0 * X, 0.25 * Y, order=order)
    np.testing.assert_allclose(scaled, 0.5**order * arccos_kernel(X, Y, order=order), rtol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_symmetric_and_psd(order):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((7, 5))
    K = arccos_kernel(X, order=order)
    np.testing.assert_array_equal(K, K.T)
    K_XY, K_YX = arccos_kernel(X, Y, order=order), arccos_kernel(Y, X, order=order)
    np.testing.assert_allclose(K_XY, K_YX.T, rtol=1e-14)
    eigenvalues = np.linalg.eigvalsh(K)
    assert eigenvalues.min() > -1e-10 * eigenvalues.max()


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_diagonal_exact(order):
    X = np.random.default_rng(3).standard_normal((20, 4))
    squared_norms = (X**2).sum(axis=1)
    diagonal = np.diag(arccos_kernel(X, order=order))
    np.testing.assert_allclose(diagonal, [1.0, 1.0, 3.0][order] * squared_norms**order, rtol=1e-14)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_parallel_vectors(order):
    # For these 50 rows the unit vectors' dot products with those of 3 X and -X
    # round beyond [-1, 1] (8 and 14 of them), where arccos would give NaN.
    X = np.random.default_rng(12).standard_normal((50, 7))
    squared_norms = (X**2).sum(axis=1)
    same = np.diag(arccos_kernel(X, 3 * X, order=order))
    opposite = np.diag(arccos_kernel(X, -X, order=order))
    np.testing.assert_allclose(same, [1.0, 3.0, 27.0][order] * squared_norms**order, rtol=1e-7)
    np.testing.assert_allclose(opposite, 0.0, atol=1e-7 * squared_norms.max() ** order)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_zero_vector(order):
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    K = arccos_kernel(X, order=order)
    assert np.isfinite(K).all()
    if order == 0:  # theta = pi / 2 with the zero vector, itself included
        np.testing.assert_array_equal(K, [[0.5, 0.5], [0.5, 1.0]])
    else:
        np.testing.assert_array_equal(K[0], 0.0)
        np.testing.assert_array_equal(K[:, 0], 0.0)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_random_features(order):
    rng = np.random.default_rng(4)
    n_features, n_projections = 5, 20_000
    X, Y = rng.standard_normal((10, n_features)), rng.standard_normal((10, n_features))
    X[0] = 0.0  # the H(0) = 1/2 convention
    W = rng.standard_normal((n_features, n_projections))
    products = (
        arccos_features(X, W, order)[:, None, :] * arccos_features(Y, W, order)[None, :, :]
    ) * n_projections  # one unbiased estimate per projection
    estimate = products.mean(axis=2)
    standard_error = products.std(axis=2, ddof=1) / np.sqrt(n_projections)
    exact = arccos_kernel(X, Y, order=order)
    assert np.all(np.abs(estimate - exact) <= 5 * standard_error + 1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_arccos_dtype_and_sparse(order):
    X = np.random.default_rng(5).standard_normal((6, 4))
    X[X < 0.3] = 0.0
    dense = arccos_kernel(X, order=order)
    np.testing.assert_allclose(arccos_kernel(sparse.csr_matrix(X), order=order), dense, rtol=1e-12)
    single = arccos_kernel(X.astype(np.float32), order=order)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, dense, rtol=1e-3, atol=1e-3)


# --------------------------------------------------------------------------- Cauchy


def cauchy_reference(X, Y, gamma):
    return np.prod(1.0 / (1.0 + gamma * (X[:, None, :] - Y[None, :, :]) ** 2), axis=2)


@pytest.mark.parametrize("gamma", [0.1, 1.0, 3.0])
def test_cauchy_matches_broadcast_reference(gamma):
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((9, 4)), rng.standard_normal((5, 4))
    expected = cauchy_reference(X, Y, gamma)
    np.testing.assert_allclose(cauchy_kernel(X, Y, gamma=gamma), expected, rtol=1e-12)
    expected = cauchy_reference(X, X, gamma)
    np.testing.assert_allclose(cauchy_kernel(X, gamma=gamma), expected, rtol=1e-12)
    np.testing.assert_array_equal(np.diag(cauchy_kernel(X, gamma=gamma)), 1.0)


@pytest.mark.parametrize("working_memory", [1e-4, 1e-3, 0.01])
def test_cauchy_chunks_give_same_result(working_memory):
    # 1e-4 MiB holds 13 float64: less than one output row of 40 (one-row blocks).
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((30, 25)), rng.standard_normal((40, 25))
    with config_context(working_memory=working_memory):
        chunked = cauchy_kernel(X, Y, gamma=0.3)
    np.testing.assert_allclose(chunked, cauchy_reference(X, Y, 0.3), rtol=1e-12)


def test_cauchy_memory_is_bounded():
    # The unchunked (100, 100, 1000) float64 temporary would take 80 MB; with
    # 1 MiB of working memory the peak is the 80 kB output plus a few blocks.
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((100, 1000)), rng.standard_normal((100, 1000))
    with config_context(working_memory=1):
        tracemalloc.start()
        try:
            cauchy_kernel(X, Y, gamma=0.01)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 4 * 2**20


def test_cauchy_dtype():
    X = np.random.default_rng(9).standard_normal((5, 3)).astype(np.float32)
    K = cauchy_kernel(X)
    assert K.dtype == np.float32
    np.testing.assert_allclose(K, cauchy_reference(X.astype(np.float64), X, 1.0), rtol=1e-5)


# --------------------------------------------------------------------------- softmax


def test_softmax_kernel():
    rng = np.random.default_rng(10)
    X, Y = rng.standard_normal((6, 8)) / 8**0.25, rng.standard_normal((4, 8)) / 8**0.25
    np.testing.assert_allclose(softmax_kernel(X, Y), np.exp(X @ Y.T), rtol=1e-14)
    np.testing.assert_allclose(softmax_kernel(X), np.exp(X @ X.T), rtol=1e-14)
    np.testing.assert_allclose(
        softmax_kernel(sparse.csr_matrix(X), sparse.csr_matrix(Y)), np.exp(X @ Y.T), rtol=1e-14
    )


# --------------------------------------------------------------------------- error metric


def test_kernel_approximation_error():
    rng = np.random.default_rng(11)
    K = rng.standard_normal((5, 7))
    noise = rng.standard_normal((5, 7))
    assert kernel_approximation_error(K, K) == 0.0
    expected = np.sqrt((noise**2).sum() / (K**2).sum())
    assert kernel_approximation_error(K, K + noise) == pytest.approx(expected, rel=1e-12)
    assert kernel_approximation_error(3 * K, 3 * (K + noise)) == pytest.approx(expected, rel=1e-12)
    assert isinstance(kernel_approximation_error(K.tolist(), K), float)


@pytest.mark.parametrize(
    "K, K_approx, match",
    [
        (np.ones((3, 3)), np.ones((3, 4)), "same shape"),
        (np.zeros((2, 2)), np.ones((2, 2)), "zero"),
        (np.ones((2, 2)), np.full((2, 2), np.nan), "NaN"),
        (np.full((2, 2), np.inf), np.ones((2, 2)), "infinity"),
    ],
)
def test_kernel_approximation_error_validation(K, K_approx, match):
    with pytest.raises(ValueError, match=match):
        kernel_approximation_error(K, K_approx)


# --------------------------------------------------------------------------- validation

KERNELS = [arccos_kernel, cauchy_kernel, softmax_kernel]


@pytest.mark.parametrize("kernel", KERNELS)
def test_nan_rejected(kernel):
    X = np.ones((3, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kernel(X)
    with pytest.raises(ValueError, match="NaN"):
        kernel(np.ones((2, 2)), X)


@pytest.mark.parametrize("kernel", KERNELS)
def test_feature_mismatch_rejected(kernel):
    with pytest.raises(ValueError, match="Incompatible dimension"):
        kernel(np.ones((3, 2)), np.ones((3, 4)))


@pytest.mark.parametrize("order", [-1, 3, 1.0, "1", None])
def test_arccos_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        arccos_kernel(np.ones((2, 2)), order=order)


@pytest.mark.parametrize("gamma", [0.0, -1.0, np.inf, np.nan, None])
def test_cauchy_bad_gamma(gamma):
    with pytest.raises(ValueError, match="gamma"):
        cauchy_kernel(np.ones((2, 2)), gamma=gamma)


def test_cauchy_rejects_sparse():
    with pytest.raises(TypeError, match="[Ss]parse"):
        cauchy_kernel(sparse.csr_matrix(np.eye(3)))


def test_docstring_examples():
    failures, attempts = doctest.testmod(kernels)
    assert attempts >= 4
    assert failures == 0
