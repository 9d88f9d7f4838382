"""Tests of sklearn_aimc._random: the Gaussian sampler and the keyed seed tree.

Statistical tests use fixed seeds.  Each tolerance is a multiple (5, unless
stated) of the standard error (SE) of the statistic under a correct sampler, so
a correct sampler would fail with probability below about 1e-6 per statistic
for a random seed, while the defects these tests guard against (wrong scale,
a missing sqrt(2) in Box-Muller, correlated pairs, a wrong tail) move the
statistic by many SE.  KS tests use p > 1e-3: under a correct sampler the
p-value is uniform on [0, 1].
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from sklearn_aimc._random import (
    as_generator,
    counter_words,
    counters,
    entropy_from,
    fill_normal_float32,
    gaussian_pairs,
    log_float32,
    sincos_float32,
    unit_uniform_float32,
    float_key,
    hash_multipliers,
    integer_codes,
    keyed_generator,
    mix64,
    normals_per_row,
    row_keys,
    standard_normal,
)

N_LARGE = 1_000_000
# 32-bit float Box-Muller with a 23-bit radius uniform u >= 2**-24:
# |z| <= sqrt(-2 ln 2**-24) = 5.768.
Z_BOUND = 5.8


def samples(dtype, n=N_LARGE, seed=0):
    return standard_normal(np.random.default_rng(seed), n, dtype)


# Moments and distribution --------------------------------------------------
def test_standard_normal_dtype_and_shape(global_dtype):
    z = standard_normal(np.random.default_rng(0), (3, 5), global_dtype)
    assert z.dtype == global_dtype
    assert z.shape == (3, 5)
    z = standard_normal(np.random.default_rng(0), 7, global_dtype)
    assert z.shape == (7,)


def test_standard_normal_moments(global_dtype):
    z = samples(global_dtype).astype(np.float64)
    n = z.size
    # SE of the mean: 1/sqrt(n) = 1e-3.
    assert abs(z.mean()) < 5 / np.sqrt(n)
    # SE of the sample variance of N(0, 1): sqrt(2/n) = 1.4e-3.
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # SE of the sample excess kurtosis of N(0, 1): sqrt(24/n) = 4.9e-3.
    assert abs(stats.kurtosis(z) - 0) < 5 * np.sqrt(24 / n)
    # SE of the sample skewness: sqrt(6/n) = 2.4e-3.
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)


def test_standard_normal_ks(global_dtype):
    # At n = 1e6 the KS test at p = 1e-3 detects CDF deviations of about
    # 1.95/sqrt(n) = 0.002; the float32 sampler's 23-bit radius uniform
    # discretises the CDF at the 1e-7 level, far below that.
    z = samples(global_dtype, seed=1)
    assert stats.kstest(z, "norm").pvalue > 1e-3


@pytest.mark.parametrize("threshold", [2.0, 3.0, 4.0])
def test_standard_normal_tails(global_dtype, threshold):
    # Tails are where a Box-Muller radius transform goes wrong; count |z| > c.
    # The count is binomial(n, p): SE sqrt(n p (1 - p)).
    z = samples(global_dtype, seed=2)
    p = 2 * stats.norm.sf(threshold)
    count = np.count_nonzero(np.abs(z) > threshold)
    assert abs(count - z.size * p) < 5 * np.sqrt(z.size * p * (1 - p))


def test_float32_pairs_are_independent():
    # Box-Muller makes pairs (r cos a, r sin a) that share the radius; the
    # sampler stores them n_pairs apart.  For independent normals the
    # correlations of values and of squares are 0, each with SE 1/sqrt(m).
    out = np.empty(N_LARGE, dtype=np.float32)
    fill_normal_float32(np.random.default_rng(3), out)
    first, second = out[: N_LARGE // 2].astype(np.float64), out[N_LARGE // 2 :].astype(np.float64)
    m = first.size
    assert abs(np.corrcoef(first, second)[0, 1]) < 5 / np.sqrt(m)
    # Squares: SE of the correlation of two independent chi2(1) is also 1/sqrt(m).
    assert abs(np.corrcoef(first**2, second**2)[0, 1]) < 5 / np.sqrt(m)
    # Neighbours (successive samples of the first half) are independent too.
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 5 / np.sqrt(m)


@pytest.mark.parametrize("size", [1, 2, 3, 1001])
def test_float32_odd_and_tiny_sizes(size):
    out = np.full(size, np.nan, dtype=np.float32)
    result = fill_normal_float32(np.random.default_rng(0), out)
    assert result is out
    assert np.isfinite(out).all()


def test_samples_finite_and_bounded(global_dtype):
    z = samples(global_dtype, n=4 * N_LARGE, seed=4)
    assert np.isfinite(z).all()
    if global_dtype == np.float32:
        assert np.abs(z).max() <= Z_BOUND


class _RawWords:
    """A stand-in Generator whose bit generator returns fixed 64-bit words."""

    def __init__(self, word):
        self.bit_generator = SimpleNamespace(
            random_raw=lambda n: np.full(n, word, dtype=np.uint64)
        )


@pytest.mark.parametrize(
    "word, expected_radius",
    [
        # A radius word of 0: u = 2**-24, the largest radius.
        (0x8000000000000000, np.sqrt(-2 * np.log(2.0**-24))),
        # A radius word of all ones: u = 1 - 2**-24, radius about 3.5e-4, never 0.
        (0x7FFFFFFFFFFFFFFF, np.sqrt(-2 * np.log1p(-(2.0**-24)))),
    ],
)
def test_float32_extreme_uniforms(word, expected_radius):
    # The radius uniform never reaches 0 (infinite radius) or 1 (zero radius).
    out = np.empty(8, dtype=np.float32)
    fill_normal_float32(_RawWords(word), out)
    n_pairs = out.size // 2
    radius = np.hypot(out[:n_pairs].astype(np.float64), out[n_pairs:].astype(np.float64))
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= Z_BOUND
    np.testing.assert_allclose(radius, expected_radius, rtol=1e-5)


def test_float32_pairs_are_box_muller_of_their_words():
    # Each pair is (r cos(theta), r sin(theta)) of its word, with
    # r = sqrt(-2 ln u), u from the low 32 bits and theta = 2 pi (w >> 5) / 2**27
    # from the high 32 bits: checked against float64 on the same u and theta.
    # About a dozen float32 roundings of ~1 ulp each bound the error to 1e-6 r.
    n_pairs = 100_000
    words = np.random.default_rng(9).integers(0, 2**64, size=n_pairs, dtype=np.uint64)
    out = np.empty(2 * n_pairs, dtype=np.float32)
    fill_normal_float32(SimpleNamespace(bit_generator=SimpleNamespace(random_raw=lambda n: words.copy())), out)
    low, high = words & np.uint64(2**32 - 1), words >> np.uint64(32)
    u = ((low >> np.uint64(9)).astype(np.float64) + 0.5) / 2.0**23
    theta = (high >> np.uint64(5)).astype(np.float64) * (2 * np.pi / 2.0**27)
    radius = np.sqrt(-2 * np.log(u))
    np.testing.assert_array_less(np.abs(out[:n_pairs] - radius * np.cos(theta)), 1e-6 * radius + 1e-12)
    np.testing.assert_array_less(np.abs(out[n_pairs:] - radius * np.sin(theta)), 1e-6 * radius + 1e-12)


def test_unit_uniforms_are_the_centres_of_2_to_the_23_bins():
    words = np.array([0, 511, 512, 2**31, 2**32 - 1], dtype=np.uint32)
    u = unit_uniform_float32(words)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, (np.array([0, 0, 1, 2**22, 2**23 - 1]) + 0.5) / 2.0**23)


def test_log_float32_within_two_ulp_of_the_exact_logarithm():
    # Every exponent of the uniforms (2**-24 .. 1) and both mantissa branches
    # (below and above sqrt(1/2)); Cephes' logf is accurate to about 1 ulp.
    rng = np.random.default_rng(11)
    u = np.concatenate([
        unit_uniform_float32(rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)),
        np.float32(2.0) ** -rng.integers(0, 25, size=50_000).astype(np.float32) * rng.uniform(0.5, 1, 50_000).astype(np.float32),
        np.array([2.0**-24, 0.5, np.sqrt(0.5), 1 - 2.0**-24, 1.0, 1.5, 2.0, 1e-30, 1e30], np.float32),
    ])
    got = log_float32(u).astype(np.float64)
    exact = np.log(u.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    np.testing.assert_array_less(np.abs(got - exact), 2 * ulp + 1e-45)
    assert log_float32(np.array([1.0], np.float32))[0] == 0


def test_sincos_float32_within_two_ulp_of_the_exact_values():
    rng = np.random.default_rng(12)
    words = np.concatenate([
        rng.integers(0, 2**32, size=300_000, dtype=np.uint64).astype(np.uint32),
        (np.arange(8, dtype=np.uint64) * 2**29).astype(np.uint32),  # octant boundaries: 0, pi/4, ...
        (np.arange(1, 9, dtype=np.uint64) * 2**29 - 1).astype(np.uint32),
    ])
    cos_theta, sin_theta = sincos_float32(words)
    theta = (words >> np.uint32(5)).astype(np.float64) * (2 * np.pi / 2.0**27)
    for got, exact in [(cos_theta, np.cos(theta)), (sin_theta, np.sin(theta))]:
        assert got.dtype == np.float32
        # Absolute error against the unit circle: 2 ulp of 1.
        np.testing.assert_array_less(np.abs(got.astype(np.float64) - exact), 2 * 2.0**-24)
    # Quarter turns are exact: (1, 0), (0, 1), (-1, 0), (0, -1).
    quarter_turns = sincos_float32(np.arange(4, dtype=np.uint32) * np.uint32(2**30))
    np.testing.assert_array_equal(np.abs(quarter_turns[0]), [1, 0, 1, 0])
    np.testing.assert_array_equal(quarter_turns[0] + quarter_turns[1], [1, 1, -1, -1])


def test_gaussian_pairs_golden_bits():
    # The sampler uses exactly rounded float32 operations only, so these bits
    # are the same on every CPU; a change to it must change this test.
    words = np.array([0, 2**64 - 1, 0x0123456789ABCDEF, 0xFEDCBA9876543210], dtype=np.uint64)
    z_cos, z_sin = gaussian_pairs(words)
    assert z_cos.dtype == z_sin.dtype == np.float32
    assert z_cos.view(np.uint32).tolist() == [1085838422, 968164595, 1066304458, 1067382082]
    assert z_sin.view(np.uint32).tolist() == [0, 2911775769, 1023329636, 3171816793]
    assert z_cos[0] == np.float32(np.sqrt(-2 * np.log(2.0**-24))) and z_sin[0] == 0  # u = 2**-24, theta = 0


# The scale argument ------------------------------------------------------------
SCALE = np.linspace(0.5, 3.0, 40, dtype=np.float32)


@pytest.mark.parametrize("n_rows", [5000, 5001], ids=["even_rows", "odd_rows"])
def test_float32_scale_per_column(n_rows):
    out = np.empty((n_rows, SCALE.size), dtype=np.float32)
    fill_normal_float32(np.random.default_rng(5), out, SCALE)
    z = out.astype(np.float64) / SCALE
    # Pooled over all columns the standardised samples are N(0, 1):
    # SE of the sample std with N samples is 1/sqrt(2N) (N = 2e5: 1.6e-3).
    n = z.size
    assert abs(z.std() - 1) < 5 / np.sqrt(2 * n)
    assert abs(z.mean()) < 5 / np.sqrt(n)
    # Every column on its own: SE of the column std is scale/sqrt(2 n_rows).
    column_std = out.std(axis=0, dtype=np.float64)
    np.testing.assert_array_less(np.abs(column_std / SCALE - 1), 5 / np.sqrt(2 * n_rows))
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3


def test_float32_scale_paths_same_distribution():
    even = np.empty((5000, SCALE.size), dtype=np.float32)
    odd = np.empty((5001, SCALE.size), dtype=np.float32)
    fill_normal_float32(np.random.default_rng(6), even, SCALE)
    fill_normal_float32(np.random.default_rng(7), odd, SCALE)
    # Two-sample KS of the standardised samples of the two code paths.
    assert stats.ks_2samp((even / SCALE).ravel(), (odd / SCALE).ravel()).pvalue > 1e-3


@pytest.mark.parametrize("shape", [(6, 40), (7, 40), (6, 1), (1, 40)])
def test_float32_scale_scales_the_same_normals(shape):
    # With and without scale the same stream gives the same normals, the
    # scaled ones multiplied by the scale: at most two extra float32
    # roundings (scale applied to radius or to sample), 2 * 2**-24 relative.
    scale = np.linspace(0.5, 3.0, shape[1], dtype=np.float32)
    plain, scaled = np.empty(shape, np.float32), np.empty(shape, np.float32)
    fill_normal_float32(np.random.default_rng(8), plain)
    fill_normal_float32(np.random.default_rng(8), scaled, scale)
    np.testing.assert_allclose(scaled, plain * scale, rtol=4 * 2.0**-24, atol=0)


def test_fill_normal_float32_in_place():
    out = np.zeros((4, 3), dtype=np.float32)
    result = fill_normal_float32(np.random.default_rng(0), out)
    assert result is out
    assert np.count_nonzero(out) == out.size


def test_standard_normal_deterministic(global_dtype):
    a = standard_normal(np.random.default_rng(9), 1000, global_dtype)
    b = standard_normal(np.random.default_rng(9), 1000, global_dtype)
    c = standard_normal(np.random.default_rng(10), 1000, global_dtype)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# The seed tree ---------------------------------------------------------------
def test_keyed_generator_deterministic():
    a = keyed_generator(12345, 1, 2, 3).random(100)
    b = keyed_generator(12345, 1, 2, 3).random(100)
    np.testing.assert_array_equal(a, b)
    # numpy integer keys address the same stream as Python ints.
    c = keyed_generator(12345, np.int64(1), np.uint64(2), 3).random(100)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "key_a, key_b",
    [((1,), (2,)), ((1, 2), (2, 1)), ((1,), (1, 0)), ((3, 0), (3, 1)), ((), (0,))],
)
def test_keyed_generator_different_keys_differ(key_a, key_b):
    a = keyed_generator(7, *key_a).random(100)
    b = keyed_generator(7, *key_b).random(100)
    assert not np.array_equal(a, b)


def test_keyed_generator_different_entropy_differ():
    a = keyed_generator(7, 1).random(100)
    b = keyed_generator(8, 1).random(100)
    assert not np.array_equal(a, b)


def test_keyed_generator_streams_independent():
    # Normals of 8 sibling streams: every pairwise correlation is 0 with
    # SE 1/sqrt(n); the means are 0 with SE 1/sqrt(n).
    n = 200_000
    streams = np.array([keyed_generator(2024, 1, k).standard_normal(n) for k in range(8)])
    correlation = np.corrcoef(streams)
    off_diagonal = correlation[~np.eye(8, dtype=bool)]
    assert np.abs(off_diagonal).max() < 5 / np.sqrt(n)
    assert np.abs(streams.mean(axis=1)).max() < 5 / np.sqrt(n)


def test_entropy_from_int():
    a, b, c = entropy_from(0), entropy_from(0), entropy_from(1)
    assert isinstance(a, int)
    assert a == b
    assert a != c
    assert 0 <= a < 2**128
    np.random.SeedSequence(a)  # usable as entropy


def test_entropy_from_random_state():
    a = entropy_from(np.random.RandomState(3))
    b = entropy_from(np.random.RandomState(3))
    assert a == b
    rs = np.random.RandomState(3)
    first, second = entropy_from(rs), entropy_from(rs)
    assert first == a
    assert second != first  # the RandomState advanced
    assert 0 <= second < 2**128


def test_entropy_from_generator():
    a = entropy_from(np.random.default_rng(3))
    b = entropy_from(np.random.default_rng(3))
    assert a == b
    rng = np.random.default_rng(3)
    first, second = entropy_from(rng), entropy_from(rng)
    assert first == a and second != first
    assert 0 <= a < 2**128


def test_entropy_from_none_is_fresh():
    a, b = entropy_from(None), entropy_from(None)
    assert isinstance(a, int) and a >= 0
    assert a != b


def test_entropy_uses_all_128_bits():
    # Four 32-bit words: over 64 seeds every word position must be used.
    values = [entropy_from(seed) for seed in range(64)]
    for word in range(4):
        assert len({(v >> (32 * word)) & 0xFFFFFFFF for v in values}) > 1


def test_as_generator():
    rng = np.random.default_rng(0)
    assert as_generator(rng) is rng
    np.testing.assert_array_equal(as_generator(5).random(10), as_generator(5).random(10))
    np.testing.assert_array_equal(
        as_generator(np.random.RandomState(5)).random(10),
        as_generator(np.random.RandomState(5)).random(10),
    )
    assert isinstance(as_generator(None), np.random.Generator)


def test_mix64_is_splitmix64():
    # The published splitmix64 outputs for state 0 (Vigna's splitmix64.c):
    # next() adds the golden gamma, then mixes.
    state = np.array([0], dtype=np.uint64)
    words = []
    for _ in range(3):
        state += np.uint64(0x9E3779B97F4A7C15)
        words.append(int(mix64(state.copy())[0]))
    assert words == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_row_keys_depend_on_the_row_only():
    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, size=(2000, 64)).astype(np.float32)
    multipliers = hash_multipliers(5, 64)
    keys = row_keys(integer_codes(codes, quantised=True), multipliers)
    assert np.unique(keys).size == 2000
    np.testing.assert_array_equal(row_keys(integer_codes(codes[7:8], True), multipliers), keys[7:8])
    one_code = codes.copy()
    one_code[3, 10] += 1
    changed = row_keys(integer_codes(one_code, True), multipliers)
    assert (changed != keys).sum() == 1 and changed[3] != keys[3]
    # Unquantised codes hash their float32 bits, -0.0 as 0.0.
    levels = np.array([[0.0, 1.5], [-0.0, 1.5], [0.0, np.nextafter(np.float32(1.5), np.float32(2))]], np.float32)
    unquantised = row_keys(integer_codes(levels, quantised=False), hash_multipliers(5, 2))
    assert unquantised[0] == unquantised[1] != unquantised[2]


def test_counter_normals_are_standard_normal():
    # 2e6 normals from counter words: mean, std and the KS distance within 5
    # standard errors (SE of the mean 1/sqrt(N), of the std 1/sqrt(2N); the
    # KS distance's 99.99 % quantile is about 2.1/sqrt(N)); pairs and rows uncorrelated.
    n_rows, n_columns = 2000, 1000
    keys = mix64(np.arange(n_rows, dtype=np.uint64))
    words = counter_words(keys, counters(n_columns // 2), np.empty((n_rows, n_columns // 2), np.uint64))
    z = normals_per_row(words, np.empty((n_rows, n_columns), np.float32)).astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.std() - 1) < 5 / np.sqrt(2 * n)
    assert stats.kstest(z.ravel(), "norm").statistic < 2.1 / np.sqrt(n)
    half = n_columns // 2
    for a, b in [(z[:, :half], z[:, half:]), (z[:-1], z[1:])]:  # cos and sin of a pair; neighbouring rows
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)


def test_float_key():
    assert float_key(1.0) == float_key(np.float64(1.0))
    assert float_key(0.0) != float_key(3600.0)
    assert float_key(3600.0) != float_key(np.nextafter(3600.0, np.inf))
    assert float_key(0.0) >= 0
