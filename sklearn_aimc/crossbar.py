"""The simulated PCM crossbar: tiling, periphery, calibration and drift compensation.

:class:`AnalogCrossbar` is a configuration object with scikit-learn parameters
(``get_params`` / ``set_params`` / ``clone``), so estimators take it as their
``device`` and ``GridSearchCV`` tunes nested parameters such as
``device__adc_bits``.  :meth:`AnalogCrossbar.program` maps a weight matrix onto
as many tiles as it needs and returns a :class:`ProgrammedCrossbar`, whose
:meth:`~ProgrammedCrossbar.matmul` is the one analog MVM path of the package.

One read, as data (per chunk of rows, chunks in parallel threads)::

    x --input range, DAC--> integer codes --analog MVM, G(t)--> currents
      --output noise, ADC--> integer codes --NMPU affine (gain, drift
      compensation)--> partial sums of input tiles added digitally --> y

Device physics comes from :mod:`sklearn_aimc.device`, the fixed-point stage from
:mod:`sklearn_aimc.fixedpoint`.
"""

import contextlib
import functools
import threading
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from . import _compiled, _random
from ._parallel import PerThread, near_equal_bounds, run_row_tasks
from .device import GenericPCM, HermesPCM, IdealPCM, PCMModel
from .exceptions import AnalogClippingWarning
from .fixedpoint import NearMemoryUnit

__all__ = ["AnalogCrossbar", "ProgrammedCrossbar", "WorkCounters", "check_device"]

#: Rows and columns of one HERMES core's PCM crossbar (Le Gallo et al. 2023).
HERMES_TILE_SIZE = 256
#: HERMES input resolution: 8-bit signed PWM inputs (Le Gallo et al. 2023).
HERMES_DAC_BITS = 8
#: HERMES output resolution: 8-bit CCO-based ADCs (Khaddam-Aljameh et al. 2022).
HERMES_ADC_BITS = 8
#: Additive output noise of the standard AIMC inference preset (Rasch et al.,
#: Nature Communications 2023; aihwkit ``StandardHWATrainingPreset``), in units
#: of one full-scale input times one full-scale weight.
STANDARD_OUTPUT_NOISE = 0.04
#: Energy of one 256 x 256 core MVM: 2 * 256**2 operations at 9.76 TOPS/W
#: (1-phase mode, Le Gallo et al. 2023).
ENERGY_PER_CORE_MVM = 2 * 256**2 / 9.76e12
#: Latency of one core MVM: 63.1 TOPS over 64 cores, 1-phase mode (Le Gallo et al. 2023).
TIME_PER_CORE_MVM = 2 * 256**2 / (63.1e12 / 64)
#: Default time between programming and inference: one hour.
DEFAULT_T_INFERENCE = 3600.0

# A warning is raised when a batch clips this many times more often than the
# calibration percentile implies (and at least this floor share).
_CLIP_WARNING_FACTOR = 10.0
_CLIP_WARNING_FLOOR = 1e-3
# Random +-1 input vectors of a global drift-compensation read.
_COMPENSATION_PROBES = 64
# Rows of calibration data used for range calibration (deterministic stride).
_MAX_CALIBRATION_ROWS = 1024
# Outputs per parallel task (the unit of output-noise seeding): large tasks
# amortise a task's own work (DAC pass, noise seed, scratch space); a batch is
# split into _MIN_TASKS tasks, for the cores, as long as they keep at least
# _MIN_TASK_ELEMENTS outputs.  Outputs per block processed inside a task:
# about 1 MB of float32, large enough that numpy's per-call overhead stays
# small, small enough for the cache.  Devices per task of the device simulation.
_TASK_ELEMENTS = 1 << 22
_MIN_TASK_ELEMENTS = 1 << 20
_MIN_TASKS = 32
_BLOCK_ELEMENTS = 1 << 18
_DEVICE_TASK_ELEMENTS = 1 << 18
# Shortest row for which ufunc buffers are shrunk to one row (see _ufunc_buffer_for_rows).
_MIN_UNBUFFERED_ROW = 1024
# Bytes of a cache line (64 on x86-64 and on most ARMv8 cores), the padding of scratch rows.
_CACHE_LINE = 64
# Conductance states kept per programmed crossbar (one per time read).
_STATE_CACHE_SIZE = 2


def check_device(device):
    """Resolve an estimator's ``device`` parameter to an :class:`AnalogCrossbar`.

    Parameters
    ----------
    device : {"hermes", "ideal"} or AnalogCrossbar
        ``"hermes"`` is ``AnalogCrossbar()``, ``"ideal"`` is
        ``AnalogCrossbar.ideal()``; an instance is returned unchanged.

    Returns
    -------
    crossbar : AnalogCrossbar
    """
    if isinstance(device, AnalogCrossbar):
        return device
    if isinstance(device, str):
        if device == "hermes":
            return AnalogCrossbar()
        if device == "ideal":
            return AnalogCrossbar.ideal()
    raise ValueError(
        f"device must be 'hermes', 'ideal' or an AnalogCrossbar instance, got {device!r}."
    )


@dataclass
class WorkCounters:
    """Work done by a programmed crossbar, for throughput and energy estimates.

    Attributes
    ----------
    n_tiles : int
        Cores (tiles) the matrix occupies.
    input_vectors : int
        Input vectors applied so far (every vector visits every tile).
    dac_conversions : int
        Input values converted by DACs.
    adc_conversions : int
        Output values converted by ADCs.
    clipped_inputs : int
        Input values that fell outside the calibrated input range.
    clipped_outputs : int
        ADC conversions that saturated.
    calibration_vectors : int
        Input vectors spent on range calibration and drift-compensation reads.
    """

    n_tiles: int
    input_vectors: int = 0
    dac_conversions: int = 0
    adc_conversions: int = 0
    clipped_inputs: int = 0
    clipped_outputs: int = 0
    calibration_vectors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def core_mvms(self):
        """Core (tile) MVMs: input vectors times tiles, calibration included."""
        return (self.input_vectors + self.calibration_vectors) * self.n_tiles

    @property
    def energy_joules(self):
        """Energy estimate at 13.4 nJ per core MVM (HERMES, 1-phase, 9.76 TOPS/W)."""
        return self.core_mvms * ENERGY_PER_CORE_MVM

    @property
    def latency_seconds(self):
        """Time estimate with every tile on its own core, all cores in parallel (133 ns per MVM)."""
        return (self.input_vectors + self.calibration_vectors) * TIME_PER_CORE_MVM

    def add(self, **counts):
        """Increment counters atomically."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + int(value))

    def reset(self):
        """Set every counter back to zero."""
        with self._lock:
            for name in self.as_dict():
                if name != "n_tiles" and not name.startswith(("core", "energy", "latency")):
                    setattr(self, name, 0)

    def as_dict(self):
        """Counters and the derived estimates as a plain dict."""
        counts = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if not name.startswith("_")
        }
        counts.update(
            core_mvms=self.core_mvms,
            energy_joules=self.energy_joules,
            latency_seconds=self.latency_seconds,
        )
        return counts

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()


class AnalogCrossbar(BaseEstimator):
    """Configuration of a simulated PCM crossbar accelerator (HERMES by default).

    ``AnalogCrossbar()`` is the IBM HERMES Project Chip: 256 x 256 PCM tiles,
    8-bit signed inputs, 8-bit ADCs, two devices per polarity with the HERMES
    device fits, global drift compensation, read one hour after programming.
    ``AnalogCrossbar.ideal()`` computes the exact float product.  Estimators
    accept ``"hermes"`` and ``"ideal"`` as names of these two.

    Parameters
    ----------
    pcm : {"hermes", "generic", "ideal"} or PCMModel, default="hermes"
        Device model.  ``"hermes"`` uses :class:`~sklearn_aimc.HermesPCM` with
        the fit measured for ``devices_per_polarity`` (2 devices: the pair fit;
        1: the single-device fit), ``"generic"`` :class:`~sklearn_aimc.GenericPCM`,
        ``"ideal"`` :class:`~sklearn_aimc.IdealPCM`.
    devices_per_polarity : int, default=2
        PCM devices per polarity of a unit cell (HERMES cells hold 2 per
        polarity, Le Gallo et al. 2023).  A weight is spread evenly over them:
        the range grows with their number, the relative noise falls.  Must be a
        multiple of the model's own ``devices_per_polarity``.
    tile_size : int, default=256
        Rows and columns of one core (256 on HERMES).  Larger matrices are
        split into near-equal blocks; partial sums of input blocks are added
        digitally.
    dac_bits : int or None, default=8
        Signed input resolution: inputs become integers in
        ``[-(2**(dac_bits-1) - 1), 2**(dac_bits-1) - 1]`` after scaling by the
        calibrated input range (HERMES: 8-bit, -127 ... 127).  None applies
        inputs unquantised and unclipped.
    adc_bits : int or None, default=8
        Signed output resolution of the ADCs (HERMES: 8-bit).  None reads the
        analog outputs exactly.
    output_noise : float, default=0.04
        Standard deviation of the additive Gaussian noise of every analog
        output, in units of one full-scale input times one full-scale weight
        (Rasch et al. 2023, standard AIMC inference preset).  Independent for
        every output of every read; seeded by the chip's seed, the read time
        and the input codes, so reading the same inputs again reproduces it.
    weight_mapping : {"per_column", "per_tile"}, default="per_column"
        Conductance scale of the weights: ``g_max / max|W|`` per column of each
        tile (the NMPU's per-column scale undoes it) or one per tile.
    input_percentile : float, default=99.9
        Percentile of the calibration inputs' magnitudes (per input tile) that
        sets the full-scale input.
    output_percentile : float, default=99.9
        Percentile of the calibration outputs' magnitudes (per tile) that sets
        the ADC full scale.
    t_inference : float, default=3600.0
        Seconds between programming and the read (one hour by default).
        Changing it on a programmed crossbar reads the same devices at another
        time, see :meth:`ProgrammedCrossbar.matmul`.
    drift_compensation : {"global", "per_column"} or None, default="global"
        Global: one gain per tile from a calibration read (mean column
        current for a fixed set of 64 random +-1 inputs), compared with the
        same read right after programming, as on the chip.  Per column: one
        gain per column from the same reads.  None leaves drift uncompensated.
    nmpu : NearMemoryUnit, "float" or None, default=None
        Digital stage after the ADCs.  None uses
        :class:`~sklearn_aimc.fixedpoint.NearMemoryUnit` with its published
        defaults; ``"float"`` uses exact floating-point post-processing (the
        reference path).  A NearMemoryUnit needs ``adc_bits``.

    See Also
    --------
    ProgrammedCrossbar : the programmed chip returned by :meth:`program`.

    References
    ----------
    .. [1] M. Le Gallo et al., "A 64-core mixed-signal in-memory compute chip
       based on phase-change memory for deep neural network inference",
       Nature Electronics 6, 680-693 (2023).
    .. [2] M. J. Rasch et al., "Hardware-aware training for large-scale and
       diverse deep learning inference workloads using in-memory computing-based
       accelerators", Nature Communications 14, 5282 (2023).
    .. [3] E. Ferro et al., "A precision-optimized fixed-point near-memory
       digital processing unit for analog in-memory computing", ISCAS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogCrossbar
    >>> rng = np.random.default_rng(0)
    >>> W, X = rng.standard_normal((64, 300)), rng.standard_normal((500, 64))
    >>> chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
    >>> chip.n_tiles  # 64 x 300 needs two 256-column tiles
    2
    >>> Y = chip.matmul(X)
    >>> err = np.linalg.norm(Y - X @ W) / np.linalg.norm(X @ W)
    >>> bool(0.01 < err < 0.3)
    True
    >>> exact = AnalogCrossbar.ideal().program(W).matmul(X)
    >>> bool(np.array_equal(exact, X @ W))
    True
    """

    _parameter_constraints = {
        "pcm": [StrOptions({"hermes", "generic", "ideal"}), PCMModel],
        "devices_per_polarity": [Interval(Integral, 1, None, closed="left")],
        "tile_size": [Interval(Integral, 1, None, closed="left")],
        "dac_bits": [Interval(Integral, 2, 24, closed="both"), None],
        "adc_bits": [Interval(Integral, 2, 24, closed="both"), None],
        "output_noise": [Interval(Real, 0, None, closed="left")],
        "weight_mapping": [StrOptions({"per_column", "per_tile"})],
        "input_percentile": [Interval(Real, 0, 100, closed="right")],
        "output_percentile": [Interval(Real, 0, 100, closed="right")],
        "t_inference": [Interval(Real, 0, None, closed="left")],
        "drift_compensation": [StrOptions({"global", "per_column"}), None],
        "nmpu": [NearMemoryUnit, StrOptions({"float"}), None],
    }

    def __init__(
        self,
        pcm="hermes",
        devices_per_polarity=2,
        tile_size=HERMES_TILE_SIZE,
        dac_bits=HERMES_DAC_BITS,
        adc_bits=HERMES_ADC_BITS,
        output_noise=STANDARD_OUTPUT_NOISE,
        weight_mapping="per_column",
        input_percentile=99.9,
        output_percentile=99.9,
        t_inference=DEFAULT_T_INFERENCE,
        drift_compensation="global",
        nmpu=None,
    ):
        self.pcm = pcm
        self.devices_per_polarity = devices_per_polarity
        self.tile_size = tile_size
        self.dac_bits = dac_bits
        self.adc_bits = adc_bits
        self.output_noise = output_noise
        self.weight_mapping = weight_mapping
        self.input_percentile = input_percentile
        self.output_percentile = output_percentile
        self.t_inference = t_inference
        self.drift_compensation = drift_compensation
        self.nmpu = nmpu

    @classmethod
    def ideal(cls, **params):
        """The exact float MVM: ideal devices and periphery (other parameters may be overridden)."""
        defaults = dict(
            pcm="ideal",
            dac_bits=None,
            adc_bits=None,
            output_noise=0.0,
            drift_compensation=None,
            nmpu="float",
        )
        return cls(**{**defaults, **params})

    def validate(self):
        """Check the parameters and their combination; returns the resolved device model."""
        self._validate_params()
        if isinstance(self.nmpu, NearMemoryUnit) or self.nmpu is None:
            if self.adc_bits is None:
                raise ValueError(
                    "A NearMemoryUnit processes integer ADC codes: set adc_bits, or use "
                    "nmpu='float' for an ideal (unquantised) readout."
                )
        model = self._device_model()
        model.validate()
        if self.devices_per_polarity % model.devices_per_polarity:
            raise ValueError(
                f"devices_per_polarity={self.devices_per_polarity} is not a multiple of the "
                f"{model.devices_per_polarity} devices that {type(model).__name__} models per "
                "polarity."
            )
        return model

    def _device_model(self):
        if isinstance(self.pcm, PCMModel):
            return self.pcm
        if self.pcm == "hermes":
            return HermesPCM(num_devices=2 if self.devices_per_polarity % 2 == 0 else 1)
        if self.pcm == "generic":
            return GenericPCM()
        return IdealPCM()

    @property
    def is_exact(self):
        """True when this configuration computes the exact float product."""
        model = self._device_model()
        return (
            isinstance(model, IdealPCM)
            and not (model.stuck_reset_fraction or model.stuck_set_fraction)
            and self.dac_bits is None
            and self.adc_bits is None
            and self.output_noise == 0
            and isinstance(self.nmpu, str)
        )

    @property
    def needs_calibration(self):
        """True when input and output ranges must be calibrated from data."""
        return self.dac_bits is not None or self.adc_bits is not None or self.output_noise > 0

    def program(self, W, calibration_inputs=None, random_state=None, calibration_weights=None):
        """Program a weight matrix onto as many tiles as it needs.

        Parameters
        ----------
        W : array-like of shape (n_inputs, n_outputs)
            Weights; ``matmul(X)`` approximates ``X @ W``.
        calibration_inputs : array-like of shape (n_samples, n_inputs), default=None
            Representative inputs that set the input (DAC) and output (ADC)
            ranges; at most 1024 evenly spaced rows are used.  Required unless
            the periphery is ideal (no DAC, no ADC, no output noise); may also
            be supplied later with :meth:`ProgrammedCrossbar.calibrate`.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the whole chip: programming noise, drift exponents, faults,
            read noise at every time and the output noise of every read.
        calibration_weights : array-like of shape (n_samples,), default=None
            Weights of the calibration rows (e.g. the estimator's sample
            weights), see :meth:`ProgrammedCrossbar.calibrate`.

        Returns
        -------
        programmed : ProgrammedCrossbar
        """
        model = self.validate()
        W = check_array(W, dtype=[np.float64, np.float32], input_name="W")
        programmed = ProgrammedCrossbar(clone(self), model, W, _random.entropy_from(random_state))
        if calibration_inputs is not None:
            programmed.calibrate(calibration_inputs, sample_weight=calibration_weights)
        return programmed


@dataclass
class _ReadState:
    """Everything a read at one time needs, derived once and cached."""

    analog: list  # per input block: float32 (rows, n_outputs), input codes -> ADC LSBs
    noise_sigma: np.ndarray | None  # (n_blocks, n_outputs) float32, in ADC LSBs
    digital: list  # per input block: NMPUCoefficients, or float64 factors (n_outputs,)
    realised_scale: np.ndarray  # (n_blocks, n_outputs) real output per ADC LSB
    compiled: list | None  # per input block: _CompiledStage, when reads use _compiled


@dataclass(frozen=True)
class _CompiledStage:
    """The near-memory unit's registers of one input block, as the compiled read-out takes them."""

    multiplier: np.ndarray  # int64 (n_outputs,)
    addend: np.ndarray  # int64 (n_outputs,)
    factors: dict  # output dtype -> powers of two (n_outputs,) of that dtype


@dataclass
class _ReadScratch:
    """Scratch arrays of the read tasks of one thread (tasks' rows, blocks' rows)."""

    inputs: np.ndarray  # (task rows, n_inputs) DAC levels in the input dtype
    codes: np.ndarray | None  # (task rows, n_inputs) float32 DAC codes (None: inputs are float32)
    analog: np.ndarray  # (block rows, n_outputs) float32 MVM outputs, rows padded
    analog_rows: np.ndarray  # the C-contiguous padded rows of ``analog``
    levels: np.ndarray | None  # (block rows, n_outputs) float32 outputs with noise, rounded by the ADC
    integer_codes: np.ndarray | None  # ADC codes and NMPU work on the integer path
    partial_sums: np.ndarray | None  # outputs of the second and later input tiles
    result: np.ndarray | None  # output rows handed to a consumer


class ProgrammedCrossbar:
    """A weight matrix programmed onto simulated PCM tiles.

    Created by :meth:`AnalogCrossbar.program`.  It keeps the programmed
    conductances and drift exponents of every device; reading it at a time
    ``t`` derives the drifted, noisy conductances once (cached), so the same
    chip can be read at several times since programming without
    reprogramming.  Every read is seeded from the chip's seed, the time and the
    input codes: the same inputs give the same outputs, in any process.

    Attributes
    ----------
    crossbar : AnalogCrossbar
        The configuration the chip was programmed with (a copy).
    pcm : PCMModel
        The resolved device model.
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

    def __init__(self, crossbar, pcm, W, entropy):
        self.crossbar = crossbar
        self.pcm = pcm
        self.n_inputs, self.n_outputs = W.shape
        self.row_bounds = near_equal_bounds(self.n_inputs, crossbar.tile_size)
        self.col_bounds = near_equal_bounds(self.n_outputs, crossbar.tile_size)
        self.n_tiles = (len(self.row_bounds) - 1) * (len(self.col_bounds) - 1)
        self.counters = WorkCounters(n_tiles=self.n_tiles)
        self._entropy = entropy
        self._nmpu = crossbar.nmpu if isinstance(crossbar.nmpu, NearMemoryUnit) else NearMemoryUnit()
        # A ReLU acts on the layer's output: with several input tiles, after
        # their partial sums are added, not in each core's unit.
        self._relu_after_sum = self._nmpu.relu and len(self.row_bounds) > 2
        if self._relu_after_sum:
            self._nmpu = clone(self._nmpu).set_params(relu=False)
        self._cache = {}
        self._cache_lock = threading.Lock()
        self._compensation_reference = None
        if crossbar.is_exact:
            self._weights = W.astype(np.float64)
            self._weights32 = None
            return
        self._g_per_weight = self._conductance_scale(W)
        self._g_prog, self._nu = self._program_devices(W)

    # Programming ------------------------------------------------------------
    @property
    def _g_total(self):
        """Largest differential conductance of one weight (all devices of a polarity)."""
        return self.pcm.g_max * self.crossbar.devices_per_polarity / self.pcm.devices_per_polarity

    def _conductance_scale(self, W):
        """uS per weight unit, per input tile and column: ``g_max / max|W|``."""
        w_max = np.array(
            [np.maximum(W[lo:hi].max(axis=0), -W[lo:hi].min(axis=0)) for lo, hi in self._row_tiles()],
            dtype=np.float64,
        )
        if self.crossbar.weight_mapping == "per_tile":
            tile_max = np.maximum.reduceat(w_max, self.col_bounds[:-1], axis=1)
            w_max = np.repeat(tile_max, np.diff(self.col_bounds), axis=1)
        # A column of zero weights (within an input tile) is read with a digital
        # gain of 0: its devices sit at RESET and it adds nothing, noise included.
        self._live_columns = w_max > 0
        with np.errstate(divide="ignore"):
            return np.where(self._live_columns, self._g_total / w_max, self._g_total)

    def _row_tiles(self):
        """(first, end) input row of each input tile."""
        return list(zip(self.row_bounds[:-1].tolist(), self.row_bounds[1:].tolist()))

    def _rows(self, per_block):
        """Repeat a per-input-tile array (n_row_tiles, ...) to one row per input."""
        return np.repeat(per_block, np.diff(self.row_bounds), axis=0)

    @property
    def _n_stack(self):
        """Modelled conductances per polarity (devices per polarity / devices per model)."""
        return self.crossbar.devices_per_polarity // self.pcm.devices_per_polarity

    def _device_rows(self):
        """Input rows per task of the device simulation (about 2**18 devices, in cache)."""
        return max(1, _DEVICE_TASK_ELEMENTS // (2 * self._n_stack * self.n_outputs))

    def _program_devices(self, W):
        """Program every device, in parallel blocks of input rows.

        Devices are stored as (n_inputs, n_stack, 2, n_outputs): axis 2 is the
        polarity.  Each block draws from its own keyed stream, so results do
        not depend on the number of threads.
        """
        shape = (self.n_inputs, self._n_stack, 2, self.n_outputs)
        g_prog, nu = np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
        g_max = np.float32(self.pcm.g_max)
        scale = self._rows(self._g_per_weight / self._n_stack)

        def program_rows(rows, index):
            target = np.multiply(W[rows], scale[rows], dtype=np.float32)
            targets = np.empty((target.shape[0], *shape[1:]), dtype=np.float32)
            np.clip(target, 0, g_max, out=targets[:, 0, 0])
            np.negative(target, out=target)
            np.clip(target, 0, g_max, out=targets[:, 0, 1])
            targets[:, 1:] = targets[:, :1]
            rng = _random.keyed_generator(self._entropy, _random.STREAM_PROGRAMMING, index)
            g_prog[rows], nu[rows] = self.pcm.program(targets, random_state=rng)

        run_row_tasks(self.n_inputs, self._device_rows(), program_rows)
        return g_prog, nu

    def _read_devices(self, t, reduce):
        """Apply ``reduce`` to the conductances at time ``t``, block by block.

        ``reduce(g)`` maps a block of shape (rows, n_stack, 2, n_outputs) to
        (rows, ...); the results are stacked.  Read noise of each block comes
        from a stream keyed by the time and the block.
        """
        time_key = _random.float_key(t)

        def read_rows(rows, index):
            rng = _random.keyed_generator(self._entropy, _random.STREAM_READ_NOISE, time_key, index)
            return reduce(self.pcm.at_time(self._g_prog[rows], self._nu[rows], t, random_state=rng))

        return np.concatenate(run_row_tasks(self.n_inputs, self._device_rows(), read_rows))

    def conductances(self, t_inference=None):
        """Device conductances (uS) read ``t_inference`` seconds after programming.

        Returns
        -------
        g : ndarray of shape (n_stack, 2, n_inputs, n_outputs)
            Axis 1 holds the positive and negative polarity; ``n_stack`` is the
            number of modelled conductances per polarity (devices per polarity
            divided by the devices one model conductance stands for).
        """
        t = self._time(t_inference)
        if self.crossbar.is_exact:
            raise ValueError("An exact (ideal) crossbar holds no conductances to read.")
        return np.moveaxis(self._read_devices(t, lambda g: g), 0, 2)

    def _differential_conductance(self, t):
        """G+ - G- summed over the devices of each polarity, (n_inputs, n_outputs)."""
        return self._read_devices(t, lambda g: (g[:, :, 0] - g[:, :, 1]).sum(axis=1))

    # Calibration ------------------------------------------------------------
    @property
    def is_calibrated(self):
        """True once input and ADC ranges are set (see :meth:`calibrate`)."""
        return hasattr(self, "input_range_")

    def calibrate(self, X, sample_weight=None):
        """Set the input and ADC ranges from representative inputs.

        The full-scale input of each input tile is the ``input_percentile`` of
        ``|X|`` over its features; the ADC full scale of each tile is the
        ``output_percentile`` of its analog outputs' magnitudes for those
        inputs, read right after programming.  Percentiles use the inverted
        empirical CDF, weighted by ``sample_weight``, so a row of weight 2
        counts as that row twice.  At most 1024 evenly spaced rows of ``X``
        are used.

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
        step = -(-X.shape[0] // _MAX_CALIBRATION_ROWS)
        X = X[::step]
        X = X.toarray() if sparse.issparse(X) else np.asarray(X, dtype=np.float64)
        weights = None if sample_weight is None else sample_weight[::step]
        self.input_range_ = np.array(
            [
                _row_weighted_percentile(X[:, lo:hi], weights, self.crossbar.input_percentile)
                for lo, hi in self._row_tiles()
            ]
        )
        self.input_range_[~(self.input_range_ > 0)] = 1.0
        self.adc_range_ = np.ones((len(self.row_bounds) - 1, len(self.col_bounds) - 1))
        if not self.crossbar.is_exact:
            self.adc_range_ = self._calibrate_adc(X, weights)
        self._cache.clear()
        self.counters.add(calibration_vectors=X.shape[0])
        return self

    def _calibrate_adc(self, X, weights):
        codes, _ = self._dac(X)
        outputs = self._noise_free_read(codes, self._differential_conductance(0.0))
        percentiles = np.empty((len(self.row_bounds) - 1, len(self.col_bounds) - 1))
        for i, y in enumerate(outputs):
            for j, (lo, hi) in enumerate(zip(self.col_bounds[:-1], self.col_bounds[1:])):
                percentiles[i, j] = _row_weighted_percentile(
                    y[:, lo:hi], weights, self.crossbar.output_percentile
                )
        percentiles[~(percentiles > 0)] = 1.0
        return percentiles

    def _noise_free_read(self, codes, g_diff):
        """Analog outputs of each input tile without output noise, in output units."""
        input_step = self._input_step()
        return [
            codes[:, lo:hi] @ (g_diff[lo:hi] * (input_step[i] / self._g_per_weight[i])).astype(np.float32)
            for i, (lo, hi) in enumerate(self._row_tiles())
        ]

    # Periphery --------------------------------------------------------------
    def _input_step(self):
        """Real input per DAC code step, per input tile."""
        ranges = self.input_range_ if self.is_calibrated else np.ones(len(self.row_bounds) - 1)
        dac_bits = self.crossbar.dac_bits
        return ranges / (2 ** (dac_bits - 1) - 1) if dac_bits else ranges

    def _adc_step(self):
        """Real output per ADC code step, per input tile and column (1 without an ADC)."""
        adc_bits = self.crossbar.adc_bits
        if adc_bits is None:
            return np.ones((len(self.row_bounds) - 1, self.n_outputs))
        ranges = np.repeat(self.adc_range_, np.diff(self.col_bounds), axis=1)
        return ranges / (2 ** (adc_bits - 1) - 1)

    def _dac(self, x, scratch=None):
        """Input codes (float32 holding integers when quantised) and the clip count.

        Levels are computed and rounded in ``x``'s dtype, then converted to
        float32; in ``scratch`` (a :class:`_ReadScratch`) when given.
        """
        n_rows = x.shape[0]
        levels = np.multiply(
            x,
            (1.0 / self._rows(self._input_step())).astype(x.dtype),
            out=None if scratch is None else scratch.inputs[:n_rows],
        )
        n_clipped = 0
        if self.crossbar.dac_bits is not None:
            np.rint(levels, out=levels)
            n_clipped = self._clip_codes(levels, self.crossbar.dac_bits)
        if scratch is None or scratch.codes is None:
            return levels.astype(np.float32, copy=False), n_clipped
        codes = scratch.codes[:n_rows]
        np.copyto(codes, levels, casting="same_kind")
        return codes, n_clipped

    def _compact_codes(self, codes):
        """The input codes in the narrowest exact integer type, for hashing."""
        dac_bits = self.crossbar.dac_bits
        if dac_bits is None:
            return codes
        return codes.astype(np.int8 if dac_bits <= 8 else np.int16 if dac_bits <= 16 else np.int32)

    def _adc(self, y, levels, codes):
        """Convert analog outputs (float, in LSBs) to signed ADC codes; returns the clip count.

        ``y`` is rounded into ``levels`` (float32, possibly ``y`` itself);
        ``codes`` receives the codes and is either ``levels`` (float NMPU) or
        an integer array (the NMPU's input).
        """
        bits = self.crossbar.adc_bits
        np.rint(y, out=levels)
        if codes is not levels:
            # One step beyond full scale: clipped outputs stay recognisable and the cast is exact.
            rail = 2 ** (bits - 1)
            np.clip(levels, -rail, rail, out=levels)
            np.copyto(codes, levels, casting="unsafe")
        return self._clip_codes(codes, bits)

    @staticmethod
    def _clip_codes(codes, bits):
        """Clip signed codes to ``bits`` bits in place; returns how many were clipped."""
        full_scale = 2 ** (bits - 1) - 1
        n_clipped = np.count_nonzero(np.abs(codes) > full_scale)
        if n_clipped:
            np.clip(codes, -full_scale, full_scale, out=codes)
        return n_clipped

    # Reads at a time ----------------------------------------------------------
    def _time(self, t_inference):
        t = self.crossbar.t_inference if t_inference is None else t_inference
        if not isinstance(t, Real) or isinstance(t, bool) or not np.isfinite(t) or t < 0:
            raise ValueError(f"t_inference must be a finite number of seconds >= 0, got {t!r}.")
        return float(t)

    def _state(self, t):
        with self._cache_lock:
            state = self._cache.get(t)
        if state is None:
            state = self._read_state(t)
            with self._cache_lock:
                while len(self._cache) >= _STATE_CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[t] = state
        return state

    def _drift_gain(self, g_diff, t):
        """Drift-compensation gain per input tile and column (ones when off)."""
        mode = self.crossbar.drift_compensation
        n_row_tiles = len(self.row_bounds) - 1
        if mode is None:
            return np.ones((n_row_tiles, self.n_outputs))
        if self._compensation_reference is None:
            g_diff_0 = g_diff if t == 0 else self._differential_conductance(0.0)
            self._compensation_reference = self._compensation_read(g_diff_0, mode)
        reference = self._compensation_reference
        current = reference if t == 0 else self._compensation_read(g_diff, mode)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(current > 0, reference / current, 1.0)
        if mode == "global":
            gain = np.repeat(gain, np.diff(self.col_bounds), axis=1)
        return gain

    def _compensation_read(self, g_diff, mode):
        """Calibration read-out of the column currents, per input tile.

        The read applies a fixed set of random +-1 probe inputs and keeps the
        mean magnitude of each column's current, which weighs every device by
        its contribution to the products (the all-ones input of a classic
        global compensation cancels on narrow tiles of mixed-sign weights).
        Per column: one value per column; global: their mean over the tile.
        """
        probes = self._compensation_probes()
        self.counters.add(calibration_vectors=probes.shape[1])
        currents = np.array([np.abs(probes[lo:hi].T @ g_diff[lo:hi]).mean(axis=0) for lo, hi in self._row_tiles()])
        if mode == "per_column":
            return currents
        return np.add.reduceat(currents, self.col_bounds[:-1], axis=1) / np.diff(self.col_bounds)

    def _compensation_probes(self):
        """The fixed random +-1 inputs of global drift compensation, (n_inputs, 64)."""
        rng = _random.keyed_generator(self._entropy, _random.STREAM_CALIBRATION)
        return rng.choice(np.array([-1.0, 1.0]), size=(self.n_inputs, _COMPENSATION_PROBES))

    def _read_state(self, t):
        config = self.crossbar
        if config.needs_calibration and not self.is_calibrated:
            raise ValueError(
                "This crossbar quantises or adds noise and needs calibrated input and ADC "
                "ranges: pass calibration_inputs to AnalogCrossbar.program or call calibrate(X)."
            )
        g_diff = self._differential_conductance(t)
        gain = self._drift_gain(g_diff, t)
        input_step, adc_step = self._input_step(), self._adc_step()
        output_scale = adc_step * gain * self._live_columns  # real output per ADC code
        digital, realised_scale = [], np.empty_like(output_scale)
        for i in range(len(self.row_bounds) - 1):
            if config.nmpu == "float":
                digital.append(output_scale[i])
                realised_scale[i] = output_scale[i]
            else:
                coefficients = self._nmpu.encode(output_scale[i], group_starts=self.col_bounds[:-1])
                digital.append(coefficients)
                realised_scale[i] = coefficients.scale
        # ADC LSBs per input code: conductance -> weight -> output units -> LSBs.
        lsb_per_code = self._rows(input_step[:, None] * self._live_columns / (self._g_per_weight * adc_step))
        analog = (g_diff * lsb_per_code).astype(np.float32)
        return _ReadState(
            analog=[analog[lo:hi] for lo, hi in self._row_tiles()],
            noise_sigma=self._noise_sigma(adc_step),
            digital=digital,
            realised_scale=realised_scale,
            compiled=self._compiled_stages(digital),
        )

    def _compiled_stages(self, digital):
        """Registers for :func:`_compiled.read_out`, or None where reads stay in numpy.

        The compiled read-out covers the ADC and an integer near-memory unit
        without requantisation, the HERMES preset's read-out.
        """
        if (
            not _compiled.ENABLED
            or self.crossbar.adc_bits is None
            or self.crossbar.nmpu == "float"
            or self._nmpu.output_format is not None
        ):
            return None
        n = self.n_outputs
        return [
            _CompiledStage(
                multiplier=_per_column(coefficients.multiplier, n, np.int64),
                addend=_per_column(coefficients.addend, n, np.int64),
                factors={
                    np.dtype(dtype): _per_column(self._nmpu.output_factors(coefficients, dtype), n)
                    for dtype in (np.float32, np.float64)
                },
            )
            for coefficients in digital
        ]

    def _noise_sigma(self, adc_step):
        """Output-noise standard deviation in ADC LSBs, per input tile and column."""
        if self.crossbar.output_noise == 0:
            return None
        full_scale_weight = self._g_total / self._g_per_weight * self._live_columns
        full_scale_input = self.input_range_[:, None]
        sigma = self.crossbar.output_noise * full_scale_input * full_scale_weight / adc_step
        return sigma.astype(np.float32)

    def effective_weights(self, t_inference=None):
        """The weights the chip realises ``t_inference`` seconds after programming.

        Conductances at that time (programming noise, drift, read noise,
        faults), mapped back to weights with the NMPU gains it applies (drift
        compensation and the precision of its scale registers); the periphery's
        quantisation and per-read output noise are not included.

        Returns
        -------
        W_eff : ndarray of shape (n_inputs, n_outputs), float64
        """
        t = self._time(t_inference)
        if self.crossbar.is_exact:
            return self._weights.copy()
        state = self._state(t)
        analog = np.concatenate(state.analog).astype(np.float64)
        return analog * self._rows(state.realised_scale / self._input_step()[:, None])

    # The MVM -------------------------------------------------------------------
    def _check_inputs(self, X):
        X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], input_name="X")
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"X has {X.shape[1]} features, but the crossbar was programmed with "
                f"{self.n_inputs} inputs."
            )
        return X

    def matmul(self, X, t_inference=None, *, out=None):
        """Approximate ``X @ W`` on the chip, ``t_inference`` seconds after programming.

        Runs the whole read chain per block of rows: input range scaling, DAC
        quantisation and clipping, analog MVM with the conductances at time t,
        output noise, ADC quantisation and clipping, the NMPU (drift
        compensation and gain), and digital addition of the partial sums of
        input tiles.  Blocks run in parallel threads; results do not depend on
        the number of threads.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_inputs)
            float32 inputs give float32 outputs; everything else float64.
        t_inference : float, default=None
            Seconds since programming; ``crossbar.t_inference`` when None.
            Other times read the same devices (same programming noise and
            drift exponents) with fresh accumulated read noise.
        out : ndarray of shape (n_samples, n_outputs), default=None
            Where to write the result, as numpy's ``out``: of the result's
            dtype (float32 for float32 ``X``, float64 otherwise), writable and
            sharing no memory with ``X``.  Saves allocating (and the operating
            system zeroing) a fresh output, e.g. when the same batch is read
            at many times.  The result is the same as without it.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_outputs)
            ``out`` when given.
        """
        X = self._check_inputs(X)
        t = self._time(t_inference)
        out = self._check_out(out, X)
        if self.crossbar.is_exact:
            self._count_reads(X.shape[0])
            return self._exact_product(X, out)
        if out is None:
            out = np.empty((X.shape[0], self.n_outputs), dtype=X.dtype)
        self._read(X, t, out=out)
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

    def map_matmul(self, X, function, t_inference=None):
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
        """
        X = self._check_inputs(X)
        t = self._time(t_inference)
        if self.crossbar.is_exact:
            self._count_reads(X.shape[0])
            # No per-task noise seeding to amortise: small tasks keep each product in cache.
            run_row_tasks(
                X.shape[0],
                self._rows_holding(_MIN_TASK_ELEMENTS),
                lambda rows, _: function(rows, self._exact_product(X[rows], None)),
            )
        else:
            self._read(X, t, consumer=function)

    def _count_reads(self, n_samples):
        # Every core has its own DACs and ADCs: an input value is converted once
        # per column tile, an output once per input tile.
        self.counters.add(
            input_vectors=n_samples,
            dac_conversions=n_samples * self.n_inputs * (len(self.col_bounds) - 1),
            adc_conversions=n_samples * self.n_outputs * (len(self.row_bounds) - 1),
        )

    def _rows_holding(self, n_outputs_total):
        """Rows (at least 2) whose outputs number at most ``n_outputs_total``."""
        return max(2, n_outputs_total // self.n_outputs)

    def _task_rows(self, n_samples):
        """Rows per parallel task; depends on the batch, never on the number of threads."""
        smallest = self._rows_holding(_MIN_TASK_ELEMENTS)
        return min(self._rows_holding(_TASK_ELEMENTS), max(smallest, -(-n_samples // _MIN_TASKS)))

    def _read(self, X, t, out=None, consumer=None):
        """Read every row of ``X`` into ``out`` or through ``consumer``; count and warn."""
        n_samples = X.shape[0]
        self._count_reads(n_samples)
        state = self._state(t)
        task_rows = self._task_rows(n_samples)
        # Each thread reuses its scratch space from task to task: fresh arrays per
        # task made the kernel fault in new pages for every task.
        largest_task = min(task_rows, n_samples)
        scratch = PerThread(functools.partial(self._read_scratch, X, state, largest_task, out is None))

        def read_rows(rows, task_index):
            return self._read_rows(X, state, t, out, consumer, scratch.get(), rows, task_index)

        clips = run_row_tasks(n_samples, task_rows, read_rows)
        clipped_inputs, clipped_outputs = np.sum(clips, axis=0, dtype=np.int64)
        self.counters.add(clipped_inputs=clipped_inputs, clipped_outputs=clipped_outputs)
        self._warn_if_clipping(
            (clipped_inputs, n_samples * self.n_inputs, "inputs", "DAC", self.crossbar.input_percentile),
            (
                clipped_outputs,
                n_samples * self.n_outputs * (len(self.row_bounds) - 1),
                "outputs",
                "ADC",
                self.crossbar.output_percentile,
            ),
        )

    def _exact_product(self, X, out):
        if X.dtype == np.float32:
            if self._weights32 is None:
                self._weights32 = self._weights.astype(np.float32)
            weights = self._weights32
        else:
            weights = self._weights
        if sparse.issparse(X):
            product = np.asarray(X @ weights)
            if out is None:
                return product
            out[...] = product
            return out
        return np.matmul(X, weights, out=out)

    def _read_rows(self, X, state, t, out, consumer, scratch, rows, task_index):
        """Read the rows ``rows`` of ``X``; returns the clip counts."""
        x = X[rows]
        codes, clipped_inputs = self._dac(x.toarray() if sparse.issparse(x) else x, scratch)
        noise_rng = None
        if state.noise_sigma is not None:
            noise_rng = _random.keyed_generator(
                self._entropy,
                _random.STREAM_OUTPUT_NOISE,
                _random.float_key(t),
                task_index,
                _random.content_key(self._compact_codes(codes)),
            )
        block_rows = self._block_rows()
        clipped_outputs = 0
        for start in range(0, codes.shape[0], block_rows):
            # Not sklearn's gen_batches: its parameter validation costs more than a small block.
            block = slice(start, min(start + block_rows, codes.shape[0]))
            block_out = scratch.result[: block.stop - block.start] if out is None else out[rows][block]
            clipped_outputs += self._read_block(codes[block], state, block_out, scratch, noise_rng)
            if consumer is not None:
                consumer(slice(rows.start + block.start, rows.start + block.stop), block_out)
        return clipped_inputs, clipped_outputs

    def _read_block(self, codes, state, out, scratch, noise_rng):
        """Read a block of input codes into ``out``; returns the number of clipped outputs.

        The partial sums of the input tiles are added digitally.
        """
        n = codes.shape[0]
        clipped = 0
        convert = self._convert if state.compiled is None else self._convert_compiled
        for i, (lo, hi) in enumerate(self._row_tiles()):
            y = np.matmul(codes[:, lo:hi], state.analog[i], out=scratch.analog[:n])
            clipped += convert(y, i, state, out, scratch, noise_rng)
        if self._relu_after_sum:
            np.maximum(out, 0, out=out)
        return clipped

    def _convert(self, y, i, state, out, scratch, noise_rng):
        """Output noise, ADC and NMPU of input tile ``i``: ``out`` receives (i = 0) or adds its outputs."""
        n = y.shape[0]
        # Contiguous from here on: numpy's loops over padded rows are slower.
        levels = scratch.levels[:n]
        with _ufunc_buffer_for_rows(self.n_outputs):
            if noise_rng is not None:
                noise = _random.fill_normal_float32(noise_rng, levels, state.noise_sigma[i])
                y = np.add(noise, y, out=levels)
            adc_codes = y
            clipped = 0
            if self.crossbar.adc_bits is not None:
                adc_codes = levels if scratch.integer_codes is None else scratch.integer_codes[:n]
                clipped = self._adc(y, levels, adc_codes)
            target = out if i == 0 else scratch.partial_sums[:n]
            self._digital(adc_codes, state.digital[i], target)
            if i > 0:
                out += target
        return clipped

    def _convert_compiled(self, y, i, state, out, scratch, noise_rng):
        """:meth:`_convert` in one compiled loop, bit for bit (see :mod:`sklearn_aimc._compiled`)."""
        noise = None
        if noise_rng is not None:
            draws = _random.box_muller_float32(noise_rng, (y.size + 1) // 2)
            noise = (*draws, state.noise_sigma[i])
        stage = state.compiled[i]
        return _compiled.read_out(
            scratch.analog_rows[: y.shape[0]],
            noise,
            2 ** (self.crossbar.adc_bits - 1) - 1,
            stage.multiplier,
            stage.addend,
            self._nmpu.relu,
            stage.factors[out.dtype],
            out,
            accumulate=i > 0,
        )

    def _block_rows(self):
        """Rows per block of a read task."""
        return self._rows_holding(_BLOCK_ELEMENTS)

    def _read_scratch(self, X, state, task_rows, for_consumer):
        """Scratch arrays for reading tasks of at most ``task_rows`` rows of ``X``."""
        block_shape = (min(self._block_rows(), task_rows), self.n_outputs)
        input_shape = (task_rows, self.n_inputs)
        analog_rows = _padded_rows(block_shape, np.float32)
        in_numpy = state.compiled is None
        return _ReadScratch(
            inputs=np.empty(input_shape, dtype=X.dtype),
            codes=None if X.dtype == np.float32 else np.empty(input_shape, dtype=np.float32),
            analog=analog_rows[:, : self.n_outputs],
            analog_rows=analog_rows,
            levels=np.empty(block_shape, dtype=np.float32) if in_numpy else None,
            integer_codes=self._integer_work(block_shape, state) if in_numpy else None,
            partial_sums=np.empty(block_shape, dtype=X.dtype) if in_numpy and len(self.row_bounds) > 2 else None,
            result=np.empty(block_shape, dtype=X.dtype) if for_consumer else None,
        )

    def _integer_work(self, shape, state):
        """Scratch integers for the ADC codes and the NMPU (None on the float path)."""
        if self.crossbar.nmpu == "float":
            return None
        adc_bits = self.crossbar.adc_bits
        nmpu_types = [self._nmpu.integer_dtype(adc_bits, coefficients) for coefficients in state.digital]
        rail_type = np.min_scalar_type(-(2 ** (adc_bits - 1)) - 1)
        return np.empty(shape, dtype=np.result_type(rail_type, *nmpu_types))

    def _digital(self, codes, coefficients, out):
        """Near-memory stage: ADC codes to real outputs, written into ``out``.

        Integer codes are the NMPU's scratch space and are overwritten.
        """
        if isinstance(coefficients, np.ndarray):  # float reference path
            np.multiply(codes, coefficients, out=out, dtype=out.dtype)
            return
        self._nmpu.apply_to_float(
            codes, coefficients, out, input_bits=self.crossbar.adc_bits, work=codes
        )

    def _warn_if_clipping(self, *converters):
        """One warning per read when any converter clipped an unusual share of the batch.

        Each converter is ``(n_clipped, n_values, what, name, percentile)``;
        unusual means more than 10 times the share the calibration percentile
        implies (and at least 0.1 %).
        """
        reports = []
        for n_clipped, n_values, what, name, percentile in converters:
            expected_share = 1.0 - percentile / 100.0
            share = n_clipped / n_values if n_values else 0.0
            if share > max(_CLIP_WARNING_FACTOR * expected_share, _CLIP_WARNING_FLOOR):
                reports.append(
                    f"{share:.2%} of the {what} fell outside the calibrated {name} range and were "
                    f"clipped (calibration at the {percentile}th percentile targets {expected_share:.2%})"
                )
        if reports:
            warnings.warn(
                "In this read, " + "; ".join(reports) + ". Recalibrate with representative data "
                "(ProgrammedCrossbar.calibrate) or raise the calibration percentile.",
                AnalogClippingWarning,
                stacklevel=4,
            )

    # Persistence ---------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        del state["_cache_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache_lock = threading.Lock()

    def __repr__(self):
        grid = f"{len(self.row_bounds) - 1}x{len(self.col_bounds) - 1}"
        return (
            f"ProgrammedCrossbar({self.n_inputs}x{self.n_outputs} on {self.n_tiles} tiles "
            f"({grid}), calibrated={self.is_calibrated})"
        )


@contextlib.contextmanager
def _ufunc_buffer_for_rows(row_width):
    """Within this context, numpy's ufunc buffers hold at most one row of ``row_width``.

    A row vector broadcast over a block of shorter rows than its buffer (8192
    elements by default) makes numpy copy the rows through the buffer; rows
    of 4096 outputs ran the scaling steps of a read at about 0.6x speed.
    Below 1024 elements, smaller buffers cost more than they save.
    (Measured with numpy 2.4; ``np.errstate`` scopes the setting.)
    """
    with np.errstate():
        if _MIN_UNBUFFERED_ROW <= row_width < np.getbufsize():
            np.setbufsize(row_width)
        yield


def _per_column(values, n_columns, dtype=None):
    """``values`` broadcast to one entry per column, in a C-contiguous array."""
    return np.ascontiguousarray(np.broadcast_to(values, n_columns), dtype=dtype)


def _padded_rows(shape, dtype):
    """An uninitialised 2-D array of ``shape`` with one cache line more per row.

    A row stride of a large power of two maps the rows of a block onto the
    same cache sets; the GEMM writing such a block (``n_outputs`` of 4096,
    say) ran at about four fifths of its speed.  The GEMM writes into the
    view of the first ``shape[1]`` columns.
    """
    n_rows, n_columns = shape
    padding = _CACHE_LINE // np.dtype(dtype).itemsize
    return np.empty((n_rows, n_columns + padding), dtype=dtype)


def _row_weighted_percentile(values, row_weights, q):
    """``q``-th percentile of ``|values|``, each row weighted (inverted CDF)."""
    magnitudes = np.abs(values)
    weights = None
    if row_weights is not None:
        weights = np.broadcast_to(row_weights[:, None], magnitudes.shape).ravel()
    return np.percentile(magnitudes.ravel(), q, method="inverted_cdf", weights=weights)
