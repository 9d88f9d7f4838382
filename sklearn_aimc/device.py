"""Statistical models of phase-change-memory (PCM) devices.

A PCM model turns target conductances into programmed conductances (programming
noise) with a drift exponent per device, and tells what each device reads t
seconds later (power-law drift and accumulated 1/f read noise).  The models
know nothing of weights, tiles or estimators; :mod:`sklearn_aimc.crossbar`
builds on them.

All conductances are in microsiemens (uS), all times in seconds.  Every model
works on arrays of any shape, vectorised, and keeps float32 inputs in float32.

Two published fits are provided, both of the form of Nandakumar et al. (ICECS
2019):

* :class:`HermesPCM`: the fits of the PCM devices of the IBM HERMES Project
  Chip (Le Gallo et al., Nature Electronics 2023; Khaddam-Aljameh et al., JSSC
  2022), with 1 or 2 devices per polarity - the model behind aihwkit's
  ``HermesNoiseModel``.
* :class:`GenericPCM`: the generic doped-GST PCM fit (Nandakumar et al., ICECS
  2019; Joshi et al., Nature Communications 2020) - the model behind aihwkit's
  ``PCMLikeNoiseModel``.

:class:`IdealPCM` programs exactly and neither drifts nor fluctuates.
"""

import functools
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, Options

from ._random import as_generator, standard_normal
from ._validation import check_seconds

__all__ = ["GenericPCM", "HermesPCM", "IdealPCM", "PCMModel"]

# Relative conductances are floored here before taking logarithms, as in
# aihwkit's models (``_ZERO_CLIP``); the published curves are clipped well
# above the values this floor produces.
_G_REL_FLOOR = 1e-7


def _as_conductance(g, name="g"):
    """Float array of conductances (float32 stays float32), checked finite."""
    g = np.asarray(g)
    if g.dtype != np.float32:
        g = g.astype(np.float64)
    if not np.isfinite(g).all():
        raise ValueError(f"{name} contains NaN or infinite conductances.")
    return g


def _published_curve(curve):
    """Let a curve written for 1-D float arrays accept conductances of any shape.

    The curve keeps the docstring of the base class's method it implements.
    """

    @functools.wraps(curve)
    def any_shape(self, g):
        g = _as_conductance(g)
        return curve(self, g.reshape(-1)).reshape(g.shape)

    if curve.__doc__ is None:
        any_shape.__doc__ = getattr(PCMModel, curve.__name__).__doc__
    return any_shape


def _check_ages(t, shape):
    """Seconds since programming: a scalar, or an array broadcastable to ``shape``."""
    if np.ndim(t) == 0:
        return check_seconds(t, "t")
    t = np.asarray(t, dtype=np.float64)
    if not (np.isfinite(t).all() and (t >= 0).all()):
        raise ValueError("t must hold finite numbers of seconds >= 0.")
    try:
        np.broadcast_shapes(t.shape, shape)
    except ValueError:
        raise ValueError(f"t has shape {t.shape}, not broadcastable to the conductances' {shape}.") from None
    return t


#: Fault codes of :meth:`PCMModel.draw_faults`.
HEALTHY, STUCK_RESET, STUCK_SET = 0, 1, 2


class PCMModel(BaseEstimator):
    """Base class of the PCM device models.

    A model describes the conductance of one polarity of a unit cell: a single
    device, or for :class:`HermesPCM` with ``num_devices=2`` a pair of devices
    programmed together (see ``devices_per_polarity``).  Subclasses provide the
    published curves and the constants ``g_max``, ``t0`` and ``t_read``.

    Parameters
    ----------
    prog_noise_scale : float, default=1.0
        Multiplies the programming-noise standard deviation (0 switches it off).
    drift_scale : float, default=1.0
        Multiplies every drift exponent (0 switches drift off).
    read_noise_scale : float, default=1.0
        Multiplies the accumulated 1/f read noise (0 switches it off).
    stuck_reset_fraction : float, default=0.0
        Fraction of devices stuck in the RESET state (0 uS), ignoring their
        target.  Device yield on HERMES cores was 98.5 - 100 % (Le Gallo et
        al. 2023), so faults are off by default.
    stuck_set_fraction : float, default=0.0
        Fraction of devices stuck in the SET state (``g_max``).
    """

    _parameter_constraints = {
        "prog_noise_scale": [Interval(Real, 0, None, closed="left")],
        "drift_scale": [Interval(Real, 0, None, closed="left")],
        "read_noise_scale": [Interval(Real, 0, None, closed="left")],
        "stuck_reset_fraction": [Interval(Real, 0, 1, closed="both")],
        "stuck_set_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    #: Physical devices that one modelled conductance stands for.
    devices_per_polarity = 1

    def __init__(
        self,
        *,
        prog_noise_scale=1.0,
        drift_scale=1.0,
        read_noise_scale=1.0,
        stuck_reset_fraction=0.0,
        stuck_set_fraction=0.0,
    ):
        self.prog_noise_scale = prog_noise_scale
        self.drift_scale = drift_scale
        self.read_noise_scale = read_noise_scale
        self.stuck_reset_fraction = stuck_reset_fraction
        self.stuck_set_fraction = stuck_set_fraction

    # The published curves -------------------------------------------------
    @abstractmethod
    def programming_std(self, g):
        """Standard deviation (uS) of the programmed conductance for target ``g`` (uS).

        Parameters
        ----------
        g : array-like of float
            Conductances (uS), any shape.

        Returns
        -------
        sigma : ndarray
            Same shape as ``g``.
        """

    @abstractmethod
    def drift_exponent_mean(self, g):
        """Mean drift exponent of a device programmed to target ``g`` (uS).

        Parameters
        ----------
        g : array-like of float
            Conductances (uS), any shape.

        Returns
        -------
        mu : ndarray
            Same shape as ``g``.
        """

    @abstractmethod
    def drift_exponent_std(self, g):
        """Standard deviation of the drift exponent for target ``g`` (uS).

        Parameters
        ----------
        g : array-like of float
            Conductances (uS), any shape.

        Returns
        -------
        sigma : ndarray
            Same shape as ``g``.
        """

    @abstractmethod
    def read_noise_coefficient(self, g):
        """Coefficient ``Q_s`` of the accumulated 1/f read noise at programmed ``g`` (uS).

        Parameters
        ----------
        g : array-like of float
            Conductances (uS), any shape.

        Returns
        -------
        q : ndarray
            Same shape as ``g``.
        """

    def _relative(self, g):
        """``|g| / g_max`` floored at 1e-7, in the dtype of ``g``."""
        g_rel = np.abs(g)
        g_rel /= g.dtype.type(self.g_max)
        return np.maximum(g_rel, g.dtype.type(_G_REL_FLOOR), out=g_rel)

    # Simulation ------------------------------------------------------------
    def validate(self):
        """Check the parameters (raises ``ValueError`` / ``TypeError``).

        Returns
        -------
        self : PCMModel
        """
        self._validate_params()
        if self.stuck_reset_fraction + self.stuck_set_fraction > 1:
            raise ValueError(
                "stuck_reset_fraction + stuck_set_fraction must not exceed 1, got "
                f"{self.stuck_reset_fraction} + {self.stuck_set_fraction}."
            )
        return self

    def program(self, g_target, random_state=None):
        """Program devices to target conductances.

        The composite of :meth:`programmed_conductance`, :meth:`drift_exponents`
        and (when faults are configured) :meth:`draw_faults` /
        :meth:`apply_faults`, each drawing from its own child stream of
        ``random_state``.

        Parameters
        ----------
        g_target : array-like of float, any shape
            Target conductances in uS, within ``[0, g_max]``.
        random_state : int, Generator, RandomState or None, default=None
            Source of programming noise, drift exponents and faults (three
            independent child streams, so switching one effect off leaves the
            others' draws unchanged).

        Returns
        -------
        g_prog : ndarray
            Programmed conductances (uS), never negative; same shape and
            float dtype as ``g_target`` (float32 stays float32).
        nu : ndarray
            Drift exponent of each device, drawn once from the target
            conductance (``drift_scale`` applied).
        """
        g_target = self._check_targets(g_target)
        prog_rng, drift_rng, fault_rng = as_generator(random_state).spawn(3)
        g_prog = self.programmed_conductance(g_target, prog_rng)
        nu = self.drift_exponents(g_target, drift_rng)
        if self.stuck_reset_fraction or self.stuck_set_fraction:
            self.apply_faults(g_prog, nu, self.draw_faults(g_target.shape, fault_rng))
        return g_prog, nu

    def _check_targets(self, g_target):
        self.validate()
        g_target = _as_conductance(g_target, "g_target")
        if (g_target < 0).any() or (g_target > self.g_max * (1 + 1e-6)).any():
            raise ValueError(
                f"g_target must lie within [0, g_max] = [0, {self.g_max}] uS; got values in "
                f"[{g_target.min()}, {g_target.max()}]."
            )
        return g_target

    def programmed_conductance(self, g_target, random_state=None):
        """Programming noise: ``max(0, g_T + prog_noise_scale * sigma_prog(g_T) xi)``.

        Iterative programming leaves each device a Gaussian error around its
        target whose standard deviation is the model's measured
        :meth:`programming_std` curve.

        Parameters
        ----------
        g_target : ndarray of float32 or float64
            Target conductances (uS), within ``[0, g_max]``.
        random_state : int, Generator, RandomState or None, default=None

        Returns
        -------
        g_prog : ndarray, dtype of ``g_target``
        """
        g_target = _as_conductance(g_target, "g_target")
        dtype = g_target.dtype
        g_prog = standard_normal(as_generator(random_state), g_target.shape, dtype)
        g_prog *= self.programming_std(g_target)
        if self.prog_noise_scale != 1:
            g_prog *= dtype.type(self.prog_noise_scale)
        g_prog += g_target
        return np.maximum(g_prog, 0, out=g_prog)

    def drift_exponents(self, g_target, random_state=None):
        """Drift exponents ``nu = drift_scale |mu_nu(g_T) + sigma_nu(g_T) xi|``, one per device.

        Drawn once per programmed device from its *target* conductance (the
        measured :meth:`drift_exponent_mean` and :meth:`drift_exponent_std`).

        Parameters
        ----------
        g_target : ndarray of float32 or float64
        random_state : int, Generator, RandomState or None, default=None

        Returns
        -------
        nu : ndarray, dtype of ``g_target``
        """
        g_target = _as_conductance(g_target, "g_target")
        dtype = g_target.dtype
        nu = standard_normal(as_generator(random_state), g_target.shape, dtype)
        nu *= self.drift_exponent_std(g_target)
        nu += self.drift_exponent_mean(g_target)
        np.abs(nu, out=nu)
        if self.drift_scale != 1:
            nu *= dtype.type(self.drift_scale)
        return nu

    def draw_faults(self, shape, random_state=None):
        """Which devices are stuck: a fault code per device.

        A fault is a property of the physical device, not of a write: a chip
        draws its fault map once and keeps it across reprogramming.

        Parameters
        ----------
        shape : tuple of int
        random_state : int, Generator, RandomState or None, default=None

        Returns
        -------
        faults : ndarray of uint8 of ``shape``
            ``HEALTHY`` (0), ``STUCK_RESET`` (1, at 0 uS) or ``STUCK_SET``
            (2, at ``g_max``), with probabilities ``stuck_reset_fraction`` and
            ``stuck_set_fraction``.
        """
        self.validate()
        u = as_generator(random_state).random(shape, dtype=np.float32)
        faults = np.zeros(shape, dtype=np.uint8)
        faults[u < np.float32(self.stuck_reset_fraction + self.stuck_set_fraction)] = STUCK_SET
        faults[u < np.float32(self.stuck_reset_fraction)] = STUCK_RESET
        return faults

    def apply_faults(self, g_prog, nu, faults):
        """Overwrite stuck devices in place: RESET at 0 uS, SET at ``g_max``.

        A device stuck in SET drifts like a device programmed to ``g_max``
        (the mean drift exponent there, times ``drift_scale``).

        Parameters
        ----------
        g_prog, nu : ndarray
            Programmed conductances and drift exponents, modified in place.
        faults : ndarray of uint8, shape of ``g_prog``
            From :meth:`draw_faults`.
        """
        stuck_set = faults == STUCK_SET
        g_prog[faults == STUCK_RESET] = 0
        g_prog[stuck_set] = self.g_max
        g_max = np.full(1, self.g_max, dtype=g_prog.dtype)
        nu[stuck_set] = self.drift_exponent_mean(g_max)[0] * self.drift_scale

    def drifted_conductance(self, g_prog, nu, t):
        """Power-law drift: ``g_prog ((t + t0) / t0) ** -nu`` (no drift at ``t = 0``).

        Parameters
        ----------
        g_prog, nu : ndarray
        t : float or ndarray
            Seconds since each device was programmed (scalar, or one age per
            device, broadcastable to ``g_prog``).

        Returns
        -------
        g_drift : ndarray, dtype of ``g_prog``
        """
        dtype = g_prog.dtype
        g = g_prog.copy()
        if self.drift_scale > 0 and np.any(np.asarray(t) > 0):
            log_decay = np.log1p(np.asarray(t, dtype=np.float64) / self.t0)
            decay = np.multiply(nu, (-log_decay).astype(dtype))
            np.exp(decay, out=decay)
            g *= decay
        return g

    def add_read_noise(self, g, g_prog, t, random_state=None):
        """Accumulated 1/f read noise, added to ``g`` in place and clamped at 0.

        Standard deviation ``|g| Q_s(g_prog) sqrt(ln((t + t0 + t_read) / (2
        t_read)))`` (Nandakumar et al. 2019), redrawn at every evaluation time.

        Parameters
        ----------
        g : ndarray
            Drifted conductances (>= 0), modified in place.
        g_prog : ndarray
            Programmed conductances (the coefficient ``Q_s`` depends on them).
        t : float or ndarray
            Seconds since each device was programmed.
        random_state : int, Generator, RandomState or None, default=None

        Returns
        -------
        g : ndarray
        """
        if self.read_noise_scale == 0:
            return g
        dtype = g.dtype
        t_total = np.asarray(t, dtype=np.float64) + self.t0
        growth = np.sqrt(np.log((t_total + self.t_read) / (2 * self.t_read))) * self.read_noise_scale
        sigma = self.read_noise_coefficient(g_prog)
        sigma *= np.asarray(growth, dtype=dtype)
        noise = standard_normal(as_generator(random_state), g.shape, dtype)
        noise *= sigma
        noise *= g  # g >= 0 here: programmed conductances are clamped and decay is positive
        g += noise
        return np.maximum(g, 0, out=g)

    def at_time(self, g_prog, nu, t, random_state=None):
        """Conductances ``t`` seconds after programming.

        :meth:`drifted_conductance` followed by :meth:`add_read_noise`.
        ``t = 0`` means the first read after programming (time ``t0`` of the
        fits): no drift yet, but read noise.

        Parameters
        ----------
        g_prog, nu : array-like
            Output of :meth:`program`.
        t : float or array-like of float
            Seconds since programming (>= 0): one time for all devices, or
            one age per device (broadcastable to ``g_prog``), for a chip whose
            devices were written at different times.
        random_state : int, Generator, RandomState or None, default=None
            Source of the read noise.  Reading the same devices at another time
            takes a fresh draw, as on a chip.

        Returns
        -------
        g : ndarray
            Conductances (uS) at time ``t``, dtype of ``g_prog``.
        """
        self.validate()
        g_prog = _as_conductance(g_prog, "g_prog")
        nu = np.asarray(nu, dtype=g_prog.dtype)
        if nu.shape != g_prog.shape:
            raise ValueError(f"nu has shape {nu.shape}, g_prog has shape {g_prog.shape}.")
        t = _check_ages(t, g_prog.shape)
        g = self.drifted_conductance(g_prog, nu, t)
        return self.add_read_noise(g, g_prog, t, random_state)


class HermesPCM(PCMModel):
    """PCM device model fitted on the IBM HERMES Project Chip.

    Fits of programming noise, drift and read noise measured on the 14-nm
    HERMES chip (Le Gallo et al., Nature Electronics 2023; Khaddam-Aljameh et
    al., JSSC 2022), in the statistical form of Nandakumar et al. (ICECS 2019),
    as published in aihwkit's ``HermesNoiseModel``.  With ``num_devices=2`` the
    two devices of a polarity are programmed with the multi-device scheme of
    Vasilopoulos et al. (IEEE TED 2023) and modelled as one conductance of
    twice the range; the fit assumes both devices hold the same conductance,
    which makes its drift slightly pessimistic.

    Constants (``num_devices=1`` / ``2``):

    * ``g_max`` = 10.35 / 20.7 uS: largest characterised conductance.
    * ``t0`` = 200 / 300 s: first read after programming, origin of drift.
    * ``t_read`` = 512 ns: read duration of the 1/f noise fit.
    * programming noise ``sigma = (c0 + c1 g_rel + c2 g_rel^2 + c3 g_rel^3)``
      uS with ``c`` = (0.15781817, 2.32443916, -2.16310839, 0.68841818) /
      (0.16603222, 4.71806468, -8.48101252, 4.68961419), clamped at 0.
    * drift-exponent mean (both): ``clip(-0.0387 ln g_rel - 0.0182, 0.0720,
      0.13)`` for ``g_rel < 0.0945``, else ``-0.0436 g_rel^2 - 0.0126 g_rel +
      0.0736``.
    * drift-exponent std: 1 device ``clip(-0.0120 ln g_rel - 0.0023, 0.0124,
      0.04)`` below 0.3039, else ``-0.0165 g_rel^2 + 0.0116 g_rel + 0.0104``;
      2 devices ``clip(-0.0117 ln g_rel - 0.0057, 0.0091, 0.04)`` below 0.3055,
      else ``-0.0118 g_rel^2 + 0.0093 g_rel + 0.0073``.
    * read-noise coefficient ``Q_s``: 1 device ``clip(-0.0078 ln g_rel +
      0.0038, 0.0179, 0.04)`` below 0.1591, else ``0.0664 g^3 - 0.1352 g^2 +
      0.0768 g + 0.0088``; 2 devices ``clip(-0.0117 ln g_rel - 0.0069, 0.015,
      0.04)`` below 0.16, else ``0.0069 g^3 - 0.0280 g^2 + 0.0211 g + 0.0123``
      (``g = g_rel``).

    Parameters
    ----------
    num_devices : {1, 2}, default=2
        PCM devices per polarity of a unit cell; the chip supports both.
    prog_noise_scale, drift_scale, read_noise_scale : float, default=1.0
        Multipliers of the three effects (0 switches one off).
    stuck_reset_fraction, stuck_set_fraction : float, default=0.0
        Fractions of stuck devices (see :class:`PCMModel`).

    Attributes
    ----------
    g_max : float
        Maximum conductance of one polarity (uS).
    t0 : float
        Time of the first read after programming (s).
    t_read : float
        Read duration of the 1/f noise fit (s).
    devices_per_polarity : int
        Equal to ``num_devices``.

    References
    ----------
    .. [1] M. Le Gallo et al., "A 64-core mixed-signal in-memory compute chip
       based on phase-change memory for deep neural network inference",
       Nature Electronics 6, 680-693 (2023).
    .. [2] R. Khaddam-Aljameh et al., "HERMES-Core - A 1.59-TOPS/mm2 PCM on
       14-nm CMOS in-memory compute core using 300-ps/LSB linearized CCO-based
       ADCs", IEEE JSSC 57(4), 1027-1038 (2022).
    .. [3] S. R. Nandakumar et al., "Phase-change memory models for deep
       learning training and inference", ICECS 2019.
    .. [4] A. Vasilopoulos et al., "Exploiting the state dependency of
       conductance variations in memristive devices for accurate in-memory
       computing", IEEE TED 70(12), 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import HermesPCM
    >>> pcm = HermesPCM()
    >>> pcm.g_max, pcm.t0
    (20.7, 300.0)
    >>> g_prog, nu = pcm.program(np.full(10_000, 10.0), random_state=0)
    >>> round(float(g_prog.std()), 1)  # programming_std(10.0) is about 1.0 uS
    1.0
    >>> g_day = pcm.at_time(g_prog, nu, t=86_400.0, random_state=1)
    >>> bool(g_day.mean() < g_prog.mean())  # drift lowers conductances
    True
    """

    _parameter_constraints = {
        **PCMModel._parameter_constraints,
        "num_devices": [Options(Integral, {1, 2})],
    }

    _G_MAX = {1: 10.35, 2: 20.7}
    _T0 = {1: 200.0, 2: 300.0}
    _T_READ = 512e-9
    _PROGRAMMING_POLYNOMIAL = {
        1: (0.15781817, 2.32443916, -2.16310839, 0.68841818),
        2: (0.16603222, 4.71806468, -8.48101252, 4.68961419),
    }
    # (threshold, log slope, log intercept, clip low, clip high, c0, c1, c2) of
    # the drift-exponent std: log branch below the threshold, quadratic above.
    _DRIFT_STD = {
        1: (0.3039, -0.0120, -0.0023, 0.0124, 0.04, 0.0104, 0.0116, -0.0165),
        2: (0.3055, -0.0117, -0.0057, 0.0091, 0.04, 0.0073, 0.0093, -0.0118),
    }
    # (threshold, log slope, log intercept, clip low, clip high, c0, c1, c2, c3) of Q_s.
    _READ_NOISE = {
        1: (0.1591, -0.0078, 0.0038, 0.0179, 0.04, 0.0088, 0.0768, -0.1352, 0.0664),
        2: (0.16, -0.0117, -0.0069, 0.015, 0.04, 0.0123, 0.0211, -0.0280, 0.0069),
    }

    def __init__(
        self,
        num_devices=2,
        *,
        prog_noise_scale=1.0,
        drift_scale=1.0,
        read_noise_scale=1.0,
        stuck_reset_fraction=0.0,
        stuck_set_fraction=0.0,
    ):
        super().__init__(
            prog_noise_scale=prog_noise_scale,
            drift_scale=drift_scale,
            read_noise_scale=read_noise_scale,
            stuck_reset_fraction=stuck_reset_fraction,
            stuck_set_fraction=stuck_set_fraction,
        )
        self.num_devices = num_devices

    def validate(self):
        """Check the parameters (raises ``ValueError`` / ``TypeError``).

        Returns
        -------
        self : HermesPCM
        """
        super().validate()
        if isinstance(self.num_devices, bool):  # True == 1 would pass the {1, 2} check
            raise ValueError(f"HermesPCM supports num_devices 1 or 2, got {self.num_devices!r}.")
        return self

    @property
    def _key(self):
        if self.num_devices not in (1, 2) or isinstance(self.num_devices, bool):
            raise ValueError(f"HermesPCM supports num_devices 1 or 2, got {self.num_devices!r}.")
        return int(self.num_devices)

    @property
    def g_max(self):
        """Maximum conductance of one polarity (uS)."""
        return self._G_MAX[self._key]

    @property
    def t0(self):
        """Time of the first read after programming (s), origin of drift."""
        return self._T0[self._key]

    @property
    def t_read(self):
        """Read duration of the 1/f noise fit (s)."""
        return self._T_READ

    @property
    def devices_per_polarity(self):
        """Physical devices one modelled conductance stands for (``num_devices``)."""
        return self._key

    @_published_curve
    def programming_std(self, g):
        sigma = _polynomial(g / g.dtype.type(self.g_max), self._PROGRAMMING_POLYNOMIAL[self._key])
        return np.maximum(sigma, 0, out=sigma)

    @_published_curve
    def drift_exponent_mean(self, g):
        return _log_or_polynomial(
            self._relative(g), 0.0945, -0.0387, -0.0182, 0.0720, 0.13, 0.0736, -0.0126, -0.0436
        )

    @_published_curve
    def drift_exponent_std(self, g):
        return _log_or_polynomial(self._relative(g), *self._DRIFT_STD[self._key])

    @_published_curve
    def read_noise_coefficient(self, g):
        return _log_or_polynomial(self._relative(g), *self._READ_NOISE[self._key])


def _polynomial(x, coefficients):
    """``sum_i coefficients[i] x**i`` by Horner's rule, in the dtype of ``x``.

    ``numpy.polynomial.polynomial.polyval`` promotes to float64 and allocates a
    temporary per coefficient; this keeps float32 in float32 and works in place.
    """
    result = np.multiply(x, x.dtype.type(coefficients[-1]))
    result += x.dtype.type(coefficients[-2])
    for coefficient in coefficients[-3::-1]:
        result *= x
        result += x.dtype.type(coefficient)
    return result


def _log_or_polynomial(g_rel, threshold, slope, intercept, low, high, *coefficients):
    """``clip(slope ln g_rel + intercept, low, high)`` below ``threshold``, polynomial above."""
    log_branch = np.log(g_rel)
    log_branch *= g_rel.dtype.type(slope)
    log_branch += g_rel.dtype.type(intercept)
    np.clip(log_branch, low, high, out=log_branch)
    return np.where(g_rel < threshold, log_branch, _polynomial(g_rel, coefficients))


class GenericPCM(PCMModel):
    """Generic PCM device model (doped-GST devices, one per polarity).

    The statistical model of Nandakumar et al. (ICECS 2019), used by Joshi et
    al. (Nature Communications 2020) and published as aihwkit's
    ``PCMLikeNoiseModel``; one differential pair per weight.

    Constants:

    * ``g_max`` = 25 uS, ``t0`` = 20 s, ``t_read`` = 250 ns.
    * programming noise ``sigma = (0.26348 + 1.9650 g_rel - 1.1731 g_rel^2)``
      uS (``g_max / 25 = 1``), clamped at 0.
    * drift exponent: mean ``clip(-0.0155 ln g_rel + 0.0244, 0.049, 0.1)``,
      std ``clip(-0.0125 ln g_rel - 0.0059, 0.008, 0.045)``.
    * read-noise coefficient ``Q_s = min(0.0088 / max(g_rel^0.65, 1e-3), 0.2)``.

    Parameters
    ----------
    prog_noise_scale, drift_scale, read_noise_scale : float, default=1.0
        Multipliers of the three effects (0 switches one off).
    stuck_reset_fraction, stuck_set_fraction : float, default=0.0
        Fractions of stuck devices (see :class:`PCMModel`).

    Attributes
    ----------
    g_max : float
        25 uS.
    t0 : float
        20 s.
    t_read : float
        250 ns.
    devices_per_polarity : int
        1.

    References
    ----------
    .. [1] S. R. Nandakumar et al., "Phase-change memory models for deep
       learning training and inference", ICECS 2019.
    .. [2] V. Joshi et al., "Accurate deep neural network inference using
       computational phase-change memory", Nature Communications 11, 2473
       (2020).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import GenericPCM
    >>> pcm = GenericPCM()
    >>> round(float(pcm.programming_std(25.0)), 5)  # 0.26348 + 1.9650 - 1.1731
    1.05538
    """

    g_max = 25.0
    t0 = 20.0
    t_read = 250e-9

    @_published_curve
    def programming_std(self, g):
        sigma = _polynomial(g / g.dtype.type(self.g_max), (0.26348, 1.9650, -1.1731))
        sigma *= g.dtype.type(self.g_max / 25.0)
        return np.maximum(sigma, 0, out=sigma)

    @_published_curve
    def drift_exponent_mean(self, g):
        return np.clip(-0.0155 * np.log(self._relative(g)) + 0.0244, 0.049, 0.1)

    @_published_curve
    def drift_exponent_std(self, g):
        return np.clip(-0.0125 * np.log(self._relative(g)) - 0.0059, 0.008, 0.045)

    @_published_curve
    def read_noise_coefficient(self, g):
        g_rel = self._relative(g)
        return np.minimum(0.0088 / np.maximum(g_rel**0.65, 1e-3), 0.2).astype(g.dtype, copy=False)


class IdealPCM(PCMModel):
    """A noise-free device: programs exactly, never drifts, reads without noise.

    With it (and ideal periphery) a crossbar computes the exact float product.
    The scale and fault parameters of :class:`PCMModel` are accepted for a
    uniform interface; faults still apply when set.

    Parameters
    ----------
    prog_noise_scale, drift_scale, read_noise_scale : float, default=1.0
        Accepted for a uniform interface (the ideal device has no noise to scale).
    stuck_reset_fraction, stuck_set_fraction : float, default=0.0
        Fractions of stuck devices (see :class:`PCMModel`).

    Attributes
    ----------
    g_max : float
        1.0 (arbitrary unit).
    t0, t_read : float
        1.0 s (unused: nothing depends on time).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import IdealPCM
    >>> g_prog, nu = IdealPCM().program(np.array([0.25, 0.5]))
    >>> g_prog.tolist(), nu.tolist()
    ([0.25, 0.5], [0.0, 0.0])
    """

    g_max = 1.0
    t0 = 1.0
    t_read = 1.0

    @_published_curve
    def programming_std(self, g):
        return np.zeros_like(g)

    @_published_curve
    def drift_exponent_mean(self, g):
        return np.zeros_like(g)

    @_published_curve
    def drift_exponent_std(self, g):
        return np.zeros_like(g)

    @_published_curve
    def read_noise_coefficient(self, g):
        return np.zeros_like(g)
