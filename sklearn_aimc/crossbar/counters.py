"""Work counters of a programmed crossbar, for throughput, energy and programming-time estimates."""

import threading
from dataclasses import dataclass, field

__all__ = [
    "ENERGY_PER_CORE_MVM",
    "PROGRAMMING_SECONDS_PER_DEVICE",
    "TIME_PER_CORE_MVM",
    "WorkCounters",
]

#: Energy of one 256 x 256 core MVM: 2 * 256**2 operations at 9.76 TOPS/W
#: (1-phase mode, Le Gallo et al., Nature Electronics 2023).
ENERGY_PER_CORE_MVM = 2 * 256**2 / 9.76e12
#: Latency of one core MVM: 63.1 TOPS over 64 cores, 1-phase mode (Le Gallo et al. 2023).
TIME_PER_CORE_MVM = 2 * 256**2 / (63.1e12 / 64)
#: Duration of one PCM programming operation: the longest of the eight-step
#: SET ramp-down pulse sequences (13.6 ns to 4.4 us in total) with which
#: Ambrogio et al. programmed 512 x 1024 PCM devices (Nature 558, 60-67,
#: 2018, Extended Data Fig. 7).  A program-and-verify loop repeats such
#: operations; the estimate counts one per device written, serially.
PROGRAMMING_SECONDS_PER_DEVICE = 4.4e-6


@dataclass
class WorkCounters:
    """Work done by a programmed crossbar, for throughput and energy estimates.

    Attributes
    ----------
    n_tiles : int
        Cores (tiles) the matrix occupies.
    input_vectors : int
        Input vectors applied by reads so far (every vector visits every tile).
    dac_conversions : int
        Input values converted by DACs (once per column tile: every core has its own).
    adc_conversions : int
        Output values converted by ADCs (once per input tile).
    clipped_inputs : int
        Input values that fell outside the calibrated input range.
    clipped_outputs : int
        ADC conversions that saturated.
    calibration_vectors : int
        Input vectors spent on range calibration and drift-compensation reads.
    device_writes : int
        Physical PCM devices written: every device of every weight programmed
        or reprogrammed (both polarities, all devices per polarity), verify
        re-writes of fault-aware programming included.
    """

    n_tiles: int
    input_vectors: int = 0
    dac_conversions: int = 0
    adc_conversions: int = 0
    clipped_inputs: int = 0
    clipped_outputs: int = 0
    calibration_vectors: int = 0
    device_writes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def core_mvms(self):
        """Core (tile) MVMs: input vectors times tiles, calibration reads included."""
        return (self.input_vectors + self.calibration_vectors) * self.n_tiles

    @property
    def energy_joules(self):
        """Energy estimate of the MVMs at 13.4 nJ per core MVM (HERMES, 1-phase, 9.76 TOPS/W)."""
        return self.core_mvms * ENERGY_PER_CORE_MVM

    @property
    def latency_seconds(self):
        """Time estimate of the MVMs with every tile on its own core, all cores in parallel (133 ns per MVM)."""
        return (self.input_vectors + self.calibration_vectors) * TIME_PER_CORE_MVM

    @property
    def programming_seconds(self):
        """Time estimate of the device writes, one after another (4.4 us per device, Ambrogio et al. 2018)."""
        return self.device_writes * PROGRAMMING_SECONDS_PER_DEVICE

    def add(self, **counts):
        """Increment counters atomically.

        Parameters
        ----------
        **counts : int
            Increments, by counter name.
        """
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + int(value))

    def reset(self):
        """Set every counter but ``n_tiles`` back to zero."""
        with self._lock:
            for name in self._count_names():
                setattr(self, name, 0)

    def _count_names(self):
        return [name for name in self.__dataclass_fields__ if not name.startswith("_") and name != "n_tiles"]

    def as_dict(self):
        """Counters and the derived estimates as a plain dict.

        Returns
        -------
        counts : dict
        """
        counts = {name: getattr(self, name) for name in ["n_tiles", *self._count_names()]}
        counts.update(
            core_mvms=self.core_mvms,
            energy_joules=self.energy_joules,
            latency_seconds=self.latency_seconds,
            programming_seconds=self.programming_seconds,
        )
        return counts

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
