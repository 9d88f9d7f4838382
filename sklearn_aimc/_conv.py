"""Convolutions as matrix products (im2col), so that a crossbar can run them.

A 2-D convolution of ``(n, C, H, W)`` images with ``F`` filters of
``C x kh x kw`` weights is the product of the unfolded image patches
``(n * H_out * W_out, C * kh * kw)`` with the ``(C * kh * kw, F)`` filter
matrix: one crossbar read per output pixel.  The patch layout (channel-major,
then kernel row, then kernel column) is that of ``torch.nn.Conv2d`` weights
reshaped to ``(F, C * kh * kw)``, so trained filters program as ``W.T``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv2d", "conv_output_size", "im2col"]


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v for v in pair):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}.")
    return tuple(int(v) for v in pair)


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """Output height and width of a convolution (or pooling) of ``size`` images.

    Parameters
    ----------
    size : int or (int, int)
        Input height and width.
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    out_size : (int, int)

    Examples
    --------
    >>> from sklearn_aimc._conv import conv_output_size
    >>> conv_output_size(28, 3, stride=2, padding=1)
    (14, 14)
    """
    size, kernel_size = _pair(size, "size"), _pair(kernel_size, "kernel_size")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if min(kernel_size) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError("kernel_size and stride must be positive and padding non-negative.")
    out = tuple((s + 2 * p - k) // st + 1 for s, k, st, p in zip(size, kernel_size, stride, padding))
    if min(out) < 1:
        raise ValueError(f"A {kernel_size} kernel does not fit {size} images with padding {padding}.")
    return out


def im2col(X, kernel_size, stride=1, padding=0):
    """Unfold ``(n, C, H, W)`` images into the rows of their convolution patches.

    Parameters
    ----------
    X : ndarray of shape (n, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As for ``torch.nn.Conv2d`` (zero padding).

    Returns
    -------
    patches : ndarray of shape (n * H_out * W_out, C * kh * kw)
        Row ``(i * H_out + y) * W_out + x`` is the patch of output pixel
        ``(y, x)`` of image ``i``, in ``X``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc._conv import im2col
    >>> im2col(np.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2).tolist()
    [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0], [8.0, 9.0, 12.0, 13.0], [10.0, 11.0, 14.0, 15.0]]
    """
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"im2col expects images of shape (n, C, H, W), got shape {X.shape}.")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    conv_output_size(X.shape[2:], (kh, kw), (sh, sw), (ph, pw))
    if ph or pw:
        X = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, C, h_out, w_out = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, C * kh * kw)


def conv2d(X, matmul, kernel_size, stride=1, padding=0):
    """A 2-D convolution whose patch products are done by ``matmul``.

    Parameters
    ----------
    X : ndarray of shape (n, C, H, W)
    matmul : callable
        Maps patches ``(n_patches, C * kh * kw)`` to ``(n_patches, F)``, e.g.
        a programmed crossbar's ``matmul`` or ``lambda P: P @ W.T``.
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    Y : ndarray of shape (n, F, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc._conv import conv2d
    >>> X = np.ones((1, 1, 3, 3))
    >>> conv2d(X, lambda P: P @ np.ones((9, 1)), 3, padding=1)[0, 0].tolist()
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
    """
    patches = im2col(X, kernel_size, stride, padding)
    h_out, w_out = conv_output_size(np.shape(X)[2:], kernel_size, stride, padding)
    outputs = np.asarray(matmul(patches))
    return outputs.reshape(X.shape[0], h_out, w_out, -1).transpose(0, 3, 1, 2)
