"""The programmed chip: :class:`ProgrammedCrossbar`, the one analog MVM path of the package.

It composes the parts of :mod:`sklearn_aimc.crossbar`: the tile grid, the
weight mapping, the device array, the converters, calibration and drift
compensation, and the read engine.  It keeps the chip's clock: the first
programming is chip time 0, :meth:`~ProgrammedCrossbar.reprogram` writes the
devices of changed weights at a later time, and a read at chip time ``t``
sees every device at its own age.
"""

import threading
import warnings
from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.utils import assert_all_finite, check_array
from sklearn.utils.validation import _check_sample_weight

from .. import _random
from .._validation import check_seconds
from ..exceptions import AnalogCalibrationWarning, AnalogClippingWarning
from .array import DeviceArray
from .calibration import DriftCompensation, calibrate_converter
from .converters import ADC, DAC
from .counters import WorkCounters
from .mapping import device_targets, fault_aware_targets, relative_weights, weight_ranges
from .mvm import ExactMVM
from .read import ReadEngine, ReadState
from .tiles import TileGrid

__all__ = ["ProgrammedCrossbar"]

# Rows of calibration data used for range calibration (deterministic stride).
MAX_CALIBRATION_ROWS = 1024
# Conductance states kept per programmed crossbar (one per time read).
STATE_CACHE_SIZE = 2
# A warning is raised when the values read so far clip this many times more
# often than the calibration percentile implies (and at least this floor share).
CLIP_WARNING_FACTOR = 10.0
CLIP_WARNING_FLOOR = 1e-3
# Rows of the largest exact-path task (the product of one task stays in cache).
_EXACT_TASK_ELEMENTS = 1 << 20


def _per_output(values, n_outputs, name):
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    try:
        values = np.broadcast_to(values, (n_outputs,)).copy()
    except ValueError:
        raise ValueError(f"{name} must have one entry per output ({n_outputs}), got shape {values.shape}.") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite.")
    return values


class ProgrammedCrossbar:
    """A weight matrix programmed onto simulated PCM tiles.

    Created by :meth:`AnalogCrossbar.program`.  It keeps the programmed
    conductances, drift exponents, faults and write time of every device;
    reading it at a chip time ``t`` derives the drifted, noisy conductances
    once (cached), so the same chip can be read at several times without
    reprogramming, and :meth:`reprogram` rewrites only the devices of the
    weights that change.

    Reads are a function of (seed, input row, read time): the output noise of
    a row depends on the chip's seed, the chip time, the row's input codes and
    ``read_index``, never on the other rows read with it, so ``matmul(X)[i]``
    equals ``matmul(X[i:i+1])[0]`` bit for bit, in any process, with any
    number of threads.  A row read twice at the same time gets the same noise
    realisation; a different ``read_index`` asks for an independent one.

    Parameters
    ----------
    crossbar : AnalogCrossbar
        The configuration (a copy the chip keeps).
    pcm : PCMModel
        The resolved device model.
    W : ndarray of shape (n_inputs, n_outputs)
        The weights.
    entropy : int
        Root of the chip's seed tree.
    weight_range, scale, offset, relu, calibration_inputs, calibration_weights
        As in :meth:`AnalogCrossbar.program`.

    Attributes
    ----------
    crossbar : AnalogCrossbar
        The configuration the chip was programmed with (a copy).
    pcm : PCMModel
        The resolved device model.
    grid : TileGrid
        The tiles of the matrix.
    n_inputs, n_outputs : int
        Shape of the programmed matrix.
    row_bounds, col_bounds : ndarray of int
        Tile boundaries along inputs and outputs.
    n_tiles : int
        Number of tiles (cores).
    counters : WorkCounters
        Work done so far.
    input_range_ : ndarray of shape (n_row_tiles,)
        Calibrated full-scale input per input tile (absent before calibration).
    adc_range_ : ndarray of shape (n_row_tiles, n_col_tiles)
        Calibrated ADC full scale per tile, in output units.
    """

    def __init__(
        self,
        crossbar,
        pcm,
        W,
        entropy,
        *,
        weight_range=None,
        scale=None,
        offset=None,
        relu=False,
        calibration_inputs=None,
        calibration_weights=None,
    ):
        self.crossbar = crossbar
        self.pcm = pcm
        self.grid = TileGrid(W.shape[0], W.shape[1], crossbar.tile_size)
        self.counters = WorkCounters(n_tiles=self.grid.n_tiles)
        self._entropy = entropy
        self._weights = np.array(W, dtype=np.float64)
        self._weights32 = None
        self._scale = _per_output(scale, self.n_outputs, "scale")
        self._offset = _per_output(offset, self.n_outputs, "offset")
        self._relu = bool(relu)
        self._weight_range = weight_range
        self._cache = {}
        self._cache_lock = threading.Lock()
        self._clipping_warned = False
        self._calibration_rows = None
        self.dac = DAC(crossbar.dac_bits, self.grid)
        self.adc = ADC(crossbar.adc_bits, self.grid)
        self._compensation = DriftCompensation(crossbar.drift_compensation, self.grid, entropy)
        self._engine = ReadEngine(self.grid, self.dac, self.adc, *self._unit_and_relu(), entropy)
        if not crossbar.is_exact:
            self._program_devices()
        if calibration_inputs is not None:
            self.calibrate(calibration_inputs, sample_weight=calibration_weights)

    # Shape -----------------------------------------------------------------
    @property
    def n_inputs(self):
        """Inputs (rows) of the programmed matrix."""
        return self.grid.n_inputs

    @property
    def n_outputs(self):
        """Outputs (columns) of the programmed matrix."""
        return self.grid.n_outputs

    @property
    def row_bounds(self):
        """Boundaries of the input tiles, ``[0, ..., n_inputs]``."""
        return self.grid.row_bounds

    @property
    def col_bounds(self):
        """Boundaries of the output tiles, ``[0, ..., n_outputs]``."""
        return self.grid.col_bounds

    @property
    def n_tiles(self):
        """Number of tiles (cores) the matrix occupies."""
        return self.grid.n_tiles

    @property
    def target_weights(self):
        """The weights the chip was last asked to hold, float64 (n_inputs, n_outputs)."""
        return self._weights.copy()

    # Programming -----------------------------------------------------------
    def _unit_and_relu(self):
        """The near-memory unit and whether the ReLU acts after the partial sums."""
        unit = self.crossbar.near_memory_unit()
        if unit is None:
            return None, self._relu
        relu = self._relu or unit.relu
        # A ReLU acts on the layer's output: with several input tiles, after
        # their partial sums are added, not in each core's unit.
        after_sum = relu and self.grid.n_row_tiles > 1
        unit.set_params(relu=relu and not after_sum)
        return unit, after_sum

    @property
    def _signs(self):
        """Sign folded into each column's weights: a negative digital scale flips the column."""
        return np.ones(self.n_outputs) if self._scale is None else np.sign(self._scale)

    @property
    def _n_stack(self):
        """Modelled conductances per polarity (devices per polarity / devices per model)."""
        return self.crossbar.devices_per_polarity // self.pcm.devices_per_polarity

    @property
    def _g_total(self):
        """Largest conductance of one polarity of a weight (all its devices), uS."""
        return self.pcm.g_max * self._n_stack

    @property
    def _devices_per_weight(self):
        """Physical devices of one weight: both polarities, every device."""
        return 2 * self.crossbar.devices_per_polarity

    def _program_devices(self):
        W = self._weights * self._signs
        self._weight_max = weight_ranges(W, self.grid, self.crossbar.weight_mapping, self._weight_range)
        self._array = DeviceArray(self.pcm, self.grid, self._n_stack, self._entropy)
        self._array.draw_faults()
        retargeted = [0]

        def targets_of(i, rows, cols):
            relative = relative_weights(W[rows, cols], self._weight_max[i, cols])
            targets = device_targets(relative, self.pcm.g_max, self._n_stack)
            if self.crossbar.fault_compensation and self._array.faults is not None:
                retargeted[0] += self._compensate_faults(targets, self._array.faults[rows, :, :, cols])
            return targets

        self._array.program(targets_of)
        self.counters.add(
            device_writes=W.size * self._devices_per_weight + retargeted[0] * self.pcm.devices_per_polarity
        )

    def _compensate_faults(self, targets, faults):
        """Fault-aware verify step on a block of targets (n, n_stack, 2, m), in place; returns re-targeted devices."""
        faulty = (faults != 0).any(axis=(1, 2))  # (n, m) weights with a stuck device
        if not faulty.any():
            return 0
        rows, cols = np.nonzero(faulty)
        new, n_retargeted = fault_aware_targets(targets[rows, :, :, cols], faults[rows, :, :, cols], self.pcm.g_max)
        targets[rows, :, :, cols] = new
        return n_retargeted

    def reprogram(self, W, at, calibration_inputs=None, calibration_weights=None):
        """Write the devices of the weights that change, at chip time ``at``.

        Only the devices of weights whose target changes are written: they
        get fresh programming noise and drift exponents and the programming
        time ``at``; every other device keeps its realisation and its age.  A
        column whose new weights exceed its weight range (see
        ``weight_range`` of :meth:`AnalogCrossbar.program`) is remapped and
        all its devices in that input tile are written.  Stuck devices stay
        stuck (with ``fault_compensation``, their weights are re-targeted).
        Converter ranges are kept unless ``calibration_inputs`` are given.
        On bad input nothing changes.

        Parameters
        ----------
        W : array-like of shape (n_inputs, n_outputs)
            The new weights (finite).
        at : float
            Chip time of the write, seconds since the first programming; not
            before the latest write.
        calibration_inputs : array-like of shape (n_samples, n_inputs), default=None
            Recalibrate the converter ranges after the write (see :meth:`calibrate`).
        calibration_weights : array-like of shape (n_samples,), default=None

        Returns
        -------
        n_devices : int
            Physical devices written (also added to ``counters.device_writes``).
        """
        if self.crossbar.is_exact:
            raise ValueError(
                "An exact (ideal) crossbar holds no devices to reprogram; program the new weights "
                "with AnalogCrossbar.program instead."
            )
        # Finiteness is checked on the changed weights only (below): a NaN or an
        # infinity always differs from the finite weight it would replace.
        W = check_array(W, dtype=[np.float64, np.float32], ensure_all_finite=False, input_name="W")
        if W.shape != (self.n_inputs, self.n_outputs):
            raise ValueError(f"W has shape {W.shape}, but the crossbar holds {self.n_inputs}x{self.n_outputs} weights.")
        at = check_seconds(at, "at")
        if at < self._array.last_write_time:
            raise ValueError(
                f"at={at} s is before the latest write of this chip, at {self._array.last_write_time} s."
            )
        if calibration_inputs is not None:
            calibration_inputs = self._check_inputs(calibration_inputs)
        W = np.asarray(W, dtype=np.float64)
        changed = np.flatnonzero(W != self._weights)
        if not np.isfinite(W.flat[changed]).all():
            kind = "NaN" if np.isnan(W.flat[changed]).any() else "infinity"
            raise ValueError(f"Input W contains {kind}.")
        rows, cols = self._programmable(changed)
        weight_max = self._remapped_ranges(W, rows, cols)
        if weight_max is not self._weight_max:  # remapped columns: all their weights of that input tile
            remapped = self.grid.per_input(weight_max != self._weight_max)
            rows, cols = self._programmable(np.flatnonzero((W != self._weights) | remapped))
        n_devices = 0
        if rows.size:
            signed = W[rows, cols] * self._signs[cols]
            relative = relative_weights(signed, weight_max[self._row_tile_of[rows], cols])
            targets = device_targets(relative[:, None], self.pcm.g_max, self._n_stack)[..., 0]
            retargeted = 0
            if self.crossbar.fault_compensation and self._array.faults is not None:
                retargeted = self._compensate_faults(targets[..., None], self._array.faults[rows, :, :, cols][..., None])
            self._array.rewrite(rows, cols, targets, at)
            n_devices = rows.size * self._devices_per_weight + retargeted * self.pcm.devices_per_polarity
            self.counters.add(device_writes=n_devices)
            self._weights[rows, cols] = W[rows, cols]
        self._weights32 = None
        self._weight_max = weight_max
        self._compensation.reference = None
        self._clear_cache()
        if calibration_inputs is not None:
            self.calibrate(calibration_inputs, sample_weight=calibration_weights)
        return int(n_devices)

    @property
    def _row_tile_of(self):
        """The input tile of every input row."""
        return self.grid.per_input(np.arange(self.grid.n_row_tiles))

    def _programmable(self, flat):
        """(rows, columns) of the flat weight indices ``flat`` that the devices hold, row-major.

        A column of digital scale 0 holds zeros whatever its weights say.
        """
        if self._scale is not None and not np.all(self._scale):
            flat = flat[self._scale[flat % self.n_outputs] != 0]
        rows = flat // self.n_outputs
        return rows, flat - rows * self.n_outputs

    def _remapped_ranges(self, W, rows, cols):
        """Weight ranges after a write: kept (the same array), unless changed weights exceed them."""
        magnitude = np.abs(W[rows, cols])
        exceeds = magnitude > self._weight_max[self._row_tile_of[rows], cols]
        if not exceeds.any():
            return self._weight_max
        if self._weight_range is not None:
            return weight_ranges(W * self._signs, self.grid, self.crossbar.weight_mapping, self._weight_range)
        needed = weight_ranges(W * self._signs, self.grid, self.crossbar.weight_mapping)
        return np.where(needed > self._weight_max, needed, self._weight_max)

    @property
    def last_write_time(self):
        """Chip time (s) of the latest write (0 after the first programming)."""
        return 0.0 if self.crossbar.is_exact else self._array.last_write_time

    def programming_times(self):
        """Chip time at which each weight's devices were last written.

        Returns
        -------
        times : ndarray of shape (n_inputs, n_outputs)
        """
        self._check_has_devices()
        return self._array.programming_times()

    def write_counts(self):
        """How many times each weight's devices were written.

        Returns
        -------
        counts : ndarray of unsigned int of shape (n_inputs, n_outputs)
        """
        self._check_has_devices()
        return self._array.write_counts

    def _check_has_devices(self):
        if self.crossbar.is_exact:
            raise ValueError("An exact (ideal) crossbar holds no conductances to read.")

    def conductances(self, t_inference=None):
        """Device conductances (uS) at chip time ``t_inference``, each device at its own age.

        Parameters
        ----------
        t_inference : float, default=None
            Chip time; ``crossbar.t_inference`` when None.

        Returns
        -------
        g : ndarray of shape (n_stack, 2, n_inputs, n_outputs)
            Axis 1 holds the positive and negative polarity; ``n_stack`` is the
            number of modelled conductances per polarity (devices per polarity
            divided by the devices one model conductance stands for).
        """
        self._check_has_devices()
        t = self._read_time(t_inference)
        g = self._array.read(t, lambda g: g, self._array.shape, _random.STREAM_READ_NOISE, _random.float_key(t))
        return np.moveaxis(g, 0, 2)

    # Calibration -----------------------------------------------------------
    @property
    def is_calibrated(self):
        """True once input and ADC ranges are set (see :meth:`calibrate`)."""
        return self._calibration_rows is not None

    @property
    def input_range_(self):
        """Calibrated full-scale input per input tile (set by :meth:`calibrate`)."""
        if not self.is_calibrated:
            raise AttributeError("input_range_ is set by calibrate().")
        return self.dac.ranges

    @property
    def adc_range_(self):
        """Calibrated ADC full scale per tile, in output units (set by :meth:`calibrate`)."""
        if not self.is_calibrated:
            raise AttributeError("adc_range_ is set by calibrate().")
        return self.adc.ranges

    def calibrate(self, X, sample_weight=None):
        """Set the input and ADC ranges from representative inputs.

        The full-scale input of each input tile and the ADC full scale of each
        tile come from ``|X|`` over the tile's features and from the
        magnitudes of the tile's analog outputs for those inputs, read at the
        latest write: by the ``input_percentile`` / ``output_percentile`` of
        the crossbar (``calibration="percentile"``), or as the ranges that
        minimise the expected quantisation plus clipping error
        (``calibration="mse"``).  Percentiles use the inverted empirical CDF,
        weighted by ``sample_weight``, so a row of weight 2 counts as that row
        twice.  At most 1024 evenly spaced rows of ``X`` are used.  A range
        that leaves half of the non-zero calibration values fewer than 2 code
        steps (a few outliers set it, say) is reported by an
        :class:`~sklearn_aimc.exceptions.AnalogCalibrationWarning`.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_inputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows.

        Returns
        -------
        self : ProgrammedCrossbar
        """
        X = self._check_inputs(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        step = -(-X.shape[0] // MAX_CALIBRATION_ROWS)
        X = X[::step]
        X = X.toarray() if sparse.issparse(X) else np.asarray(X, dtype=np.float64)
        weights = None if sample_weight is None else sample_weight[::step]
        config = self.crossbar
        grid = self.grid
        dac = calibrate_converter(
            [(f"input tile {i}", X[:, rows]) for i, rows in enumerate(grid.row_slices)],
            weights, config.calibration, config.input_percentile, self.dac.full_scale, "DAC",
        )
        self.dac.ranges = dac.ranges
        self._calibration_clip_shares = {"DAC": dac.clip_share, "ADC": 0.0}
        reports = dac.reports if self.dac.quantises else []
        self.adc.ranges = np.ones((grid.n_row_tiles, grid.n_col_tiles))
        if not config.is_exact:
            outputs = self._noise_free_outputs(X)
            adc = calibrate_converter(
                [(f"tile {i},{j}", y[:, cols]) for i, y in enumerate(outputs) for j, cols in enumerate(grid.col_slices)],
                weights, config.calibration, config.output_percentile, self.adc.full_scale, "ADC",
            )
            self.adc.ranges = adc.ranges.reshape(grid.n_row_tiles, grid.n_col_tiles)
            self._calibration_clip_shares["ADC"] = adc.clip_share
            reports += adc.reports if self.adc.quantises else []
        self._calibration_rows = X.shape[0]
        self._clear_cache()
        self.counters.add(calibration_vectors=X.shape[0])
        if reports:
            warnings.warn(
                "Calibration: " + "; ".join(reports[:3]) + ("; ..." if len(reports) > 3 else "") + ". Most "
                "values then use a few converter levels and quantise to almost nothing (outliers in the "
                "calibration data set such a range). Use AnalogCrossbar(calibration='mse'), which is "
                "robust to outliers, or clip or robustly scale the data.",
                AnalogCalibrationWarning,
                stacklevel=3,
            )
        return self

    def _noise_free_outputs(self, X):
        """Analog outputs of each input tile for the rows ``X``, without output noise, in output units.

        The products are computed in units of each column's weight range (of
        order one, whatever the scale of the weights) and scaled in float64.
        """
        codes, _ = self.dac.convert(X)
        g_diff = self._differential_conductance(self._array.last_write_time)
        input_step = self.dac.step
        outputs = []
        for i, rows in enumerate(self.grid.row_slices):
            relative = ExactMVM((g_diff[rows] * (input_step[i] / self._g_total)).astype(np.float32), self._code_bits)
            y = relative(codes[:, rows], np.empty((codes.shape[0], self.n_outputs), np.float32))
            outputs.append(y * self._weight_max[i])
        return outputs

    @property
    def _code_bits(self):
        """Magnitude bits of the DAC codes (None: unquantised inputs)."""
        return None if not self.dac.quantises else self.dac.format.word_bits - 1

    # Reads at a time -------------------------------------------------------
    def _read_time(self, t_inference):
        """The chip time of a read: validated once, here, for every read path."""
        t = self.crossbar.t_inference if t_inference is None else t_inference
        t = check_seconds(t, "t_inference")
        if t < self.last_write_time:
            raise ValueError(
                f"t_inference={t} s is before the latest write of this chip, at {self.last_write_time} s: "
                "its devices did not hold these weights yet."
            )
        return t

    def _clear_cache(self):
        with self._cache_lock:
            self._cache.clear()

    def _state(self, t):
        with self._cache_lock:
            state = self._cache.get(t)
        if state is None:
            state = self._read_state(t)
            with self._cache_lock:
                while len(self._cache) >= STATE_CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[t] = state
        return state

    def _differential_conductance(self, t):
        """``sum G+ - sum G-`` of every weight at chip time ``t`` (each device at its age)."""
        return self._array.differential(t, _random.STREAM_READ_NOISE, _random.float_key(t))

    def _drift_gain(self, g_diff):
        """Drift-compensation gain per input tile and column (ones when off)."""
        if self.crossbar.drift_compensation is None:
            return np.ones((self.grid.n_row_tiles, self.n_outputs))
        compensation = self._compensation
        if compensation.reference is None:
            # The devices as written: every device read at age 0, as its verify read saw it.
            written = self._array.differential(None, _random.STREAM_REFERENCE_READ, len(self._array.write_times))
            compensation.reference = compensation.response(written)
            self.counters.add(calibration_vectors=compensation.probes().shape[1])
        self.counters.add(calibration_vectors=compensation.probes().shape[1])
        return compensation.gains(compensation.response(g_diff))

    def _read_state(self, t):
        if self.crossbar.needs_calibration and not self.is_calibrated:
            raise ValueError(
                "This crossbar quantises or adds noise and needs calibrated input and ADC "
                "ranges: pass calibration_inputs to AnalogCrossbar.program or call calibrate(X)."
            )
        engine = self._engine
        g_diff = self._differential_conductance(t)
        gain = self._drift_gain(g_diff)
        live = self._weight_max > 0
        input_step = self.dac.step
        adc_step = self.adc.step_per_output if self.adc.quantises else np.ones_like(self._weight_max)
        layer_scale = 1.0 if self._scale is None else np.abs(self._scale)
        output_scale = adc_step * gain * live * layer_scale  # real output per ADC code
        digital, realised_scale, offsets = [], np.empty_like(output_scale), None
        for i in range(self.grid.n_row_tiles):
            if engine.unit is None:
                digital.append(output_scale[i])
                realised_scale[i] = output_scale[i]
            else:
                offset = self._offset if i == 0 else None
                coefficients = engine.unit.encode(output_scale[i], offset, group_starts=self.col_bounds[:-1])
                digital.append(coefficients)
                realised_scale[i] = coefficients.scale
        if engine.unit is None and self._offset is not None:
            offsets = self._offset
        # ADC LSBs per input code: conductance -> weight -> output units -> LSBs.
        weight_per_g = self._weight_max / self._g_total
        lsb_per_code = self.grid.per_input(input_step[:, None] * live * weight_per_g / adc_step)
        analog = (g_diff * lsb_per_code).astype(np.float32)
        analog = [analog[rows] for rows in self.grid.row_slices]
        return ReadState(
            analog=analog,
            products=[ExactMVM(block, self._code_bits) for block in analog],
            noise_sigma=self._noise_sigma(adc_step, live),
            digital=digital,
            offsets=offsets,
            realised_scale=realised_scale,
            compiled=engine.compiled_stages(digital),
        )

    def _noise_sigma(self, adc_step, live):
        """Output-noise standard deviation in ADC LSBs, per input tile and column."""
        if self.crossbar.output_noise == 0:
            return None
        full_scale_weight = self._weight_max * live
        full_scale_input = self.dac.ranges[:, None]
        sigma = self.crossbar.output_noise * full_scale_input * full_scale_weight / adc_step
        return sigma.astype(np.float32)

    def effective_weights(self, t_inference=None):
        """The weights the chip realises at chip time ``t_inference``.

        Conductances at that time (programming noise, drift, read noise,
        faults), mapped back to weights with the gains the near-memory unit
        applies (drift compensation and the precision of its scale
        registers); the periphery's quantisation and per-read output noise,
        and the digital ``scale`` / ``offset`` of the layer, are not included.

        Parameters
        ----------
        t_inference : float, default=None
            Chip time; ``crossbar.t_inference`` when None.

        Returns
        -------
        W_eff : ndarray of shape (n_inputs, n_outputs), float64
        """
        t = self._read_time(t_inference)
        if self.crossbar.is_exact:
            return self._weights.copy()
        state = self._state(t)
        analog = np.concatenate(state.analog).astype(np.float64)
        W = analog * self.grid.per_input(state.realised_scale / self.dac.step[:, None])
        if self._scale is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                W = np.where(self._scale != 0, W / self._scale, 0.0)
        return W

    # The MVM ---------------------------------------------------------------
    def _check_inputs(self, X):
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in (np.float32, np.float64) and X.size:
            # Already an array of floats (estimators validated it): the finiteness check is what is left.
            assert_all_finite(X, input_name="X")
        else:
            X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], input_name="X")
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"X has {X.shape[1]} features, but the crossbar was programmed with "
                f"{self.n_inputs} inputs."
            )
        return X

    @staticmethod
    def _check_read_index(read_index):
        if not isinstance(read_index, Integral) or isinstance(read_index, bool) or read_index < 0:
            raise ValueError(f"read_index must be a non-negative integer, got {read_index!r}.")
        return int(read_index)

    def matmul(self, X, t_inference=None, *, out=None, read_index=0):
        """Approximate ``X @ W`` on the chip at chip time ``t_inference``.

        Runs the whole read chain per block of rows: input range scaling, DAC
        quantisation and clipping, analog MVM with every device's conductance
        at its own age, output noise, ADC quantisation and clipping, the
        near-memory unit (drift compensation, gain, the layer's scale and
        offset), digital addition of the partial sums of input tiles and the
        layer's ReLU.  Blocks run in parallel threads.

        The output noise of a row is a function of the chip's seed, the read
        time, the row's input codes and ``read_index``: the same row read at
        the same time gives the same output, alone or in any batch.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_inputs)
            float32 inputs give float32 outputs; everything else float64.
        t_inference : float, default=None
            Chip time in seconds since the first programming;
            ``crossbar.t_inference`` when None.  Other times read the same
            devices (same programming noise and drift exponents) with fresh
            accumulated read noise; not before the latest write.
        out : ndarray of shape (n_samples, n_outputs), default=None
            Where to write the result, as numpy's ``out``: of the result's
            dtype (float32 for float32 ``X``, float64 otherwise), writable and
            sharing no memory with ``X``.  Saves allocating (and the operating
            system zeroing) a fresh output, e.g. when the same batch is read
            at many times.  The result is the same as without it.
        read_index : int, default=0
            Selects the output-noise realisation: reading the same rows at the
            same time with another index gives an independent repeated read.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_outputs)
            ``out`` when given.
        """
        X = self._check_inputs(X)
        t = self._read_time(t_inference)
        read_index = self._check_read_index(read_index)
        out = self._check_out(out, X)
        if self.crossbar.is_exact:
            self._count_reads(X.shape[0])
            return self._exact_layer(X, out)
        if out is None:
            out = np.empty((X.shape[0], self.n_outputs), dtype=X.dtype)
        self._read(X, t, read_index, out=out)
        return out

    def _check_out(self, out, X):
        if out is None:
            return None
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
        shape = (X.shape[0], self.n_outputs)
        if out.shape != shape or out.dtype != X.dtype:
            raise ValueError(
                f"out must have shape {shape} and dtype {X.dtype} for this X, got shape "
                f"{out.shape} and dtype {out.dtype}."
            )
        if not out.flags.writeable:
            raise ValueError("out is read-only.")
        if not sparse.issparse(X) and np.shares_memory(out, X):
            raise ValueError("out shares memory with X.")
        return out

    def map_matmul(self, X, function, t_inference=None, *, read_index=0):
        """Stream ``X @ W`` through ``function`` block by block, never holding all of it.

        The product is computed as in :meth:`matmul`; each block of rows is
        handed to ``function(rows, Y_rows)`` while it is still in cache, from
        parallel threads (``rows`` is a slice of ``X``'s rows; blocks are
        disjoint).  ``Y_rows`` is a scratch buffer: copy what you keep.  This is
        how the estimators apply their digital functions with bounded memory.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_inputs)
        function : callable
            ``function(rows, Y_rows)``; must be safe to call from several
            threads on disjoint rows.
        t_inference : float, default=None
            As in :meth:`matmul`.
        read_index : int, default=0
            As in :meth:`matmul`.
        """
        X = self._check_inputs(X)
        t = self._read_time(t_inference)
        read_index = self._check_read_index(read_index)
        if self.crossbar.is_exact:
            from .._parallel import run_row_tasks

            self._count_reads(X.shape[0])
            # No noise to amortise: small tasks keep each product in cache.
            run_row_tasks(
                X.shape[0],
                self._engine.rows_holding(_EXACT_TASK_ELEMENTS),
                lambda rows, _: function(rows, self._exact_layer(X[rows], None)),
            )
        else:
            self._read(X, t, read_index, consumer=function)

    def _count_reads(self, n_samples):
        # Every core has its own DACs and ADCs: an input value is converted once
        # per column tile, an output once per input tile.
        self.counters.add(
            input_vectors=n_samples,
            dac_conversions=n_samples * self.n_inputs * self.grid.n_col_tiles,
            adc_conversions=n_samples * self.n_outputs * self.grid.n_row_tiles,
        )

    def _read(self, X, t, read_index, out=None, consumer=None):
        """Read every row of ``X`` into ``out`` or through ``consumer``; count and warn."""
        self._count_reads(X.shape[0])
        state = self._state(t)
        clipped_inputs, clipped_outputs = self._engine.read(X, state, t, read_index, out=out, consumer=consumer)
        self.counters.add(clipped_inputs=clipped_inputs, clipped_outputs=clipped_outputs)
        self._warn_if_clipping()

    def _exact_layer(self, X, out):
        """``X @ W`` (times the scale, plus the offset, ReLU) in float, as scikit-learn computes layers."""
        if X.dtype == np.float32:
            if self._weights32 is None:
                self._weights32 = self._weights.astype(np.float32)
            weights = self._weights32
        else:
            weights = self._weights
        if sparse.issparse(X):
            product = np.asarray(X @ weights)
            if out is None:
                out = product
            else:
                out[...] = product
        else:
            out = np.matmul(X, weights, out=out)
        if self._scale is not None:
            out *= self._scale.astype(out.dtype)
        if self._offset is not None:
            out += self._offset.astype(out.dtype)
        if self._relu:
            np.maximum(out, 0, out=out)
        return out

    def _warn_if_clipping(self):
        """One warning per chip, once the values read so far clip unusually often.

        Unusual means more than 10 times the share of calibration values that
        lay beyond their range (and at least 0.1 %), over enough values that
        the expected share predicts at least ten clips.
        """
        if self._clipping_warned or not self.is_calibrated:
            return
        counters = self.counters
        converters = (
            (counters.clipped_inputs, counters.input_vectors * self.n_inputs, "inputs", "DAC"),
            (counters.clipped_outputs, counters.adc_conversions, "outputs", "ADC"),
        )
        reports = []
        for n_clipped, n_values, what, name in converters:
            expected = self._calibration_clip_shares[name]
            threshold = max(CLIP_WARNING_FACTOR * expected, CLIP_WARNING_FLOOR)
            if n_values * threshold < CLIP_WARNING_FACTOR:
                continue
            share = n_clipped / n_values
            if share > threshold:
                reports.append(
                    f"{share:.2%} of the {n_values} {what} read so far fell outside the calibrated {name} "
                    f"range and were clipped ({expected:.2%} of the calibration data lay beyond it)"
                )
        if reports:
            self._clipping_warned = True
            warnings.warn(
                "; ".join(reports) + ". Recalibrate with representative data (ProgrammedCrossbar.calibrate) "
                "or widen the converter ranges. This warning is shown once per programmed chip; "
                "the clipped values stay counted in its counters.",
                AnalogClippingWarning,
                stacklevel=4,
            )

    # Persistence -----------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        del state["_cache_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache_lock = threading.Lock()

    def __repr__(self):
        grid = f"{self.grid.n_row_tiles}x{self.grid.n_col_tiles}"
        return (
            f"ProgrammedCrossbar({self.n_inputs}x{self.n_outputs} on {self.n_tiles} tiles "
            f"({grid}), calibrated={self.is_calibrated})"
        )
