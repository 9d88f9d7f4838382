"""Read a trained ``torch.nn`` model into the numpy runtime of :mod:`sklearn_aimc.network`.

Supported: ``Sequential`` (nested), ``Conv2d`` (zero padding, no dilation, one
group), ``Linear``, ``BatchNorm2d`` / ``BatchNorm1d`` right after a
convolution or linear layer (folded into its near-memory unit), ``ReLU``
(folded into the preceding chip layer when it directly follows it, digital
otherwise), ``MaxPool2d`` / ``AvgPool2d`` (no padding, floor mode),
``AdaptiveAvgPool2d(1)`` / ``AdaptiveMaxPool2d(1)``, ``Flatten()``,
``Identity`` and ``Dropout`` (no-ops at inference), and
:class:`~sklearn_aimc.torch.resnet.ResidualBlock`.  Anything else raises a
``ValueError`` naming the layer.
"""

from torch import nn

from .. import network
from .resnet import ResidualBlock

__all__ = ["convert"]


def _numpy(tensor):
    return None if tensor is None else tensor.detach().cpu().double().numpy()


def _conv(module, name):
    if module.groups != 1 or tuple(module.dilation) != (1, 1) or module.padding_mode != "zeros" or isinstance(
            module.padding, str):
        raise ValueError(f"Layer {name!r} ({module}): only Conv2d with numeric zero padding, dilation 1 and one "
                         "group can run on the chip.")
    return network.Conv2d(_numpy(module.weight), _numpy(module.bias), stride=tuple(module.stride),
                          padding=tuple(module.padding))


def _pool(module, name, cls):
    if getattr(module, "padding", 0) not in (0, (0, 0)) or getattr(module, "ceil_mode", False) or getattr(
            module, "dilation", 1) not in (1, (1, 1)):
        raise ValueError(f"Layer {name!r} ({module}): only pooling without padding, dilation or ceil_mode is "
                         "supported.")
    return cls(module.kernel_size, module.stride)


def _adaptive(module, name, cls):
    if module.output_size not in (1, (1, 1)):
        raise ValueError(f"Layer {name!r} ({module}): only a global (output size 1) adaptive pool is supported.")
    return cls()


def _layers(module, prefix):
    """The runtime layers of ``module`` (a list), folding batch norms and ReLUs into chip layers."""
    children = list(module.named_children()) if isinstance(module, nn.Sequential) else [(prefix, module)]
    layers = []
    for child_name, child in children:
        name = f"{prefix}.{child_name}" if isinstance(module, nn.Sequential) and prefix else child_name
        previous = layers[-1] if layers else None
        if isinstance(child, nn.Sequential):
            layers += _layers(child, name)
        elif isinstance(child, nn.Conv2d):
            layers.append(_conv(child, name))
        elif isinstance(child, nn.Linear):
            layers.append(network.Linear(_numpy(child.weight), _numpy(child.bias)))
        elif isinstance(child, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if not isinstance(previous, network._ChipLayer) or previous.relu:
                raise ValueError(f"Layer {name!r} ({child}): a batch norm must follow a Conv2d or Linear layer "
                                 "directly, to be folded into its near-memory unit.")
            previous.fold_batch_norm(_numpy(child.running_mean), _numpy(child.running_var),
                                     1.0 if child.weight is None else _numpy(child.weight),
                                     0.0 if child.bias is None else _numpy(child.bias), child.eps)
        elif isinstance(child, nn.ReLU):
            if isinstance(previous, network._ChipLayer) and not previous.relu:
                previous.relu = True
            else:
                layers.append(network.ReLU())
        elif isinstance(child, nn.MaxPool2d):
            layers.append(_pool(child, name, network.MaxPool2d))
        elif isinstance(child, nn.AvgPool2d):
            layers.append(_pool(child, name, network.AvgPool2d))
        elif isinstance(child, nn.AdaptiveAvgPool2d):
            layers.append(_adaptive(child, name, network.GlobalAvgPool2d))
        elif isinstance(child, nn.AdaptiveMaxPool2d):
            layers.append(_adaptive(child, name, network.GlobalMaxPool2d))
        elif isinstance(child, nn.Flatten):
            if child.start_dim != 1 or child.end_dim != -1:
                raise ValueError(f"Layer {name!r} ({child}): only Flatten() of all but the first axis is supported.")
            layers.append(network.Flatten())
        elif isinstance(child, (nn.Identity, nn.Dropout)):
            continue
        elif isinstance(child, ResidualBlock):
            shortcut = None if child.shortcut is None else _layers(child.shortcut, f"{name}.shortcut")
            layers.append(network.Residual(_layers(child.body, f"{name}.body"), shortcut, relu=child.relu))
        else:
            raise ValueError(f"Layer {name!r} of type {type(child).__name__} is not supported on the chip runtime.")
    return layers


def convert(model):
    """The :class:`~sklearn_aimc.network.Network` of a trained torch model (read in eval mode, float64).

    Parameters
    ----------
    model : torch.nn.Module
        A ``Sequential`` (or one supported layer) of the types the module
        docstring lists; batch norms use their running statistics.

    Returns
    -------
    net : sklearn_aimc.network.Network
        Unprogrammed: ``net.forward`` runs in float until ``net.program``.

    Raises
    ------
    ValueError
        For an unsupported layer, naming it.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_aimc.torch.convert import convert
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                             torch.nn.Linear(4 * 6 * 6, 3)).eval()
    >>> X = torch.randn(5, 1, 8, 8)
    >>> net = convert(model)
    >>> bool(np.allclose(net.forward(X.numpy()), model(X).detach().numpy(), atol=1e-5))
    True
    """
    return network.Network(_layers(model, ""))
