"""Calibration of a crossbar: converter ranges from data, and drift compensation.

Converter ranges (:func:`calibrated_range`) are set either by a percentile of
the calibration values' magnitudes (the package's default rule) or by the
range that minimises the expected quantisation plus clipping error of a
uniform symmetric quantiser, the "MSE" calibration of quantisation toolkits
(e.g. Banner et al., "Post training 4-bit quantization of convolutional
networks for rapid-deployment", NeurIPS 2019).  Plain MSE is not robust: a
fraction of a percent of values a thousand times the bulk costs more squared
error clipped than the whole bulk costs coarsely quantised.  The error is
therefore computed with far-out values (beyond Tukey's outer fence of the
magnitudes, Q3 + 3 IQR; Tukey, "Exploratory Data Analysis", 1977) counted at
the fence, which a few outliers cannot drag away from the bulk of the data.  :func:`resolution_report` finds ranges
that leave the bulk of the data a handful of levels.

:class:`DriftCompensation` is the chip's drift compensation: a fixed set of
random +-1 probe inputs is read after programming and again at read time; the
ratio of the mean column currents rescales the outputs (Le Gallo et al. 2023).
"""

from dataclasses import dataclass

import numpy as np

from .. import _random
from .mvm import ExactMVM

__all__ = ["ConverterCalibration", "DriftCompensation", "calibrate_converter", "calibrated_range", "resolution_report"]

# Random +-1 input vectors of a drift-compensation read.
COMPENSATION_PROBES = 64
# A converter range is reported as badly used when the median magnitude of the
# non-zero calibration values lies below this many code steps and below this
# fraction of the range (2 steps of an 8-bit converter: well-calibrated Gaussian
# data has its median at about 1/5 of a 99.9th-percentile range).
MIN_MEDIAN_STEPS = 2.0
MIN_MEDIAN_FRACTION = 1.0 / 64.0
# Tukey's outer fence: Q3 + 3 IQR ("far out" values).
FAR_OUT_IQRS = 3.0


def _magnitudes(values, row_weights):
    magnitudes = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    weights = None
    if row_weights is not None:
        weights = np.broadcast_to(np.asarray(row_weights, dtype=np.float64)[:, None], values.shape).ravel()
    return magnitudes, weights


def percentile_range(values, row_weights, q):
    """``q``-th percentile of ``|values|``, each row weighted (inverted CDF)."""
    magnitudes, weights = _magnitudes(values, row_weights)
    return float(np.percentile(magnitudes, q, method="inverted_cdf", weights=weights))


def far_out_fence(magnitudes, weights):
    """Tukey's outer fence of the magnitudes, ``Q3 + 3 IQR`` (weighted quartiles)."""
    q1, q3 = (
        np.percentile(magnitudes, q, method="inverted_cdf", weights=weights) for q in (25.0, 75.0)
    )
    return q3 + FAR_OUT_IQRS * (q3 - q1)


def mse_range(values, row_weights, full_scale):
    """The range ``r`` minimising the expected squared error of a ``full_scale``-level quantiser.

    With step ``r / full_scale``, values within the range get the rounding
    error of a uniform quantiser (variance ``step**2 / 12``) and values
    beyond it are clipped to ``r``; magnitudes beyond Tukey's outer fence
    count at the fence (:func:`far_out_fence`).  The expected error over the
    (weighted) calibration values is minimised over every candidate range
    equal to one of their magnitudes, exactly, with cumulative sums.

    Parameters
    ----------
    values : ndarray
    row_weights : ndarray of shape (n_rows,) or None
    full_scale : int
        Largest code magnitude of the converter.

    Returns
    -------
    r : float
    """
    magnitudes, weights = _magnitudes(values, row_weights)
    magnitudes = np.minimum(magnitudes, far_out_fence(magnitudes, weights))
    weights = np.ones_like(magnitudes) if weights is None else weights
    order = np.argsort(magnitudes)
    m, w = magnitudes[order], weights[order]
    total = w.sum()
    if total <= 0 or m[-1] <= 0:
        return 0.0
    # For candidate r = m[k]: values above index k are clipped.
    w_above = total - np.cumsum(w)
    wm_above = np.sum(w * m) - np.cumsum(w * m)
    wm2_above = np.sum(w * m * m) - np.cumsum(w * m * m)
    clipping = wm2_above - 2 * m * wm_above + m * m * w_above
    rounding = (total - w_above) * (m / full_scale) ** 2 / 12.0
    error = (clipping + rounding) / total
    candidates = m > 0
    best = np.argmin(np.where(candidates, error, np.inf))
    return float(m[best])


def calibrated_range(values, row_weights, method, percentile, full_scale):
    """A converter's full scale from calibration values (1.0 when the values are all 0).

    Parameters
    ----------
    values : ndarray
        Calibration values seen by the converter.
    row_weights : ndarray of shape (n_rows,) or None
        Weight of each row of ``values``.
    method : {"percentile", "mse"}
    percentile : float
        Used by ``"percentile"`` (and by ``"mse"`` for a converter that does
        not quantise, where no quantisation error exists to balance).
    full_scale : int or None
        Largest code magnitude (None: the converter does not quantise).

    Returns
    -------
    r : float
    """
    if method == "mse" and full_scale is not None:
        r = mse_range(values, row_weights, full_scale)
    else:
        r = percentile_range(values, row_weights, percentile)
    return r if r > 0 else 1.0


def resolution_report(values, row_weights, step, full_scale, what):
    """A sentence when the non-zero calibration values mostly use a few code steps, else None.

    Reported when the median magnitude of the non-zero values lies below 2
    code steps and below 1/64 of the range.

    Parameters
    ----------
    values : ndarray
    row_weights : ndarray or None
    step : float
        The converter's step.
    full_scale : int
        Its largest code (the range is ``step * full_scale``).
    what : str
        Names the converter in the sentence.

    Returns
    -------
    report : str or None
    """
    magnitudes, weights = _magnitudes(values, row_weights)
    nonzero = magnitudes > 0
    if not nonzero.any():
        return None
    median = np.percentile(
        magnitudes[nonzero], 50, method="inverted_cdf", weights=None if weights is None else weights[nonzero]
    )
    if median >= min(MIN_MEDIAN_STEPS * step, MIN_MEDIAN_FRACTION * full_scale * step):
        return None
    return (
        f"the {what} range is {step:.3g} per step, but half of the calibration values are "
        f"below {median:.3g}, i.e. {median / step:.2f} steps"
    )


@dataclass
class ConverterCalibration:
    """The calibrated ranges of one kind of converter, what to report, and the clipping to expect.

    Attributes
    ----------
    ranges : ndarray
        One full scale per block of values.
    reports : list of str
        Ranges that leave the bulk of the values a few code steps.
    clip_share : float
        Share of the (weighted) calibration values beyond their block's range:
        the clipping the calibration itself implies.
    """

    ranges: np.ndarray
    reports: list
    clip_share: float


def calibrate_converter(blocks, row_weights, method, percentile, full_scale, name):
    """Calibrate the converters of several blocks of values (input tiles, or tiles).

    Parameters
    ----------
    blocks : list of (str, ndarray)
        A label and the calibration values of each block.
    row_weights : ndarray of shape (n_rows,) or None
    method : {"percentile", "mse"}
    percentile : float
    full_scale : int or None
        Largest code of the converter (None: it does not quantise).
    name : str
        The converter's name in reports ("DAC", "ADC").

    Returns
    -------
    calibration : ConverterCalibration
    """
    ranges, reports, clipped, total = [], [], 0.0, 0.0
    for label, values in blocks:
        r = calibrated_range(values, row_weights, method, percentile, full_scale)
        ranges.append(r)
        magnitudes, weights = _magnitudes(values, row_weights)
        weights = np.ones_like(magnitudes) if weights is None else weights
        clipped += weights[magnitudes > r].sum()
        total += weights.sum()
        if full_scale is not None:
            report = resolution_report(values, row_weights, r / full_scale, full_scale, f"{name} ({label})")
            reports += [] if report is None else [report]
    return ConverterCalibration(np.array(ranges), reports, float(clipped / total) if total else 0.0)


class DriftCompensation:
    """The chip's drift compensation from probe reads (global or per column).

    Parameters
    ----------
    mode : {"global", "per_column"} or None
    grid : TileGrid
    entropy : int
        Root of the chip's seed tree (seeds the probe inputs).
    """

    def __init__(self, mode, grid, entropy):
        self.mode = mode
        self.grid = grid
        self._entropy = entropy
        self.reference = None

    def probes(self):
        """The fixed random +-1 probe inputs.

        Returns
        -------
        probes : ndarray of float64 of shape (n_inputs, 64)
        """
        rng = _random.keyed_generator(self._entropy, _random.STREAM_CALIBRATION)
        return rng.choice(np.array([-1.0, 1.0]), size=(self.grid.n_inputs, COMPENSATION_PROBES))

    def response(self, g_diff):
        """Probe read-out of the column currents, per input tile.

        The mean magnitude of each column's current for the probes weighs
        every device by its contribution to products (an all-ones input
        would cancel on narrow tiles of mixed-sign weights).  Per column: one
        value per column; global: their mean over each tile.

        Parameters
        ----------
        g_diff : ndarray of shape (n_inputs, n_outputs)
            Differential conductances of the weights at the time of the read.

        Returns
        -------
        response : ndarray of shape (n_row_tiles, n_outputs) or (n_row_tiles, n_col_tiles)
        """
        probes = self.probes().T.astype(np.float32)
        currents = np.array(
            [
                np.abs(ExactMVM(g_diff[rows], code_bits=1)(probes[:, rows], np.empty((probes.shape[0], g_diff.shape[1]), np.float32))).mean(axis=0)
                for rows in self.grid.row_slices
            ]
        )
        return currents if self.mode == "per_column" else self.grid.tile_means(currents)

    def gains(self, current):
        """Gain per input tile and output that brings ``current`` back to the reference.

        Parameters
        ----------
        current : ndarray
            :meth:`response` at the read time.

        Returns
        -------
        gains : ndarray of shape (n_row_tiles, n_outputs)
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(current > 0, self.reference / current, 1.0)
        return gain if self.mode == "per_column" else self.grid.per_output(gain)
