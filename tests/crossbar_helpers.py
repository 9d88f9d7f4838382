"""Helpers shared by the crossbar tests."""

import numpy as np

from sklearn_aimc import AnalogCrossbar, GenericPCM, PCMModel

U32 = 2.0**-24  # unit roundoff of float32
YEAR = 360 * 86_400.0


def gaussian(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ideal_periphery(**params):
    """Ideal converters and no output noise, but not the exact short-cut."""
    defaults = dict(dac_bits=None, adc_bits=None, output_noise=0.0, post_processing="float")
    return AnalogCrossbar(**{**defaults, **params})


def noiseless_generic():
    return GenericPCM(prog_noise_scale=0.0, drift_scale=0.0, read_noise_scale=0.0)


def float32_bound(X, W, k, extra=8):
    """Bound on |float32 analog product - X @ W| with k terms per tile."""
    return (k + extra) * 2 * U32 * (np.abs(X) @ np.abs(W))


class CommonDriftPCM(PCMModel):
    """A test device: exact programming, no read noise, one drift exponent for all."""

    g_max = 10.0
    t0 = 100.0
    t_read = 1e-6

    def __init__(self, nu=0.06, *, prog_noise_scale=1.0, drift_scale=1.0, read_noise_scale=1.0, stuck_reset_fraction=0.0, stuck_set_fraction=0.0):
        super().__init__(
            prog_noise_scale=prog_noise_scale,
            drift_scale=drift_scale,
            read_noise_scale=read_noise_scale,
            stuck_reset_fraction=stuck_reset_fraction,
            stuck_set_fraction=stuck_set_fraction,
        )
        self.nu = nu

    def programming_std(self, g):
        return np.zeros_like(np.asarray(g))

    def drift_exponent_mean(self, g):
        return np.full_like(np.asarray(g), self.nu)

    def drift_exponent_std(self, g):
        return np.zeros_like(np.asarray(g))

    def read_noise_coefficient(self, g):
        return np.zeros_like(np.asarray(g))
