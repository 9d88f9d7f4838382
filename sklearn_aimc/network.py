"""A numpy runtime for feed-forward networks whose linear layers run on the chip.

A :class:`Network` is a sequence of layers: :class:`Conv2d` (a convolution as
one product of im2col patches, :func:`sklearn_aimc._conv.conv2d`) and
:class:`Linear`, each programmed on its own crossbar with its bias, a folded
batch normalisation (the near-memory unit's per-column ``scale`` and
``offset``) and an optional ReLU in the crossbar's post-processing; and the
digital layers :class:`ReLU`, :class:`MaxPool2d`, :class:`AvgPool2d`,
:class:`GlobalAvgPool2d`, :class:`GlobalMaxPool2d`, :class:`Flatten` and
:class:`Residual` (a body of
layers plus a shortcut, added digitally).  ``sklearn_aimc.torch.convert``
builds one from a trained ``torch.nn`` model; nothing here imports torch.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.utils import check_random_state

from ._conv import conv2d
from .crossbar import check_device

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "Linear",
    "MaxPool2d",
    "Network",
    "ReLU",
    "Residual",
]

# Images per calibration batch run through the float network to calibrate each layer's converters.
CALIBRATION_IMAGES = 256


class _Layer:
    """A layer of the runtime: ``forward`` maps a batch to the next layer's input."""

    def forward(self, X, t_inference=None):
        """The layer's output for the batch ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, ...)
        t_inference : float, default=None
            Chip time of the crossbar reads (the device's when None).

        Returns
        -------
        Y : ndarray of shape (n, ...)
        """
        raise NotImplementedError(f"{type(self).__name__} defines no forward.")


class _ChipLayer(_Layer):
    """A linear layer ``relu(scale * (x @ matrix) + offset)``, in float or on a programmed crossbar."""

    def __init__(self, matrix, bias=None, scale=None, offset=None, relu=False):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        n_out = self.matrix.shape[1]
        self.scale = None if scale is None else np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_out,)).copy()
        offset = np.zeros(n_out) if offset is None else np.broadcast_to(np.asarray(offset, np.float64), (n_out,))
        bias = np.zeros(n_out) if bias is None else np.asarray(bias, dtype=np.float64)
        # The bias acts before the scale: scale * (x W + b) + offset = scale * x W + (scale * b + offset).
        self.offset = offset + (bias if self.scale is None else self.scale * bias)
        self.relu = bool(relu)
        self.chip = None
        self._recorded = None  # a list while program() records the layer's float inputs

    def fold_batch_norm(self, mean, var, weight=1.0, bias=0.0, eps=1e-5):
        """Fold a following batch normalisation into ``scale`` and ``offset``.

        Parameters
        ----------
        mean, var : array-like of shape (n_outputs,)
            Running statistics of the batch norm.
        weight, bias : array-like of shape (n_outputs,) or float, default=1.0, 0.0
            Its learned affine.
        eps : float, default=1e-5
            Added to the variance.

        See Also
        --------
        sklearn_aimc.fixedpoint.fold_batch_norm : the folding rule.
        """
        from .fixedpoint import fold_batch_norm

        if self.relu:
            raise ValueError("A batch normalisation after the layer's ReLU cannot be folded into it.")
        scale = np.ones(self.matrix.shape[1]) if self.scale is None else self.scale
        self.scale, self.offset = fold_batch_norm(scale, self.offset, mean, var, weight, bias, eps)

    def _float_matmul(self, rows):
        out = rows @ self.matrix
        if self.scale is not None:
            out *= self.scale
        out += self.offset
        if self.relu:
            np.maximum(out, 0, out=out)
        return out

    def _matmul(self, t_inference):
        def matmul(rows):
            if self._recorded is not None:
                self._recorded.append(rows)
            if self.chip is None:
                return self._float_matmul(rows)
            return self.chip.matmul(rows, t_inference=t_inference)

        return matmul

    def _program(self, device, rows, seed):
        self.chip = device.program(
            self.matrix, calibration_inputs=rows, random_state=seed, scale=self.scale, offset=self.offset,
            relu=self.relu,
        )


class Linear(_ChipLayer):
    """A fully connected layer on the chip, ``weight`` of shape (out_features, in_features) as in torch.

    Parameters
    ----------
    weight : array-like of shape (out_features, in_features)
    bias : array-like of shape (out_features,), default=None
    scale, offset : array-like of shape (out_features,), default=None
        Per-output gain and offset of the near-memory unit (after the bias).
    relu : bool, default=False
        ReLU in the near-memory unit.
    """

    def __init__(self, weight, bias=None, scale=None, offset=None, relu=False):
        super().__init__(np.asarray(weight, dtype=np.float64).T, bias, scale, offset, relu)

    def forward(self, X, t_inference=None):
        return self._matmul(t_inference)(X.reshape(X.shape[0], -1))


class Conv2d(_ChipLayer):
    """A 2-D convolution on the chip (zero padding, no dilation, no groups), as one product of patches.

    Parameters
    ----------
    weight : array-like of shape (out_channels, in_channels, kh, kw)
    bias : array-like of shape (out_channels,), default=None
    stride, padding : int or (int, int), default=1, 0
    scale, offset, relu
        As for :class:`Linear`.
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, scale=None, offset=None, relu=False):
        weight = np.asarray(weight, dtype=np.float64)
        if weight.ndim != 4:
            raise ValueError(f"Conv2d weight must have shape (out, in, kh, kw), got {weight.shape}.")
        self.kernel_size = weight.shape[2:]
        self.stride, self.padding = stride, padding
        super().__init__(weight.reshape(weight.shape[0], -1).T, bias, scale, offset, relu)

    def forward(self, X, t_inference=None):
        return conv2d(X, self._matmul(t_inference), self.kernel_size, self.stride, self.padding)


class ReLU(_Layer):
    """A digital ReLU (one that cannot be folded into the preceding chip layer)."""

    def forward(self, X, t_inference=None):
        return np.maximum(X, 0)


class Flatten(_Layer):
    """Flatten all but the first axis (``torch.nn.Flatten()``)."""

    def forward(self, X, t_inference=None):
        return X.reshape(X.shape[0], -1)


class _Pool2d(_Layer):
    def __init__(self, kernel_size, stride=None):
        self.kernel_size = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
        stride = self.kernel_size if stride is None else stride
        self.stride = (stride, stride) if np.isscalar(stride) else tuple(stride)

    def _windows(self, X):
        windows = sliding_window_view(X, self.kernel_size, axis=(2, 3))
        return windows[:, :, :: self.stride[0], :: self.stride[1]]


class MaxPool2d(_Pool2d):
    """Max pooling, digital (no padding, floor mode).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default=None
        ``kernel_size`` when None, as in torch.
    """

    def forward(self, X, t_inference=None):
        return self._windows(X).max(axis=(4, 5))


class AvgPool2d(_Pool2d):
    """Average pooling, digital (no padding, floor mode).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default=None
        ``kernel_size`` when None, as in torch.
    """

    def forward(self, X, t_inference=None):
        return self._windows(X).mean(axis=(4, 5))


class GlobalAvgPool2d(_Layer):
    """Mean over the spatial axes, keeping them of size 1 (``AdaptiveAvgPool2d(1)``)."""

    def forward(self, X, t_inference=None):
        return X.mean(axis=(2, 3), keepdims=True)


class GlobalMaxPool2d(_Layer):
    """Maximum over the spatial axes, keeping them of size 1 (``AdaptiveMaxPool2d(1)``)."""

    def forward(self, X, t_inference=None):
        return X.max(axis=(2, 3), keepdims=True)


class Residual(_Layer):
    """``body(x) + shortcut(x)`` (identity shortcut when None), then an optional digital ReLU.

    Parameters
    ----------
    body : list of layers
    shortcut : list of layers or None, default=None
    relu : bool, default=False
    """

    def __init__(self, body, shortcut=None, relu=False):
        self.body = Network(body)
        self.shortcut = None if shortcut is None else Network(shortcut)
        self.relu = bool(relu)

    def forward(self, X, t_inference=None):
        out = self.body.forward(X, t_inference)
        out = out + (X if self.shortcut is None else self.shortcut.forward(X, t_inference))
        return np.maximum(out, 0) if self.relu else out


class Network:
    """A sequence of layers; :meth:`program` puts every linear layer on its own crossbar.

    Parameters
    ----------
    layers : list
        Layers of this module (:class:`Conv2d`, :class:`Linear`,
        :class:`ReLU`, :class:`MaxPool2d`, :class:`AvgPool2d`,
        :class:`GlobalAvgPool2d`, :class:`GlobalMaxPool2d`, :class:`Flatten`,
        :class:`Residual`).

    Attributes
    ----------
    crossbars_ : list of ProgrammedCrossbar
        The programmed chips, in the order of the layers (after :meth:`program`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.network import Conv2d, Flatten, Linear, Network
    >>> rng = np.random.default_rng(0)
    >>> net = Network([Conv2d(rng.standard_normal((4, 1, 3, 3)), padding=1, relu=True), Flatten(),
    ...                Linear(rng.standard_normal((3, 4 * 8 * 8)))])
    >>> X = rng.standard_normal((20, 1, 8, 8))
    >>> exact = net.forward(X)
    >>> _ = net.program("hermes", X, random_state=0)
    >>> err = np.linalg.norm(net.forward(X) - exact) / np.linalg.norm(exact)
    >>> bool(0 < err < 0.2)
    True
    """

    def __init__(self, layers):
        self.layers = list(layers)

    def chip_layers(self):
        """Every :class:`Conv2d` / :class:`Linear`, nested ones included, in order.

        Returns
        -------
        layers : list
        """
        found = []
        for layer in self.layers:
            if isinstance(layer, _ChipLayer):
                found.append(layer)
            elif isinstance(layer, Residual):
                found += layer.body.chip_layers()
                found += [] if layer.shortcut is None else layer.shortcut.chip_layers()
        return found

    def forward(self, X, t_inference=None):
        """Run the network: programmed layers on their chips, the others in float.

        Parameters
        ----------
        X : ndarray of shape (n, ...)
        t_inference : float, default=None
            Chip time of the reads (the device's when None).

        Returns
        -------
        Y : ndarray
        """
        out = np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            out = layer.forward(out, t_inference)
        return out

    def program(self, device, calibration_inputs, random_state=None):
        """Program every linear layer, calibrated on its float inputs for ``calibration_inputs``.

        Parameters
        ----------
        device : {"hermes", "ideal"} or AnalogCrossbar
        calibration_inputs : ndarray of shape (n, ...)
            Representative network inputs (the first 256 are used).
        random_state : int, RandomState instance or None, default=None
            One chip seed per layer is drawn from it.

        Returns
        -------
        self : Network
        """
        device = check_device(device)
        layers = self.chip_layers()
        for layer in layers:
            layer.chip = None
        seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=len(layers))
        for layer in layers:
            layer._recorded = []
        try:  # one float pass records every layer's input rows
            self.forward(np.asarray(calibration_inputs, dtype=np.float64)[:CALIBRATION_IMAGES])
            recorded = [np.concatenate(layer._recorded) for layer in layers]
        finally:
            for layer in layers:
                layer._recorded = None
        for layer, rows, seed in zip(layers, recorded, seeds):
            layer._program(device, rows, seed)
        self.crossbars_ = [layer.chip for layer in layers]
        return self
