"""The tiling of a matrix onto crossbar cores: near-equal blocks of rows and columns."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._parallel import near_equal_bounds

__all__ = ["TileGrid"]


@dataclass(frozen=True)
class TileGrid:
    """Near-equal blocks of at most ``tile_size`` rows (inputs) and columns (outputs).

    Parameters
    ----------
    n_inputs, n_outputs : int
        Shape of the programmed matrix.
    tile_size : int
        Rows and columns of one core.

    Attributes
    ----------
    row_bounds, col_bounds : ndarray of int
        ``[0, b1, ..., n]`` along inputs and outputs.
    """

    n_inputs: int
    n_outputs: int
    tile_size: int

    @cached_property
    def row_bounds(self):
        return near_equal_bounds(self.n_inputs, self.tile_size)

    @cached_property
    def col_bounds(self):
        return near_equal_bounds(self.n_outputs, self.tile_size)

    @property
    def n_row_tiles(self):
        """Input tiles (blocks of rows)."""
        return len(self.row_bounds) - 1

    @property
    def n_col_tiles(self):
        """Output tiles (blocks of columns)."""
        return len(self.col_bounds) - 1

    @property
    def n_tiles(self):
        """Cores the matrix occupies."""
        return self.n_row_tiles * self.n_col_tiles

    @cached_property
    def row_slices(self):
        """The rows of each input tile."""
        return [slice(lo, hi) for lo, hi in zip(self.row_bounds[:-1].tolist(), self.row_bounds[1:].tolist())]

    @cached_property
    def col_slices(self):
        """The columns of each output tile."""
        return [slice(lo, hi) for lo, hi in zip(self.col_bounds[:-1].tolist(), self.col_bounds[1:].tolist())]

    def tile(self, index):
        """Where tile ``index`` lies (tiles numbered row-major).

        Parameters
        ----------
        index : int

        Returns
        -------
        i, j : int
            Its input tile and output tile.
        rows, cols : slice
            Its inputs and outputs.
        """
        i, j = divmod(index, self.n_col_tiles)
        return i, j, self.row_slices[i], self.col_slices[j]

    def per_input(self, per_row_tile):
        """Repeat an array of one entry per input tile to one entry per input.

        Parameters
        ----------
        per_row_tile : ndarray of shape (n_row_tiles, ...)

        Returns
        -------
        per_input : ndarray of shape (n_inputs, ...)
        """
        return np.repeat(per_row_tile, np.diff(self.row_bounds), axis=0)

    def per_output(self, per_col_tile):
        """Repeat an array along its last axis from one entry per output tile to one per output.

        Parameters
        ----------
        per_col_tile : ndarray of shape (..., n_col_tiles)

        Returns
        -------
        per_output : ndarray of shape (..., n_outputs)
        """
        return np.repeat(per_col_tile, np.diff(self.col_bounds), axis=-1)

    def tile_means(self, per_output):
        """Mean over the columns of each output tile, along the last axis.

        Parameters
        ----------
        per_output : ndarray of shape (..., n_outputs)

        Returns
        -------
        means : ndarray of shape (..., n_col_tiles)
        """
        return np.add.reduceat(per_output, self.col_bounds[:-1], axis=-1) / np.diff(self.col_bounds)

    def tile_maxima(self, per_output):
        """Maximum over the columns of each output tile, along the last axis.

        Parameters
        ----------
        per_output : ndarray of shape (..., n_outputs)

        Returns
        -------
        maxima : ndarray of shape (..., n_col_tiles)
        """
        return np.maximum.reduceat(per_output, self.col_bounds[:-1], axis=-1)
