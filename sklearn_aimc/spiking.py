"""Recurrent spiking networks of (adaptive) leaky integrate-and-fire neurons, e-prop, and their chip.

The controller of the robot-arm demonstration of Ortner et al. (Nat. Commun.
2025; section 5b of the reference notes), whose defaults this module follows:
250 LIF neurons, threshold 0.6, membrane and readout time constants 20 ms,
refractory period 5 ms, pseudo-derivative dampening 0.3, a 5-neuron clock
input, 2 leaky readouts, 1 ms steps over 250 ms.  The dynamics are those of
e-prop (Bellec et al., Nat. Commun. 2020), step ``t``:

- presynaptic vector ``p(t) = [x(t); z(t-1)]`` (inputs and the network's
  spikes of the previous step), currents ``I(t) = p(t) @ W`` with
  ``W = [W_in; W_rec]`` (this product runs on the crossbar);
- membrane ``v(t) = alpha v(t-1) + I(t) - threshold z(t-1)`` (reset by subtraction),
  ``alpha = exp(-dt / tau_membrane)``;
- spike ``z(t) = H(v(t) - A(t))`` outside the refractory period (``refractory``
  after a spike), threshold ``A(t) = threshold + beta a(t)`` for adaptive
  neurons, ``a(t) = rho a(t-1) + (1 - rho) z(t-1)``, ``rho = exp(-dt /
  tau_adaptation)`` (the LSNN convention, Bellec et al., NeurIPS 2018), else
  ``A = threshold``;
- pseudo-derivative ``psi(t) = dampening / threshold * max(0, 1 - |v(t) -
  A(t)| / threshold)``, zero while refractory;
- leaky readout ``y(t) = kappa y(t-1) + z(t) @ W_out``, ``kappa = exp(-dt /
  tau_readout)``.

e-prop's eligibility trace of the weight from presynaptic ``i`` to neuron
``j`` is ``e_ji(t) = psi_j(t) pbar_i(t)`` with the low-pass filtered
presynaptic trace ``pbar_i(t) = alpha pbar_i(t-1) + p_i(t)``; one update is
``dW_ij = -eta sum_t L_j(t) e_ji(t)`` for learning signals ``L``
(:func:`eprop_update`).  On the chip (:class:`ChipWeights`) the update is
rounded stochastically to multiples of 1/16 of the weight range and only the
devices of changed weights are written.
"""

import numbers

import numpy as np

from .crossbar import check_device
from .fixedpoint import FixedPointFormat, quantize

__all__ = ["LIFNetwork", "ChipWeights", "clock_input", "eprop_update", "quantize_update"]

#: Fractional bits of the on-chip update: multiples of 1/16 of the weight range (Ortner et al. 2025).
UPDATE_FRACTIONAL_BITS = 4


def _positive(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def clock_input(n_steps=250, n_clock=5):
    """The clock input: neuron ``k`` is on (1) during the ``k``-th of ``n_clock`` equal windows.

    Parameters
    ----------
    n_steps : int, default=250
        Steps (paper: 250 steps of 1 ms).
    n_clock : int, default=5
        Clock neurons (paper: 5).

    Returns
    -------
    clock : ndarray of shape (n_steps, n_clock)
        Binary input spikes.

    Examples
    --------
    >>> from sklearn_aimc.spiking import clock_input
    >>> clock_input(4, 2).tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    for value, name in [(n_steps, "n_steps"), (n_clock, "n_clock")]:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    window = np.minimum(np.arange(n_steps) * n_clock // n_steps, n_clock - 1)
    return (window[:, None] == np.arange(n_clock)[None, :]).astype(float)


class LIFNetwork:
    """A recurrent network of (adaptive) LIF neurons with leaky readouts (numpy).

    See the module docstring for the dynamics; the defaults are the robot-arm
    controller's of Ortner et al. (2025).

    Parameters
    ----------
    input_weights : array-like of shape (n_inputs, n_neurons)
        ``W_in``.
    recurrent_weights : array-like of shape (n_neurons, n_neurons)
        ``W_rec`` (presynaptic rows); its diagonal is used as given.
    output_weights : array-like of shape (n_neurons, n_outputs)
        ``W_out`` of the leaky readouts.
    threshold : float, default=0.6
        Firing threshold (paper: 0.6 for the controller, 1.3 for the generator).
    tau_membrane : float, default=20e-3
        Membrane time constant, seconds (paper: 20 ms).
    tau_readout : float, default=20e-3
        Readout time constant, seconds (paper: 20 ms).
    refractory : float, default=5e-3
        Refractory period, seconds (paper: 5 ms).
    dampening : float, default=0.3
        Pseudo-derivative dampening factor (paper: 0.3).
    dt : float, default=1e-3
        Step, seconds (paper: 1 ms).
    adaptive : array-like of bool of shape (n_neurons,), default=None
        Which neurons adapt their threshold; None: none.
    adaptation_strength : float, default=1.6
        ``beta`` of the adaptive neurons (paper's generator: 1.6).
    tau_adaptation : float, default=0.6
        Adaptation time constant, seconds (paper's generator: 600 ms).

    Attributes
    ----------
    weights : ndarray of shape (n_inputs + n_neurons, n_neurons)
        ``[W_in; W_rec]``, the matrix of the presynaptic product.
    output_weights : ndarray of shape (n_neurons, n_outputs)
    n_inputs, n_neurons, n_outputs : int
    alpha, kappa, rho : float
        Decays per step of membrane, readout and adaptation.
    refractory_steps : int
        Refractory period in steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.spiking import LIFNetwork, clock_input
    >>> rng = np.random.default_rng(0)
    >>> net = LIFNetwork(rng.normal(0, 0.3, (5, 8)), np.zeros((8, 8)), np.ones((8, 2)))
    >>> run = net.run(clock_input()[None])
    >>> run["spikes"].shape, run["outputs"].shape
    ((1, 250, 8), (1, 250, 2))
    """

    def __init__(
        self,
        input_weights,
        recurrent_weights,
        output_weights,
        *,
        threshold=0.6,
        tau_membrane=20e-3,
        tau_readout=20e-3,
        refractory=5e-3,
        dampening=0.3,
        dt=1e-3,
        adaptive=None,
        adaptation_strength=1.6,
        tau_adaptation=0.6,
    ):
        W_in = np.array(input_weights, dtype=float, ndmin=2)
        W_rec = np.array(recurrent_weights, dtype=float, ndmin=2)
        self.output_weights = np.array(output_weights, dtype=float, ndmin=2)
        self.n_inputs, self.n_neurons = W_in.shape
        if W_rec.shape != (self.n_neurons, self.n_neurons):
            raise ValueError(f"recurrent_weights must have shape {(self.n_neurons,) * 2}, got {W_rec.shape}.")
        if self.output_weights.shape[0] != self.n_neurons:
            raise ValueError(f"output_weights must have {self.n_neurons} rows, got {self.output_weights.shape}.")
        self.n_outputs = self.output_weights.shape[1]
        self.weights = np.vstack([W_in, W_rec])
        if not np.all(np.isfinite(self.weights)) or not np.all(np.isfinite(self.output_weights)):
            raise ValueError("The weights must be finite.")
        self.threshold = _positive(threshold, "threshold")
        self.dt = _positive(dt, "dt")
        self.alpha = float(np.exp(-self.dt / _positive(tau_membrane, "tau_membrane")))
        self.kappa = float(np.exp(-self.dt / _positive(tau_readout, "tau_readout")))
        self.rho = float(np.exp(-self.dt / _positive(tau_adaptation, "tau_adaptation")))
        if not isinstance(refractory, numbers.Real) or refractory < 0:
            raise ValueError(f"refractory must be a non-negative number, got {refractory!r}.")
        self.refractory_steps = int(round(refractory / self.dt))
        self.dampening = _positive(dampening, "dampening")
        self.adaptation_strength = float(adaptation_strength)
        adaptive = np.zeros(self.n_neurons, bool) if adaptive is None else np.asarray(adaptive, dtype=bool)
        if adaptive.shape != (self.n_neurons,):
            raise ValueError(f"adaptive must have shape ({self.n_neurons},), got {adaptive.shape}.")
        self.adaptive = adaptive

    def _check_inputs(self, inputs):
        inputs = np.asarray(inputs, dtype=float)
        if inputs.ndim != 3 or inputs.shape[2] != self.n_inputs:
            raise ValueError(f"inputs must have shape (n_trajectories, n_steps, {self.n_inputs}), got {inputs.shape}.")
        return inputs

    def run(self, inputs, product=None, weights=None):
        """Simulate the network on a batch of input sequences (a loop over time only).

        Parameters
        ----------
        inputs : array-like of shape (n_batch, n_steps, n_inputs)
            Input spikes or currents.
        product : callable, default=None
            ``product(p, step) -> currents`` of shape (n_batch, n_neurons)
            for the presynaptic vectors ``p`` of shape (n_batch, n_inputs +
            n_neurons): the chip's product (see :class:`ChipWeights`).  None
            computes ``p @ weights`` in float.
        weights : array-like of shape (n_batch, n_inputs + n_neurons, n_neurons), default=None
            Per-sequence ``[W_in; W_rec]`` (e.g. after per-trajectory
            updates) for the float product; None uses :attr:`weights`.

        Returns
        -------
        run : dict of ndarray
            ``"spikes"``, ``"pseudo_derivatives"``, ``"voltages"`` of shape
            (n_batch, n_steps, n_neurons), ``"traces"`` (low-pass filtered
            presynaptic vectors ``pbar``) of shape (n_batch, n_steps,
            n_inputs + n_neurons) and ``"outputs"`` of shape (n_batch,
            n_steps, n_outputs).
        """
        inputs = self._check_inputs(inputs)
        if product is None:
            product = self._float_product(weights, inputs.shape[0])
        n_batch, n_steps, _ = inputs.shape
        shape = (n_batch, n_steps, self.n_neurons)
        spikes, psi, voltages = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        traces = np.zeros((n_batch, n_steps, self.n_inputs + self.n_neurons))
        outputs = np.zeros((n_batch, n_steps, self.n_outputs))
        v = np.zeros((n_batch, self.n_neurons))
        z = np.zeros_like(v)
        adaptation = np.zeros_like(v)
        countdown = np.zeros_like(v)
        trace = np.zeros((n_batch, self.n_inputs + self.n_neurons))
        y = np.zeros((n_batch, self.n_outputs))
        for t in range(n_steps):
            presynaptic = np.concatenate([inputs[:, t], z], axis=1)
            v = self.alpha * v + product(presynaptic, t) - self.threshold * z
            adaptation = self.rho * adaptation + (1 - self.rho) * z
            adaptive_threshold = self.threshold + self.adaptation_strength * adaptation * self.adaptive
            countdown = np.where(z > 0, self.refractory_steps, np.maximum(countdown - 1, 0))
            free = countdown == 0
            z = ((v >= adaptive_threshold) & free).astype(float)
            distance = np.abs(v - adaptive_threshold) / self.threshold
            psi[:, t] = self.dampening / self.threshold * np.maximum(0.0, 1.0 - distance) * free
            trace = self.alpha * trace + presynaptic
            y = self.kappa * y + z @ self.output_weights
            spikes[:, t], voltages[:, t], traces[:, t], outputs[:, t] = z, v, trace, y
        return {"spikes": spikes, "pseudo_derivatives": psi, "voltages": voltages, "traces": traces,
                "outputs": outputs}

    def _float_product(self, weights, n_batch):
        if weights is None:
            W = self.weights
            return lambda presynaptic, t: presynaptic @ W
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (n_batch,) + self.weights.shape:
            raise ValueError(f"weights must have shape {(n_batch,) + self.weights.shape}, got {weights.shape}.")
        return lambda presynaptic, t: np.einsum("bi,bij->bj", presynaptic, weights)


def eprop_update(run, learning_signals, learning_rate):
    """One e-prop update ``dW_ij = -eta sum_t L_j(t) psi_j(t) pbar_i(t)`` of ``[W_in; W_rec]``.

    Parameters
    ----------
    run : dict
        The result of :meth:`LIFNetwork.run` (its pseudo-derivatives and traces).
    learning_signals : array-like of shape (n_batch, n_steps, n_neurons)
        ``L_j(t)``, one per neuron and step.
    learning_rate : float
        ``eta``.

    Returns
    -------
    update : ndarray of shape (n_batch, n_inputs + n_neurons, n_neurons)
        The weight change of every sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.spiking import eprop_update
    >>> run = {"pseudo_derivatives": np.ones((1, 2, 1)), "traces": np.ones((1, 2, 3))}
    >>> eprop_update(run, np.full((1, 2, 1), 0.5), 0.1).ravel().tolist()
    [-0.1, -0.1, -0.1]
    """
    psi, traces = run["pseudo_derivatives"], run["traces"]
    learning_signals = np.asarray(learning_signals, dtype=float)
    if learning_signals.shape != psi.shape:
        raise ValueError(f"learning_signals must have shape {psi.shape}, got {learning_signals.shape}.")
    return -float(learning_rate) * np.einsum("bti,btj->bij", traces, learning_signals * psi)


def quantize_update(update, weight_range, random_state=None):
    """Round a weight update stochastically to multiples of ``weight_range / 16``.

    The paper's on-chip update rule (Ortner et al. 2025): multiples of 1/16 of
    the weight range, rounded stochastically (unbiased), through
    :func:`sklearn_aimc.fixedpoint.quantize`; steps beyond twice the range saturate.

    Parameters
    ----------
    update : array-like
        Float weight changes.
    weight_range : float
        The weight magnitude of a device's full conductance.
    random_state : int, Generator, RandomState or None, default=None
        Seeds the rounding.

    Returns
    -------
    quantized : ndarray
        Multiples of ``weight_range / 16``.

    Examples
    --------
    >>> from sklearn_aimc.spiking import quantize_update
    >>> quantize_update([0.125, -0.5, 0.0], 2.0, random_state=0).tolist()
    [0.125, -0.5, 0.0]
    """
    weight_range = _positive(weight_range, "weight_range")
    fmt = FixedPointFormat(3, UPDATE_FRACTIONAL_BITS)
    codes = quantize(np.asarray(update, dtype=float) / weight_range, fmt, rounding="stochastic",
                     random_state=random_state)
    return fmt.to_float(codes) * weight_range


class ChipWeights:
    """The presynaptic product ``[W_in; W_rec]`` of a network programmed on a simulated chip.

    Parameters
    ----------
    weights : array-like of shape (n_presynaptic, n_neurons)
        ``[W_in; W_rec]``.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        The chip (``"ideal"``: exact float products).
    weight_range : float, default=None
        Fixed weight range of every column (the full conductance), so that
        updates never rewrite whole columns; None: ``max|weights|``.
        Updated weights are clipped to it.
    calibration_inputs : array-like of shape (n_samples, n_presynaptic), default=None
        Presynaptic vectors that set the converter ranges.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the chip.
    t_inference : float, default=60.0
        Chip time of the reads before the first update, seconds.

    Attributes
    ----------
    chip : ProgrammedCrossbar
    weights : ndarray of shape (n_presynaptic, n_neurons)
        The programmed weights.
    weight_range : float
    t_inference : float
        Chip time of the next reads.
    device_writes : int
        Devices written by :meth:`write_update` so far.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.spiking import ChipWeights
    >>> chip = ChipWeights(np.eye(3), device="ideal")
    >>> chip.product(np.ones((2, 3)), 0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, weights, device="hermes", *, weight_range=None, calibration_inputs=None, random_state=None,
                 t_inference=60.0):
        self.weights = np.array(weights, dtype=float)
        self.weight_range = float(np.abs(self.weights).max()) if weight_range is None else _positive(
            weight_range, "weight_range")
        if np.abs(self.weights).max() > self.weight_range:
            raise ValueError(f"weight_range={self.weight_range} is below max|weights|.")
        self.device = device
        self.chip = check_device(device).program(self.weights, calibration_inputs=calibration_inputs,
                                                 random_state=random_state, weight_range=self.weight_range)
        self.t_inference = float(t_inference)
        self.device_writes = 0

    def product(self, presynaptic, step):
        """``presynaptic @ weights`` read from the chip (``step`` selects the read-noise realisation).

        Parameters
        ----------
        presynaptic : ndarray of shape (n_batch, n_presynaptic)
        step : int
            The time step (independent output noise per step).

        Returns
        -------
        currents : ndarray of shape (n_batch, n_neurons)
        """
        return self.chip.matmul(presynaptic, self.t_inference, read_index=int(step))

    def write_update(self, update, at, random_state=None):
        """Quantize an update to 1/16 of the weight range and write the changed devices at chip time ``at``.

        Parameters
        ----------
        update : array-like of shape (n_presynaptic, n_neurons)
            Float weight change.
        at : float
            Chip time of the write; later reads happen at ``at`` too.
        random_state : int, Generator, RandomState or None, default=None
            Seeds the stochastic rounding.

        Returns
        -------
        n_devices : int
            Devices written (0 on an ideal chip, which is programmed afresh).
        """
        step = quantize_update(update, self.weight_range, random_state)
        new = np.clip(self.weights + step, -self.weight_range, self.weight_range)
        if self.chip.crossbar.is_exact:
            self.chip = self.chip.crossbar.program(new, weight_range=self.weight_range)
            n_devices = 0
        else:
            n_devices = self.chip.reprogram(new, at=at)
        self.weights = new
        self.t_inference = float(at)
        self.device_writes += n_devices
        return n_devices
