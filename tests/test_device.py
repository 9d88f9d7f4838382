"""Tests of sklearn_aimc.device: the PCM models against hardware-model.md.

The published curves are compared with an independent scalar transcription of
the formulas of the reference (section 2), written here from the text.

Statistical tests use fixed seeds.  Each tolerance is 5 standard errors (SE)
of the statistic under a correct model (a correct model fails with
probability below about 1e-6 per statistic for a random seed); the SE is
derived next to each test.  Target bins are chosen well above 0 where the
clamp at 0 would otherwise bias a statistic, and the clamp itself is tested
separately at g = 0.
"""

import math
import pickle

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.base import clone

from sklearn_aimc import GenericPCM, HermesPCM, IdealPCM, PCMModel

# Independent transcription of hardware-model.md ---------------------------
G_REL_FLOOR = 1e-7


def _clip(x, low, high):
    return min(max(x, low), high)


def _hermes_constants(n):
    """Section 2b table: g_max, t0, t_read, programming-noise cubic."""
    if n == 1:
        return 10.35, 200.0, 512e-9, (0.15781817, 2.32443916, -2.16310839, 0.68841818)
    return 20.7, 300.0, 512e-9, (0.16603222, 4.71806468, -8.48101252, 4.68961419)


def ref_hermes_programming_std(g, n):
    # sigma = (c0 + c1 g + c2 g^2 + c3 g^3) * g_max / g_ref, clamped >= 0, with
    # g = g_rel and g_ref the g_max of the fit (aihwkit's
    # prog_coeff_g_max_reference), so the factor is 1 at the default g_max.
    g_max, _, _, c = _hermes_constants(n)
    x = g / g_max
    sigma = c[0] + c[1] * x + c[2] * x**2 + c[3] * x**3
    return max(sigma, 0.0) * g_max / g_max


def ref_hermes_drift_mean(g, n):
    g_max = _hermes_constants(n)[0]
    x = max(abs(g) / g_max, G_REL_FLOOR)
    if x < 0.0945:
        return _clip(-0.0387 * math.log(x) - 0.0182, 0.0720, 0.13)
    return -0.0436 * x**2 - 0.0126 * x + 0.0736


def ref_hermes_drift_std(g, n):
    g_max = _hermes_constants(n)[0]
    x = max(abs(g) / g_max, G_REL_FLOOR)
    if n == 1:
        if x < 0.3039:
            return _clip(-0.0120 * math.log(x) - 0.0023, 0.0124, 0.04)
        return -0.0165 * x**2 + 0.0116 * x + 0.0104
    if x < 0.3055:
        return _clip(-0.0117 * math.log(x) - 0.0057, 0.0091, 0.04)
    return -0.0118 * x**2 + 0.0093 * x + 0.0073


def ref_hermes_read_noise(g, n):
    g_max = _hermes_constants(n)[0]
    x = max(abs(g) / g_max, G_REL_FLOOR)
    if n == 1:
        if x < 0.1591:
            return _clip(-0.0078 * math.log(x) + 0.0038, 0.0179, 0.04)
        return 0.0664 * x**3 - 0.1352 * x**2 + 0.0768 * x + 0.0088
    if x < 0.16:
        return _clip(-0.0117 * math.log(x) - 0.0069, 0.015, 0.04)
    return 0.0069 * x**3 - 0.0280 * x**2 + 0.0211 * x + 0.0123


GENERIC_G_MAX, GENERIC_T0, GENERIC_T_READ = 25.0, 20.0, 250e-9


def ref_generic_programming_std(g):
    x = g / GENERIC_G_MAX
    return max(0.26348 + 1.9650 * x - 1.1731 * x**2, 0.0) * GENERIC_G_MAX / 25


def ref_generic_drift_mean(g):
    x = max(abs(g) / GENERIC_G_MAX, G_REL_FLOOR)
    return _clip(-0.0155 * math.log(x) + 0.0244, 0.049, 0.1)


def ref_generic_drift_std(g):
    x = max(abs(g) / GENERIC_G_MAX, G_REL_FLOOR)
    return _clip(-0.0125 * math.log(x) - 0.0059, 0.008, 0.045)


def ref_generic_read_noise(g):
    x = abs(g) / GENERIC_G_MAX
    return min(0.0088 / max(x**0.65, 1e-3), 0.2)


# model id -> (factory, g_max, t0, t_read, {curve name: scalar reference})
MODELS = {
    "hermes1": (
        lambda **kw: HermesPCM(1, **kw),
        *_hermes_constants(1)[:3],
        {
            "programming_std": lambda g: ref_hermes_programming_std(g, 1),
            "drift_exponent_mean": lambda g: ref_hermes_drift_mean(g, 1),
            "drift_exponent_std": lambda g: ref_hermes_drift_std(g, 1),
            "read_noise_coefficient": lambda g: ref_hermes_read_noise(g, 1),
        },
    ),
    "hermes2": (
        lambda **kw: HermesPCM(2, **kw),
        *_hermes_constants(2)[:3],
        {
            "programming_std": lambda g: ref_hermes_programming_std(g, 2),
            "drift_exponent_mean": lambda g: ref_hermes_drift_mean(g, 2),
            "drift_exponent_std": lambda g: ref_hermes_drift_std(g, 2),
            "read_noise_coefficient": lambda g: ref_hermes_read_noise(g, 2),
        },
    ),
    "generic": (
        lambda **kw: GenericPCM(**kw),
        GENERIC_G_MAX,
        GENERIC_T0,
        GENERIC_T_READ,
        {
            "programming_std": ref_generic_programming_std,
            "drift_exponent_mean": ref_generic_drift_mean,
            "drift_exponent_std": ref_generic_drift_std,
            "read_noise_coefficient": ref_generic_read_noise,
        },
    ),
}
MODEL_IDS = list(MODELS)
CURVES = ["programming_std", "drift_exponent_mean", "drift_exponent_std", "read_noise_coefficient"]
# Branch thresholds of g_rel in the reference, per model.
THRESHOLDS = {
    "hermes1": [0.0945, 0.3039, 0.1591],
    "hermes2": [0.0945, 0.3055, 0.16],
    "generic": [],
}


def make(model_id, **params):
    return MODELS[model_id][0](**params)


def curve_grid(model_id):
    """Conductances (uS) covering 0, tiny values, the range, g_max and near-thresholds."""
    g_max = MODELS[model_id][1]
    g_rel = [0.0, 1e-12, 1e-8, 1e-7, 2e-7, 1e-5, 1e-3, 0.01]
    g_rel += list(np.linspace(0, 1, 101))
    for threshold in THRESHOLDS[model_id]:
        g_rel += [threshold * (1 - 1e-9), threshold * (1 + 1e-9), threshold * 0.9, threshold * 1.1]
    # The generic curves' clip points: mu hits 0.1 and 0.049, sigma 0.045 and 0.008, ...
    g_rel += [math.exp((0.0244 - 0.1) / 0.0155), math.exp((0.0244 - 0.049) / 0.0155)]
    g_rel += [math.exp((-0.0059 - 0.045) / 0.0125), math.exp((-0.0059 - 0.008) / 0.0125)]
    return np.array(sorted(set(g_rel))) * g_max


def reference_curve(model_id, curve, g):
    ref = MODELS[model_id][4][curve]
    return np.array([ref(float(v)) for v in np.ravel(g)]).reshape(np.shape(g))


# Constants ------------------------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_constants(model_id):
    _, g_max, t0, t_read, _ = MODELS[model_id]
    model = make(model_id)
    assert model.g_max == g_max
    assert model.t0 == t0
    assert model.t_read == t_read


def test_hermes_devices_per_polarity():
    assert HermesPCM(1).devices_per_polarity == 1
    assert HermesPCM(2).devices_per_polarity == 2
    assert HermesPCM().num_devices == 2
    assert GenericPCM().devices_per_polarity == 1
    assert IdealPCM().devices_per_polarity == 1


# The published curves ----------------------------------------------------------
@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_curve_matches_reference_float64(model_id, curve):
    g = curve_grid(model_id)
    got = getattr(make(model_id), curve)(g)
    assert got.dtype == np.float64
    # Horner vs power evaluation of the cubic with cancellation (terms up to
    # 9 against a value of 1): well below 1e-12 relative.
    np.testing.assert_allclose(got, reference_curve(model_id, curve, g), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_curve_matches_reference_float32(model_id, curve):
    # Away from the thresholds (float32 rounding may move g_rel across a
    # discontinuous branch point by one ulp): a few float32 roundings, with
    # cancellation in the cubic of up to 16x, stay below 16 * 4 * 2**-24 = 4e-6.
    g = curve_grid(model_id)
    g_rel = g / MODELS[model_id][1]
    away = np.ones(g.size, dtype=bool)
    for threshold in THRESHOLDS[model_id]:
        away &= np.abs(g_rel - threshold) > 1e-5
    g32 = g[away].astype(np.float32)
    got = getattr(make(model_id), curve)(g32)
    assert got.dtype == np.float32
    expected = reference_curve(model_id, curve, g32.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("model_id", ["hermes1", "hermes2"])
def test_curve_at_exact_branch_thresholds(model_id, curve):
    # At g = threshold * g_max the reference's g_rel = g / g_max equals the
    # threshold, which belongs to the upper (polynomial) branch.
    g_max = MODELS[model_id][1]
    g = np.array([threshold * g_max for threshold in THRESHOLDS[model_id]])
    assert (g / g_max == np.array(THRESHOLDS[model_id])).all()  # premise of the test
    got = getattr(make(model_id), curve)(g)
    np.testing.assert_allclose(got, reference_curve(model_id, curve, g), rtol=1e-12)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_curves_keep_shape(model_id, global_dtype):
    model = make(model_id)
    g = np.linspace(0, model.g_max, 24).reshape(2, 3, 4).astype(global_dtype)
    for curve in CURVES:
        values = getattr(model, curve)(g)
        assert values.shape == g.shape
        assert values.dtype == global_dtype
        flat = getattr(model, curve)(g.ravel())
        np.testing.assert_array_equal(values.ravel(), flat)
    scalar = model.programming_std(1.0)
    assert np.ndim(scalar) == 0


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_curves_accept_integers(model_id):
    model = make(model_id)
    np.testing.assert_array_equal(model.programming_std([1, 2]), model.programming_std([1.0, 2.0]))


def test_generic_docstring_value():
    # 0.26348 + 1.9650 - 1.1731 at g_max.
    assert GenericPCM().programming_std(25.0) == pytest.approx(1.05538, abs=1e-12)


def test_curves_reject_nan():
    with pytest.raises(ValueError, match="NaN"):
        HermesPCM().programming_std([1.0, np.nan])


def test_ideal_curves_zero():
    g = np.linspace(0, 1, 11)
    for curve in CURVES:
        np.testing.assert_array_equal(getattr(IdealPCM(), curve)(g), 0)


# Helpers of the statistical tests ---------------------------------------------
def programmed(model, g_rel, n, dtype=np.float64, seed=0):
    """Program n devices per relative target; returns targets (bins, n), g_prog, nu."""
    targets = np.repeat(np.asarray(g_rel, dtype=np.float64)[:, None] * model.g_max, n, axis=1)
    targets = targets.astype(dtype)
    g_prog, nu = model.program(targets, random_state=seed)
    return targets, g_prog, nu


def folded_normal_moments(mu, sigma):
    """Mean and variance of |N(mu, sigma^2)|."""
    mean = sigma * np.sqrt(2 / np.pi) * np.exp(-(mu**2) / (2 * sigma**2)) + mu * (
        1 - 2 * stats.norm.cdf(-mu / sigma)
    )
    return mean, mu**2 + sigma**2 - mean**2


def std_standard_error(x):
    """SE of the sample std from the sample 4th central moment (delta method):
    Var(s^2) = (m4 - s^4) / n, SE(s) = SE(s^2) / (2 s)."""
    centred = x - x.mean()
    s2 = np.mean(centred**2)
    m4 = np.mean(centred**4)
    return np.sqrt((m4 - s2**2) / x.size) / (2 * np.sqrt(s2))


# Programming noise ------------------------------------------------------------------
N_PER_BIN = 40_000
PROGRAMMING_BINS = [0.3, 0.5, 0.7, 0.9, 1.0]


def censored_normal_moments(g, s):
    """Mean and variance of max(0, N(g, s^2)) (the programming clamp at 0)."""
    a = g / s
    mean = g * stats.norm.cdf(a) + s * stats.norm.pdf(a)
    second = (g**2 + s**2) * stats.norm.cdf(a) + g * s * stats.norm.pdf(a)
    return mean, second - mean**2


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_programming_noise_std(model_id, global_dtype):
    model = make(model_id)
    targets, g_prog, _ = programmed(model, PROGRAMMING_BINS, N_PER_BIN, global_dtype, seed=11)
    assert g_prog.dtype == global_dtype
    g_prog = g_prog.astype(np.float64)
    g_t = targets[:, 0].astype(np.float64)
    sigma = reference_curve(model_id, "programming_std", g_t)
    # The clamp at 0 is accounted for exactly (it matters only for the
    # single-device HERMES fit at g_rel 0.3, g_T / sigma = 4.6).
    mean, var = censored_normal_moments(g_t, sigma)
    for k in range(len(PROGRAMMING_BINS)):
        # SE of the sample std from the 4th moment (sigma / sqrt(2n) for a
        # normal: 1/283 relative at n = 40000); SE of the mean sqrt(var / n).
        assert abs(g_prog[k].std() - np.sqrt(var[k])) < 5 * std_standard_error(g_prog[k])
        assert abs(g_prog[k].mean() - mean[k]) < 5 * np.sqrt(var[k] / N_PER_BIN)
    # The fit's own sigma, not the clamped one, is what the clamp acts on:
    # where clamping is negligible both agree to 1e-6.
    assert np.sqrt(var[-1]) == pytest.approx(sigma[-1], rel=1e-6)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_programming_noise_clamped_at_zero(model_id, global_dtype):
    # g_T = 0: g_prog = max(0, sigma xi), a half-normal with an atom at 0:
    # mean sigma / sqrt(2 pi), variance sigma^2 (1/2 - 1/(2 pi)), P(0) = 1/2.
    n = 200_000
    model = make(model_id)
    g_prog, _ = model.program(np.zeros(n, dtype=global_dtype), random_state=12)
    assert (g_prog >= 0).all()
    sigma = reference_curve(model_id, "programming_std", np.zeros(1))[0]
    mean = sigma / np.sqrt(2 * np.pi)
    se = sigma * np.sqrt((0.5 - 1 / (2 * np.pi)) / n)
    assert abs(g_prog.astype(np.float64).mean() - mean) < 5 * se
    # Binomial(n, 1/2) count of devices exactly at 0: SE sqrt(n / 4).
    assert abs(np.count_nonzero(g_prog == 0) - n / 2) < 5 * np.sqrt(n / 4)


def test_programming_noise_low_bin_hermes():
    # A bin where the clamp matters but is known: E[max(0, g + s xi)] =
    # g Phi(g/s) + s phi(g/s) (g_T/sigma about 1.3 for 2 devices at g_rel 0.02).
    n = 200_000
    model = HermesPCM(2)
    g = 0.02 * model.g_max
    s = ref_hermes_programming_std(g, 2)
    g_prog, _ = model.program(np.full(n, g), random_state=13)
    mean, var = censored_normal_moments(g, s)
    assert abs(g_prog.mean() - mean) < 5 * np.sqrt(var / n)


# Drift exponents ------------------------------------------------------------------
DRIFT_BINS = [0.01, 0.05, 0.2, 0.5, 1.0]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_drift_exponent_distribution(model_id, global_dtype):
    model = make(model_id)
    targets, _, nu = programmed(model, DRIFT_BINS, N_PER_BIN, global_dtype, seed=14)
    assert nu.dtype == global_dtype
    assert (nu >= 0).all()
    g = targets[:, 0].astype(np.float64)
    mu = reference_curve(model_id, "drift_exponent_mean", g)
    sigma = reference_curve(model_id, "drift_exponent_std", g)
    mean, var = folded_normal_moments(mu, sigma)
    nu = nu.astype(np.float64)
    for k in range(len(DRIFT_BINS)):
        # SE of the mean: sqrt(var / n); SE of the std from the 4th moment.
        assert abs(nu[k].mean() - mean[k]) < 5 * np.sqrt(var[k] / N_PER_BIN), DRIFT_BINS[k]
        assert abs(nu[k].std() - np.sqrt(var[k])) < 5 * std_standard_error(nu[k]), DRIFT_BINS[k]


def test_drift_exponent_folded_where_mu_is_small():
    # A model with mu / sigma = 0.5, where folding shifts the mean from 0.01
    # to 0.0179: a sampler drawing N(mu, sigma) without abs would miss by
    # about 190 SE (SE = sqrt(var / n) = 4.2e-5).
    class Folded(GenericPCM):
        def drift_exponent_mean(self, g):
            return np.full_like(np.asarray(g, dtype=float), 0.01)

        def drift_exponent_std(self, g):
            return np.full_like(np.asarray(g, dtype=float), 0.02)

    n = 100_000
    _, nu = Folded().program(np.full(n, 10.0), random_state=15)
    mean, var = folded_normal_moments(0.01, 0.02)
    assert (nu >= 0).all()
    assert abs(nu.mean() - mean) < 5 * np.sqrt(var / n)


# Drift ------------------------------------------------------------------------------
DAY, YEAR = 86_400.0, 360 * 86_400.0


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("t", [60.0, DAY, YEAR])
def test_drift_per_device(model_id, t, global_dtype):
    # Drift alone (no read noise): g(t) = g_prog ((t + t0) / t0) ** -nu per
    # device, to a few roundings of the dtype.
    model = make(model_id, read_noise_scale=0.0)
    _, g_prog, nu = programmed(model, [0.05, 0.5, 1.0], 1000, global_dtype, seed=16)
    g = model.at_time(g_prog, nu, t, random_state=0)
    assert g.dtype == global_dtype
    expected = g_prog.astype(np.float64) * ((t + model.t0) / model.t0) ** -nu.astype(np.float64)
    rtol = 1e-12 if global_dtype == np.float64 else 2e-6
    np.testing.assert_allclose(g, expected, rtol=rtol)


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("t", [DAY, YEAR])
def test_drift_mean_conductance(model_id, t):
    # E[g(t)] = E[g_prog] E[r ** -|mu + sigma Z|], r = (t + t0) / t0, with
    # programming noise on (independent streams); E over Z by quadrature.
    # SE of the sample mean: sample std / sqrt(n).
    n = 100_000
    model = make(model_id, read_noise_scale=0.0)
    r = (t + model.t0) / model.t0
    for g_rel in [0.3, 1.0]:
        g_t = g_rel * model.g_max
        g_prog, nu = model.program(np.full(n, g_t), random_state=17)
        g = model.at_time(g_prog, nu, t)
        mu = reference_curve(model_id, "drift_exponent_mean", np.array([g_t]))[0]
        sigma = reference_curve(model_id, "drift_exponent_std", np.array([g_t]))[0]
        decay, _ = integrate.quad(
            lambda z: r ** -abs(mu + sigma * z) * stats.norm.pdf(z),
            -12,
            12,
            points=[-mu / sigma],
            epsabs=1e-13,
        )
        s = reference_curve(model_id, "programming_std", np.array([g_t]))[0]
        mean_prog, _ = censored_normal_moments(g_t, s)
        assert abs(g.mean() - mean_prog * decay) < 5 * g.std() / np.sqrt(n), g_rel


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_no_drift_at_time_zero(model_id):
    model = make(model_id, read_noise_scale=0.0)
    _, g_prog, nu = programmed(model, [0.2, 0.8], 100, seed=18)
    np.testing.assert_array_equal(model.at_time(g_prog, nu, 0.0), g_prog)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_drift_lowers_conductance_monotonically(model_id):
    model = make(model_id, read_noise_scale=0.0)
    _, g_prog, nu = programmed(model, [0.2, 0.8], 500, seed=19)
    previous = g_prog
    for t in [1.0, 60.0, 3600.0, DAY, 30 * DAY, YEAR]:
        g = model.at_time(g_prog, nu, t)
        assert (g <= previous).all()
        assert (g[g_prog > 0] < previous[g_prog > 0]).any()
        previous = g


# Read noise ----------------------------------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("t", [0.0, 1.0, 3600.0, DAY, YEAR])
def test_read_noise_std(model_id, t, global_dtype):
    # No programming noise, no drift: g = g_T (1 + Q_s(g_T) growth(t) xi),
    # growth(t) = sqrt(ln((t + t0 + t_read) / (2 t_read))).  The relative
    # std is at most 0.04 * 5.6 = 0.22 for these bins: clamping needs
    # xi < -4.5 and changes the std by < 1e-5, far below the SE
    # sigma / sqrt(2n).
    n = 40_000
    model = make(model_id, prog_noise_scale=0.0, drift_scale=0.0)
    targets, g_prog, nu = programmed(model, [0.3, 0.6, 1.0], n, global_dtype, seed=20)
    np.testing.assert_array_equal(g_prog, targets)
    g = model.at_time(g_prog, nu, t, random_state=21)
    assert g.dtype == global_dtype
    relative = g.astype(np.float64) / targets.astype(np.float64) - 1
    q = reference_curve(model_id, "read_noise_coefficient", targets[:, 0].astype(np.float64))
    growth = np.sqrt(np.log((t + model.t0 + model.t_read) / (2 * model.t_read)))
    expected = q * growth
    np.testing.assert_array_less(np.abs(relative.std(axis=1) - expected), 5 * expected / np.sqrt(2 * n))
    np.testing.assert_array_less(np.abs(relative.mean(axis=1)), 5 * expected / np.sqrt(n))


def test_read_noise_coefficient_uses_programmed_conductance():
    # Q_s is taken at g_prog, the noise is relative to the drifted g: with a
    # strong drift (drift_scale=3) g_rel falls from 0.16 to about 0.01 after a
    # year, where Q_s(g_drift) would be twice Q_s(g_prog).
    n = 100_000
    model = HermesPCM(1, prog_noise_scale=0.0, drift_scale=3.0)
    g_t = 0.16 * model.g_max
    g_prog, nu = model.program(np.full(n, g_t), random_state=22)
    drifted = HermesPCM(1, prog_noise_scale=0.0, drift_scale=3.0, read_noise_scale=0.0).at_time(
        g_prog, nu, YEAR
    )
    g = model.at_time(g_prog, nu, YEAR, random_state=23)
    relative = g / drifted - 1
    growth = np.sqrt(np.log((YEAR + model.t0 + model.t_read) / (2 * model.t_read)))
    expected = ref_hermes_read_noise(g_t, 1) * growth
    assert ref_hermes_read_noise(float(np.median(drifted)), 1) > 1.8 * ref_hermes_read_noise(g_t, 1)
    assert abs(relative.std() - expected) < 5 * expected / np.sqrt(2 * n)


# Never negative, switches and scales ----------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_conductances_never_negative(model_id, global_dtype):
    model = make(model_id, prog_noise_scale=5.0, read_noise_scale=20.0)
    targets = np.linspace(0, model.g_max, 20_000).astype(global_dtype)
    g_prog, nu = model.program(targets, random_state=24)
    assert (g_prog >= 0).all()
    for t in [0.0, DAY, YEAR]:
        g = model.at_time(g_prog, nu, t, random_state=25)
        assert (g >= 0).all()
        assert np.isfinite(g).all()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_prog_noise_scale_zero_programs_exactly(model_id, global_dtype):
    model = make(model_id, prog_noise_scale=0.0)
    targets = np.linspace(0, model.g_max, 1001).astype(global_dtype)
    g_prog, nu = model.program(targets, random_state=26)
    np.testing.assert_array_equal(g_prog, targets)
    # The drift exponents are those of the noisy model (independent stream).
    _, nu_noisy = make(model_id).program(targets, random_state=26)
    np.testing.assert_array_equal(nu, nu_noisy)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_drift_scale_zero_switches_drift_off(model_id, global_dtype):
    model = make(model_id, drift_scale=0.0, read_noise_scale=0.0)
    targets = np.linspace(0, model.g_max, 1001).astype(global_dtype)
    g_prog, nu = model.program(targets, random_state=27)
    np.testing.assert_array_equal(nu, 0)
    np.testing.assert_array_equal(model.at_time(g_prog, nu, YEAR), g_prog)
    g_noisy_drift, _ = make(model_id).program(targets, random_state=27)
    np.testing.assert_array_equal(g_prog, g_noisy_drift)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_read_noise_scale_zero_is_deterministic(model_id):
    model = make(model_id, read_noise_scale=0.0)
    _, g_prog, nu = programmed(model, [0.1, 0.9], 100, seed=28)
    a = model.at_time(g_prog, nu, DAY, random_state=1)
    b = model.at_time(g_prog, nu, DAY, random_state=2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_scales_of_two_double_the_effects(model_id, global_dtype):
    # Same seed, scale 2: the programming error doubles device by device (up
    # to a rounding of g_T + error, |delta| <= eps g), nu doubles exactly
    # (times 2 is exact), and the read-noise term doubles.
    eps = np.finfo(global_dtype).eps
    base, double = make(model_id), make(model_id, prog_noise_scale=2.0)
    targets = np.full(20_000, 0.6 * base.g_max, dtype=global_dtype)
    g1, nu1 = base.program(targets, random_state=29)
    g2, nu2 = double.program(targets, random_state=29)
    unclamped = (g1 > 0) & (g2 > 0)
    assert unclamped.mean() > 0.99
    err1 = g1[unclamped].astype(np.float64) - targets[unclamped]
    err2 = g2[unclamped].astype(np.float64) - targets[unclamped]
    np.testing.assert_allclose(err2, 2 * err1, atol=4 * eps * base.g_max, rtol=0)

    _, nu_d = make(model_id, drift_scale=2.0).program(targets, random_state=29)
    np.testing.assert_array_equal(nu_d, 2 * nu1)

    quiet = make(model_id, read_noise_scale=0.0)
    drifted = quiet.at_time(g1, nu1, DAY).astype(np.float64)
    r1 = make(model_id).at_time(g1, nu1, DAY, random_state=30).astype(np.float64)
    r2 = make(model_id, read_noise_scale=2.0).at_time(g1, nu1, DAY, random_state=30)
    unclamped = (r1 > 0) & (r2 > 0)
    assert unclamped.mean() > 0.99
    r1, r2 = r1[unclamped] - drifted[unclamped], r2[unclamped].astype(np.float64) - drifted[unclamped]
    np.testing.assert_allclose(r2, 2 * r1, atol=8 * eps * base.g_max, rtol=0)
    # And statistically: the std of the error doubles (same stream, ratio 2 up
    # to roundings of about eps g / sigma).
    assert err2.std() / err1.std() == pytest.approx(2, rel=1e-3)


# Faults and stream independence ------------------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_fault_fractions(model_id, global_dtype):
    # Targets at g_rel 0.5 (> 8 sigma from 0 and from g_max... never hit 0 or
    # exactly g_max by noise), so stuck devices are identified exactly.  Each
    # count is binomial(n, p): SE sqrt(n p (1 - p)).
    n = 200_000
    p_reset, p_set = 0.1, 0.05
    model = make(model_id, stuck_reset_fraction=p_reset, stuck_set_fraction=p_set)
    targets = np.full(n, 0.5 * model.g_max, dtype=global_dtype)
    g_prog, nu = model.program(targets, random_state=31)
    n_reset = np.count_nonzero(g_prog == 0)
    n_set = np.count_nonzero(g_prog == global_dtype.type(model.g_max))
    assert abs(n_reset - n * p_reset) < 5 * np.sqrt(n * p_reset * (1 - p_reset))
    assert abs(n_set - n * p_set) < 5 * np.sqrt(n * p_set * (1 - p_set))
    # Stuck devices stay stuck at every time (RESET at 0 uS).
    g = model.at_time(g_prog, nu, YEAR, random_state=32)
    assert (g[g_prog == 0] == 0).all()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_faults_leave_healthy_devices_unchanged(model_id, global_dtype):
    model = make(model_id)
    faulty = make(model_id, stuck_reset_fraction=0.2, stuck_set_fraction=0.2)
    targets = np.linspace(0.1, 0.9, 10_000).astype(global_dtype) * model.g_max
    g_prog, nu = model.program(targets, random_state=33)
    g_faulty, nu_faulty = faulty.program(targets, random_state=33)
    healthy = (g_faulty != 0) & (g_faulty != global_dtype.type(model.g_max))
    assert 0.5 < healthy.mean() < 0.7
    np.testing.assert_array_equal(g_faulty[healthy], g_prog[healthy])
    np.testing.assert_array_equal(nu_faulty[healthy], nu[healthy])


def test_all_devices_stuck():
    model = GenericPCM(stuck_reset_fraction=0.5, stuck_set_fraction=0.5)
    g_prog, _ = model.program(np.full(1000, 10.0), random_state=0)
    assert set(np.unique(g_prog)) <= {0.0, 25.0}


def test_ideal_faults_apply():
    g_prog, _ = IdealPCM(stuck_reset_fraction=1.0).program(np.full(10, 0.5), random_state=0)
    np.testing.assert_array_equal(g_prog, 0)


# Seeds and programming state -----------------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_seeds(model_id, global_dtype):
    model = make(model_id)
    targets = np.linspace(0, model.g_max, 1000).astype(global_dtype)
    a = model.program(targets, random_state=34)
    b = model.program(targets, random_state=34)
    c = model.program(targets, random_state=35)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])
    ga = model.at_time(*a, DAY, random_state=36)
    gb = model.at_time(*a, DAY, random_state=36)
    gc = model.at_time(*a, DAY, random_state=37)
    np.testing.assert_array_equal(ga, gb)
    assert not np.array_equal(ga, gc)


def test_seed_types():
    model = HermesPCM()
    targets = np.linspace(0, model.g_max, 100)
    a = model.program(targets, random_state=np.random.RandomState(0))[0]
    b = model.program(targets, random_state=np.random.RandomState(0))[0]
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    first, second = model.program(targets, random_state=rng)[0], model.program(targets, random_state=rng)[0]
    assert not np.array_equal(first, second)  # a Generator advances
    x, y = model.program(targets)[0], model.program(targets)[0]
    assert not np.array_equal(x, y)  # None: fresh entropy


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_at_time_keeps_programming_state(model_id):
    model = make(model_id)
    _, g_prog, nu = programmed(model, [0.1, 0.5, 0.9], 1000, seed=38)
    g_copy, nu_copy = g_prog.copy(), nu.copy()
    g1 = model.at_time(g_prog, nu, 60.0, random_state=39)
    g2 = model.at_time(g_prog, nu, YEAR, random_state=39)
    # Inputs are not modified, the two reads differ, and reading at 60 s again
    # after the year gives the same conductances.
    np.testing.assert_array_equal(g_prog, g_copy)
    np.testing.assert_array_equal(nu, nu_copy)
    assert not np.array_equal(g1, g2)
    np.testing.assert_array_equal(model.at_time(g_prog, nu, 60.0, random_state=39), g1)
    # With the same read stream, both times share the programmed state: with
    # read noise on, g(t) / (g_prog r(t)^-nu) - 1 = Q_s growth(t) xi, the same
    # xi at both times, so the ratio of the two deviations is growth(YEAR) / growth(60).
    quiet = make(model_id, read_noise_scale=0.0)
    mask = (g_prog > 0) & (g1 > 0) & (g2 > 0)  # not clamped
    d1 = g1[mask] / quiet.at_time(g_prog, nu, 60.0)[mask] - 1
    d2 = g2[mask] / quiet.at_time(g_prog, nu, YEAR)[mask] - 1
    growth = lambda t: np.sqrt(np.log((t + model.t0 + model.t_read) / (2 * model.t_read)))  # noqa: E731
    np.testing.assert_allclose(d2, d1 * growth(YEAR) / growth(60.0), rtol=1e-6, atol=1e-12)


def test_program_dtypes():
    model = HermesPCM()
    g_prog, nu = model.program(np.array([1, 2, 3]), random_state=0)
    assert g_prog.dtype == nu.dtype == np.float64
    g_prog, nu = model.program(np.array([1.0, 2.0], dtype=np.float32), random_state=0)
    assert g_prog.dtype == nu.dtype == np.float32
    assert model.at_time(g_prog, nu, 10.0, random_state=0).dtype == np.float32
    g_prog, nu = model.program(np.ones((2, 3, 4)), random_state=0)
    assert g_prog.shape == nu.shape == (2, 3, 4)


def test_ideal_model():
    model = IdealPCM()
    targets = np.linspace(0, 1, 11)
    g_prog, nu = model.program(targets, random_state=0)
    np.testing.assert_array_equal(g_prog, targets)
    np.testing.assert_array_equal(nu, 0)
    for t in [0.0, 1.0, YEAR]:
        np.testing.assert_array_equal(model.at_time(g_prog, nu, t, random_state=1), targets)


# Parameters and errors ------------------------------------------------------------
def test_params_clone_pickle():
    model = HermesPCM(1, drift_scale=0.5, stuck_set_fraction=0.01)
    params = model.get_params()
    assert params == {
        "num_devices": 1,
        "prog_noise_scale": 1.0,
        "drift_scale": 0.5,
        "read_noise_scale": 1.0,
        "stuck_reset_fraction": 0.0,
        "stuck_set_fraction": 0.01,
    }
    copy = clone(model)
    assert copy.get_params() == params and copy.g_max == 10.35
    restored = pickle.loads(pickle.dumps(model))
    targets = np.linspace(0, 10, 50)
    np.testing.assert_array_equal(
        restored.program(targets, random_state=0)[0], model.program(targets, random_state=0)[0]
    )
    assert isinstance(model, PCMModel)


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize(
    "targets, match",
    [([1.0, -0.1], "g_target"), ([1.0, np.nan], "NaN"), ([np.inf], "NaN or infinite")],
)
def test_program_rejects_bad_targets(model_id, targets, match):
    with pytest.raises(ValueError, match=match):
        make(model_id).program(np.array(targets), random_state=0)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_program_rejects_targets_above_g_max(model_id):
    model = make(model_id)
    with pytest.raises(ValueError, match="g_max"):
        model.program(np.array([model.g_max * 1.01]), random_state=0)
    model.program(np.array([0.0, model.g_max]), random_state=0)  # both ends accepted


@pytest.mark.parametrize("t", [-1.0, np.nan, np.inf, "1", True, None])
def test_at_time_rejects_bad_times(t):
    model = HermesPCM()
    g_prog, nu = model.program(np.ones(3), random_state=0)
    with pytest.raises(ValueError, match="t must"):
        model.at_time(g_prog, nu, t)


def test_at_time_rejects_bad_inputs():
    model = HermesPCM()
    g_prog, nu = model.program(np.ones(3), random_state=0)
    with pytest.raises(ValueError, match="shape"):
        model.at_time(g_prog, nu[:2], 1.0)
    with pytest.raises(ValueError, match="NaN"):
        model.at_time(np.array([1.0, np.nan, 1.0]), nu, 1.0)


@pytest.mark.parametrize("num_devices", [3, 0, 1.5, "2", True])
def test_invalid_num_devices(num_devices):
    model = HermesPCM(num_devices=num_devices)
    with pytest.raises((ValueError, TypeError), match="num_devices"):
        model.program(np.ones(3), random_state=0)
    with pytest.raises((ValueError, TypeError), match="num_devices"):
        model.validate()
    with pytest.raises((ValueError, TypeError), match="num_devices"):
        model.g_max  # noqa: B018


@pytest.mark.parametrize(
    "param", ["prog_noise_scale", "drift_scale", "read_noise_scale", "stuck_reset_fraction", "stuck_set_fraction"]
)
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_negative_parameters_rejected(model_id, param):
    with pytest.raises(ValueError, match=param):
        make(model_id, **{param: -0.1}).program(np.ones(3), random_state=0)


@pytest.mark.parametrize("param", ["stuck_reset_fraction", "stuck_set_fraction"])
def test_fraction_above_one_rejected(param):
    with pytest.raises(ValueError, match=param):
        GenericPCM(**{param: 1.5}).validate()


def test_fractions_summing_above_one_rejected():
    with pytest.raises(ValueError, match="must not exceed 1"):
        GenericPCM(stuck_reset_fraction=0.6, stuck_set_fraction=0.5).program(np.ones(3), random_state=0)
    GenericPCM(stuck_reset_fraction=0.5, stuck_set_fraction=0.5).validate()


def test_at_time_validates_parameters():
    model = GenericPCM()
    g_prog, nu = model.program(np.ones(3), random_state=0)
    with pytest.raises(ValueError, match="read_noise_scale"):
        GenericPCM(read_noise_scale=-1.0).at_time(g_prog, nu, 1.0)
