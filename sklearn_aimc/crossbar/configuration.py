"""The configuration of a simulated crossbar: :class:`AnalogCrossbar` and the ``device`` names."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions

from .. import _random
from ..device import GenericPCM, HermesPCM, IdealPCM, PCMModel
from ..fixedpoint import FP16Unit, NearMemoryUnit

__all__ = [
    "DEFAULT_T_INFERENCE",
    "HERMES_ADC_BITS",
    "HERMES_DAC_BITS",
    "HERMES_TILE_SIZE",
    "STANDARD_OUTPUT_NOISE",
    "AnalogCrossbar",
    "check_device",
]

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
#: Default time between programming and inference: one hour (a convention).
DEFAULT_T_INFERENCE = 3600.0

DEVICE_NAMES = ("hermes", "ideal")


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
        (Rasch et al. 2023, standard AIMC inference preset).  A function of
        the chip's seed, the read time and the row's input codes: a row reads
        the same alone or inside any batch (see :meth:`ProgrammedCrossbar.matmul`).
    weight_mapping : {"per_column", "per_tile"}, default="per_column"
        Conductance scale of the weights: ``g_max / max|W|`` per column of each
        tile (the near-memory unit's per-column scale undoes it) or one per tile.
    input_percentile : float, default=99.9
        With ``calibration="percentile"``: percentile of the calibration
        inputs' magnitudes (per input tile) that sets the full-scale input.
    output_percentile : float, default=99.9
        With ``calibration="percentile"``: percentile of the calibration
        outputs' magnitudes (per tile) that sets the ADC full scale.
    calibration : {"percentile", "mse"}, default="percentile"
        How converter ranges are set from calibration data: the percentiles
        above (a calibration rule, the package's published default), or the
        range that minimises the expected quantisation plus clipping error of
        each converter (robust to outliers, as in quantisation toolkits).
    t_inference : float, default=3600.0
        Chip time of the read: seconds since the first programming (one hour
        by default).  Changing it on a programmed crossbar reads the same
        devices at another time, each at its own age.
    drift_compensation : {"global", "per_column"} or None, default="global"
        Global: one gain per tile from a calibration read (mean column
        current for a fixed set of 64 random +-1 inputs), compared with the
        same read of the devices as written, as on the chip.  Per column: one
        gain per column from the same reads.  None leaves drift uncompensated.
    post_processing : {"fixed", "fp16", "float"}, default="fixed"
        Digital stage after the ADCs: the fixed-point near-memory unit of
        Ferro et al. (ISCAS 2024), configured by ``nmpu``; the FP16 unit it
        replaces (:class:`~sklearn_aimc.fixedpoint.FP16Unit`, every operation
        rounded to IEEE binary16; ADCs of at most 16 bits); or exact
        floating-point post-processing (the simulator's reference path).
    nmpu : NearMemoryUnit or None, default=None
        Configuration of the fixed-point unit; None uses
        :class:`~sklearn_aimc.fixedpoint.NearMemoryUnit` with its published
        defaults.  A fixed-point unit needs ``adc_bits``.
    fault_compensation : bool, default=False
        Model a program-and-verify pass that finds the stuck devices of each
        weight and re-targets the healthy devices of the same weight (its
        other devices of the same polarity, or the other polarity) so that the
        weight's differential conductance stays on target where it can.  The
        re-written devices count as device writes.

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
    >>> bool(np.array_equal(chip.matmul(X[7:8]), Y[7:8]))  # a row reads the same alone
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
        "calibration": [StrOptions({"percentile", "mse"})],
        "t_inference": [Interval(Real, 0, None, closed="left")],
        "drift_compensation": [StrOptions({"global", "per_column"}), None],
        "post_processing": [StrOptions({"fixed", "fp16", "float"})],
        "nmpu": [NearMemoryUnit, None],
        "fault_compensation": ["boolean"],
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
        calibration="percentile",
        t_inference=DEFAULT_T_INFERENCE,
        drift_compensation="global",
        post_processing="fixed",
        nmpu=None,
        fault_compensation=False,
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
        self.calibration = calibration
        self.t_inference = t_inference
        self.drift_compensation = drift_compensation
        self.post_processing = post_processing
        self.nmpu = nmpu
        self.fault_compensation = fault_compensation

    @classmethod
    def ideal(cls, **params):
        """The exact float MVM: ideal devices and periphery (other parameters may be overridden).

        Parameters
        ----------
        **params
            Parameters that differ from the ideal defaults.

        Returns
        -------
        crossbar : AnalogCrossbar
        """
        defaults = dict(
            pcm="ideal",
            dac_bits=None,
            adc_bits=None,
            output_noise=0.0,
            drift_compensation=None,
            post_processing="float",
        )
        return cls(**{**defaults, **params})

    def validate(self):
        """Check the parameters and their combination.

        Returns
        -------
        model : PCMModel
            The resolved device model.
        """
        self._validate_params()
        if self.post_processing != "float" and self.adc_bits is None:
            raise ValueError(
                f"post_processing={self.post_processing!r} processes integer ADC codes: set adc_bits, or "
                "use post_processing='float' for an ideal (unquantised) readout."
            )
        if self.post_processing == "fp16" and self.adc_bits > 16:
            raise ValueError(
                f"The FP16 unit takes ADC codes of at most 16 bits (larger ones overflow binary16), got "
                f"adc_bits={self.adc_bits}."
            )
        model = self.device_model()
        model.validate()
        if self.devices_per_polarity % model.devices_per_polarity:
            raise ValueError(
                f"devices_per_polarity={self.devices_per_polarity} is not a multiple of the "
                f"{model.devices_per_polarity} devices that {type(model).__name__} models per "
                "polarity."
            )
        return model

    def device_model(self):
        """The PCM model that ``pcm`` names (an instance is returned as is).

        Returns
        -------
        model : PCMModel
        """
        if isinstance(self.pcm, PCMModel):
            return self.pcm
        if self.pcm == "hermes":
            return HermesPCM(num_devices=2 if self.devices_per_polarity % 2 == 0 else 1)
        if self.pcm == "generic":
            return GenericPCM()
        return IdealPCM()

    def near_memory_unit(self):
        """The digital unit after the ADCs: ``nmpu`` (or the published NMPU), or the FP16 unit.

        Returns
        -------
        unit : NearMemoryUnit or FP16Unit or None
            None for ``post_processing="float"``.
        """
        if self.post_processing == "float":
            return None
        if self.post_processing == "fp16":
            return FP16Unit(relu=self.nmpu.relu if isinstance(self.nmpu, NearMemoryUnit) else False)
        return clone(self.nmpu) if isinstance(self.nmpu, NearMemoryUnit) else NearMemoryUnit()

    @property
    def is_exact(self):
        """True when this configuration computes the exact float product."""
        model = self.device_model()
        return (
            isinstance(model, IdealPCM)
            and not (model.stuck_reset_fraction or model.stuck_set_fraction)
            and self.dac_bits is None
            and self.adc_bits is None
            and self.output_noise == 0
            and self.post_processing == "float"
        )

    @property
    def needs_calibration(self):
        """True when input and output ranges must be calibrated from data."""
        return self.dac_bits is not None or self.adc_bits is not None or self.output_noise > 0

    def program(
        self,
        W,
        calibration_inputs=None,
        random_state=None,
        calibration_weights=None,
        *,
        weight_range=None,
        scale=None,
        offset=None,
        relu=False,
    ):
        """Program a weight matrix onto as many tiles as it needs.

        Programming starts the chip's clock: it is chip time 0.

        Parameters
        ----------
        W : array-like of shape (n_inputs, n_outputs)
            Finite weights; ``matmul(X)`` approximates ``X @ W`` (times
            ``scale``, plus ``offset``, through a ReLU when ``relu``).
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
        weight_range : float or array-like of shape (n_outputs,), default=None
            Weight magnitude that maps to a device's full conductance, per
            output column (or one for all); at least ``max|W|`` of each
            column.  None uses ``max|W|`` of each column of each tile (or of
            each tile, see ``weight_mapping``).  A fixed range lets later
            :meth:`ProgrammedCrossbar.reprogram` calls change weights within
            it without rewriting whole columns.
        scale : array-like of shape (n_outputs,), default=None
            Digital gain of each output column, applied by the near-memory
            unit (e.g. a folded batch normalisation).  Negative gains are
            folded into the sign of the column's weights.
        offset : array-like of shape (n_outputs,), default=None
            Digital offset of each output column (a bias), added by the
            near-memory unit.
        relu : bool, default=False
            Apply a ReLU in the near-memory unit (after the partial sums of
            the input tiles are added).

        Returns
        -------
        programmed : ProgrammedCrossbar
        """
        from .programmed import ProgrammedCrossbar

        model = self.validate()
        W = check_array(W, dtype=[np.float64, np.float32], input_name="W")
        return ProgrammedCrossbar(
            clone(self),
            model,
            W,
            _random.entropy_from(random_state),
            weight_range=weight_range,
            scale=scale,
            offset=offset,
            relu=relu,
            calibration_inputs=calibration_inputs,
            calibration_weights=calibration_weights,
        )
