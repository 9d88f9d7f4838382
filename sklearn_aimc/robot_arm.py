"""A 2-joint planar robot arm and its random target trajectories.

The task of the robot-arm demonstration of Ortner et al. (Nat. Commun. 2025,
"Learning-to-learn on PCM", section 5b of the reference notes): a controller
produces the angular velocities of the two joints of a planar kinematic chain
for 250 ms (1 ms steps); the joint angles are their time integral and the
end-effector position follows from the forward kinematics.  The loss is
``0.5 * MSE(angular velocity) + 0.5 * MSE(end-effector position)``.

The paper's public code does not fix the arm's geometry in the text we
follow, so the link lengths are a stated stand-in: two links of 0.5 (arbitrary
length unit, reach 1), which keeps positions and velocities on comparable
scales in the loss.  Everything here is vectorized over trajectories.
"""

import numbers

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ._random import as_generator

__all__ = [
    "LINK_LENGTHS",
    "forward_kinematics",
    "joint_angles",
    "encode_targets",
    "random_trajectories",
    "trajectory_loss",
]

#: Link lengths of the two links (stand-in, see the module docstring: reach 1).
LINK_LENGTHS = (0.5, 0.5)
#: Joint angles at the start of every trajectory (radians): elbow bent by 90 degrees (stand-in).
INITIAL_ANGLES = (0.0, np.pi / 2)


def _check_positive(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def forward_kinematics(angles, link_lengths=LINK_LENGTHS):
    """End-effector position of the 2-joint planar arm.

    ``x = l1 cos(q1) + l2 cos(q1 + q2)``, ``y = l1 sin(q1) + l2 sin(q1 + q2)``:
    the shoulder at the origin, ``q1`` measured from the x axis and ``q2``
    (the elbow) relative to the first link.

    Parameters
    ----------
    angles : array-like of shape (..., 2)
        Joint angles (radians) of the shoulder and the elbow.
    link_lengths : tuple of 2 floats, default=LINK_LENGTHS
        Lengths of the two links.

    Returns
    -------
    position : ndarray of shape (..., 2)
        End-effector coordinates (x, y).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.robot_arm import forward_kinematics
    >>> np.round(forward_kinematics([0.0, np.pi / 2]), 6).tolist()
    [0.5, 0.5]
    """
    angles = np.asarray(angles, dtype=float)
    if angles.ndim == 0 or angles.shape[-1] != 2:
        raise ValueError(f"angles must have a last axis of 2 joints, got shape {angles.shape}.")
    if len(link_lengths) != 2:
        raise ValueError(f"link_lengths must hold 2 lengths, got {link_lengths!r}.")
    l1, l2 = (_check_positive(length, "link_lengths") for length in link_lengths)
    q1 = angles[..., 0]
    q12 = q1 + angles[..., 1]
    return np.stack([l1 * np.cos(q1) + l2 * np.cos(q12), l1 * np.sin(q1) + l2 * np.sin(q12)], axis=-1)


def joint_angles(velocities, dt=1e-3, initial_angles=INITIAL_ANGLES):
    """Joint angles reached by integrating angular velocities (forward Euler).

    Parameters
    ----------
    velocities : array-like of shape (..., n_steps, 2)
        Angular velocities (rad/s) of the two joints at every step.
    dt : float, default=1e-3
        Step (seconds).
    initial_angles : tuple of 2 floats, default=INITIAL_ANGLES
        Angles before the first step.

    Returns
    -------
    angles : ndarray of shape (..., n_steps, 2)
        ``initial_angles + dt * cumsum(velocities)``.

    Examples
    --------
    >>> from sklearn_aimc.robot_arm import joint_angles
    >>> joint_angles([[1.0, -1.0], [1.0, -1.0]], dt=0.5, initial_angles=(0.0, 0.0)).tolist()
    [[0.5, -0.5], [1.0, -1.0]]
    """
    velocities = np.asarray(velocities, dtype=float)
    if velocities.ndim < 2 or velocities.shape[-1] != 2:
        raise ValueError(f"velocities must have shape (..., n_steps, 2), got {velocities.shape}.")
    dt = _check_positive(dt, "dt")
    return np.asarray(initial_angles, dtype=float) + dt * np.cumsum(velocities, axis=-2)


def random_trajectories(
    n_trajectories,
    n_steps=250,
    *,
    dt=1e-3,
    noise_scale=1.0,
    smoothing_ms=20.0,
    max_velocity=2.0,
    random_state=None,
):
    """Random target angular velocities of the two joints.

    A Brownian motion of the angular velocity (cumulative sum of Gaussian
    increments of standard deviation ``noise_scale / sqrt(dt)`` times ``dt``),
    smoothed by a Gaussian kernel of ``smoothing_ms`` and clipped to
    ``[-max_velocity, max_velocity]``, as in the paper's task (Brownian target
    angular velocities, smoothed); the scales are stand-ins of this package.

    Parameters
    ----------
    n_trajectories : int
        Number of trajectories.
    n_steps : int, default=250
        Steps of each trajectory (paper: 250 steps of 1 ms).
    dt : float, default=1e-3
        Step (seconds).
    noise_scale : float, default=1.0
        Diffusion of the velocity's Brownian motion, rad/s per sqrt(ms).
    smoothing_ms : float, default=20.0
        Standard deviation of the Gaussian smoothing kernel (milliseconds).
    max_velocity : float, default=2.0
        Clipping bound of the angular velocities (rad/s).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the increments.

    Returns
    -------
    velocities : ndarray of shape (n_trajectories, n_steps, 2)
        Target angular velocities (rad/s).

    Examples
    --------
    >>> from sklearn_aimc.robot_arm import random_trajectories
    >>> v = random_trajectories(3, random_state=0)
    >>> v.shape, bool(abs(v).max() <= 2.0)
    ((3, 250, 2), True)
    """
    for value, name in [(n_trajectories, "n_trajectories"), (n_steps, "n_steps")]:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    dt = _check_positive(dt, "dt")
    noise_scale = _check_positive(noise_scale, "noise_scale")
    smoothing_ms = _check_positive(smoothing_ms, "smoothing_ms")
    max_velocity = _check_positive(max_velocity, "max_velocity")
    rng = as_generator(random_state)
    step_ms = dt * 1e3
    increments = rng.standard_normal((n_trajectories, n_steps, 2)) * noise_scale * np.sqrt(step_ms)
    brownian = np.cumsum(increments, axis=1)
    smooth = gaussian_filter1d(brownian, sigma=smoothing_ms / step_ms, axis=1, mode="nearest")
    return np.clip(smooth, -max_velocity, max_velocity)


def trajectory_loss(velocities, target_velocities, *, dt=1e-3, initial_angles=INITIAL_ANGLES,
                    link_lengths=LINK_LENGTHS):
    """The task's loss of each trajectory: 0.5 MSE(velocity) + 0.5 MSE(position).

    Both mean squared errors average over steps and the two coordinates; the
    positions are the end effector's through :func:`joint_angles` and
    :func:`forward_kinematics`.

    Parameters
    ----------
    velocities : array-like of shape (..., n_steps, 2)
        Produced angular velocities.
    target_velocities : array-like of shape (..., n_steps, 2)
        Target angular velocities.
    dt : float, default=1e-3
        Step (seconds).
    initial_angles : tuple of 2 floats, default=INITIAL_ANGLES
        Joint angles before the first step.
    link_lengths : tuple of 2 floats, default=LINK_LENGTHS
        Lengths of the two links.

    Returns
    -------
    loss : ndarray of shape (...)
        The loss of every trajectory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.robot_arm import trajectory_loss
    >>> v = np.ones((1, 4, 2))
    >>> trajectory_loss(v, v).tolist()
    [0.0]
    """
    velocities = np.asarray(velocities, dtype=float)
    target_velocities = np.asarray(target_velocities, dtype=float)
    if velocities.shape != target_velocities.shape:
        raise ValueError(
            f"velocities {velocities.shape} and target_velocities {target_velocities.shape} differ in shape."
        )
    position = forward_kinematics(joint_angles(velocities, dt, initial_angles), link_lengths)
    target_position = forward_kinematics(joint_angles(target_velocities, dt, initial_angles), link_lengths)
    velocity_mse = np.mean((velocities - target_velocities) ** 2, axis=(-2, -1))
    position_mse = np.mean((position - target_position) ** 2, axis=(-2, -1))
    return 0.5 * velocity_mse + 0.5 * position_mse


def encode_targets(target_velocities, n_per_dimension=16, max_velocity=2.0):
    """Population code of the target velocities: Gaussian tuning curves, ``n_per_dimension`` per joint.

    The learning-signal generator of Ortner et al. (2025) receives the target
    encoded by 16 neurons per dimension; here each neuron's input is
    ``exp(-(v - c)^2 / (2 s^2))`` for centres ``c`` evenly spaced over
    ``[-max_velocity, max_velocity]`` and ``s`` their spacing (a stand-in:
    the paper's tuning is not given in our notes).

    Parameters
    ----------
    target_velocities : array-like of shape (..., n_steps, 2)
        Target angular velocities.
    n_per_dimension : int, default=16
        Encoding neurons per joint (paper: 16).
    max_velocity : float, default=2.0
        Range of the centres.

    Returns
    -------
    encoded : ndarray of shape (..., n_steps, 2 * n_per_dimension)
        Input currents in [0, 1], joint 0's neurons first.

    Examples
    --------
    >>> from sklearn_aimc.robot_arm import encode_targets
    >>> encode_targets([[[0.0, 2.0]]], n_per_dimension=3).round(3).tolist()
    [[[0.607, 1.0, 0.607, 0.135, 0.607, 1.0]]]
    """
    target_velocities = np.asarray(target_velocities, dtype=float)
    if target_velocities.ndim < 2 or target_velocities.shape[-1] != 2:
        raise ValueError(f"target_velocities must have shape (..., n_steps, 2), got {target_velocities.shape}.")
    if not isinstance(n_per_dimension, numbers.Integral) or n_per_dimension < 2:
        raise ValueError(f"n_per_dimension must be an integer of at least 2, got {n_per_dimension!r}.")
    max_velocity = _check_positive(max_velocity, "max_velocity")
    centres = np.linspace(-max_velocity, max_velocity, n_per_dimension)
    width = centres[1] - centres[0]
    encoded = np.exp(-((target_velocities[..., None] - centres) ** 2) / (2 * width**2))
    return encoded.reshape(target_velocities.shape[:-1] + (2 * n_per_dimension,))
