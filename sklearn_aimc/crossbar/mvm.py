"""The analog MVM of one input tile, computed exactly and rounded once.

A tile's analog outputs are sums of its input codes times its analog matrix
``A`` (each device's conductance in ADC LSBs per code).  A BLAS library rounds
a float GEMM differently with the shape of the call, the row's position in it
and the number of threads, so a row read alone would not read like the same
row inside a batch.  The read therefore computes the sums *exactly* and rounds
them once, to the nearest float32:

* ``A`` is held on a per-column grid: every entry of column ``j`` is a
  multiple of a power of two ``q_j`` and at most ``2**b q_j`` in magnitude.
  With integer codes of at most ``c`` magnitude bits and at most ``2**k`` rows
  per tile, every partial sum of a GEMM is then a multiple of ``q_j`` below
  ``2**(c + k + b) q_j``: exact in a float of ``c + k + b`` significand bits,
  whatever order BLAS adds in.
* Quantised inputs (DAC codes, ``c = dac_bits - 1``): ``A = A_hi + A_lo``,
  each part on its own grid with ``b = 24 - c - k`` (float32), two float32
  GEMMs, and their float32 sum, which is the correctly rounded exact product.
  With 8-bit codes and 256-row tiles the two parts resolve ``A`` to 19 bits
  below each column's largest entry (2e-6 of it): finer than float32
  arithmetic's own error on such a sum and far below any device noise.
* Codes too wide for that (``c + k > 14``) and unquantised inputs: one
  float64 GEMM, with ``A`` on a grid of ``53 - c - k`` bits; unquantised
  inputs enter as 24-bit integers times a power of two per row (a row's
  block-floating-point form, a function of the row alone).
"""

import numpy as np

__all__ = ["ExactMVM"]

_FLOAT32_BITS = 24
_FLOAT64_BITS = 53
# Significand bits of a row of unquantised inputs in block floating point.
_ROW_BITS = 24
# Fewest grid bits per float32 part: below this, one float64 GEMM is finer.
_MIN_PART_BITS = 8


def _column_grid(A, bits):
    """Per-column power-of-two step ``q`` with ``|A[:, j]| <= 2**bits q_j`` (1 for zero columns)."""
    largest = np.abs(A).max(axis=0) if A.shape[0] else np.zeros(A.shape[1])
    _, exponent = np.frexp(largest.astype(np.float64))  # largest < 2**exponent
    return np.where(largest > 0, np.ldexp(1.0, exponent - bits), 1.0)


def _on_grid(A, step):
    return np.rint(A / step) * step + 0.0  # + 0.0 turns -0.0 into 0.0


class ExactMVM:
    """Exact products of integer input codes with one tile's analog matrix.

    Parameters
    ----------
    A : ndarray of float32 of shape (n_rows, n_outputs)
        Input codes -> ADC LSBs.
    code_bits : int or None
        Magnitude bits of the integer input codes (``dac_bits - 1``); None for
        unquantised inputs.

    Attributes
    ----------
    parts : list of ndarray
        The gridded matrix: two float32 parts, or one float64 matrix.
    resolution : ndarray of shape (n_outputs,)
        The finest grid step of each column (the representation error of
        ``A`` is at most half of it).
    """

    def __init__(self, A, code_bits):
        n_rows = A.shape[0]
        term_bits = max(0, int(np.ceil(np.log2(max(n_rows, 1)))))
        self.code_bits = code_bits
        A = np.asarray(A, dtype=np.float64)
        part_bits = _FLOAT32_BITS - (code_bits if code_bits is not None else _FLOAT32_BITS) - term_bits
        self.float32_parts = code_bits is not None and part_bits >= _MIN_PART_BITS
        if self.float32_parts:
            step_hi = _column_grid(A, part_bits)
            high = _on_grid(A, step_hi)
            # |A - high| <= step_hi / 2: one more bit of the low part's grid below its bound.
            step_lo = step_hi * 2.0 ** -(part_bits + 1)
            low = _on_grid(A - high, step_lo)
            self.parts = [high.astype(np.float32), low.astype(np.float32)]
            self.resolution = step_lo
        else:
            input_bits = _ROW_BITS if code_bits is None else code_bits
            bits = _FLOAT64_BITS - input_bits - 1 - term_bits
            step = _column_grid(A, bits)
            self.parts = [_on_grid(A, step)]
            self.resolution = step

    @property
    def n_rows(self):
        """Rows (inputs) of the tile."""
        return self.parts[0].shape[0]

    def matrix(self):
        """The gridded analog matrix (what the read multiplies by).

        Returns
        -------
        matrix : ndarray of float64 of shape (n_rows, n_outputs)
        """
        return sum(part.astype(np.float64) for part in self.parts)

    def __call__(self, codes, out, scratch=None, add_parts=True):
        """``codes @ A`` rounded once to float32, into ``out``.

        Parameters
        ----------
        codes : ndarray of float32 of shape (n, n_rows)
            Integer input codes (quantised) or input levels (unquantised).
        out : ndarray of float32 of shape (n, n_outputs)
        scratch : ndarray of shape (n, n_outputs), default=None
            float32 for the second part, float64 for the float64 product.
        add_parts : bool, default=True
            With two float32 parts, add them into ``out``; False leaves the
            exact products of the parts in ``out`` and ``scratch`` for the
            caller to add (their float32 sum is the result).

        Returns
        -------
        out : ndarray
        """
        if self.float32_parts:
            high, low = self.parts
            np.matmul(codes, high, out=out)
            second = np.empty(out.shape, np.float32) if scratch is None else scratch
            np.matmul(codes, low, out=second)
            return np.add(out, second, out=out) if add_parts else out
        product = np.empty(out.shape, np.float64) if scratch is None else scratch
        if self.code_bits is not None:
            np.matmul(codes.astype(np.float64), self.parts[0], out=product)
        else:
            scale = self.row_scales(codes)
            np.matmul(np.rint(codes / scale), self.parts[0], out=product)
            product *= scale
        np.copyto(out, product, casting="same_kind")
        return out

    @staticmethod
    def row_scales(levels):
        """Power of two per row putting its largest level just below 2**24 (block floating point).

        Parameters
        ----------
        levels : ndarray of shape (n, n_rows)

        Returns
        -------
        scales : ndarray of float64 of shape (n, 1)
        """
        largest = np.abs(levels).max(axis=1, keepdims=True).astype(np.float64)
        _, exponent = np.frexp(largest)
        return np.ldexp(1.0, exponent - _ROW_BITS)

    def scratch_dtype(self):
        """dtype of the scratch block a call takes.

        Returns
        -------
        dtype : type
            ``numpy.float32`` for two float32 parts, ``numpy.float64`` otherwise.
        """
        return np.float32 if self.float32_parts else np.float64
