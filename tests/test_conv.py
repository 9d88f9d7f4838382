"""Tests of the im2col convolution against a direct sum over the kernel."""

import numpy as np
import pytest

from sklearn_aimc._conv import conv2d, conv_output_size, im2col


def _direct_conv(X, weights, stride, padding):
    # weights: (F, C, kh, kw), the torch.nn.Conv2d layout.
    F, C, kh, kw = weights.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (Xp.shape[2] - kh) // stride + 1
    w_out = (Xp.shape[3] - kw) // stride + 1
    out = np.zeros((X.shape[0], F, h_out, w_out))
    for y in range(h_out):
        for x in range(w_out):
            patch = Xp[:, :, y * stride : y * stride + kh, x * stride : x * stride + kw]
            out[:, :, y, x] = np.einsum("nchw,fchw->nf", patch, weights)
    return out


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 1), (3, 2)])
def test_conv2d_equals_the_direct_sum(stride, padding):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 3, 7, 6))
    weights = rng.normal(size=(4, 3, 3, 3))
    flat = weights.reshape(4, -1)
    Y = conv2d(X, lambda P: P @ flat.T, 3, stride=stride, padding=padding)
    np.testing.assert_allclose(Y, _direct_conv(X, weights, stride, padding), rtol=1e-12, atol=1e-12)


def test_im2col_keeps_dtype_and_does_not_touch_the_input():
    X = np.arange(2 * 2 * 5 * 5, dtype=np.float32).reshape(2, 2, 5, 5)
    before = X.copy()
    patches = im2col(X, 3, stride=2, padding=1)
    assert patches.dtype == np.float32
    assert patches.shape == (2 * 3 * 3, 2 * 9)
    np.testing.assert_array_equal(X, before)


def test_output_size_of_the_few_shot_network():
    sizes = [28]
    for _ in range(4):
        sizes.append(conv_output_size(sizes[-1], 3, stride=2, padding=1)[0])
    assert sizes == [28, 14, 7, 4, 2]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: im2col(np.ones((3, 4, 4)), 3), "shape"),
        (lambda: im2col(np.ones((1, 1, 2, 2)), 3), "does not fit"),
        (lambda: conv_output_size(8, 0), "positive"),
        (lambda: conv_output_size(8, 2.5), "kernel_size"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
