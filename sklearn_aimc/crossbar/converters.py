"""The converters of a crossbar: the input DACs and the output ADCs.

Both are signed, symmetric converters of ``bits`` bits built on
:class:`~sklearn_aimc.fixedpoint.FixedPointFormat`: codes run over
``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` (HERMES: -127 ... 127, Le Gallo et
al. 2023), values are divided by the step, rounded half to even and clipped,
and every clipped value is counted.  This is the one place that knows a full
scale.  A converter with ``bits=None`` passes values through (ideal periphery).
"""

import numpy as np

from ..fixedpoint import FixedPointFormat

__all__ = ["ADC", "DAC", "clip_codes"]


def clip_codes(codes, full_scale):
    """Clip signed codes to ``[-full_scale, full_scale]`` in place.

    Parameters
    ----------
    codes : ndarray
        Integer codes (of an integer or float dtype), clipped in place.
    full_scale : int

    Returns
    -------
    n_clipped : int
        Codes that lay beyond the full scale.
    """
    n_clipped = np.count_nonzero(np.abs(codes) > full_scale)
    if n_clipped:
        np.clip(codes, -full_scale, full_scale, out=codes)
    return n_clipped


class _Converter:
    """A signed symmetric converter with a calibrated range per block."""

    def __init__(self, bits, ranges):
        self.bits = bits
        self.format = None if bits is None else FixedPointFormat(bits, 0, signed=True)
        self.ranges = np.asarray(ranges, dtype=np.float64)

    @property
    def quantises(self):
        """True when the converter rounds and clips (``bits`` is set)."""
        return self.bits is not None

    @property
    def full_scale(self):
        """Largest code magnitude (the format's largest code; the range is symmetric)."""
        return None if self.format is None else self.format.max_code

    @property
    def step(self):
        """Real value of one code step, per block (the range itself without quantisation)."""
        return self.ranges / self.full_scale if self.quantises else self.ranges.copy()


class DAC(_Converter):
    """Input converters of a crossbar: one range per input tile.

    Parameters
    ----------
    bits : int or None
    grid : TileGrid

    Attributes
    ----------
    ranges : ndarray of shape (n_row_tiles,)
        Full-scale input of each input tile (1 before calibration).
    """

    def __init__(self, bits, grid):
        super().__init__(bits, np.ones(grid.n_row_tiles))
        self.grid = grid

    def convert(self, x, levels=None, codes=None):
        """Input codes of the rows ``x`` and the number of clipped inputs.

        Levels are computed and rounded in ``x``'s dtype (into ``levels``
        when given), then converted to float32 (into ``codes`` when given).

        Parameters
        ----------
        x : ndarray of shape (n_rows, n_inputs)
        levels : ndarray like ``x``, default=None
        codes : ndarray of float32 like ``x``, default=None

        Returns
        -------
        codes : ndarray of float32
            Integers when quantised.
        n_clipped : int
        """
        inverse_step = (1.0 / self.grid.per_input(self.step)).astype(x.dtype)
        levels = np.multiply(x, inverse_step, out=levels)
        n_clipped = 0
        if self.quantises:
            np.rint(levels, out=levels)
            n_clipped = clip_codes(levels, self.full_scale)
        if codes is None or levels.dtype == np.float32:
            return levels.astype(np.float32, copy=False), n_clipped
        np.copyto(codes, levels, casting="same_kind")
        return codes, n_clipped


class ADC(_Converter):
    """Output converters of a crossbar: one range per tile.

    Parameters
    ----------
    bits : int or None
    grid : TileGrid

    Attributes
    ----------
    ranges : ndarray of shape (n_row_tiles, n_col_tiles)
        Full-scale output of each tile, in output units (1 before calibration).
    """

    def __init__(self, bits, grid):
        super().__init__(bits, np.ones((grid.n_row_tiles, grid.n_col_tiles)))
        self.grid = grid

    @property
    def step_per_output(self):
        """Real output per code step, per input tile and output, (n_row_tiles, n_outputs)."""
        return self.grid.per_output(self.step)

    @property
    def rail(self):
        """One step beyond full scale: clipped outputs stay recognisable and the integer cast is exact."""
        return self.full_scale + 1

    def code_dtype(self):
        """Narrowest signed integer type holding every code up to the rail.

        Returns
        -------
        dtype : numpy.dtype
        """
        return np.min_scalar_type(-self.rail)

    def convert(self, y, levels, codes):
        """Convert analog outputs (float, in LSBs) to signed codes; returns the clip count.

        Parameters
        ----------
        y : ndarray of float32
            Analog outputs in LSBs.
        levels : ndarray of float32
            Receives ``rint(y)`` (may be ``y`` itself).
        codes : ndarray
            Receives the codes: ``levels`` itself (float post-processing) or an
            integer array (the near-memory unit's input).

        Returns
        -------
        n_clipped : int
        """
        np.rint(y, out=levels)
        if codes is not levels:
            np.clip(levels, -self.rail, self.rail, out=levels)
            np.copyto(codes, levels, casting="unsafe")
        return clip_codes(codes, self.full_scale)
