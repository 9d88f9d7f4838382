"""Weights to conductances: the scale of each column, differential pairs, devices per weight.

A weight ``w`` of a column whose weight range is ``w_max`` is held by its
unit cell as ``G+ - G-`` with ``G+ = clip(w / w_max, 0, 1) g_total`` and
``G- = clip(-w / w_max, 0, 1) g_total``, where ``g_total`` is the range of
all devices of one polarity; each of the ``n_stack`` modelled conductances of
a polarity holds an equal share (Le Gallo et al. 2023: a HERMES unit cell
holds two devices per polarity).  The near-memory unit's per-column scale
undoes ``w_max / g_total`` digitally.

:func:`fault_aware_targets` is the verify step of fault-aware programming:
a weight with stuck devices is re-targeted on its healthy ones.
"""

import numpy as np

from ..device import HEALTHY, STUCK_SET

__all__ = ["device_targets", "fault_aware_targets", "weight_ranges"]


def weight_ranges(W, grid, scheme, weight_range=None):
    """Weight magnitude that maps to full conductance, per input tile and column.

    Parameters
    ----------
    W : ndarray of shape (n_inputs, n_outputs)
    grid : TileGrid
    scheme : {"per_column", "per_tile"}
    weight_range : float or array-like of shape (n_outputs,), default=None
        A fixed range for every input tile (at least ``max|W|`` of each
        column); None: ``max|W|`` per column (or per tile) of each input tile.

    Returns
    -------
    w_max : ndarray of float64 of shape (n_row_tiles, n_outputs)
        0 for a column whose weights are all 0 in that input tile.
    """
    magnitude = np.array(
        [np.maximum(W[rows].max(axis=0), -W[rows].min(axis=0)) for rows in grid.row_slices], dtype=np.float64
    )
    if weight_range is not None:
        fixed = np.broadcast_to(np.asarray(weight_range, dtype=np.float64), (W.shape[1],))
        if not (np.isfinite(fixed).all() and (fixed > 0).all()):
            raise ValueError("weight_range must be finite and positive.")
        if (magnitude > fixed).any():
            raise ValueError(
                f"weight_range={weight_range!r} is smaller than max|W| = {magnitude.max():.6g} of some column."
            )
        return np.broadcast_to(fixed, magnitude.shape).copy()
    if scheme == "per_tile":
        magnitude = grid.per_output(grid.tile_maxima(magnitude))
    return magnitude


def relative_weights(W, w_max):
    """``W / w_max`` in [-1, 1] (0 where ``w_max`` is 0), float64; no overflow for any finite W."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w_max > 0, W / np.where(w_max > 0, w_max, 1.0), 0.0)


def device_targets(relative, g_max, n_stack):
    """Target conductance of every modelled device of the given weights.

    Parameters
    ----------
    relative : ndarray of shape (..., n_outputs)
        Weights divided by their range, in [-1, 1].
    g_max : float
        Range of one modelled conductance (uS).
    n_stack : int
        Modelled conductances per polarity.

    Returns
    -------
    targets : ndarray of float32 of shape (rows, n_stack, 2, n_outputs)
        Axis 2 is the polarity (G+, G-); every device of a polarity holds
        the same share.
    """
    relative = np.atleast_2d(relative)
    targets = np.empty((relative.shape[0], n_stack, 2, relative.shape[-1]), dtype=np.float32)
    positive = np.multiply(relative, g_max, dtype=np.float32)
    np.clip(positive, 0, np.float32(g_max), out=targets[:, 0, 0])
    np.negative(positive, out=positive)
    np.clip(positive, 0, np.float32(g_max), out=targets[:, 0, 1])
    targets[:, 1:] = targets[:, :1]
    return targets


def fault_aware_targets(targets, faults, g_max):
    """Re-target the healthy devices of weights that hold stuck devices.

    The verify read after programming finds each weight's stuck devices
    (their conductance ignores the target); the differential target ``T =
    sum G+ - sum G-`` of the weight is then re-distributed over its healthy
    devices: with ``S`` the stuck devices' contribution, the healthy ones of
    the positive polarity share ``max(T - S, 0)`` and those of the negative
    polarity ``max(S - T, 0)``, each clipped to ``[0, g_max]`` (a weight
    whose healthy devices cannot reach its target keeps the closest value).

    Parameters
    ----------
    targets : ndarray of float32 of shape (n_weights, n_stack, 2)
        Targets of the modelled devices of each weight (axis 2: polarity).
    faults : ndarray of uint8, same shape
        Fault codes of :meth:`~sklearn_aimc.device.PCMModel.draw_faults`.
    g_max : float

    Returns
    -------
    targets : ndarray of float32, same shape
        New targets (stuck devices keep theirs; they are ignored anyway).
    n_retargeted : int
        Healthy modelled devices whose target changed (written again after verify).
    """
    healthy = faults == HEALTHY
    stuck_value = np.where(faults == STUCK_SET, np.float64(g_max), 0.0)
    sign = np.array([1.0, -1.0])
    wanted = (targets.astype(np.float64) * sign[None, None, :]).sum(axis=(1, 2))
    stuck = np.where(healthy, 0.0, stuck_value * sign[None, None, :]).sum(axis=(1, 2))
    remaining = wanted - stuck
    n_healthy = healthy.sum(axis=1)  # (n_weights, 2)
    share = np.stack([np.maximum(remaining, 0.0), np.maximum(-remaining, 0.0)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_device = np.where(n_healthy > 0, share / np.maximum(n_healthy, 1), 0.0)
    new = np.where(healthy, np.clip(per_device[:, None, :], 0.0, g_max), targets).astype(np.float32)
    n_retargeted = int(np.count_nonzero(healthy & (new != targets)))
    return new, n_retargeted
