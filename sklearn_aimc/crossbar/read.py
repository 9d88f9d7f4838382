"""The read engine of a crossbar: blocks of rows in threads, noise streams, the read-out stages.

One read, per block of rows::

    x --DAC--> integer codes --exact analog MVM with G(t), per input tile--> currents in ADC LSBs
      --output noise, ADC--> integer codes --near-memory unit--> real outputs
      --partial sums of input tiles added digitally (ReLU after the sum)--> y

The analog products are exact sums rounded once (:mod:`.mvm`), and the output
noise of a row is a function of the chip's seed, the read time, a read index
and the row's input codes, drawn from a counter-based stream
(:mod:`sklearn_aimc._random`): ``matmul(X)[i]`` equals ``matmul(X[i:i+1])[0]``
bit for bit, whatever the batch, the row order, the number of threads or the
task and block sizes below, which only set performance.

After the MVM the stages run either in numpy (one pass over memory per step)
or, when numba is installed, in one compiled loop (:mod:`._compiled`) fed the
same constants; both give bit-identical outputs and clip counts.
"""

import contextlib
import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .. import _random
from .._parallel import PerThread, run_row_tasks
from ..fixedpoint import NearMemoryUnit
from . import _compiled

__all__ = ["ReadEngine", "ReadState"]

# Outputs per parallel task: large tasks amortise a task's own work (DAC pass,
# row keys, scratch space); a batch is split into MIN_TASKS tasks, for the
# cores, as long as they keep at least MIN_TASK_ELEMENTS outputs.  Outputs per
# block processed inside a task: about 1 MB of float32, large enough that
# numpy's per-call overhead stays small, small enough for the cache.  Elements
# of codes hashed at once (bounds the hash's temporaries).  None of these
# changes a result.
TASK_ELEMENTS = 1 << 22
MIN_TASK_ELEMENTS = 1 << 20
MIN_TASKS = 32
BLOCK_ELEMENTS = 1 << 18
HASH_ELEMENTS = 1 << 20
# Shortest row for which ufunc buffers are shrunk to one row (see ufunc_buffer_for_rows).
MIN_UNBUFFERED_ROW = 1024
# Bytes of a cache line (64 on x86-64 and on most ARMv8 cores), the padding of scratch rows.
CACHE_LINE = 64


@dataclass
class ReadState:
    """Everything a read at one time needs, derived once per time and cached.

    Attributes
    ----------
    analog : list of ndarray of float32
        Per input tile, the analog matrix (input codes to ADC LSBs).
    products : list of ExactMVM
        Per input tile, the exact product reads compute with it.
    noise_sigma : ndarray of float32 of shape (n_row_tiles, n_outputs) or None
        Output-noise standard deviation in ADC LSBs (None: no noise).
    digital : list
        Per input tile, the near-memory unit's coefficients (float64 factors
        for float post-processing).
    offsets : ndarray or None
        Real offset per output added after the tiles' sum (float post-processing).
    realised_scale : ndarray of shape (n_row_tiles, n_outputs)
        Real output per ADC LSB, as the unit's registers realise it.
    compiled : list of CompiledStage or None
        The registers of the compiled read-out (None: reads stay in numpy).
    tile_keys : dict
        Read index to the output-noise key of each input tile.
    """

    analog: list  # per input tile: float32 (rows, n_outputs), input codes -> ADC LSBs
    products: list  # per input tile: the ExactMVM of ``analog`` that reads compute
    noise_sigma: np.ndarray | None  # (n_row_tiles, n_outputs) float32, in ADC LSBs
    digital: list  # per input tile: unit coefficients, or float64 factors (n_outputs,)
    offsets: np.ndarray | None  # float post-processing: real offset per output (input tile 0)
    realised_scale: np.ndarray  # (n_row_tiles, n_outputs) real output per ADC LSB
    compiled: list | None  # per input tile: CompiledStage, when reads use _compiled
    tile_keys: dict = field(default_factory=dict)  # read index -> noise key of each input tile


@dataclass(frozen=True)
class CompiledStage:
    """The near-memory unit's registers of one input tile, as the compiled read-out takes them."""

    multiplier: np.ndarray  # int64 (n_outputs,)
    addend: np.ndarray  # int64 (n_outputs,)
    factors: dict  # output dtype -> powers of two (n_outputs,) of that dtype


@dataclass
class _Scratch:
    """Scratch arrays of the read tasks of one thread."""

    inputs: np.ndarray  # (task rows, n_inputs) DAC levels in the input dtype
    codes: np.ndarray | None  # (task rows, n_inputs) float32 codes (None: inputs are float32)
    row_keys: np.ndarray | None  # (task rows,) uint64 noise keys of the rows
    analog: np.ndarray  # (block rows, n_outputs) float32 MVM outputs, rows padded
    analog_rows: np.ndarray  # the C-contiguous padded rows of ``analog``
    mvm: np.ndarray  # (block rows, n_outputs) second part or float64 product of the exact MVM
    levels: np.ndarray | None  # (block rows, n_outputs) float32 outputs with noise
    integer_codes: np.ndarray | None  # ADC codes and near-memory work on the integer path
    partial_sums: np.ndarray | None  # outputs of the second and later input tiles
    result: np.ndarray | None  # output rows handed to a consumer
    words: np.ndarray | None  # (block rows, pairs) uint64 counter words (numpy path)
    word_scratch: np.ndarray | None


def per_column(values, n_columns, dtype=None):
    """``values`` broadcast to one entry per column, in a C-contiguous array."""
    return np.ascontiguousarray(np.broadcast_to(values, n_columns), dtype=dtype)


@contextlib.contextmanager
def ufunc_buffer_for_rows(row_width):
    """Within this context, numpy's ufunc buffers hold at most one row of ``row_width``.

    A row vector broadcast over a block of shorter rows than its buffer (8192
    elements by default) makes numpy copy the rows through the buffer; rows
    of 4096 outputs ran the scaling steps of a read at about 0.6x speed.
    Below 1024 elements, smaller buffers cost more than they save.
    (Measured with numpy 2.4; ``np.errstate`` scopes the setting.)
    """
    with np.errstate():
        if MIN_UNBUFFERED_ROW <= row_width < np.getbufsize():
            np.setbufsize(row_width)
        yield


def padded_rows(shape, dtype):
    """An uninitialised 2-D array of ``shape`` with one cache line more per row.

    A row stride of a large power of two maps the rows of a block onto the
    same cache sets; the GEMM writing such a block (``n_outputs`` of 4096,
    say) ran at about four fifths of its speed.  The GEMM writes into the
    view of the first ``shape[1]`` columns.
    """
    n_rows, n_columns = shape
    padding = CACHE_LINE // np.dtype(dtype).itemsize
    return np.empty((n_rows, n_columns + padding), dtype=dtype)


class ReadEngine:
    """Runs reads of a programmed crossbar: tasks, blocks, noise streams and stages.

    Parameters
    ----------
    grid : TileGrid
    dac, adc : DAC, ADC
    unit : NearMemoryUnit, FP16Unit or None
        The digital unit after the ADCs (None: float post-processing).
    relu_after_sum : bool
        Apply a ReLU after the partial sums of several input tiles are added.
    entropy : int
        Root of the chip's seed tree.
    """

    def __init__(self, grid, dac, adc, unit, relu_after_sum, entropy):
        self.grid = grid
        self.dac = dac
        self.adc = adc
        self.unit = unit
        self.relu_after_sum = relu_after_sum
        self._entropy = entropy
        self._multipliers = None
        self._pair_counters = _random.counters(-(-grid.n_outputs // 2))

    @property
    def n_inputs(self):
        """Inputs of the programmed matrix."""
        return self.grid.n_inputs

    @property
    def n_outputs(self):
        """Outputs of the programmed matrix."""
        return self.grid.n_outputs

    def rows_holding(self, n_outputs_total):
        """Rows (at least 2) whose outputs number at most ``n_outputs_total``.

        Parameters
        ----------
        n_outputs_total : int

        Returns
        -------
        n_rows : int
        """
        return max(2, n_outputs_total // self.n_outputs)

    def task_rows(self, n_samples):
        """Rows per parallel task of a read of ``n_samples`` rows (a performance setting only).

        Parameters
        ----------
        n_samples : int

        Returns
        -------
        n_rows : int
        """
        smallest = self.rows_holding(MIN_TASK_ELEMENTS)
        return min(self.rows_holding(TASK_ELEMENTS), max(smallest, -(-n_samples // MIN_TASKS)))

    def block_rows(self):
        """Rows per block of a read task.

        Returns
        -------
        n_rows : int
        """
        return self.rows_holding(BLOCK_ELEMENTS)

    # Noise streams ---------------------------------------------------------
    def tile_keys(self, t, read_index):
        """64-bit key of the output noise of each input tile for a read at ``t``.

        Parameters
        ----------
        t : float
            Chip time of the read.
        read_index : int

        Returns
        -------
        keys : ndarray of uint64 of shape (n_row_tiles,)
        """
        rng = _random.keyed_generator(self._entropy, _random.STREAM_OUTPUT_NOISE, _random.float_key(t), read_index)
        return rng.integers(0, 2**64 - 1, size=self.grid.n_row_tiles, dtype=np.uint64, endpoint=True)

    def row_keys(self, codes, out):
        """Noise key of each row of input codes (:func:`sklearn_aimc._random.row_keys`).

        Parameters
        ----------
        codes : ndarray of float32 of shape (n_rows, n_inputs)
        out : ndarray of uint64 of shape (n_rows,)

        Returns
        -------
        out : ndarray
        """
        if self._multipliers is None:
            self._multipliers = _random.hash_multipliers(self._entropy, self.n_inputs)
        quantised = self.dac.quantises
        if quantised and _compiled.ENABLED:
            _compiled.row_keys(codes, self._multipliers, out)
            return out
        step = max(1, HASH_ELEMENTS // self.n_inputs)
        for start in range(0, codes.shape[0], step):
            chunk = codes[start : start + step]
            out[start : start + chunk.shape[0]] = _random.row_keys(
                _random.integer_codes(chunk, quantised), self._multipliers
            )
        return out

    # Reading ---------------------------------------------------------------
    def read(self, X, state, t, read_index, out=None, consumer=None):
        """Read every row of ``X`` into ``out`` or through ``consumer(rows, Y_rows)``.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_inputs)
            Validated inputs.
        state : ReadState
            The chip at the read time.
        t : float
            Chip time of the read.
        read_index : int
            Selects the output-noise realisation.
        out : ndarray of shape (n_samples, n_outputs), default=None
            Receives the outputs.
        consumer : callable, default=None
            Called with each block of outputs instead (see
            :meth:`ProgrammedCrossbar.map_matmul`).

        Returns
        -------
        clipped_inputs, clipped_outputs : int
        """
        n_samples = X.shape[0]
        task_rows = self.task_rows(n_samples)
        tile_keys = None
        if state.noise_sigma is not None:
            tile_keys = state.tile_keys.get(read_index)
            if tile_keys is None:
                tile_keys = state.tile_keys.setdefault(read_index, self.tile_keys(t, read_index))
        # Each thread reuses its scratch space from task to task: fresh arrays per
        # task made the kernel fault in new pages for every task.
        largest_task = min(task_rows, n_samples)
        scratch = PerThread(functools.partial(self._scratch, X, state, largest_task, out is None))

        def read_rows(rows, _):
            return self._read_rows(X, state, tile_keys, out, consumer, scratch.get(), rows)

        clips = run_row_tasks(n_samples, task_rows, read_rows)
        clipped_inputs, clipped_outputs = np.sum(clips, axis=0, dtype=np.int64)
        return int(clipped_inputs), int(clipped_outputs)

    def _read_rows(self, X, state, tile_keys, out, consumer, scratch, rows):
        """Read the rows ``rows`` of ``X``; returns the clip counts."""
        x = X[rows]
        codes, clipped_inputs = self.dac.convert(
            x.toarray() if sparse.issparse(x) else x, scratch.inputs[: x.shape[0]],
            None if scratch.codes is None else scratch.codes[: x.shape[0]],
        )
        keys = None
        if tile_keys is not None:
            keys = self.row_keys(codes, scratch.row_keys[: codes.shape[0]])
        block_rows = self.block_rows()
        clipped_outputs = 0
        for start in range(0, codes.shape[0], block_rows):
            # Not sklearn's gen_batches: its parameter validation costs more than a small block.
            block = slice(start, min(start + block_rows, codes.shape[0]))
            n = block.stop - block.start
            block_out = scratch.result[:n] if out is None else out[rows][block]
            block_keys = None if keys is None else keys[block]
            clipped_outputs += self._read_block(codes[block], block_keys, tile_keys, state, block_out, scratch)
            if consumer is not None:
                consumer(slice(rows.start + block.start, rows.start + block.stop), block_out)
        return clipped_inputs, clipped_outputs

    def _read_block(self, codes, row_keys, tile_keys, state, out, scratch):
        """Read a block of input codes into ``out``; returns the number of clipped outputs."""
        n = codes.shape[0]
        clipped = 0
        compiled = state.compiled is not None
        convert = self._convert_compiled if compiled else self._convert
        for i, rows in enumerate(self.grid.row_slices):
            # The compiled read-out adds the two parts of an exact product itself.
            y = state.products[i](codes[:, rows], scratch.analog[:n], scratch.mvm[:n], add_parts=not compiled)
            noise_keys = None
            if row_keys is not None:
                noise_keys = _random.mix64(np.bitwise_xor(row_keys, tile_keys[i]))
            clipped += convert(y, i, state, out, scratch, noise_keys)
        if state.offsets is not None:
            out += state.offsets.astype(out.dtype, copy=False)
        if self.relu_after_sum:
            np.maximum(out, 0, out=out)
        return clipped

    def _convert(self, y, i, state, out, scratch, noise_keys):
        """Output noise, ADC and post-processing of input tile ``i``: ``out`` receives (i = 0) or adds its outputs."""
        n = y.shape[0]
        # Contiguous from here on: numpy's loops over padded rows are slower.
        levels = scratch.levels[:n]
        with ufunc_buffer_for_rows(self.n_outputs):
            if noise_keys is not None:
                words = _random.counter_words(noise_keys, self._pair_counters, scratch.words[:n], scratch.word_scratch[:n])
                _random.normals_per_row(words, levels)
                levels *= state.noise_sigma[i]
                y = np.add(levels, y, out=levels)
            adc_codes = y
            clipped = 0
            if self.adc.quantises:
                adc_codes = levels if scratch.integer_codes is None else scratch.integer_codes[:n]
                clipped = self.adc.convert(y, levels, adc_codes)
            target = out if i == 0 else scratch.partial_sums[:n]
            self._post_process(adc_codes, state.digital[i], target)
            if i > 0:
                out += target
        return clipped

    def _convert_compiled(self, y, i, state, out, scratch, noise_keys):
        """:meth:`_convert` in one compiled loop, bit for bit (see :mod:`._compiled`)."""
        n = y.shape[0]
        noise = None if noise_keys is None else (noise_keys, self._pair_counters, state.noise_sigma[i])
        stage = state.compiled[i]
        low = scratch.mvm[:n] if state.products[i].float32_parts else None
        return _compiled.read_out(
            scratch.analog_rows[:n],
            low,
            noise,
            self.adc.full_scale,
            stage.multiplier,
            stage.addend,
            self.unit.relu,
            stage.factors[out.dtype],
            out,
            accumulate=i > 0,
        )

    def _post_process(self, codes, coefficients, out):
        """Near-memory stage: ADC codes to real outputs, written into ``out``.

        Integer codes are the unit's scratch space and are overwritten.
        """
        if self.unit is None:  # float reference path
            np.multiply(codes, coefficients, out=out, dtype=out.dtype)
            return
        self.unit.apply_to_float(codes, coefficients, out, input_bits=self.adc.bits, work=codes)

    # Scratch ---------------------------------------------------------------
    def _scratch(self, X, state, task_rows, for_consumer):
        """Scratch arrays for reading tasks of at most ``task_rows`` rows of ``X``."""
        block_shape = (min(self.block_rows(), task_rows), self.n_outputs)
        pair_shape = (block_shape[0], self._pair_counters.size)
        input_shape = (task_rows, self.n_inputs)
        analog_rows = padded_rows(block_shape, np.float32)
        in_numpy = state.compiled is None
        noisy = state.noise_sigma is not None
        noisy_numpy = noisy and in_numpy

        def maybe(condition, shape, dtype):
            return np.empty(shape, dtype=dtype) if condition else None

        return _Scratch(
            inputs=np.empty(input_shape, dtype=X.dtype),
            codes=maybe(X.dtype != np.float32, input_shape, np.float32),
            row_keys=maybe(noisy, task_rows, np.uint64),
            analog=analog_rows[:, : self.n_outputs],
            analog_rows=analog_rows,
            mvm=np.empty(block_shape, dtype=state.products[0].scratch_dtype()),
            levels=maybe(in_numpy, block_shape, np.float32),
            integer_codes=self._integer_work(block_shape, state) if in_numpy else None,
            partial_sums=maybe(in_numpy and self.grid.n_row_tiles > 1, block_shape, X.dtype),
            result=maybe(for_consumer, block_shape, X.dtype),
            words=maybe(noisy_numpy, pair_shape, np.uint64),
            word_scratch=maybe(noisy_numpy, pair_shape, np.uint64),
        )

    def _integer_work(self, shape, state):
        """Scratch integers for the ADC codes and the near-memory unit (None on the float path)."""
        if self.unit is None:
            return None
        unit_types = [self.unit.integer_dtype(self.adc.bits, coefficients) for coefficients in state.digital]
        return np.empty(shape, dtype=np.result_type(self.adc.code_dtype(), *unit_types))

    def compiled_stages(self, digital):
        """Registers for :func:`._compiled.read_out`, or None where reads stay in numpy.

        The compiled read-out covers the ADC and a fixed-point near-memory
        unit without requantisation, the HERMES preset's read-out.

        Parameters
        ----------
        digital : list of NMPUCoefficients
            The unit's coefficients of each input tile.

        Returns
        -------
        stages : list of CompiledStage or None
        """
        if (
            not _compiled.ENABLED
            or not isinstance(self.unit, NearMemoryUnit)
            or not self.adc.quantises
            or self.unit.output_format is not None
        ):
            return None
        n = self.n_outputs
        with np.errstate(over="ignore"):  # factors beyond float32's range stand for outputs beyond it
            return self._stages(digital, n)

    def _stages(self, digital, n):
        return [
            CompiledStage(
                multiplier=per_column(coefficients.multiplier, n, np.int64),
                addend=per_column(coefficients.addend, n, np.int64),
                factors={
                    np.dtype(dtype): per_column(self.unit.output_factors(coefficients, dtype), n)
                    for dtype in (np.float32, np.float64)
                },
            )
            for coefficients in digital
        ]
