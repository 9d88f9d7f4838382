"""MAML meta-training of the few-shot network of Ortner et al. (Nat. Commun. 2025), in PyTorch.

The network (the paper's public code, see ``hardware-model.md`` section 5a):
four convolutions of 3x3 kernels, stride 2, padding 1 and no bias, each
followed by a ReLU and a batch normalisation with the statistics of the batch
at hand and no affine parameters (the paper's layers normalise with batch
statistics in meta-training and at test time; without an affine part the
normalisation is parameter-free and runs unchanged in numpy next to the chip),
a global max-pool and a dense readout without bias.

MAML (Finn et al., ICML 2017) with the inner loop on the readout only (the
paper's setting: 4 inner steps at learning rate 0.1, outer Adam at 1e-3).  As
the convolutions do not change in the inner loop, the features of a task are
computed once and the inner loop is a few steps of multinomial logistic
regression on them; differentiating through it (second-order MAML, the
paper's choice and the default here) costs little more than the first-order
approximation, which drops the second derivatives.

The batch normalisation is over each task's support set and, separately, its
query set (the statistics of the batch a layer sees), vectorised over the
tasks of a meta-batch.  The readout is kept in the chip's weight range
[-1, 1] after every outer step.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..few_shot import _BN_EPS, _WEIGHT_RANGE
from ..glyphs import sample_episode

__all__ = ["FewShotNet", "adapt_readout", "export_weights", "maml_adapt", "meta_train"]

#: Paper settings (Ortner et al. 2025, public code; hardware-model.md section 5a).
PAPER_SETTINGS = {"n_inner_steps": 4, "inner_lr": 0.1, "outer_lr": 1e-3, "channels": 56, "n_layers": 4}


def batch_norm_groups(x):
    """Normalise ``(groups, n, C, H, W)`` over each group's samples and pixels, per channel (no affine)."""
    mean = x.mean(dim=(1, 3, 4), keepdim=True)
    var = x.var(dim=(1, 3, 4), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + _BN_EPS)


class FewShotNet(nn.Module):
    """The paper's few-shot network; the readout is a plain ``(channels, n_ways)`` parameter.

    Parameters
    ----------
    in_channels : int
    channels : int, default=56
        Filters of every convolution (the paper used 56-64).
    n_ways : int, default=5
    n_layers : int, default=4
    generator : torch.Generator, default=None
        Seeds the initial weights.
    """

    def __init__(self, in_channels, channels=56, n_ways=5, n_layers=4, generator=None):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else channels, channels, 3, stride=2, padding=1, bias=False)
            for i in range(n_layers)
        )
        with torch.no_grad():
            for conv in self.convs:
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * np.sqrt(2.0 / fan_in))
        self.readout = nn.Parameter(torch.zeros(channels, n_ways))

    def features(self, images):
        """Max-pooled features of grouped images, batch statistics per group.

        Parameters
        ----------
        images : tensor of shape (groups, n, C, H, W)

        Returns
        -------
        features : tensor of shape (groups, n, channels)
        """
        groups, n = images.shape[:2]
        x = images.reshape(groups * n, *images.shape[2:])
        for conv in self.convs:
            x = F.relu(conv(x))
            x = batch_norm_groups(x.reshape(groups, n, *x.shape[1:])).reshape(groups * n, *x.shape[1:])
        return x.amax(dim=(2, 3)).reshape(groups, n, -1)


def adapt_readout(features, labels, readout, n_inner_steps, inner_lr, create_graph):
    """Inner loop: ``n_inner_steps`` gradient steps of the mean cross-entropy on the readout, per task.

    Parameters
    ----------
    features : tensor of shape (tasks, n, F)
    labels : tensor of shape (tasks, n), int64
    readout : tensor of shape (F, n_ways)
        The initial readout, shared by the tasks.
    n_inner_steps : int
    inner_lr : float
    create_graph : bool
        Keep the graph of the steps (second-order MAML).

    Returns
    -------
    readouts : tensor of shape (tasks, F, n_ways)
    """
    weights = readout.expand(features.shape[0], *readout.shape)
    for _ in range(n_inner_steps):
        logits = torch.bmm(features, weights)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum") / labels.shape[1]
        (grad,) = torch.autograd.grad(loss, weights, create_graph=create_graph)
        weights = weights - inner_lr * grad
    return weights


def _episode_batch(images, y, n_tasks, n_ways, n_shots, n_queries, rng):
    support, query, support_labels, query_labels = [], [], [], []
    for _ in range(n_tasks):
        s, q = sample_episode(y, n_ways, n_shots, n_queries, random_state=rng)
        support.append(images[s])
        query.append(images[q])
        support_labels.append(np.repeat(np.arange(n_ways), n_shots))
        query_labels.append(np.repeat(np.arange(n_ways), n_queries))
    as_tensor = torch.from_numpy
    return (
        as_tensor(np.stack(support)), as_tensor(np.stack(support_labels)),
        as_tensor(np.stack(query)), as_tensor(np.stack(query_labels)),
    )


def as_image_batch(X, dtype=np.float32):
    """``(n, H, W)`` or ``(n, C, H, W)`` images as ``(n, C, H, W)`` of ``dtype``."""
    X = np.asarray(X, dtype=dtype)
    return X[:, None] if X.ndim == 3 else X


def meta_train(
    X,
    y,
    *,
    n_ways=5,
    n_shots=5,
    n_queries=5,
    channels=56,
    n_inner_steps=4,
    inner_lr=0.1,
    outer_lr=1e-3,
    meta_iterations=1000,
    meta_batch_size=16,
    first_order=False,
    random_state=0,
    callback=None,
):
    """Meta-train the few-shot network with MAML on episodes of the classes of ``(X, y)``.

    Parameters
    ----------
    X : ndarray of shape (n, H, W) or (n, C, H, W)
    y : ndarray of shape (n,)
    n_ways, n_shots, n_queries : int
        Episode sizes (the paper: 5-way 5-shot, 5 queries per class).
    channels : int, default=56
    n_inner_steps : int, default=4
    inner_lr : float, default=0.1
    outer_lr : float, default=1e-3
    meta_iterations : int, default=1000
        Outer steps (the paper: 30 000).
    meta_batch_size : int, default=16
        Tasks per outer step (the paper: 32-40).
    first_order : bool, default=False
        First-order MAML instead of second-order.
    random_state : int, default=0
        Seeds the initial weights and the episodes.
    callback : callable, default=None
        Called as ``callback(iteration, query_loss)`` after every outer step.

    Returns
    -------
    weights : dict
        ``"convs"``: list of float64 arrays ``(channels, C, 3, 3)``;
        ``"readout"``: ``(channels, n_ways)`` in [-1, 1].
    history : ndarray of shape (meta_iterations,)
        Mean query loss (after adaptation) of every outer step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.torch.few_shot import meta_train
    >>> X = np.random.default_rng(0).random((40, 8, 8)); y = np.repeat(np.arange(4), 10)
    >>> weights, history = meta_train(X, y, n_ways=2, n_shots=2, n_queries=2, channels=4, meta_iterations=2)
    >>> weights["readout"].shape, len(weights["convs"]), history.shape
    ((4, 2), 4, (2,))
    """
    images = as_image_batch(X)
    y = np.asarray(y)
    rng = np.random.RandomState(random_state)
    generator = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
    net = FewShotNet(images.shape[1], channels=channels, n_ways=n_ways, generator=generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=outer_lr)
    history = np.empty(int(meta_iterations))
    for iteration in range(int(meta_iterations)):
        support, support_labels, query, query_labels = _episode_batch(
            images, y, meta_batch_size, n_ways, n_shots, n_queries, rng
        )
        readouts = adapt_readout(
            net.features(support), support_labels, net.readout, n_inner_steps, inner_lr, not first_order
        )
        logits = torch.bmm(net.features(query), readouts)
        loss = F.cross_entropy(logits.flatten(0, 1), query_labels.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            net.readout.clamp_(-_WEIGHT_RANGE, _WEIGHT_RANGE)
        history[iteration] = loss.item()
        if callback is not None:
            callback(iteration, history[iteration])
    return export_weights(net), history


def export_weights(net):
    """The network's weights as float64 numpy arrays.

    Parameters
    ----------
    net : FewShotNet

    Returns
    -------
    weights : dict
        ``"convs"`` and ``"readout"``, as returned by :func:`meta_train`.
    """
    return {
        "convs": [conv.weight.detach().double().numpy().copy() for conv in net.convs],
        "readout": net.readout.detach().double().numpy().copy(),
    }


def _net_from_weights(weights):
    convs = weights["convs"]
    net = FewShotNet(convs[0].shape[1], channels=convs[0].shape[0], n_ways=weights["readout"].shape[1],
                     n_layers=len(convs)).double()
    with torch.no_grad():
        for conv, W in zip(net.convs, convs):
            conv.weight.copy_(torch.from_numpy(np.asarray(W, dtype=np.float64)))
        net.readout.copy_(torch.from_numpy(np.asarray(weights["readout"], dtype=np.float64)))
    return net


def maml_adapt(weights, X_support, y_support, n_inner_steps=4, inner_lr=0.1, X_query=None):
    """Plain MAML adaptation of one task in torch (float64), the reference of the chip's adaptation.

    Parameters
    ----------
    weights : dict
        As returned by :func:`meta_train`.
    X_support : ndarray of shape (n, H, W) or (n, C, H, W)
    y_support : ndarray of int of shape (n,)
        Class indices ``0 ... n_ways - 1``.
    n_inner_steps : int, default=4
    inner_lr : float, default=0.1
    X_query : ndarray, default=None
        Query images whose logits to return as well.

    Returns
    -------
    readout : ndarray of shape (channels, n_ways)
    query_logits : ndarray of shape (n_query, n_ways), only when ``X_query`` is given
    """
    net = _net_from_weights(weights)
    support = torch.from_numpy(as_image_batch(X_support, np.float64))[None]
    labels = torch.from_numpy(np.asarray(y_support, dtype=np.int64))[None]
    readout = adapt_readout(net.features(support).detach(), labels, net.readout.detach().requires_grad_(),
                            n_inner_steps, inner_lr, create_graph=False)[0].detach()
    if X_query is None:
        return readout.numpy()
    query = torch.from_numpy(as_image_batch(X_query, np.float64))[None]
    with torch.no_grad():
        logits = net.features(query)[0] @ readout
    return readout.numpy(), logits.numpy()
