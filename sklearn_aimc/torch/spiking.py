"""Meta-training of a learning-signal generator for one-shot e-prop (learning-to-learn, robot arm).

The software half of the robot-arm demonstration of Ortner et al. (Nat.
Commun. 2025): a spiking learning-signal generator (adaptive LIF neurons)
sees the clock and the population-coded target and emits one learning signal
per controller neuron; ONE e-prop update of the controller's input and
recurrent weights (:func:`sklearn_aimc.spiking.eprop_update`) should then make
the controller follow the target.  Meta-training optimises the controller's
initial weights and the generator's weights by backpropagation through time
through the single update, the pseudo-derivative serving as surrogate
gradient, with Adam (paper: 1.5e-3).  The dynamics are exactly those of
:class:`sklearn_aimc.spiking.LIFNetwork` (float64), so the exported weights
(:func:`export_weights`) run on the numpy model and the simulated chip.
"""

import time

import numpy as np
import torch

from ..robot_arm import INITIAL_ANGLES, LINK_LENGTHS, encode_targets, random_trajectories
from ..spiking import clock_input

__all__ = ["simulate", "MetaLearner", "meta_train", "export_weights"]

#: Learning rate of the one e-prop update in this package's scaling (paper: 1e-4 with its signal scale).
LEARNING_RATE = 1e-3


def simulate(inputs, weights, output_weights, *, threshold=0.6, alpha=float(np.exp(-1 / 20)),
             kappa=float(np.exp(-1 / 20)), rho=float(np.exp(-1 / 600)), refractory_steps=5, dampening=0.3,
             adaptive=None, adaptation_strength=1.6, detach_recurrence=False):
    """The (adaptive) LIF network of :class:`sklearn_aimc.spiking.LIFNetwork` in torch.

    Spikes are Heaviside steps in the forward pass whose derivative with
    respect to ``v - A`` is the pseudo-derivative in the backward pass.

    Parameters
    ----------
    inputs : Tensor of shape (n_batch, n_steps, n_inputs)
    weights : Tensor of shape (n_inputs + n_neurons, n_neurons) or (n_batch, n_inputs + n_neurons, n_neurons)
        ``[W_in; W_rec]``, shared or per sequence.
    output_weights : Tensor of shape (n_neurons, n_outputs)
    threshold, alpha, kappa, rho : float
        Threshold and the per-step decays of membrane, readout and adaptation.
    refractory_steps : int
    dampening : float
    adaptive : Tensor of bool of shape (n_neurons,), default=None
    adaptation_strength : float
    detach_recurrence : bool, default=False
        Stop gradients through the recurrent spikes and the reset: the
        gradient of ``sum_t L(t) z(t)`` is then e-prop's (a test of the traces).

    Returns
    -------
    run : dict of Tensor
        ``"spikes"``, ``"pseudo_derivatives"``, ``"traces"``, ``"outputs"``
        as in :meth:`sklearn_aimc.spiking.LIFNetwork.run`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aimc.torch.spiking import simulate
    >>> run = simulate(torch.ones(1, 3, 1, dtype=torch.float64), torch.tensor([[0.7], [0.0]], dtype=torch.float64),
    ...                torch.ones(1, 1, dtype=torch.float64))
    >>> run["spikes"][0, :, 0].tolist()
    [1.0, 0.0, 0.0]
    """
    n_batch, n_steps, n_inputs = inputs.shape
    n_neurons = weights.shape[-1]
    dtype = inputs.dtype
    adaptive_mask = torch.zeros(n_neurons, dtype=dtype) if adaptive is None else adaptive.to(dtype)
    v = torch.zeros(n_batch, n_neurons, dtype=dtype)
    z = torch.zeros_like(v)
    adaptation = torch.zeros_like(v)
    countdown = torch.zeros_like(v)
    trace = torch.zeros(n_batch, n_inputs + n_neurons, dtype=dtype)
    y = torch.zeros(n_batch, output_weights.shape[1], dtype=dtype)
    spikes, psis, traces, outputs = [], [], [], []
    for t in range(n_steps):
        z_in = z.detach() if detach_recurrence else z
        presynaptic = torch.cat([inputs[:, t], z_in], dim=1)
        if weights.dim() == 2:
            current = presynaptic @ weights
        else:
            current = torch.bmm(presynaptic[:, None], weights)[:, 0]
        v = alpha * v + current - threshold * (z.detach() if detach_recurrence else z)
        adaptation = rho * adaptation + (1 - rho) * z
        a_threshold = threshold + adaptation_strength * adaptation * adaptive_mask
        countdown = torch.where(z.detach() > 0, torch.full_like(countdown, refractory_steps),
                                torch.clamp(countdown - 1, min=0))
        free = (countdown == 0).to(dtype)
        x = v - a_threshold
        psi = dampening / threshold * torch.clamp(1 - torch.abs(x) / threshold, min=0) * free
        z = (x.detach() >= 0).to(dtype) * free + psi.detach() * (x - x.detach())
        trace = alpha * trace + presynaptic.detach()
        y = kappa * y + z @ output_weights
        spikes.append(z)
        psis.append(psi)
        traces.append(trace)
        outputs.append(y)
    return {"spikes": torch.stack(spikes, 1), "pseudo_derivatives": torch.stack(psis, 1),
            "traces": torch.stack(traces, 1), "outputs": torch.stack(outputs, 1)}


def _trajectory_loss(velocities, targets, dt=1e-3):
    """0.5 MSE(velocity) + 0.5 MSE(position) per trajectory (torch twin of robot_arm.trajectory_loss)."""
    start = torch.tensor(INITIAL_ANGLES, dtype=velocities.dtype)
    l1, l2 = LINK_LENGTHS

    def position(v):
        q = start + dt * torch.cumsum(v, dim=1)
        q12 = q[..., 0] + q[..., 1]
        return torch.stack([l1 * torch.cos(q[..., 0]) + l2 * torch.cos(q12),
                            l1 * torch.sin(q[..., 0]) + l2 * torch.sin(q12)], dim=-1)

    velocity_mse = ((velocities - targets) ** 2).mean(dim=(1, 2))
    position_mse = ((position(velocities) - position(targets)) ** 2).mean(dim=(1, 2))
    return 0.5 * velocity_mse + 0.5 * position_mse


class MetaLearner(torch.nn.Module):
    """The controller's initial weights and the learning-signal generator, trained together.

    Parameters
    ----------
    n_neurons : int, default=100
        Controller LIF neurons (paper: 250).
    n_generator : int, default=200
        Generator neurons (paper: 800).
    adaptive_fraction : float, default=0.3
        Fraction of adaptive generator neurons (paper: 30 %).
    n_clock : int, default=5
        Clock neurons (paper: 5).
    n_per_dimension : int, default=16
        Target encoding neurons per joint (paper: 16).
    learning_rate : float, default=LEARNING_RATE
        ``eta`` of the one e-prop update.
    random_state : int, default=0
        Seeds the initial weights.

    Attributes
    ----------
    controller_weights, controller_output, generator_weights, generator_output : torch.nn.Parameter
    generator_adaptive : Tensor of bool

    Examples
    --------
    >>> from sklearn_aimc.torch.spiking import MetaLearner
    >>> MetaLearner(n_neurons=8, n_generator=10).controller_weights.shape
    torch.Size([13, 8])
    """

    def __init__(self, n_neurons=100, n_generator=200, adaptive_fraction=0.3, n_clock=5, n_per_dimension=16,
                 learning_rate=LEARNING_RATE, random_state=0):
        super().__init__()
        rng = np.random.default_rng(random_state)
        n_gen_inputs = n_clock + 2 * n_per_dimension
        self.n_clock, self.n_per_dimension, self.learning_rate = n_clock, n_per_dimension, learning_rate

        def parameter(std, shape, zero_diagonal_of=None):
            w = rng.normal(0.0, std, shape)
            if zero_diagonal_of is not None:
                w[zero_diagonal_of:][np.arange(shape[1]), np.arange(shape[1])] = 0.0
            return torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))

        self.controller_weights = parameter(0.0, (n_clock + n_neurons, n_neurons))
        with torch.no_grad():
            self.controller_weights[:n_clock] = torch.tensor(rng.normal(0.0, 0.2, (n_clock, n_neurons)))
            self.controller_weights[n_clock:] = torch.tensor(
                rng.normal(0.0, 0.5 / np.sqrt(n_neurons), (n_neurons, n_neurons)) * (1 - np.eye(n_neurons)))
        self.controller_output = parameter(0.3 / np.sqrt(n_neurons), (n_neurons, 2))
        self.generator_weights = parameter(0.0, (n_gen_inputs + n_generator, n_generator))
        with torch.no_grad():
            self.generator_weights[:n_gen_inputs] = torch.tensor(rng.normal(0.0, 0.3, (n_gen_inputs, n_generator)))
            self.generator_weights[n_gen_inputs:] = torch.tensor(
                rng.normal(0.0, 0.5 / np.sqrt(n_generator), (n_generator, n_generator)) * (1 - np.eye(n_generator)))
        self.generator_output = parameter(1.0 / np.sqrt(n_generator), (n_generator, n_neurons))
        adaptive = np.zeros(n_generator, bool)
        adaptive[: int(round(adaptive_fraction * n_generator))] = True
        self.register_buffer("generator_adaptive", torch.tensor(adaptive))

    def generator_inputs(self, targets):
        """Clock plus population-coded targets, shape (n_batch, n_steps, n_clock + 2 n_per_dimension).

        Parameters
        ----------
        targets : ndarray of shape (n_batch, n_steps, 2)

        Returns
        -------
        inputs : Tensor
        """
        n_batch, n_steps, _ = targets.shape
        clock = np.broadcast_to(clock_input(n_steps, self.n_clock), (n_batch, n_steps, self.n_clock))
        return torch.tensor(np.concatenate([clock, encode_targets(targets, self.n_per_dimension)], axis=2))

    def forward(self, targets):
        """Losses before and after the one update, and the update.

        Parameters
        ----------
        targets : ndarray of shape (n_batch, n_steps, 2)
            Target angular velocities.

        Returns
        -------
        before, after : Tensor of shape (n_batch,)
            Loss of every trajectory before and after the update.
        update : Tensor of shape (n_batch, n_clock + n_neurons, n_neurons)
        """
        n_batch, n_steps, _ = targets.shape
        target_tensor = torch.tensor(targets)
        clock = torch.tensor(clock_input(n_steps, self.n_clock))[None]
        first = simulate(clock, self.controller_weights, self.controller_output)
        generator = simulate(self.generator_inputs(targets), self.generator_weights, self.generator_output,
                             threshold=1.3, adaptive=self.generator_adaptive)
        signals = generator["outputs"] * first["pseudo_derivatives"]
        update = -self.learning_rate * torch.einsum("ti,btj->bij", first["traces"][0], signals)
        second = simulate(clock.expand(n_batch, -1, -1), self.controller_weights + update, self.controller_output)
        before = _trajectory_loss(first["outputs"].expand(n_batch, -1, -1), target_tensor)
        after = _trajectory_loss(second["outputs"], target_tensor)
        return before, after, update


def meta_train(n_neurons=100, n_generator=200, *, n_iterations=300, batch_size=16, n_steps=250, lr=1.5e-3,
               learning_rate=LEARNING_RATE, time_budget=None, random_state=0, verbose=False):
    """Meta-train a :class:`MetaLearner` on fresh random trajectories (Adam on the post-update loss).

    Parameters
    ----------
    n_neurons, n_generator : int
        Controller and generator sizes (paper: 250 and 800).
    n_iterations : int, default=300
        Outer-loop iterations.
    batch_size : int, default=16
        Trajectories per iteration (paper: 90).
    n_steps : int, default=250
        Steps of a trajectory.
    lr : float, default=1.5e-3
        Adam's learning rate (paper: 1.5e-3).
    learning_rate : float, default=LEARNING_RATE
        ``eta`` of the inner e-prop update.
    time_budget : float, default=None
        Stop after this many seconds of training.
    random_state : int, default=0
        Seeds the initial weights and the trajectories.
    verbose : bool, default=False
        Print the losses every 10 iterations.

    Returns
    -------
    model : MetaLearner
    history : list of (iteration, loss before, loss after)

    Examples
    --------
    >>> from sklearn_aimc.torch.spiking import meta_train
    >>> model, history = meta_train(6, 8, n_iterations=2, batch_size=2, n_steps=20)
    >>> len(history)
    2
    """
    torch.manual_seed(random_state)
    model = MetaLearner(n_neurons, n_generator, learning_rate=learning_rate, random_state=random_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(random_state + 1)
    history = []
    start = time.process_time()
    for iteration in range(n_iterations):
        targets = random_trajectories(batch_size, n_steps, random_state=rng)
        before, after, _ = model(targets)
        loss = after.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((iteration, float(before.detach().mean()), float(after.detach().mean())))
        if verbose and iteration % 10 == 0:
            print(f"iteration {iteration}: before {history[-1][1]:.4f} after {history[-1][2]:.4f}", flush=True)
        if time_budget is not None and time.process_time() - start > time_budget:
            break
    return model, history


def export_weights(model):
    """The trained weights as numpy arrays (for :class:`sklearn_aimc.spiking.LIFNetwork`).

    Parameters
    ----------
    model : MetaLearner

    Returns
    -------
    weights : dict of ndarray
        ``controller_weights`` ([W_in; W_rec]), ``controller_output``,
        ``generator_weights``, ``generator_output``, ``generator_adaptive``,
        and the scalars ``learning_rate``, ``n_clock``, ``n_per_dimension``.

    Examples
    --------
    >>> from sklearn_aimc.torch.spiking import MetaLearner, export_weights
    >>> sorted(export_weights(MetaLearner(4, 6)))[:2]
    ['controller_output', 'controller_weights']
    """
    weights = {name: p.detach().numpy().copy() for name, p in model.named_parameters()}
    weights["generator_adaptive"] = model.generator_adaptive.numpy().copy()
    weights["learning_rate"] = np.array(model.learning_rate)
    weights["n_clock"] = np.array(model.n_clock)
    weights["n_per_dimension"] = np.array(model.n_per_dimension)
    return weights
