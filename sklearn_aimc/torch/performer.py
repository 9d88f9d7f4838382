"""A small Performer / Transformer encoder classifier in PyTorch, for training in software.

The model of the Long-Range-Arena experiments of Büchel et al. (2024): token
and learned position embeddings, pre-LayerNorm encoder layers (multi-head
attention, then a GELU feed-forward block, each with a residual connection),
a final LayerNorm, mean pooling over the real (unpadded) tokens and a linear
classifier.  Attention is FAVOR+ (Choromanski et al. 2021) with the features
of :class:`~sklearn_aimc.AnalogSoftmaxFeatures` (antithetic pairs,
orthogonal projections of ``d^(-1/4)``-scaled heads, the Performer
stabilisers), one projection per layer shared by its heads and redrawn with
:meth:`PerformerClassifier.redraw_projections` during training; or exact
softmax attention (the baseline Transformer).

Trained weights go to numpy with :func:`export_weights`;
:mod:`sklearn_aimc.performer` runs the same model in numpy with the
projections on the simulated chip.
"""

import math

import numpy as np
import torch
from torch import nn

from .._projections import sample_projection

__all__ = ["PAPER_HARDWARE_NOISE", "PerformerClassifier", "export_weights", "favor_features", "noisy_projection"]


#: Hardware-aware training noise of the paper's LRA models (Büchel et al. 2024):
#: Gaussian weight noise of 0.12 max|W| (per column), output noise 0.1 (in units
#: of the full-scale input times max|W|), 8-bit inputs.
PAPER_HARDWARE_NOISE = {"weight": 0.12, "output": 0.1, "input_bits": 8}


def noisy_projection(x, projection, noise, generator=None):
    """``x @ W`` as a crossbar would compute it, for hardware-aware training.

    Inputs are quantised to ``noise["input_bits"]`` signed bits over the
    batch's largest magnitude (straight-through gradient), the weights get
    fresh Gaussian noise of ``noise["weight"]`` times each column's
    ``max|W|`` and the outputs Gaussian noise of ``noise["output"]`` times
    the full-scale input times ``max|W|``, redrawn at every call.

    Parameters
    ----------
    x : Tensor of shape (..., d)
    projection : Tensor of shape (d, s)
    noise : dict
        ``weight``, ``output`` and ``input_bits`` (None: no quantisation).
    generator : torch.Generator, default=None
        Source of the noise (None: torch's global generator).

    Returns
    -------
    projected : Tensor of shape (..., s)
    """
    w_max = projection.abs().amax(dim=0)
    full_scale = x.detach().abs().amax().clamp_min(1e-12)
    if noise.get("input_bits"):
        step = full_scale / (2 ** (noise["input_bits"] - 1) - 1)
        x = x + (torch.round(x / step) * step - x).detach()
    weights = projection + _normal(projection, generator) * (noise["weight"] * w_max)
    projected = x @ weights
    return projected + _normal(projected, generator) * (noise["output"] * full_scale * w_max)


def _normal(like, generator):
    """Standard normal samples of the shape, dtype and device of ``like``."""
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


def favor_features(x, projection, is_query, mask=None, noise=None, generator=None):
    """FAVOR+ features of heads ``x`` (already pre-scaled), stabilised as in Performer.

    ``phi(x) = exp([W^T x, -W^T x] - ||x||^2 / 2)``, less the row maximum for
    queries and the maximum over a sequence's kept keys for keys (factors that
    cancel in the normalisation; the constant ``(2 s)^(-1/2)`` cancels too and
    is left out).  The stabilisers are detached: they carry no gradient.

    Parameters
    ----------
    x : Tensor of shape (B, H, L, d)
    projection : Tensor of shape (d, s)
    is_query : bool
    mask : Tensor of bool of shape (B, L), optional
        Kept keys (keys only).
    noise : dict, optional
        Hardware-aware training: the projection is :func:`noisy_projection`.
    generator : torch.Generator, optional
        Source of that noise.

    Returns
    -------
    features : Tensor of shape (B, H, L, 2 s)
    """
    projected = x @ projection if noise is None else noisy_projection(x, projection, noise, generator)
    half_norm = 0.5 * (x * x).sum(dim=-1, keepdim=True)
    exponents = torch.cat([projected - half_norm, -projected - half_norm], dim=-1)
    if is_query:
        stabiliser = exponents.amax(dim=-1, keepdim=True)
    else:
        if mask is not None:
            exponents = exponents.masked_fill(~mask[:, None, :, None], -math.inf)
        stabiliser = exponents.amax(dim=(-2, -1), keepdim=True)
    return torch.exp(exponents - stabiliser.detach())


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, FAVOR+ (``n_projections`` > 0) or exact softmax."""

    def __init__(self, dim, n_heads, n_projections):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim={dim} is not a multiple of n_heads={n_heads}.")
        self.n_heads, self.head_dim, self.n_projections = n_heads, dim // n_heads, n_projections
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.output = nn.Linear(dim, dim)
        self.hardware_noise = self.noise_generator = None
        if n_projections:
            self.register_buffer("projection", torch.zeros(self.head_dim, n_projections))

    def _heads(self, x):
        B, L, _ = x.shape
        return x.view(B, L, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask):
        Q, K, V = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        if self.n_projections:
            scale = self.head_dim ** -0.25
            noise = self.hardware_noise if self.training else None
            Qf = favor_features(Q * scale, self.projection, True, noise=noise, generator=self.noise_generator)
            Kf = favor_features(K * scale, self.projection, False, mask, noise=noise, generator=self.noise_generator)
            Kf = Kf * mask[:, None, :, None]
            context = Qf @ (Kf.transpose(-2, -1) @ V)
            normaliser = Qf @ Kf.sum(dim=-2, keepdim=True).transpose(-2, -1)
            out = context / normaliser
        else:
            scores = (Q @ K.transpose(-2, -1)) / math.sqrt(self.head_dim)
            scores = scores.masked_fill(~mask[:, None, None, :], -math.inf)
            out = torch.softmax(scores, dim=-1) @ V
        B, _, L, _ = out.shape
        return self.output(out.transpose(1, 2).reshape(B, L, -1))


class EncoderLayer(nn.Module):
    """Pre-LayerNorm encoder layer: attention and a GELU feed-forward block, residual."""

    def __init__(self, dim, n_heads, ffn_dim, n_projections):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, n_heads, n_projections)
        self.ffn1, self.ffn2 = nn.Linear(dim, ffn_dim), nn.Linear(ffn_dim, dim)

    def forward(self, x, mask):
        x = x + self.attention(self.norm1(x), mask)
        return x + self.ffn2(nn.functional.gelu(self.ffn1(self.norm2(x))))


class PerformerClassifier(nn.Module):
    """Encoder classifier of token sequences (padding id 0), Performer or Transformer.

    Parameters
    ----------
    vocab_size : int
    max_length : int
        Longest sequence (size of the learned position embedding).
    n_classes : int
    dim : int, default=64
        Embedding size (paper's LRA model: 64).
    n_heads : int, default=2
    ffn_dim : int, default=128
    n_layers : int, default=2
    n_projections : int, default=128
        FAVOR+ projections per layer (256 features); 0 gives exact softmax
        attention (the baseline Transformer).
    sampling : {"orf", "sorf", "rff"}, default="orf"
        How :meth:`redraw_projections` draws the projections.
    random_state : int, default=0
        Seeds the initial weights (torch) and the first projections (numpy).

    Examples
    --------
    >>> import torch
    >>> from sklearn_aimc.torch.performer import PerformerClassifier
    >>> model = PerformerClassifier(vocab_size=16, max_length=20, n_classes=10)
    >>> tokens = torch.randint(1, 16, (3, 20))
    >>> model(tokens).shape
    torch.Size([3, 10])
    """

    def __init__(self, vocab_size, max_length, n_classes, *, dim=64, n_heads=2, ffn_dim=128, n_layers=2,
                 n_projections=128, sampling="orf", random_state=0):
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(random_state)
        self.config = dict(vocab_size=vocab_size, max_length=max_length, n_classes=n_classes, dim=dim,
                           n_heads=n_heads, ffn_dim=ffn_dim, n_layers=n_layers, n_projections=n_projections,
                           sampling=sampling)
        self.token_embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_length, dim)
        self.layers = nn.ModuleList(EncoderLayer(dim, n_heads, ffn_dim, n_projections) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, n_classes)
        torch.random.set_rng_state(generator_state)
        self._rng = np.random.default_rng(random_state)
        self.redraw_projections()

    def redraw_projections(self, rng=None):
        """Draw fresh FAVOR+ projections (one per layer), as Performer does during training.

        Parameters
        ----------
        rng : numpy.random.Generator, default=None
            The model's own generator when None.
        """
        rng = self._rng if rng is None else rng
        for layer in self.layers:
            attention = layer.attention
            if attention.n_projections:
                W = sample_projection(attention.head_dim, attention.n_projections,
                                      sampling=self.config["sampling"], random_state=rng)
                attention.projection.copy_(torch.from_numpy(W).to(attention.projection.dtype))

    def set_hardware_noise(self, noise=PAPER_HARDWARE_NOISE, random_state=0):
        """Train with the FAVOR+ projections computed as on a noisy crossbar (or not: None).

        Only in training mode; evaluation stays exact.  See :func:`noisy_projection`.

        Parameters
        ----------
        noise : dict or None, default=PAPER_HARDWARE_NOISE
        random_state : int, default=0
            Seeds the noise (one generator for all layers), so that
            hardware-aware training is reproducible.

        Returns
        -------
        self : PerformerClassifier
        """
        generator = None if noise is None else torch.Generator().manual_seed(int(random_state))
        for layer in self.layers:
            layer.attention.hardware_noise = None if noise is None else dict(noise)
            layer.attention.noise_generator = generator
        return self

    @classmethod
    def from_weights(cls, weights):
        """A model holding exported weights (:func:`export_weights`), e.g. to fine-tune them.

        Parameters
        ----------
        weights : dict

        Returns
        -------
        model : PerformerClassifier
        """
        config = dict(weights["config"])
        model = cls(config.pop("vocab_size"), config.pop("max_length"), config.pop("n_classes"), **config)

        def load(module, pair, transpose):
            module.weight.data.copy_(torch.from_numpy(pair[0].T if transpose else pair[0]))
            module.bias.data.copy_(torch.from_numpy(pair[1]))

        with torch.no_grad():
            model.token_embedding.weight.copy_(torch.from_numpy(weights["token_embedding"]))
            model.position_embedding.weight.copy_(torch.from_numpy(weights["position_embedding"]))
            load(model.norm, weights["norm"], False)
            load(model.classifier, weights["classifier"], True)
            for layer, entry in zip(model.layers, weights["layers"]):
                load(layer.norm1, entry["norm1"], False)
                load(layer.norm2, entry["norm2"], False)
                for name in ("query", "key", "value", "output"):
                    load(getattr(layer.attention, name), entry[name], True)
                load(layer.ffn1, entry["ffn1"], True)
                load(layer.ffn2, entry["ffn2"], True)
                if "projection" in entry:
                    layer.attention.projection.copy_(torch.from_numpy(entry["projection"]))
        return model

    def forward(self, tokens):
        """Class scores (logits) of a batch of padded token sequences.

        Parameters
        ----------
        tokens : torch.Tensor of int64 of shape (B, L)
            Token ids, 0 for padding.

        Returns
        -------
        logits : torch.Tensor of shape (B, n_classes)
        """
        mask = tokens != 0
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        for layer in self.layers:
            x = layer(x, mask)
        x = self.norm(x)
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1)
        return self.classifier(pooled)


def export_weights(model):
    """The weights of a :class:`PerformerClassifier` as numpy arrays, for numpy inference.

    Linear weights are transposed to ``(in, out)`` (``y = x @ W + b``).

    Parameters
    ----------
    model : PerformerClassifier

    Returns
    -------
    weights : dict
        ``config`` (the model's settings) and float32 arrays: ``token_embedding``,
        ``position_embedding``, ``norm`` (weight, bias), ``classifier``
        (W, b), and per layer ``layers[i]`` a dict of ``norm1``, ``norm2``
        (weight, bias), ``query``, ``key``, ``value``, ``output``, ``ffn1``,
        ``ffn2`` (W, b) and ``projection`` (d, s) when FAVOR+.
    """

    def array(tensor):
        return tensor.detach().cpu().numpy().astype(np.float32)

    def linear(module):
        return array(module.weight).T.copy(), array(module.bias)

    def norm(module):
        return array(module.weight), array(module.bias)

    layers = []
    for layer in model.layers:
        attention = layer.attention
        entry = dict(norm1=norm(layer.norm1), norm2=norm(layer.norm2), query=linear(attention.query),
                     key=linear(attention.key), value=linear(attention.value), output=linear(attention.output),
                     ffn1=linear(layer.ffn1), ffn2=linear(layer.ffn2))
        if attention.n_projections:
            entry["projection"] = array(attention.projection)
        layers.append(entry)
    return dict(config=dict(model.config), token_embedding=array(model.token_embedding.weight),
                position_embedding=array(model.position_embedding.weight), norm=norm(model.norm),
                classifier=linear(model.classifier), layers=layers)
