"""Settings, run configurations and checks shared by the studies of the kernel-ridge protocol."""

import contextlib
import warnings
from dataclasses import dataclass

from sklearn.base import clone
from threadpoolctl import threadpool_limits

from ..crossbar import AnalogCrossbar, check_device
from ..datasets import DATASETS
from ..exceptions import AnalogClippingWarning
from ..study import n_projections
from ._data import cached_split, resolve_data_home

#: Projection samplings (random, orthogonal, structured orthogonal features).
METHODS = ("rff", "orf", "sorf")
#: ``s = 2**k d - k`` projections for these k.
KS = (1, 2, 3, 4, 5)
#: RBF parameter of the paper.
GAMMA = 0.05
#: Ridge regularisation of the paper.
ALPHA = 0.5
#: The kernel error uses this many test points.
N_KERNEL_POINTS = 1000
#: Device presets accepted by ``--device`` (names understood by ``check_device``).
DEVICE_PRESETS = ("hermes", "ideal")
#: ``device`` of the float reference runs in the records (the ``"ideal"`` device).
FLOAT_DEVICE = "float"
#: The ridge readout of each data protocol (see :func:`sklearn_aimc.study.evaluate`):
#: scikit-learn's RidgeClassifier by default, the paper's closed-form ridge
#: regression on {0, 1} targets with ``round(clip(y, 0, 1))`` for ``"paper"``.
READOUTS = {"default": "classifier", "paper": "regression"}


@dataclass(frozen=True)
class Config:
    """One (dataset, kernel, method, k) configuration and everything a worker needs."""

    dataset: str
    kernel: str
    method: str
    k: int
    s: int
    data_home: str
    source: str
    max_train: int | None
    max_test: int | None
    device_name: str
    device: AnalogCrossbar
    gamma: float
    alpha: float
    n_kernel_points: int
    protocol: str = "default"

    def split(self):
        """The configuration's data, loaded once per process."""
        return cached_split(
            self.dataset, self.data_home, self.source, self.max_train, self.max_test, self.protocol
        )

    @property
    def readout(self):
        """The ridge readout of the configuration's protocol."""
        return READOUTS[self.protocol]

    def label(self):
        """A short description for progress bars."""
        return f"{self.dataset} {self.kernel} {self.method} k={self.k} (s={self.s})"


def compensation_name(mode):
    """The drift-compensation mode as recorded (None is ``"none"``)."""
    return "none" if mode is None else mode


@contextlib.contextmanager
def one_thread_quietly():
    """One BLAS / OpenMP thread per run, and no clipping warnings.

    One thread: ``n_jobs`` runs use ``n_jobs`` cores (the package's row
    threads follow the BLAS limit), and the numbers cannot depend on
    ``n_jobs``.  The chip's clipping warnings are expected (one-hot features
    of ijcnn1 clip the DAC) and would garble the progress bar.
    """
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalogClippingWarning)
        yield


def preset(device, t_inference=None):
    """The chip of a preset name (or a copy of an AnalogCrossbar), read at ``t_inference``."""
    chip = clone(check_device(device))
    if t_inference is not None:
        chip.set_params(t_inference=float(t_inference))
    return chip


def device_name(device):
    """The name recorded for a device: the preset's, or ``"custom"``."""
    return device if isinstance(device, str) else "custom"


def configs(datasets, kernels, methods, ks, *, device, t_inference, data_home, source,
            max_train, max_test, gamma, alpha, n_kernel_points, protocol="default"):
    """Every (dataset, kernel, method, k) configuration, in that nesting order."""
    chip = preset(device, t_inference)
    home = resolve_data_home(data_home)
    for dataset in datasets:
        d = DATASETS[dataset].n_features
        for kernel in kernels:
            for method in methods:
                for k in ks:
                    yield Config(
                        dataset, kernel, method, int(k), n_projections(d, int(k)), home, source,
                        max_train, max_test, device_name(device), chip, float(gamma), float(alpha),
                        int(n_kernel_points), protocol,
                    )


def n_outputs(kernel, s):
    """Features per sample: cos and sin for RBF, one per projection for arc-cosine."""
    return 2 * s if kernel == "rbf" else s


def check_choices(values, allowed, what):
    """``values`` without duplicates, in order; a ValueError unless a non-empty subset."""
    values = tuple(dict.fromkeys(values))  # drop duplicates, keep the order
    bad = [value for value in values if value not in allowed]
    if bad or not values:
        raise ValueError(f"{what} must be a non-empty subset of {list(allowed)}, got {list(values)}.")
    return values


def check_ks(ks):
    """The k values as distinct ints >= 1."""
    ks = tuple(dict.fromkeys(int(k) for k in ks))
    if not ks or min(ks) < 1:
        raise ValueError(f"k values must be integers >= 1, got {list(ks)}.")
    return ks


def check_positive(value, name):
    """``value`` as an int >= 1, or a ValueError naming ``name``."""
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def chip_label(name):
    """How a device name is shown in tables and figures."""
    return "HERMES" if name == "hermes" else str(name)


def chip_description(device, t_inference):
    """The chip's settings in one line, for ``summary.md``."""
    chip = preset(device, t_inference)
    return (
        f"`{device_name(device)}` preset ({type(chip).__name__}): {chip.tile_size} x {chip.tile_size} "
        f"tiles, pcm={chip.pcm!s}, {chip.devices_per_polarity} devices per polarity, "
        f"DAC {chip.dac_bits} bits, ADC {chip.adc_bits} bits, output noise {chip.output_noise:g}, "
        f"drift compensation {chip.drift_compensation}, read {chip.t_inference:g} s after programming"
    )
