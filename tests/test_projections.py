"""Tests of sklearn_aimc._projections.sample_projection.

Statistical tests use fixed seeds.  Where a statistic has a known sampling
distribution the tolerance is a multiple of its standard error (SE), chosen so
that a correct sampler fails with probability below about 1e-4 per test, while
the errors these tests guard against (wrong scale, missing chi rescaling, lost
orthogonality, wrong orientation) move the statistic by many SE.  KS tests use
p > 1e-3: under a correct sampler p is uniform on [0, 1].
"""

import collections
import itertools

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.linalg import hadamard
from sklearn.metrics.pairwise import laplacian_kernel, rbf_kernel

from sklearn_aimc._projections import SPECTRAL_DISTRIBUTIONS, sample_projection
from sklearn_aimc.kernels import cauchy_kernel, kernel_approximation_error

SAMPLINGS = ["rff", "orf", "sorf"]
SPECTRALS = ["gaussian", "cauchy", "laplace"]
UNIT_DISTRIBUTIONS = {"gaussian": stats.norm, "cauchy": stats.cauchy, "laplace": stats.laplace}
GAMMA = 0.5
# Each kernel and the scale that makes the spectral distribution's
# characteristic function equal to it (derivation in the module docstring).
KERNELS = {
    "gaussian": (lambda X, Y: rbf_kernel(X, Y, gamma=GAMMA), np.sqrt(2 * GAMMA)),
    "cauchy": (lambda X, Y: laplacian_kernel(X, Y, gamma=GAMMA), GAMMA),
    "laplace": (lambda X, Y: cauchy_kernel(X, Y, gamma=GAMMA), np.sqrt(GAMMA)),
}


def fourier_features(X, W):
    """phi(x) = s^(-1/2) [cos(W^T x), sin(W^T x)]."""
    projected = X @ W
    return np.hstack([np.cos(projected), np.sin(projected)]) / np.sqrt(W.shape[1])


def blocks(W, size):
    """Consecutive groups of ``size`` columns (the last one may be partial)."""
    return [W[:, start : start + size] for start in range(0, W.shape[1], size)]


def to_gaussian(W, spectral, scale):
    """Invert the Gaussian copula: Phi^{-1}(F(w / scale))."""
    return stats.norm.ppf(UNIT_DISTRIBUTIONS[spectral].cdf(W / scale))


def pairs(n_features, n_pairs=20, seed=0):
    """Pairs (x_p, y_p) whose kernel values spread over (0, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_pairs, n_features))
    offsets = np.linspace(0.05, 0.6, n_pairs)[:, None] * np.sqrt(16 / n_features)
    return X, X + offsets * rng.standard_normal((n_pairs, n_features))


def pair_estimates(X, Y, W, n_projections):
    """Kernel estimates of each pair for each replicate of ``n_projections`` columns.

    Returns an array of shape (n_pairs, n_replicates).
    """
    n_replicates = W.shape[1] // n_projections
    estimates = [
        np.sum(fourier_features(X, block) * fourier_features(Y, block), axis=1)
        for block in blocks(W, n_projections)
    ]
    assert len(estimates) == n_replicates
    return np.stack(estimates, axis=1)


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("spectral", SPECTRALS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (3, 7), (5, 3), (16, 40)])
def test_shape_dtype_contiguity(sampling, spectral, dtype, shape):
    W = sample_projection(
        *shape, spectral=spectral, sampling=sampling, random_state=0, dtype=dtype
    )
    assert W.shape == shape
    assert W.dtype == dtype
    assert W.flags.c_contiguous
    assert np.isfinite(W).all()


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_float32_is_rounded_float64(sampling):
    kwargs = dict(spectral="cauchy", scale=0.3, sampling=sampling)
    W64 = sample_projection(6, 20, random_state=3, **kwargs)
    W32 = sample_projection(6, 20, random_state=3, dtype=np.float32, **kwargs)
    np.testing.assert_array_equal(W32, W64.astype(np.float32))


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("spectral", SPECTRALS)
def test_determinism(sampling, spectral):
    kwargs = dict(spectral=spectral, sampling=sampling)
    first = sample_projection(5, 12, random_state=np.random.default_rng(7), **kwargs)
    again = sample_projection(5, 12, random_state=np.random.default_rng(7), **kwargs)
    other = sample_projection(5, 12, random_state=np.random.default_rng(8), **kwargs)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)

    rng = np.random.default_rng(7)
    assert np.array_equal(sample_projection(5, 12, random_state=rng, **kwargs), first)
    assert not np.array_equal(sample_projection(5, 12, random_state=rng, **kwargs), first)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_scale_multiplies_every_entry(sampling):
    unit = sample_projection(4, 9, sampling=sampling, random_state=1)
    scaled = sample_projection(4, 9, sampling=sampling, scale=2.5, random_state=1)
    np.testing.assert_allclose(scaled, 2.5 * unit, rtol=1e-15)


ONE_DIMENSIONAL_KERNELS = {
    "gaussian": lambda t: np.exp(-GAMMA * t**2),
    "cauchy": lambda t: np.exp(-GAMMA * abs(t)),
    "laplace": lambda t: 1 / (1 + GAMMA * t**2),
}


@pytest.mark.parametrize("spectral", SPECTRALS)
@pytest.mark.parametrize("t", [0.1, 0.7, 2.0, 5.0])
def test_scale_relations(spectral, t):
    # Bochner: the characteristic function E[cos(t w)] = 2 int_0^inf p(w) cos(t w) dw
    # of the module's distribution times the scale used above equals the kernel
    # along one coordinate.  Deterministic quadrature (QAWF for the Fourier integral).
    scale = KERNELS[spectral][1]
    density = SPECTRAL_DISTRIBUTIONS[spectral].pdf
    integral, _ = integrate.quad(
        lambda w: density(w / scale) / scale, 0, np.inf, weight="cos", wvar=t
    )
    expected = ONE_DIMENSIONAL_KERNELS[spectral](t)
    assert 2 * integral == pytest.approx(expected, rel=1e-8, abs=1e-12)


# --------------------------------------------------------------------------- RFF


@pytest.mark.parametrize("spectral", SPECTRALS)
def test_rff_entries_iid_from_spectral(spectral):
    scale = 0.7
    W = sample_projection(10, 500, spectral=spectral, scale=scale, random_state=0)
    distribution = UNIT_DISTRIBUTIONS[spectral](scale=scale)
    assert stats.kstest(W.ravel(), distribution.cdf).pvalue > 1e-3
    # Independence between projections: lag-1 rank correlation along a row
    # (rank-based, so valid for the heavy tails); under independence its SE is
    # 1 / sqrt(n - 1), and 4.5 SE is a two-sided p of 7e-6.
    rho = stats.spearmanr(W[0, :-1], W[0, 1:]).statistic
    assert abs(rho) < 4.5 / np.sqrt(W.shape[1])


# --------------------------------------------------------------------------- ORF


@pytest.mark.parametrize("spectral", SPECTRALS)
@pytest.mark.parametrize("n_features, n_projections", [(7, 23), (4, 4), (6, 3), (1, 3)])
def test_orf_blocks_are_orthogonal(spectral, n_features, n_projections):
    scale = 1.3
    W = sample_projection(
        n_features, n_projections, spectral=spectral, scale=scale, sampling="orf", random_state=2
    )
    G = W / scale if spectral == "gaussian" else to_gaussian(W, spectral, scale)
    for block in blocks(G, n_features):  # full blocks and the partial last one
        gram = block.T @ block
        np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-7 * gram.max())


def test_orf_norms_follow_chi():
    n_features, n_blocks, scale = 8, 600, 0.4
    W = sample_projection(
        n_features, n_features * n_blocks, scale=scale, sampling="orf", random_state=4
    )
    norms = np.linalg.norm(W, axis=0) / scale
    assert stats.kstest(norms, stats.chi(n_features).cdf).pvalue > 1e-3


@pytest.mark.parametrize("spectral", SPECTRALS)
def test_orf_projections_marginally_iid(spectral):
    n_features, n_blocks, scale = 8, 600, 0.4
    W = sample_projection(
        n_features, n_features * n_blocks, spectral=spectral, scale=scale, sampling="orf",
        random_state=5,
    )
    # The first projection of every block: independent across blocks, and its
    # coordinates are iid (uniform direction times chi(d), then the copula).
    first = W[:, ::n_features]
    distribution = UNIT_DISTRIBUTIONS[spectral](scale=scale)
    assert stats.kstest(first.ravel(), distribution.cdf).pvalue > 1e-3
    # Covariance of the underlying Gaussian projections is I.  For iid N(0, I)
    # columns the entries of G G^T / s have SE sqrt(2/s) (diagonal) and
    # sqrt(1/s) (off-diagonal); orthogonal coupling only lowers them.
    G = to_gaussian(W, spectral, scale)
    covariance = G @ G.T / G.shape[1]
    np.testing.assert_allclose(covariance, np.eye(n_features), atol=5 * np.sqrt(2 / G.shape[1]))


# --------------------------------------------------------------------------- SORF


def sorf_block_probabilities(n_features):
    """Distribution of the first d rows of (sqrt(n) H D1 H D2 H D3)^T, times n.

    Enumerates all 2^(3n) equally likely sign patterns.
    """
    size = 1 << (n_features - 1).bit_length()
    H = hadamard(size) / np.sqrt(size)
    counts = collections.Counter()
    for signs in itertools.product([-1.0, 1.0], repeat=3 * size):
        D1, D2, D3 = (np.diag(signs[i * size : (i + 1) * size]) for i in range(3))
        block = np.sqrt(size) * H @ D1 @ H @ D2 @ H @ D3
        counts[tuple(np.round(block.T[:n_features] * size).astype(int).ravel())] += 1
    return {block: count / 2 ** (3 * size) for block, count in counts.items()}


@pytest.mark.parametrize("n_features", [1, 2, 3, 4])
def test_sorf_blocks_follow_definition(n_features):
    # Every sampled block must be one the definition produces, with the
    # probability the definition gives it (chi-square test); orientation,
    # cropping or sign-placement errors produce other blocks or frequencies.
    # The rarest of the (at most 192) blocks has probability 1/256, so 2560
    # draws expect at least 10 of each, enough for the chi-square approximation.
    size = 1 << (n_features - 1).bit_length()
    probabilities = sorf_block_probabilities(n_features)
    n_blocks = 2560
    W = sample_projection(n_features, n_blocks * size, sampling="sorf", random_state=6)
    sampled = collections.Counter(
        tuple(np.round(block * size).astype(int).ravel()) for block in blocks(W, size)
    )
    assert set(sampled) <= set(probabilities)
    observed = [sampled[block] for block in probabilities]
    expected = [n_blocks * p for p in probabilities.values()]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("n_features, n_projections", [(8, 20), (6, 20), (5, 16), (16, 32)])
def test_sorf_block_structure(n_features, n_projections):
    size = 1 << (n_features - 1).bit_length()
    scale = 0.5
    W = sample_projection(n_features, n_projections, scale=scale, sampling="sorf", random_state=7)
    B = W / scale
    # Entries are multiples of 1/n (products of +-1 Hadamard matrices over n).
    np.testing.assert_array_equal(B * size, np.round(B * size))
    for block in blocks(B, size)[: n_projections // size]:
        # A full block is d rows of sqrt(n) times an orthogonal matrix.
        np.testing.assert_allclose(block @ block.T, size * np.eye(n_features), atol=1e-12)
        if n_features == size:  # nothing cropped: projections orthogonal, norms sqrt(n)
            np.testing.assert_allclose(block.T @ block, size * np.eye(size), atol=1e-12)


@pytest.mark.parametrize("spectral", ["cauchy", "laplace"])
def test_sorf_copula(spectral):
    scale = 2.0
    W = sample_projection(8, 16, spectral=spectral, scale=scale, sampling="sorf", random_state=8)
    G = to_gaussian(W, spectral, scale)
    np.testing.assert_allclose(G * 8, np.round(G * 8), atol=1e-6)
    for block in blocks(G, 8):
        np.testing.assert_allclose(block.T @ block, 8 * np.eye(8), atol=1e-5)


# --------------------------------------------------------------------------- kernel estimates

# Bias of SORF at d = 16 on these pairs, measured with 64 000 projections
# (SE < 0.003): at most 0.035 (gaussian), 0.083 (cauchy), 0.055 (laplace).  It
# decays with d (0.27, 0.09, 0.035, 0.022, 0.016, 0.010 for d = 4 ... 128,
# gaussian), as Yu et al. (2016, Thm. 3) show.  Allowances are about 1.5x these.
SORF_BIAS_ALLOWANCE = {"gaussian": 0.05, "cauchy": 0.12, "laplace": 0.08}


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("spectral", SPECTRALS)
def test_fourier_features_unbiased(spectral, sampling):
    n_features, n_projections, n_replicates = 16, 16, 1000
    kernel, scale = KERNELS[spectral]
    X, Y = pairs(n_features)
    exact = np.diag(kernel(X, Y))
    assert exact.min() < 0.1 and exact.max() > 0.8  # the pairs probe the whole range

    # Replicates of s = 16 columns are whole ORF / SORF blocks, hence independent.
    W = sample_projection(
        n_features, n_projections * n_replicates, spectral=spectral, scale=scale,
        sampling=sampling, random_state=9,
    )
    errors = pair_estimates(X, Y, W, n_projections) - exact[:, None]
    bias = errors.mean(axis=1)
    standard_error = errors.std(axis=1, ddof=1) / np.sqrt(n_replicates)
    # 4.5 SE per pair: two-sided p = 7e-6, 1.4e-4 over the 20 pairs.
    allowance = SORF_BIAS_ALLOWANCE[spectral] if sampling == "sorf" else 0.0
    assert np.all(np.abs(bias) < 4.5 * standard_error + allowance)


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("spectral", SPECTRALS)
def test_error_falls_with_projections(spectral, sampling):
    kernel, scale = KERNELS[spectral]
    X = pairs(16, n_pairs=30)[0] * 0.5
    exact = kernel(X, X)

    def mean_error(n_projections):
        errors = []
        for seed in range(5):
            W = sample_projection(
                16, n_projections, spectral=spectral, scale=scale, sampling=sampling,
                random_state=seed,
            )
            Z = fourier_features(X, W)
            errors.append(kernel_approximation_error(exact, Z @ Z.T))
        return np.mean(errors)

    # The Monte-Carlo error is ~ s^(-1/2): 16x more projections should divide it
    # by 4 (for SORF by a little less because of its bias); require a factor 2.
    assert mean_error(256) < mean_error(16) / 2


@pytest.mark.parametrize("spectral", SPECTRALS)
def test_orf_not_worse_than_rff(spectral):
    n_features, n_replicates = 16, 600
    kernel, scale = KERNELS[spectral]
    X, Y = pairs(n_features)
    exact = np.diag(kernel(X, Y))

    def squared_errors(sampling):
        W = sample_projection(
            n_features, n_features * n_replicates, spectral=spectral, scale=scale,
            sampling=sampling, random_state=10,
        )
        return ((pair_estimates(X, Y, W, n_features) - exact[:, None]) ** 2).mean(axis=0)

    orf, rff = squared_errors("orf"), squared_errors("rff")
    # Replicates are independent: SE of the difference of the two mean MSEs.
    standard_error = np.sqrt(orf.var(ddof=1) / n_replicates + rff.var(ddof=1) / n_replicates)
    assert orf.mean() - rff.mean() < 3 * standard_error


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_features=0), "n_features"),
        (dict(n_features=-3), "n_features"),
        (dict(n_projections=0), "n_projections"),
        (dict(scale=0.0), "scale"),
        (dict(scale=-1.0), "scale"),
        (dict(scale=np.inf), "scale"),
        (dict(scale=np.nan), "scale"),
        (dict(spectral="student"), "spectral"),
        (dict(sampling="qmc"), "sampling"),
        (dict(dtype=np.float16), "dtype"),
        (dict(dtype=np.int64), "dtype"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = dict(n_features=3, n_projections=4) | kwargs
    with pytest.raises(ValueError, match=match):
        sample_projection(**arguments)


@pytest.mark.parametrize(
    "kwargs", [dict(n_features=2.5), dict(n_projections="4"), dict(scale="1")]
)
def test_bad_argument_types(kwargs):
    arguments = dict(n_features=3, n_projections=4) | kwargs
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        sample_projection(**arguments)
