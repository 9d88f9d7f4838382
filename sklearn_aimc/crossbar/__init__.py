"""The simulated PCM crossbar chip, one part per module.

* :mod:`.configuration`: :class:`AnalogCrossbar`, the chip's parameters (the
  HERMES preset by default), and :func:`check_device`.
* :mod:`.tiles`: the tiling of a matrix onto 256 x 256 cores.
* :mod:`.mapping`: weights to conductances (differential pairs, devices per
  weight, fault-aware re-targeting).
* :mod:`.array`: the device array (conductances, drift exponents, faults,
  write times and counts), read at a chip time with every device at its age.
* :mod:`.converters`: the DACs and ADCs, the one place that knows a full scale.
* :mod:`.calibration`: converter ranges from data, drift compensation.
* :mod:`.read`: the read engine (blocks, threads, noise streams, stages), with
  its compiled twin in :mod:`._compiled`.
* :mod:`.programmed`: :class:`ProgrammedCrossbar`, composing the parts: the
  one analog MVM path of the package.
* :mod:`.counters`: :class:`WorkCounters`.

Device physics comes from :mod:`sklearn_aimc.device`, the fixed-point stage
from :mod:`sklearn_aimc.fixedpoint`.
"""

from .configuration import (
    DEFAULT_T_INFERENCE,
    HERMES_ADC_BITS,
    HERMES_DAC_BITS,
    HERMES_TILE_SIZE,
    STANDARD_OUTPUT_NOISE,
    AnalogCrossbar,
    check_device,
)
from .counters import ENERGY_PER_CORE_MVM, PROGRAMMING_SECONDS_PER_DEVICE, TIME_PER_CORE_MVM, WorkCounters
from .programmed import ProgrammedCrossbar

__all__ = [
    "DEFAULT_T_INFERENCE",
    "ENERGY_PER_CORE_MVM",
    "HERMES_ADC_BITS",
    "HERMES_DAC_BITS",
    "HERMES_TILE_SIZE",
    "PROGRAMMING_SECONDS_PER_DEVICE",
    "STANDARD_OUTPUT_NOISE",
    "TIME_PER_CORE_MVM",
    "AnalogCrossbar",
    "ProgrammedCrossbar",
    "WorkCounters",
    "check_device",
]
