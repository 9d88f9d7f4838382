"""Energy, latency and area of processing data on the chip and on a digital baseline.

:func:`estimate_cost` takes a fitted estimator of this package (or a
:class:`~sklearn.pipeline.Pipeline` of them, with scikit-learn scalers and
linear models as digital steps) and the data ``X`` it would process, and
returns what that work costs, split by part of the hardware:

* **analog MVM** - the core MVMs of the programmed crossbars (measured HERMES
  figures, which include the cores' DACs and ADCs); on the digital baseline,
  the same products as 8-bit multiply-accumulates;
* **DAC / ADC** - conversions, counted, but their energy lies inside the
  measured core MVM figure (no published per-conversion split);
* **near-memory unit** - the per-column affine after the ADCs (fixed-point
  NMPU or FP16 unit); on the baseline, the FP16 scaling of the accumulators;
* **digital** - the estimators' own digital functions (cos / sin, exp,
  norms, scalers, readout), identical on both sides, plus the chip's
  additions of the partial sums of input tiles;
* **data movement** - SRAM reads of inputs and writes of outputs, and on the
  baseline the fetches of the weights the chip keeps in its PCM cells.

The work counts come from the programmed chips themselves
(:func:`work_of_read`: one core MVM per input vector per tile, conversions
per tile, as :class:`~sklearn_aimc.WorkCounters` counts them) and from the
estimators, each of which declares the digital work of its ``transform`` or
``predict`` in a method ``_cost_work(n_samples)`` returning a :class:`Work`.
Every constant below names its source and technology node.  See
:doc:`/user_guide/cost_model` for the model and its limits.
"""

import math
import textwrap
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from .crossbar import ProgrammedCrossbar

__all__ = [
    "CORE_AREA_MM2",
    "EXP_FP32_OPS",
    "HERMES_CORES",
    "HERMES_CORE_SIZE",
    "HERMES_CORE_TOPS_PER_MM2",
    "HERMES_CORE_TOPS_PER_WATT",
    "HERMES_MODES",
    "HOROWITZ_45NM",
    "HOROWITZ_NODE_NM",
    "NMPU_AREA_RATIO_OVER_FP16",
    "NMPU_SPEEDUP_OVER_FP16",
    "OPS_PER_CORE_MVM",
    "PARTS",
    "SINCOS_FP32_OPS",
    "ChipWork",
    "Work",
    "core_mvm_energy",
    "core_mvm_time",
    "estimate_cost",
    "format_cost",
    "work_of_read",
]

# The HERMES chip: 14 nm CMOS ----------------------------------------------------------
#: Rows and columns of one HERMES core (Le Gallo et al., Nature Electronics 2023; 14 nm).
HERMES_CORE_SIZE = 256
#: Cores of one HERMES chip (Le Gallo et al. 2023).
HERMES_CORES = 64
#: Operations of one core MVM: a multiply and an add per weight, ``2 * 256**2 = 131 072``.
OPS_PER_CORE_MVM = 2 * HERMES_CORE_SIZE**2
#: Measured chip throughput (TOPS) and efficiency (TOPS/W) of 8-bit MVMs in the
#: chip's two modes (Le Gallo et al., Nature Electronics 2023; 14 nm CMOS).
#: Per core MVM: 13.4 nJ and 133 ns (1-phase), 52.9 nJ and 521 ns (4-phase).
HERMES_MODES = {
    "1-phase": {"tops": 63.1, "tops_per_watt": 9.76},
    "4-phase": {"tops": 16.1, "tops_per_watt": 2.48},
}
#: Efficiency of one core alone, 10.5 TOPS/W at 1 GHz (Khaddam-Aljameh et al.,
#: IEEE JSSC 2022; 14 nm).  Quoted for comparison only: the cost model uses the
#: chip-level figures of :data:`HERMES_MODES`, which include the chip's overheads.
HERMES_CORE_TOPS_PER_WATT = 10.5
#: Compute density of one core, TOPS/mm^2 (Khaddam-Aljameh et al., IEEE JSSC 2022; 14 nm).
HERMES_CORE_TOPS_PER_MM2 = 1.59
#: Area of one core (mm^2), derived: the core's peak throughput, taken as the
#: chip's 1-phase throughput per core (63.1 TOPS / 64 = 0.986 TOPS), over
#: 1.59 TOPS/mm^2: 0.620 mm^2.  (The core paper's own peak may differ slightly.)
CORE_AREA_MM2 = HERMES_MODES["1-phase"]["tops"] / HERMES_CORES / HERMES_CORE_TOPS_PER_MM2

# Digital operations: 45 nm, 0.9 V -------------------------------------------------------
#: Energy (J) per operation at 45 nm, 0.9 V (M. Horowitz, "Computing's energy
#: problem (and what we can do about it)", ISSCC 2014).  ``sram_read_64bit`` is
#: one 64-bit read of an 8 KB SRAM.
HOROWITZ_45NM = {
    "int8_add": 0.03e-12,
    "int8_mult": 0.2e-12,
    "int32_add": 0.1e-12,
    "int32_mult": 3.1e-12,
    "fp16_add": 0.4e-12,
    "fp16_mult": 1.1e-12,
    "fp32_add": 0.9e-12,
    "fp32_mult": 3.7e-12,
    "sram_read_64bit": 10e-12,
}
#: The technology node of :data:`HOROWITZ_45NM`, in nm.
HOROWITZ_NODE_NM = 45

# The near-memory unit -----------------------------------------------------------------
#: The fixed-point NMPU is 139x faster than the FP16 unit it replaces (Ferro et
#: al., ISCAS 2024).  A ratio of times only: absolute figures are not public.
NMPU_SPEEDUP_OVER_FP16 = 139.0
#: The FP16 unit occupies 7.8x the area of the NMPU (Ferro et al., ISCAS 2024).
#: A ratio of areas only: absolute area and power are not public.
NMPU_AREA_RATIO_OVER_FP16 = 7.8

# Transcendental functions as FP32 operations ------------------------------------------
#: FP32 operations of one ``exp``: Cephes' single-precision algorithm as
#: vectorised by J. Pommier (``exp256_ps`` of ``avx_mathfun.h``, shipped with
#: PyTorch as ``ATen/native/cpu/avx_mathfun.h``): range reduction
#: ``x = g + n ln 2`` and a degree-5 polynomial - 11 multiplications and 11
#: additions, plus 3 comparisons and a floor, counted as additions (the
#: integer operations that build ``2**n`` are not counted).
EXP_FP32_OPS = {"multiplications": 11, "additions": 15}
#: FP32 operations of one sine *and* cosine of the same argument (the same
#: source's ``sincos256_ps``: extended-precision reduction by pi/4 and two
#: polynomials): 14 multiplications and 14 additions (bit masks, integer
#: operations and conversions not counted).
SINCOS_FP32_OPS = {"multiplications": 14, "additions": 14}

#: The parts of the cost table, in order (a ``"total"`` row follows).
PARTS = ("analog MVM", "DAC / ADC", "near-memory unit", "digital", "data movement")

_INPUT_BITS = 8  # 8-bit activations: the chip's DAC inputs and the baseline's int8 MACs
_OUTPUT_BITS = 16  # results of the near-memory stage: FP16, or the NMPU's 16-bit accumulator
_WEIGHT_BITS = 8  # the baseline's int8 weights
_SRAM_WORD_BITS = 64
_COLUMNS = (
    "chip energy (J)",
    "chip latency (s)",
    "chip area (mm^2)",
    "digital energy (J)",
    "digital latency (s)",
    "digital area (mm^2)",
)


def core_mvm_energy(mode="1-phase"):
    """Energy (J) of one 256 x 256 core MVM: ``2 * 256**2`` operations over the chip's TOPS/W.

    Parameters
    ----------
    mode : {"1-phase", "4-phase"}, default="1-phase"

    Returns
    -------
    energy : float
        13.4 nJ (1-phase) or 52.9 nJ (4-phase), from Le Gallo et al. (2023).

    Examples
    --------
    >>> from sklearn_aimc.cost import core_mvm_energy
    >>> round(core_mvm_energy("1-phase") * 1e9, 1), round(core_mvm_energy("4-phase") * 1e9, 1)
    (13.4, 52.9)
    """
    return OPS_PER_CORE_MVM / (_mode(mode)["tops_per_watt"] * 1e12)


def core_mvm_time(mode="1-phase"):
    """Time (s) between core MVMs of one core: the chip's throughput shared by its 64 cores.

    Parameters
    ----------
    mode : {"1-phase", "4-phase"}, default="1-phase"

    Returns
    -------
    time : float
        133 ns (1-phase) or 521 ns (4-phase), from Le Gallo et al. (2023).

    Examples
    --------
    >>> from sklearn_aimc.cost import core_mvm_time
    >>> round(core_mvm_time("1-phase") * 1e9), round(core_mvm_time("4-phase") * 1e9)
    (133, 521)
    """
    return OPS_PER_CORE_MVM / (_mode(mode)["tops"] * 1e12 / HERMES_CORES)


def _mode(mode):
    if mode not in HERMES_MODES:
        raise ValueError(f"mode must be one of {sorted(HERMES_MODES)}, got {mode!r}.")
    return HERMES_MODES[mode]


@dataclass(frozen=True)
class ChipWork:
    """The work of reading input vectors through one programmed crossbar.

    Returned by :func:`work_of_read`; the first four fields are the
    increments of the chip's :class:`~sklearn_aimc.WorkCounters`.

    Attributes
    ----------
    input_vectors : int
        Input vectors applied (each visits every tile).
    core_mvms : int
        Core MVMs: input vectors times tiles.
    dac_conversions : int
        Input values converted, once per column tile (every core has its DACs).
    adc_conversions : int
        Output values converted, once per input tile (every core has its ADCs);
        each is one affine of the near-memory unit.
    partial_sum_additions : int
        Digital additions of the partial sums of input tiles.
    macs : int
        Multiply-accumulates of the same product done digitally (weights
        times input vectors).
    input_values, output_values : int
        Values read from and written to memory around the crossbar.
    """

    input_vectors: int
    core_mvms: int
    dac_conversions: int
    adc_conversions: int
    partial_sum_additions: int
    macs: int
    input_values: int
    output_values: int


def work_of_read(chip, n_rows):
    """The work of ``chip.matmul(X)`` for an ``X`` of ``n_rows`` rows, from the chip's tiling.

    One core MVM per input vector and tile; every core converts its own
    inputs (DAC) and outputs (ADC), so an input value is converted once per
    column tile and an output value once per input tile; the outputs of
    several input tiles are added digitally.  Calibration and
    drift-compensation reads are not part of a read's work.

    Parameters
    ----------
    chip : ProgrammedCrossbar
    n_rows : int
        Number of input vectors.

    Returns
    -------
    work : ChipWork

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogCrossbar
    >>> from sklearn_aimc.cost import work_of_read
    >>> chip = AnalogCrossbar.ideal().program(np.ones((300, 10)))  # two input tiles
    >>> work = work_of_read(chip, 5)
    >>> work.core_mvms, work.dac_conversions, work.adc_conversions, work.partial_sum_additions
    (10, 1500, 100, 50)
    """
    if not isinstance(chip, ProgrammedCrossbar):
        raise TypeError(f"chip must be a ProgrammedCrossbar, got {type(chip).__name__}.")
    if not isinstance(n_rows, Integral) or isinstance(n_rows, bool) or n_rows < 0:
        raise ValueError(f"n_rows must be a non-negative int, got {n_rows!r}.")
    n_rows = int(n_rows)
    n_row_tiles = len(chip.row_bounds) - 1
    n_col_tiles = len(chip.col_bounds) - 1
    return ChipWork(
        input_vectors=n_rows,
        core_mvms=n_rows * chip.n_tiles,
        dac_conversions=n_rows * chip.n_inputs * n_col_tiles,
        adc_conversions=n_rows * chip.n_outputs * n_row_tiles,
        partial_sum_additions=n_rows * chip.n_outputs * (n_row_tiles - 1),
        macs=n_rows * chip.n_inputs * chip.n_outputs,
        input_values=n_rows * chip.n_inputs,
        output_values=n_rows * chip.n_outputs,
    )


@dataclass(frozen=True)
class Work:
    """What an estimator does to process ``n_samples`` rows: chip reads and digital operations.

    The extension hook of the cost model: an estimator declares its work by
    implementing ``_cost_work(self, n_samples)`` returning a ``Work`` for the
    rows its ``transform`` (or ``predict``) processes.  Chip reads name the
    programmed crossbars, whose work :func:`work_of_read` derives from their
    tiling; the digital operations are the estimator's own functions, counted
    as FP32 operations (the precision the package evaluates them in).

    Attributes
    ----------
    reads : tuple of (ProgrammedCrossbar, int)
        Each crossbar read and its number of input vectors, in the order they
        happen (reads of one estimator run one after the other).
    additions : int
        FP32 additions and subtractions; comparisons (max, sign, argmax)
        count as additions.
    multiplications : int
        FP32 multiplications (a division by a fitted constant counts as a
        multiplication by its reciprocal).
    exp : int
        Evaluations of ``exp``, each :data:`EXP_FP32_OPS`.
    sincos : int
        Evaluations of a sine and cosine of one argument, each
        :data:`SINCOS_FP32_OPS`.

    Examples
    --------
    A transformer that reads its chip once per row and applies ``exp`` to its
    ``m`` outputs declares::

        def _cost_work(self, n_samples):
            return Work(reads=((self.crossbar_, n_samples),), exp=n_samples * m)
    """

    reads: tuple = ()
    additions: int = 0
    multiplications: int = 0
    exp: int = 0
    sincos: int = 0

    @property
    def fp32_additions(self):
        """Additions, with those of the transcendental functions."""
        return self.additions + self.exp * EXP_FP32_OPS["additions"] + self.sincos * SINCOS_FP32_OPS["additions"]

    @property
    def fp32_multiplications(self):
        """Multiplications, with those of the transcendental functions."""
        return (
            self.multiplications
            + self.exp * EXP_FP32_OPS["multiplications"]
            + self.sincos * SINCOS_FP32_OPS["multiplications"]
        )


# Digital steps from scikit-learn ---------------------------------------------------------
def _standard_scaler_work(scaler, n_samples):
    width = scaler.n_features_in_
    return Work(
        additions=n_samples * width if scaler.with_mean else 0,
        multiplications=n_samples * width if scaler.with_std else 0,
    )


def _min_max_scaler_work(scaler, n_samples):
    return Work(additions=n_samples * scaler.n_features_in_, multiplications=n_samples * scaler.n_features_in_)


def _max_abs_scaler_work(scaler, n_samples):
    return Work(multiplications=n_samples * scaler.n_features_in_)


def _linear_model_work(model, n_samples):
    """Dot products of a float readout, intercepts, and the decision of a classifier."""
    n_targets = np.atleast_2d(model.coef_).shape[0]
    width = model.n_features_in_
    additions = n_targets * (width - 1 + (1 if model.fit_intercept else 0))
    if hasattr(model, "classes_"):
        additions += max(1, len(model.classes_) - 1)  # threshold or argmax
    return Work(additions=n_samples * additions, multiplications=n_samples * n_targets * width)


_SKLEARN_WORK = {
    StandardScaler: _standard_scaler_work,
    MinMaxScaler: _min_max_scaler_work,
    MaxAbsScaler: _max_abs_scaler_work,
    Ridge: _linear_model_work,
    RidgeClassifier: _linear_model_work,
    LinearRegression: _linear_model_work,
    LogisticRegression: _linear_model_work,
}


def _steps(estimator):
    """The estimators that process the data, in order (a Pipeline's steps, or the estimator)."""
    if isinstance(estimator, Pipeline):
        return [step for _, step in estimator.steps if step is not None and step != "passthrough"]
    return [estimator]


def _work_function(estimator):
    if hasattr(type(estimator), "_cost_work"):
        return lambda n_samples: estimator._cost_work(n_samples)
    function = _SKLEARN_WORK.get(type(estimator))
    if function is not None:
        return lambda n_samples: function(estimator, n_samples)
    name = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    raise TypeError(
        f"estimate_cost does not know the work of {name}. It supports the estimators of "
        "sklearn_aimc, Pipelines of them, and scikit-learn's "
        f"{', '.join(sorted(cls.__name__ for cls in _SKLEARN_WORK))}. An estimator declares its "
        "work by implementing _cost_work(n_samples), returning a sklearn_aimc.cost.Work."
    )


def _check_width(step, X):
    expected = getattr(step, "n_features_in_", None)
    if expected is not None and X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(step).__name__} was fitted with {expected} features."
        )


# The cost table -------------------------------------------------------------------------
class _Side:
    """Energy and latency per part of one side (chip or digital baseline)."""

    def __init__(self):
        self.energy = dict.fromkeys(PARTS, 0.0)
        self.latency = dict.fromkeys(PARTS, 0.0)

    def add(self, part, energy, latency=0.0):
        self.energy[part] += energy
        self.latency[part] += latency


def _post_processing(chip, requested):
    """'fixed', 'fp16' or 'float': the near-memory stage costed for ``chip``."""
    if requested is not None:
        return requested
    if chip.crossbar.is_exact:
        return "fixed"
    return chip.crossbar.post_processing


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like", "sparse matrix"],
        "mode": [StrOptions(set(HERMES_MODES))],
        "post_processing": [StrOptions({"fixed", "fp16"}), None],
        "digital_node_nm": [Interval(Real, 0, None, closed="neither")],
        "digital_energy_scale": [Interval(Real, 0, None, closed="neither"), None],
        "digital_ops_per_second": [Interval(Real, 0, None, closed="neither"), None],
        "weight_reuse": [Interval(Real, 1, None, closed="left")],
        "as_frame": ["boolean", None],
    },
    prefer_skip_nested_validation=True,
)
def estimate_cost(
    estimator,
    X,
    *,
    mode="1-phase",
    post_processing=None,
    digital_node_nm=HOROWITZ_NODE_NM,
    digital_energy_scale=None,
    digital_ops_per_second=None,
    weight_reuse=1,
    as_frame=None,
):
    """Energy, latency and area of processing ``X``, on the chip and on a digital baseline.

    The chip runs every crossbar read on HERMES cores (one core per tile, all
    tiles of a read in parallel, reads one after the other) and the digital
    functions on a digital processor; the baseline does the same products as
    8-bit multiply-accumulates with SRAM weight fetches and FP16 scaling, and
    the same digital functions.  Programming, calibration and
    drift-compensation reads are not included: this is the cost of the
    ``transform`` / ``predict`` of ``X``.  Energy and latency are linear in
    the number of rows of ``X``.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        An estimator of sklearn_aimc, or a Pipeline of them and of
        scikit-learn's StandardScaler, MinMaxScaler, MaxAbsScaler, Ridge,
        RidgeClassifier, LinearRegression and LogisticRegression (digital
        steps).  Other estimators declare their work with ``_cost_work``
        (see :class:`Work`).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data the estimator would process; only its shape is used.
    mode : {"1-phase", "4-phase"}, default="1-phase"
        HERMES mode: 13.4 nJ and 133 ns per core MVM, or 52.9 nJ and 521 ns.
    post_processing : {"fixed", "fp16"} or None, default=None
        Near-memory stage costed after the ADCs: the fixed-point NMPU, or the
        FP16 unit.  None uses each chip's configuration (its crossbar's
        ``post_processing``; the simulator's exact ``"float"`` stage is costed
        as FP32 multiply-adds; an ideal crossbar is costed as HERMES hardware
        with the NMPU).
    digital_node_nm : float, default=45
        Technology node the digital energies stand for.  Horowitz's figures
        are for 45 nm; another node needs ``digital_energy_scale``.
    digital_energy_scale : float or None, default=None
        Factor applied to every 45 nm digital and SRAM energy (both sides).
        No published scaling is built in, so None means no scaling and is only
        allowed at 45 nm; the table's notes then warn that a 14 nm chip is
        compared with 45 nm digital figures.
    digital_ops_per_second : float or None, default=None
        Throughput of the digital processor, in operations per second (a MAC
        counts as two, as in TOPS).  None: no sourced default exists, so
        digital latencies are NaN.
    weight_reuse : float, default=1
        Rows that share one fetch of each weight on the baseline (its batch);
        1 is batch-1 inference, every row fetching every weight.
    as_frame : bool or None, default=None
        Return a pandas DataFrame (True), a dict of columns (False), or a
        DataFrame when pandas is importable (None).

    Returns
    -------
    table : pandas.DataFrame or dict
        Rows :data:`PARTS` and ``"total"`` (the sum of the parts; NaN when a
        part is unknown); columns ``chip energy (J)``, ``chip latency (s)``,
        ``chip area (mm^2)``, ``digital energy (J)``, ``digital latency (s)``,
        ``digital area (mm^2)`` and ``notes`` (the work counted in each row,
        its sources, and the caveats).  As a dict: ``{"part": [...], <column>:
        [...], ...}``; as a DataFrame the parts are the index.

    Raises
    ------
    TypeError
        If an estimator's work is unknown (named in the message).
    sklearn.exceptions.NotFittedError
        If an estimator is not fitted.
    ValueError
        If ``X`` does not have the width the estimator was fitted with.

    See Also
    --------
    work_of_read : the work of one crossbar read.
    format_cost : a printable rendering of the table.

    References
    ----------
    .. [1] M. Le Gallo et al., "A 64-core mixed-signal in-memory compute chip
       based on phase-change memory for deep neural network inference",
       Nature Electronics 6, 680-693 (2023).
    .. [2] R. Khaddam-Aljameh et al., "HERMES-Core - A 1.59-TOPS/mm2 PCM on
       14-nm CMOS in-memory compute core using 300-ps/LSB linearized CCO-based
       ADCs", IEEE JSSC 57(4), 1027-1038 (2022).
    .. [3] M. Horowitz, "Computing's energy problem (and what we can do about
       it)", ISSCC 2014.
    .. [4] E. Ferro et al., "A precision-optimized fixed-point near-memory
       digital processing unit for analog in-memory computing", ISCAS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogRandomFourierFeatures, estimate_cost
    >>> X = np.random.default_rng(0).standard_normal((100, 16))
    >>> rff = AnalogRandomFourierFeatures(256, device="ideal", random_state=0).fit(X)
    >>> table = estimate_cost(rff, X, as_frame=False)
    >>> table["part"]
    ['analog MVM', 'DAC / ADC', 'near-memory unit', 'digital', 'data movement', 'total']
    >>> round(table["chip energy (J)"][0] * 1e9, 1)  # 100 core MVMs at 13.4 nJ
    1343.0
    """
    if digital_energy_scale is None and digital_node_nm != HOROWITZ_NODE_NM:
        raise ValueError(
            f"digital_node_nm={digital_node_nm}: the digital energies are Horowitz's 45 nm figures "
            "and no published scaling is built in; pass digital_energy_scale, the factor from "
            f"45 nm to {digital_node_nm} nm (e.g. from a CMOS scaling study)."
        )
    steps = _steps(estimator)
    work_functions = [_work_function(step) for step in steps]  # TypeError before anything else
    for step in steps:
        check_is_fitted(step)
    X = check_array(X, accept_sparse=True, dtype=None, ensure_all_finite=False, ensure_min_samples=0)
    if steps:
        _check_width(steps[0], X)
    n_samples = X.shape[0]
    scale = 1.0 if digital_energy_scale is None else float(digital_energy_scale)
    energy = {name: value * scale for name, value in HOROWITZ_45NM.items()}
    seconds_per_op = math.nan if digital_ops_per_second is None else 1.0 / digital_ops_per_second
    e_mvm, t_mvm = core_mvm_energy(mode), core_mvm_time(mode)
    e_bit = energy["sram_read_64bit"] / _SRAM_WORD_BITS
    e_mac = energy["int8_mult"] + energy["int32_add"]
    e_fp16_affine = energy["fp16_mult"] + energy["fp16_add"]
    e_unit = {"fixed": e_mac, "fp16": e_fp16_affine, "float": energy["fp32_mult"] + energy["fp32_add"]}

    chip, digital = _Side(), _Side()
    counts = dict.fromkeys(
        ("core_mvms", "dac", "adc", "macs", "fixed", "fp16", "outputs", "partial_sums", "adds", "mults",
         "chip_bits", "weight_bits"),
        0,
    )
    chips = {}
    for work_function in work_functions:
        work = work_function(n_samples)
        if not isinstance(work, Work):
            raise TypeError(f"_cost_work must return a sklearn_aimc.cost.Work, got {type(work).__name__}.")
        for programmed, n_rows in work.reads:
            read = work_of_read(programmed, n_rows)
            chips[id(programmed)] = programmed
            unit = _post_processing(programmed, post_processing)
            moved_bits = read.input_values * _INPUT_BITS + read.output_values * _OUTPUT_BITS
            weight_bits = read.macs * _WEIGHT_BITS / weight_reuse
            chip.add("analog MVM", read.core_mvms * e_mvm, read.input_vectors * t_mvm)
            chip.add("near-memory unit", read.adc_conversions * e_unit[unit])
            chip.add(
                "digital",
                read.partial_sum_additions * energy["fp32_add"],
                read.partial_sum_additions * seconds_per_op,
            )
            chip.add("data movement", moved_bits * e_bit)
            digital.add("analog MVM", read.macs * e_mac, 2 * read.macs * seconds_per_op)
            digital.add("near-memory unit", read.output_values * e_fp16_affine, 2 * read.output_values * seconds_per_op)
            digital.add("data movement", (moved_bits + weight_bits) * e_bit)
            counts["core_mvms"] += read.core_mvms
            counts["dac"] += read.dac_conversions
            counts["adc"] += read.adc_conversions
            counts[unit] += read.adc_conversions
            counts["macs"] += read.macs
            counts["outputs"] += read.output_values
            counts["partial_sums"] += read.partial_sum_additions
            counts["chip_bits"] += moved_bits
            counts["weight_bits"] += weight_bits
        adds, mults = work.fp32_additions, work.fp32_multiplications
        function_energy = adds * energy["fp32_add"] + mults * energy["fp32_mult"]
        function_latency = (adds + mults) * seconds_per_op
        chip.add("digital", function_energy, function_latency)
        digital.add("digital", function_energy, function_latency)
        counts["adds"] += adds
        counts["mults"] += mults

    n_tiles = sum(programmed.n_tiles for programmed in chips.values())
    chip_area = dict.fromkeys(PARTS, math.nan)
    chip_area["analog MVM"] = n_tiles * CORE_AREA_MM2
    chip_area["DAC / ADC"] = 0.0
    digital_area = dict.fromkeys(PARTS, math.nan)
    digital_area["DAC / ADC"] = 0.0
    columns = {
        "chip energy (J)": chip.energy,
        "chip latency (s)": chip.latency,
        "chip area (mm^2)": chip_area,
        "digital energy (J)": digital.energy,
        "digital latency (s)": digital.latency,
        "digital area (mm^2)": digital_area,
    }
    table = {"part": [*PARTS, "total"]}
    for name, values in columns.items():
        parts = [float(values[part]) for part in PARTS]
        table[name] = [*parts, sum(parts)]
    settings = dict(
        mode=mode,
        n_samples=n_samples,
        n_tiles=n_tiles,
        chips=list(chips.values()),
        scale=digital_energy_scale,
        node=digital_node_nm,
        throughput=digital_ops_per_second,
        weight_reuse=weight_reuse,
        e_mvm=e_mvm,
        t_mvm=t_mvm,
    )
    table["notes"] = _notes(counts, settings)
    return _as_table(table, as_frame)


def _notes(counts, settings):
    mode, n_tiles = settings["mode"], settings["n_tiles"]
    node = settings["node"]
    digital_node = (
        f"{HOROWITZ_NODE_NM} nm (Horowitz 2014)"
        if settings["scale"] is None
        else f"{node:g} nm ({HOROWITZ_NODE_NM} nm figures of Horowitz 2014 x {settings['scale']:g}, user-supplied)"
    )
    units = []
    if counts["fixed"]:
        units.append(f"{counts['fixed']} in the fixed-point NMPU (int8 mult + int32 add each)")
    if counts["fp16"]:
        units.append(f"{counts['fp16']} in the FP16 unit (FP16 mult + FP16 add each)")
    latency = (
        "latency NaN: no digital_ops_per_second given"
        if settings["throughput"] is None
        else f"at {settings['throughput']:.3g} ops/s"
    )
    notes = [
        f"chip: {counts['core_mvms']} core MVMs on {n_tiles} HERMES cores ({mode}: "
        f"{settings['e_mvm'] * 1e9:.1f} nJ and {settings['t_mvm'] * 1e9:.0f} ns each, measured with the "
        f"cores' DACs and ADCs, 14 nm; the core alone, {HERMES_CORE_TOPS_PER_WATT} TOPS/W, would be "
        f"{OPS_PER_CORE_MVM / HERMES_CORE_TOPS_PER_WATT / 1e12 * 1e9:.1f} nJ); tiles of a read in parallel; "
        f"area {CORE_AREA_MM2:.3f} mm^2 per core. digital: {counts['macs']} 8-bit MACs (int8 mult + "
        f"int32 add), {latency}.",
        f"chip: {counts['dac']} DAC and {counts['adc']} ADC conversions, inside the measured core MVM "
        "energy, time and area (no published per-conversion figure): 0 here. digital: no converters.",
        f"chip: {counts['adc']} per-column affines after the ADCs, "
        + "; ".join(units or ["none"])
        + f", arithmetic only at {digital_node}, latency pipelined behind the MVMs (assumed); the "
        f"NMPU is {NMPU_SPEEDUP_OVER_FP16:g}x faster and {NMPU_AREA_RATIO_OVER_FP16:g}x smaller than the "
        "FP16 unit (Ferro et al. 2024: ratios only, absolute area and power not public, area NaN). "
        f"digital: {counts['outputs']} FP16 scale-and-offset of the int32 accumulators.",
        f"both: {counts['adds']} FP32 additions and {counts['mults']} multiplications of the estimators' "
        "digital functions (cos/sin and exp as Cephes polynomials), "
        f"chip: plus {counts['partial_sums']} FP32 additions of input-tile partial sums; "
        f"{digital_node}; {latency}; area of the digital processor not modelled (NaN).",
        f"SRAM, 10 pJ per 64-bit read of an 8 KB SRAM at {digital_node}, writes costed as reads: "
        f"chip {counts['chip_bits']:.0f} bits (8-bit inputs, 16-bit outputs); digital the same plus "
        f"{counts['weight_bits']:.0f} bits of 8-bit weights (weight_reuse={settings['weight_reuse']:g}). "
        "Latency overlapped with compute (assumed); area not modelled.",
    ]
    total = [
        f"{settings['n_samples']} rows; not included: programming, calibration and drift-compensation "
        "reads, control, off-chip I/O.",
    ]
    if settings["scale"] is None:
        total.append(
            "CAVEAT: the digital figures are 45 nm (Horowitz 2014), the chip's 14 nm; no published "
            "scaling is applied, which favours the chip. Set digital_energy_scale (and digital_node_nm)."
        )
    if n_tiles > HERMES_CORES:
        total.append(f"{n_tiles} tiles exceed one chip's {HERMES_CORES} cores: several chips assumed.")
    other_sizes = sorted({chip.crossbar.tile_size for chip in settings["chips"]} - {HERMES_CORE_SIZE})
    if other_sizes:
        total.append(f"tile sizes {other_sizes} costed as full 256 x 256 HERMES core MVMs.")
    return [*notes, " ".join(total)]


def _as_table(table, as_frame):
    if as_frame is False:
        return table
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise ImportError("as_frame=True needs pandas; install it or pass as_frame=False.") from None
        return table
    return pd.DataFrame({key: value for key, value in table.items() if key != "part"}, index=pd.Index(table["part"], name="part"))


def _si(value, unit):
    """``value`` with an SI prefix, e.g. ``1.3 uJ``; ``n/a`` for NaN."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    for factor, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_cost(table, *, width=100):
    """A plain-text rendering of a table of :func:`estimate_cost`, every figure with its unit.

    Parameters
    ----------
    table : pandas.DataFrame or dict
        As returned by :func:`estimate_cost`.
    width : int, default=100
        Line width of the wrapped notes.

    Returns
    -------
    text : str
    """
    if not isinstance(table, dict):
        table = {"part": list(table.index), **{name: list(table[name]) for name in table.columns}}
    header = ["part", "chip energy", "chip latency", "chip area", "digital energy", "digital latency", "digital area"]
    units = ["J", "s", None] * 2
    rows = []
    for i, part in enumerate(table["part"]):
        cells = [part]
        for name, unit in zip(_COLUMNS, units):
            value = table[name][i]
            cells.append(_si(value, unit) if unit else ("n/a" if not math.isfinite(value) else f"{value:.3g} mm^2"))
        rows.append(cells)
    widths = [max(len(str(row[j])) for row in [header, *rows]) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    chip_total, digital_total = table["chip energy (J)"][-1], table["digital energy (J)"][-1]
    if chip_total > 0:
        lines.append(
            f"digital baseline / chip energy: {digital_total / chip_total:.3g}x "
            "(above 1 the chip needs less energy)"
        )
    lines.append("notes:")
    for part, note in zip(table["part"], table["notes"]):
        lines.extend(textwrap.wrap(f"{part}: {note}", width=width, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)
