"""ResNet9, the reference CNN of Ferro et al. (ISCAS 2024), sized by a width parameter for CPU training.

The architecture is the ResNet9 of D. Page's DAWNBench CIFAR-10 entry (2018),
the network the NMPU paper evaluates on CIFAR-10: a preparation
convolution, three stages (convolution, batch norm, ReLU, 2x2 max pooling;
the first and the third followed by a residual block of two such
convolutions), a global max pool and a linear classifier.  The channel widths
are ``width, 2 width, 4 width, 8 width`` (``width=64`` is the published
network).  :class:`ResidualBlock` is the residual block type that
:func:`sklearn_aimc.torch.convert.convert` reads.
"""

import torch
from torch import nn

__all__ = ["ResidualBlock", "conv_bn_relu", "resnet9"]


class ResidualBlock(nn.Module):
    """``relu(body(x) + shortcut(x))`` (identity shortcut when None; the ReLU when ``relu``).

    Parameters
    ----------
    body : torch.nn.Module
    shortcut : torch.nn.Module or None, default=None
    relu : bool, default=False
    """

    def __init__(self, body, shortcut=None, relu=False):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.relu = relu

    def forward(self, x):
        """``body(x) + shortcut(x)``, through a ReLU when ``relu``.

        Parameters
        ----------
        x : torch.Tensor

        Returns
        -------
        out : torch.Tensor
        """
        out = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
        return torch.relu(out) if self.relu else out


def conv_bn_relu(in_channels, out_channels, pool=False):
    """3x3 convolution (padding 1, no bias), batch norm, ReLU, and a 2x2 max pool when ``pool``.

    Parameters
    ----------
    in_channels, out_channels : int
    pool : bool, default=False

    Returns
    -------
    block : torch.nn.Sequential
    """
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
              nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def resnet9(in_channels=3, n_classes=10, width=64):
    """The ResNet9 network (``width=64``: 6.5 M parameters, as published).

    Parameters
    ----------
    in_channels : int, default=3
    n_classes : int, default=10
    width : int, default=64
        Channels of the first stage; the others are 2, 4 and 8 times it.

    Returns
    -------
    model : torch.nn.Sequential

    Examples
    --------
    >>> import torch
    >>> from sklearn_aimc.torch.resnet import resnet9
    >>> model = resnet9(width=4).eval()
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """
    w = width
    return nn.Sequential(
        conv_bn_relu(in_channels, w),
        conv_bn_relu(w, 2 * w, pool=True),
        ResidualBlock(nn.Sequential(conv_bn_relu(2 * w, 2 * w), conv_bn_relu(2 * w, 2 * w))),
        conv_bn_relu(2 * w, 4 * w, pool=True),
        conv_bn_relu(4 * w, 8 * w, pool=True),
        ResidualBlock(nn.Sequential(conv_bn_relu(8 * w, 8 * w), conv_bn_relu(8 * w, 8 * w))),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(8 * w, n_classes, bias=False),
    )
