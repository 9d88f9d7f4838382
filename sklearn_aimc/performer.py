"""Numpy inference of a trained Performer classifier with its attention projections on the chip.

:class:`AnalogPerformer` runs the encoder classifier of
:mod:`sklearn_aimc.torch.performer` (trained in PyTorch, exported with
:func:`~sklearn_aimc.torch.performer.export_weights`) in numpy, without
PyTorch.  Each layer's FAVOR+ attention is an
:class:`~sklearn_aimc.AnalogKernelAttention` whose projection is programmed
on a simulated crossbar (``device``); optionally every linear layer (query,
key, value, output, feed-forward and classifier weights) is programmed on
crossbars too (``linear_device``), biases added digitally.  Embeddings,
LayerNorm, GELU, the attention's digital part and pooling are digital.

A Performer is trained with projections redrawn periodically, so it does not
depend on one draw: :meth:`AnalogPerformer.program` draws one projection per
layer from ``random_state`` (the same draw for any ``device``, so float and
chip runs of one seed share it) and programs it.
"""

import numpy as np
from scipy.special import erf
from sklearn.utils import check_random_state

from .attention import AnalogKernelAttention, softmax_attention
from .crossbar import check_device

__all__ = ["AnalogPerformer", "load_weights", "save_weights"]

#: torch.nn.LayerNorm's default epsilon.
LAYER_NORM_EPS = 1e-5
_LINEAR_NAMES = ("query", "key", "value", "output", "ffn1", "ffn2")


def _layer_norm(x, weight, bias):
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(variance + x.dtype.type(LAYER_NORM_EPS)) * weight + bias


def _gelu(x):
    return x * x.dtype.type(0.5) * (1 + erf(x * x.dtype.type(1 / np.sqrt(2))))


class AnalogPerformer:
    """A trained Performer (or Transformer) classifier, run in numpy with analog attention projections.

    Parameters
    ----------
    weights : dict
        From :func:`sklearn_aimc.torch.performer.export_weights`.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Where the FAVOR+ projections run (ignored by a softmax model, whose
        attention is exact and digital).
    linear_device : {"hermes", "ideal"} or AnalogCrossbar or None, default=None
        Where the linear layers run; None computes them exactly in numpy.
    random_state : int, RandomState instance or None, default=None
        Seeds the projections and every simulated chip.

    Attributes
    ----------
    attentions_ : list of AnalogKernelAttention
        One per layer (FAVOR+ models), after :meth:`program`.
    linears_ : dict
        ``(layer, name) -> ProgrammedCrossbar`` (``layer`` is None for the
        classifier) when ``linear_device`` is set.

    Examples
    --------
    See :mod:`sklearn_aimc.experiments.listops`.
    """

    def __init__(self, weights, *, device="hermes", linear_device=None, random_state=None):
        self.weights = weights
        self.device = device
        self.linear_device = linear_device
        self.random_state = random_state

    @property
    def _favor(self):
        return self.weights["config"]["n_projections"] > 0

    def program(self, tokens):
        """Draw the projections and program the chips, calibrated on ``tokens``.

        A float forward pass over these sequences calibrates the converters:
        each layer's queries and keys (of the real tokens) calibrate its
        attention chip, the inputs of each linear layer its crossbar.  In
        that pass every attention is the float FAVOR+ of the same projection.

        Parameters
        ----------
        tokens : ndarray of int of shape (n_samples, L)
            Padded token sequences (padding id 0), e.g. a few hundred
            training samples.

        Returns
        -------
        self : AnalogPerformer
        """
        tokens = self._check_tokens(tokens)
        rng = check_random_state(self.random_state)
        n_chips = len(self.weights["layers"]) * (1 + len(_LINEAR_NAMES)) + 1
        self._seeds = iter(rng.randint(np.iinfo(np.int32).max, size=n_chips).tolist())
        self.attentions_, self.linears_ = [], {}
        self._forward(tokens, programming=True)
        del self._seeds
        self._programmed = True
        return self

    def decision_function(self, tokens, *, batch_size=256):
        """Class scores of padded token sequences, in batches of ``batch_size`` sequences.

        Parameters
        ----------
        tokens : ndarray of int of shape (n_samples, L)
        batch_size : int, default=256

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), float32
        """
        if not getattr(self, "_programmed", False):
            raise ValueError("AnalogPerformer is not programmed yet: call program(tokens) first.")
        tokens = self._check_tokens(tokens)
        return np.concatenate([self._forward(tokens[start:start + batch_size])
                               for start in range(0, len(tokens), batch_size)])

    def predict(self, tokens, *, batch_size=256):
        """Predicted classes of padded token sequences.

        Parameters
        ----------
        tokens : ndarray of int of shape (n_samples, L)
        batch_size : int, default=256

        Returns
        -------
        classes : ndarray of int of shape (n_samples,)
        """
        return np.argmax(self.decision_function(tokens, batch_size=batch_size), axis=1)

    def _check_tokens(self, tokens):
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.dtype.kind not in "iu" or tokens.size == 0:
            raise ValueError(f"tokens must be a non-empty 2D integer array (padded sequences), got "
                             f"{tokens.dtype} of shape {tokens.shape}.")
        config = self.weights["config"]
        if tokens.shape[1] > config["max_length"] or tokens.min() < 0 or tokens.max() >= config["vocab_size"]:
            raise ValueError(f"tokens must be ids in [0, {config['vocab_size']}) of sequences of at most "
                             f"{config['max_length']} positions.")
        if not np.all(tokens[:, 0] != 0):
            raise ValueError("every sequence needs at least one token (left-aligned, padding id 0).")
        return tokens

    def _linear(self, key, x, programming):
        layer, name = key
        W, b = self.weights["classifier"] if layer is None else self.weights["layers"][layer][name]
        rows = x.reshape(-1, x.shape[-1])
        if programming and self.linear_device is not None:
            self.linears_[key] = check_device(self.linear_device).program(
                W, calibration_inputs=rows, random_state=next(self._seeds))
        if not programming and key in self.linears_:
            y = self.linears_[key].matmul(rows)
        else:
            y = rows @ W
        y += b
        return y.reshape(*x.shape[:-1], W.shape[1])

    def _attention(self, layer, Q, K, V, mask, programming):
        if not self._favor:
            return softmax_attention(Q, K, V, mask=mask[:, None, :])
        if not programming:
            return self.attentions_[layer].attend(Q, K, V, mask=mask[:, None, :])
        kept = np.broadcast_to(mask[:, None, :], Q.shape[:3])
        rows = np.concatenate([Q[kept], K[kept]])
        config, seed = self.weights["config"], next(self._seeds)

        def fitted(device):  # the same seed draws the same projection on any device
            attention = AnalogKernelAttention(config["n_projections"], sampling=config["sampling"],
                                              device=device, random_state=seed)
            return attention.fit(rows)

        self.attentions_.append(fitted(self.device))
        return fitted("ideal").attend(Q, K, V, mask=mask[:, None, :])

    def _forward(self, tokens, programming=False):
        n_heads = self.weights["config"]["n_heads"]
        mask = tokens != 0
        n, length = tokens.shape
        x = self.weights["token_embedding"][tokens] + self.weights["position_embedding"][:length]
        for i, layer in enumerate(self.weights["layers"]):
            h = _layer_norm(x, *layer["norm1"])
            Q, K, V = (self._linear((i, name), h, programming).reshape(n, length, n_heads, -1).transpose(0, 2, 1, 3)
                       for name in ("query", "key", "value"))
            A = self._attention(i, Q, K, V, mask, programming)
            A = A.transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = x + self._linear((i, "output"), A, programming)
            h = _layer_norm(x, *layer["norm2"])
            x = x + self._linear((i, "ffn2"), _gelu(self._linear((i, "ffn1"), h, programming)), programming)
        x = _layer_norm(x, *self.weights["norm"])
        weights = mask[..., None].astype(x.dtype)
        pooled = (x * weights).sum(axis=1) / weights.sum(axis=1)
        return self._linear((None, "classifier"), pooled, programming)


def save_weights(path, weights):
    """Save exported weights (:func:`~sklearn_aimc.torch.performer.export_weights`) to an ``.npz`` file.

    Parameters
    ----------
    path : path-like
    weights : dict
    """
    import json

    arrays = {"token_embedding": weights["token_embedding"], "position_embedding": weights["position_embedding"]}
    for name in ("norm", "classifier"):
        arrays[f"{name}.0"], arrays[f"{name}.1"] = weights[name]
    for i, layer in enumerate(weights["layers"]):
        for name, value in layer.items():
            if isinstance(value, tuple):
                for j, part in enumerate(value):
                    arrays[f"layers.{i}.{name}.{j}"] = part
            else:
                arrays[f"layers.{i}.{name}"] = value
    np.savez_compressed(path, config=np.array(json.dumps(weights["config"])), **arrays)


def load_weights(path):
    """Weights saved by :func:`save_weights`, as :func:`~sklearn_aimc.torch.performer.export_weights` returns them.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    weights : dict
    """
    import json

    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    config = json.loads(arrays.pop("config").item())
    weights = {"config": config, "token_embedding": arrays["token_embedding"],
               "position_embedding": arrays["position_embedding"],
               "norm": (arrays["norm.0"], arrays["norm.1"]),
               "classifier": (arrays["classifier.0"], arrays["classifier.1"]), "layers": []}
    for i in range(config["n_layers"]):
        prefix = f"layers.{i}."
        layer = {}
        for key in sorted(k for k in arrays if k.startswith(prefix)):
            name, *part = key[len(prefix):].split(".")
            if part:
                layer[name] = layer.get(name, ()) + (arrays[key],)
            else:
                layer[name] = arrays[key]
        weights["layers"].append(layer)
    return weights
