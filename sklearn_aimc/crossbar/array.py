"""The device array of a crossbar: what every PCM device holds, since when, and whether it works.

Devices are stored as arrays of shape ``(n_inputs, n_stack, 2, n_outputs)``:
axis 1 holds the modelled conductances of one polarity, axis 2 the polarity
(G+, G-).  The devices of one weight (its unit cell) are written together, so
write times and write counts are kept per weight.

Every random draw comes from a stream keyed by the physical effect and the
tile (and the write, or the read time), never by a performance setting: the
same seed programs and reads the same chip on any machine.
"""

import numpy as np

from .. import _random
from .._parallel import run_tasks

__all__ = ["DeviceArray"]


def _smallest_unsigned(largest):
    return np.min_scalar_type(largest) if largest < 2**32 else np.uint64


class DeviceArray:
    """Conductances, drift exponents, faults, write times and write counts of every device.

    Parameters
    ----------
    pcm : PCMModel
        The device model.
    grid : TileGrid
        Tiles of the matrix.
    n_stack : int
        Modelled conductances per polarity.
    entropy : int
        Root of the chip's seed tree.

    Attributes
    ----------
    g_prog, nu : ndarray of float32 of shape (n_inputs, n_stack, 2, n_outputs)
        Programmed conductances (uS) and drift exponents.
    faults : ndarray of uint8 of the same shape, or None
        Fault code of every device (None: the model has no faults).
    write_times : list of float
        Chip time of every write (the first programming is write 0 at time 0).
    """

    def __init__(self, pcm, grid, n_stack, entropy):
        self.pcm = pcm
        self.grid = grid
        self.n_stack = n_stack
        self.shape = (grid.n_inputs, n_stack, 2, grid.n_outputs)
        self._entropy = entropy
        self.g_prog = np.empty(self.shape, dtype=np.float32)
        self.nu = np.empty(self.shape, dtype=np.float32)
        self.faults = None
        self.write_times = [0.0]
        self._write_index = None  # per weight: index into write_times (None: all 0)
        self._write_counts = None  # per weight: times written (None: all once)

    @property
    def has_faults(self):
        """True when the device model sticks a fraction of the devices."""
        return bool(self.pcm.stuck_reset_fraction or self.pcm.stuck_set_fraction)

    @property
    def last_write_time(self):
        """Chip time of the latest write."""
        return self.write_times[-1]

    @property
    def write_counts(self):
        """Times each weight's devices were written, shape (n_inputs, n_outputs)."""
        if self._write_counts is None:
            return np.ones((self.grid.n_inputs, self.grid.n_outputs), dtype=np.uint8)
        return self._write_counts.copy()

    def programming_times(self):
        """Chip time at which each weight's devices were last written.

        Returns
        -------
        times : ndarray of float64 of shape (n_inputs, n_outputs)
        """
        if self._write_index is None:
            return np.zeros((self.grid.n_inputs, self.grid.n_outputs))
        return np.asarray(self.write_times)[self._write_index]

    # Writing ---------------------------------------------------------------
    def draw_faults(self):
        """Draw the fault map once, per tile (a property of the devices, kept across writes)."""
        if not self.has_faults:
            return
        self.faults = np.empty(self.shape, dtype=np.uint8)

        def draw(index):
            i, j, rows, cols = self.grid.tile(index)
            rng = _random.keyed_generator(self._entropy, _random.STREAM_FAULTS, i, j)
            shape = (rows.stop - rows.start, self.n_stack, 2, cols.stop - cols.start)
            self.faults[rows, :, :, cols] = self.pcm.draw_faults(shape, rng)

        run_tasks(self.grid.n_tiles, draw)

    def program(self, targets_of):
        """The first programming of every device, tile by tile in parallel.

        Parameters
        ----------
        targets_of : callable
            ``targets_of(i, rows, cols)`` gives the targets of a tile of input
            tile ``i``, shape (rows, n_stack, 2, cols), float32.
        """

        def program_tile(index):
            i, j, rows, cols = self.grid.tile(index)
            targets = targets_of(i, rows, cols)
            keys = (self._entropy, 0, i, j)
            self.g_prog[rows, :, :, cols], self.nu[rows, :, :, cols] = self._write(
                targets, keys, None if self.faults is None else self.faults[rows, :, :, cols]
            )

        run_tasks(self.grid.n_tiles, program_tile)

    def _write(self, targets, keys, faults):
        entropy, *address = keys
        prog_rng = _random.keyed_generator(entropy, _random.STREAM_PROGRAMMING, *address)
        drift_rng = _random.keyed_generator(entropy, _random.STREAM_DRIFT_EXPONENTS, *address)
        g_prog = self.pcm.programmed_conductance(targets, prog_rng)
        nu = self.pcm.drift_exponents(targets, drift_rng)
        if faults is not None:
            self.pcm.apply_faults(g_prog, nu, faults)
        return g_prog, nu

    def rewrite(self, rows, cols, targets, at):
        """Write the devices of the weights ``(rows[k], cols[k])`` at chip time ``at``.

        Every device of those weights gets fresh programming noise and a
        fresh drift exponent from the streams of this write; stuck devices
        stay stuck.  Every other device keeps its realisation and its age.

        Parameters
        ----------
        rows, cols : ndarray of int of shape (n_weights,)
            The weights written, in a canonical (row-major) order.
        targets : ndarray of float32 of shape (n_weights, n_stack, 2)
        at : float
            Chip time of the write (>= the latest write).
        """
        write = len(self.write_times)
        faults = None if self.faults is None else self.faults[rows, :, :, cols]
        g_prog, nu = self._write(targets, (self._entropy, write), faults)
        self.g_prog[rows, :, :, cols] = g_prog
        self.nu[rows, :, :, cols] = nu
        self.write_times.append(float(at))
        shape = (self.grid.n_inputs, self.grid.n_outputs)
        if self._write_index is None:
            self._write_index = np.zeros(shape, dtype=np.uint8)
            self._write_counts = np.ones(shape, dtype=np.uint8)
        self._write_index = self._write_index.astype(_smallest_unsigned(write), copy=False)
        self._write_index[rows, cols] = write
        # A weight is written at most once per write: the count can reach the number of writes + 1.
        self._write_counts = self._write_counts.astype(_smallest_unsigned(write + 1), copy=False)
        self._write_counts[rows, cols] += 1

    # Reading ---------------------------------------------------------------
    def _ages(self, t, rows, cols):
        """Seconds since each weight of a tile was written, broadcastable to its devices."""
        if self._write_index is None:
            return t
        ages = t - np.asarray(self.write_times)[self._write_index[rows, cols]]
        return ages[:, None, None, :]

    def read(self, t, reduce, out_shape, stream, key):
        """Apply ``reduce`` to the conductances of every tile at chip time ``t``.

        Each device is read at its own age ``t - (time of its write)``, with
        read noise from the stream ``(stream, key, tile)``.

        Parameters
        ----------
        t : float
            Chip time (>= the latest write); ``None`` reads every device at
            age 0 (right after its write, as a verify step does).
        reduce : callable
            Maps the conductances of a tile, (rows, n_stack, 2, cols), to an
            array of shape ``out_shape[:1] + (rows,) + ...``; see ``out_shape``.
        out_shape : tuple
            Shape of the assembled result; its axis 0 runs over inputs and its
            last axis over outputs.
        stream, key : int
            Address of the read-noise streams.

        Returns
        -------
        result : ndarray of ``out_shape``, float32
        """
        out = np.empty(out_shape, dtype=np.float32)

        def read_tile(index):
            i, j, rows, cols = self.grid.tile(index)
            ages = 0.0 if t is None else self._ages(t, rows, cols)
            rng = _random.keyed_generator(self._entropy, stream, key, i, j)
            g = self.pcm.at_time(self.g_prog[rows, :, :, cols], self.nu[rows, :, :, cols], ages, random_state=rng)
            out[rows, ..., cols] = reduce(g)

        run_tasks(self.grid.n_tiles, read_tile)
        return out

    def differential(self, t, stream, key):
        """``sum G+ - sum G-`` of every weight at chip time ``t`` (see :meth:`read`).

        Parameters
        ----------
        t : float or None
            Chip time (None: every device at age 0).
        stream, key : int
            Address of the read-noise streams.

        Returns
        -------
        g_diff : ndarray of float32 of shape (n_inputs, n_outputs)
            Differential conductance (uS) of every weight.
        """
        shape = (self.grid.n_inputs, self.grid.n_outputs)
        return self.read(t, lambda g: (g[:, :, 0] - g[:, :, 1]).sum(axis=1), shape, stream, key)
