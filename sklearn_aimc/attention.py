"""Kernelized attention whose random projection runs on a PCM crossbar.

Softmax attention ``A = softmax(Q K^T / sqrt(d)) V`` costs ``O(L^2)`` in the
sequence length ``L``.  Kernelized (linear) attention replaces the softmax
kernel ``exp(q . k / sqrt(d))`` by an inner product of random features,
``phi(q) . phi(k)``, and reorders the products (Choromanski et al. 2021):

    A_hat = D^-1 Q' (K'^T V),   D = diag(Q' (K'^T 1)),

with ``Q' = phi(Q / d^(1/4))`` and ``K' = phi(K / d^(1/4))``: time and memory
linear in ``L``.  The random projection ``W^T x`` inside ``phi`` runs on the
simulated crossbar, as in the attention experiments of Büchel et al. (2024);
the ``d^(-1/4)`` pre-scale, the norms, the exponentials, the normalisation
``D^-1`` and both products are digital.

:func:`softmax_attention` is the exact reference; :class:`AnalogKernelAttention`
the approximation.  Its FAVOR+ features are those of
:class:`~sklearn_aimc.AnalogSoftmaxFeatures` and its ReLU features those of
:class:`~sklearn_aimc.AnalogArcCosineFeatures` of order 1: the package has one
implementation of each feature map and of the crossbar read.
"""

import contextlib
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ._device_param import DeviceParamMixin
from ._projections import SAMPLINGS
from .crossbar import AnalogCrossbar
from .kernel_approx import AnalogArcCosineFeatures, AnalogSoftmaxFeatures

__all__ = ["FEATURE_MAPS", "AnalogKernelAttention", "softmax_attention"]

#: Feature maps of :class:`AnalogKernelAttention`.
FEATURE_MAPS = ("favor+", "relu")
#: Added to every ReLU feature so that the normaliser ``D`` stays positive: the
#: ``numerical_stabilizer=0.001`` of the ReLU kernel in the Performer code of
#: Choromanski et al. (2021, google-research/performer, fast_attention).
RELU_STABILIZER = 1e-3
# Positions per chunk of the causal prefix sums: the quadratic part of a chunk
# costs about as much per token as the prefix-sum products for 64 positions
# against 2 * 128 features, and its (chunk x chunk) scores stay in cache.
_CAUSAL_CHUNK = 64
# Logits held at once by softmax_attention (32 MiB of float64).
_SOFTMAX_BLOCK_ELEMENTS = 1 << 22


def _check_attention_inputs(Q, K, V, mask, causal, n_features=None):
    """Validate Q, K, V (and a key mask) of shapes (..., L, d); return them in one dtype.

    Returns ``Q, K, V`` as arrays of shape ``(n_batch, L, .)`` of a common
    float dtype (float32 when all three are float32), the mask as a boolean
    ``(n_batch, L_k)`` array or None, and the batch shape.
    """
    arrays = {}
    for name, value in (("Q", Q), ("K", K), ("V", V)):
        arrays[name] = check_array(
            value, dtype=[np.float64, np.float32], allow_nd=True, ensure_min_samples=1,
            ensure_min_features=1, input_name=name,
        )
    Q, K, V = arrays["Q"], arrays["K"], arrays["V"]
    if not Q.ndim == K.ndim == V.ndim:
        raise ValueError(
            f"Q, K and V must have the same number of dimensions (..., L, d); got shapes "
            f"{Q.shape}, {K.shape} and {V.shape}."
        )
    batch = Q.shape[:-2]
    if K.shape[:-2] != batch or V.shape[:-2] != batch:
        raise ValueError(
            f"Q, K and V must have the same batch shape; got {Q.shape[:-2]}, {K.shape[:-2]} and "
            f"{V.shape[:-2]} (shapes {Q.shape}, {K.shape}, {V.shape})."
        )
    if min(Q.shape[-2:] + K.shape[-2:] + V.shape[-1:]) == 0:
        raise ValueError(f"Q, K and V must not be empty; got shapes {Q.shape}, {K.shape}, {V.shape}.")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(
            f"Q and K must have the same head dimension d; got {Q.shape[-1]} and {K.shape[-1]}."
        )
    if n_features is not None and Q.shape[-1] != n_features:
        raise ValueError(
            f"Q and K have head dimension {Q.shape[-1]}, but AnalogKernelAttention was fitted with "
            f"{n_features} features."
        )
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(
            f"K and V must have the same number of keys L_k; got {K.shape[-2]} and {V.shape[-2]}."
        )
    if causal and Q.shape[-2] != K.shape[-2]:
        raise ValueError(
            f"Causal attention needs as many queries as keys; got L_q = {Q.shape[-2]} and "
            f"L_k = {K.shape[-2]}."
        )
    dtype = np.result_type(Q, K, V)
    n_batch = int(np.prod(batch, dtype=np.int64))
    Q, K, V = (np.asarray(a, dtype=dtype).reshape(n_batch, *a.shape[-2:]) for a in (Q, K, V))
    if mask is not None:
        mask = _check_mask(mask, batch + K.shape[-2:-1], causal).reshape(n_batch, K.shape[-2])
    return Q, K, V, mask, batch


def _check_mask(mask, shape, causal):
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True keeps a key), got dtype {mask.dtype}.")
    try:
        if mask.ndim == 0 or mask.shape[-1] != shape[-1]:
            raise ValueError
        mask = np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"mask must have the shape (..., L_k) = {shape} of the keys' batch and length, or one that "
            f"broadcasts to it with the same L_k; got {mask.shape}."
        ) from None
    visible = mask[..., 0] if causal else mask.any(axis=-1)
    if not np.all(visible):
        raise ValueError(
            "mask leaves a query without any key to attend to"
            + (" (causal attention: the first key of every sequence must be kept)." if causal else
               " (every key of a sequence is masked).")
        )
    return mask


def softmax_attention(Q, K, V, *, mask=None, causal=False):
    """Exact softmax attention ``softmax(Q K^T / sqrt(d)) V``, numerically stable.

    The reference of :class:`AnalogKernelAttention`.  Logits are shifted by
    their row maximum before exponentiating, and computed for blocks of
    queries, so memory stays at ``O(L_k)`` per query block; time is
    ``O(L_q L_k)``.

    Parameters
    ----------
    Q : array-like of shape (..., L_q, d)
        Queries of one head, or of a batch of sequences / heads.
    K : array-like of shape (..., L_k, d)
        Keys, with the same batch shape.
    V : array-like of shape (..., L_k, d_v)
        Values.
    mask : array-like of bool of shape (..., L_k), default=None
        Padding mask of the keys: True keeps a key, False leaves it out of
        every query's softmax.  Leading axes may broadcast against the batch
        shape (e.g. ``(n_sequences, 1, L_k)`` for all heads of a sequence).
        Every query must keep at least one key.
    causal : bool, default=False
        Query ``i`` attends to keys ``j <= i`` only (needs ``L_q == L_k``).

    Returns
    -------
    A : ndarray of shape (..., L_q, d_v)
        float32 when Q, K and V are float32, float64 otherwise.

    See Also
    --------
    AnalogKernelAttention : the linear-time approximation with the projection on the chip.

    References
    ----------
    .. [1] A. Vaswani et al., "Attention is all you need", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.attention import softmax_attention
    >>> Q = K = np.eye(2)
    >>> V = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> softmax_attention(Q, K, V, causal=True).round(3)
    array([[1.  , 0.  ],
           [0.33, 0.67]])
    """
    Q, K, V, mask, batch = _check_attention_inputs(Q, K, V, mask, causal)
    n_batch, n_queries, d = Q.shape
    n_keys = K.shape[1]
    scale = Q.dtype.type(1.0 / np.sqrt(d))
    K_T = K.swapaxes(1, 2)
    out = np.empty((n_batch, n_queries, V.shape[-1]), dtype=Q.dtype)
    block = max(1, _SOFTMAX_BLOCK_ELEMENTS // (n_batch * n_keys))
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        logits = np.matmul(Q[:, start:stop], K_T)
        logits *= scale
        if mask is not None:
            np.copyto(logits, -np.inf, where=~mask[:, None, :])
        if causal:
            np.copyto(logits, -np.inf, where=np.arange(n_keys) > np.arange(start, stop)[:, None])
        logits -= logits.max(axis=-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=-1, keepdims=True)
        np.matmul(logits, V, out=out[:, start:stop])
    return out.reshape(*batch, n_queries, V.shape[-1])


def _linear_attention(Q_features, K_features, V, causal):
    """``D^-1 Q' (K'^T V)`` with ``D = diag(Q' K'^T 1)``, for (n_batch, L, .) arrays.

    The normaliser rides along as an extra column of ones of ``V``, so one
    product gives numerator and denominator.  The causal variant keeps prefix
    sums of ``K'^T [V 1]`` over chunks of positions: within a chunk the
    masked scores ``tril(Q'_c K'_c^T)`` are formed explicitly, so memory is
    ``O(chunk^2 + m d_v)`` per sequence beyond the features.
    """
    n_batch, n_keys, d_v = V.shape
    V1 = np.empty((n_batch, n_keys, d_v + 1), dtype=V.dtype)
    V1[..., :d_v] = V
    V1[..., d_v] = 1
    # Many small products (one per sequence, or per chunk) gain nothing from
    # BLAS threads, whose synchronisation costs up to 50x the product itself
    # on a loaded machine (measured: a 64 x 256 x 64 float32 GEMM 14 ms with
    # two OpenBLAS threads, 0.26 ms with one); one large product keeps them.
    small = causal or n_batch > 1
    with threadpool_limits(limits=1, user_api="blas") if small else contextlib.nullcontext():
        numerator = _numerator(Q_features, K_features, V1, causal)
    denominator = numerator[..., d_v:]
    if not np.all(denominator > 0):
        raise FloatingPointError(
            "The attention normaliser underflowed to zero for some queries: the features of "
            "their keys are below the floating-point range (inputs of very large norm)."
        )
    return numerator[..., :d_v] / denominator


def _numerator(Q_features, K_features, V1, causal):
    """``Q' (K'^T [V 1])``, by chunked prefix sums when causal."""
    n_batch, n_keys, d_v1 = V1.shape
    if not causal:
        numerator = np.matmul(Q_features, np.matmul(K_features.swapaxes(1, 2), V1))
    else:
        numerator = np.empty((n_batch, n_keys, d_v1), dtype=V1.dtype)
        state = np.zeros((n_batch, K_features.shape[2], d_v1), dtype=V1.dtype)
        for start in range(0, n_keys, _CAUSAL_CHUNK):
            chunk = slice(start, min(start + _CAUSAL_CHUNK, n_keys))
            q, k, v = Q_features[:, chunk], K_features[:, chunk], V1[:, chunk]
            scores = np.tril(np.matmul(q, k.swapaxes(1, 2)))
            np.matmul(q, state, out=numerator[:, chunk])
            numerator[:, chunk] += np.matmul(scores, v)
            state += np.matmul(k.swapaxes(1, 2), v)
    return numerator


class AnalogKernelAttention(DeviceParamMixin, BaseEstimator):
    """Kernelized attention (Performer) with the random projection on a PCM crossbar.

    Approximates softmax attention ``softmax(Q K^T / sqrt(d)) V`` of one head
    by ``D^-1 Q' (K'^T V)`` with random features ``Q' = phi(Q / d^(1/4))``,
    ``K' = phi(K / d^(1/4))`` and ``D = diag(Q' K'^T 1)`` (Choromanski et al.
    2021), in time and memory linear in the sequence length.  :meth:`fit`
    draws the projection for the head dimension and programs it on the chip;
    :meth:`attend` reads queries and keys through it.  Only ``W^T x`` runs on
    the crossbar (``device``); the pre-scale, norms, exponentials, the
    normalisation and both products ``Q' (K'^T V)`` are digital, as in the
    attention experiments of Büchel et al. (2024).

    Feature maps:

    * ``"favor+"``: the positive random features of the softmax kernel,
      ``phi(x) = (2 s)^(-1/2) exp(-||x||^2 / 2) [exp(W^T x), exp(-W^T x)]``,
      computed by :class:`~sklearn_aimc.AnalogSoftmaxFeatures` (``2 s``
      features).  For numerical stability they are exponentiated from their
      logarithms (:meth:`AnalogSoftmaxFeatures.log_transform`) after
      subtracting a stabiliser, as the Performer code does: the maximum of
      each query's row (a positive factor per query, which cancels between
      the numerator and ``D`` of that query) and the maximum over all
      features of all kept keys of a sequence (one factor per sequence, which
      cancels in every query's ratio).  The output is therefore the FAVOR+
      estimate itself, without overflow for any input whose features are
      representable relative to their maximum.
    * ``"relu"``: the generalised-attention ReLU features of Performer,
      ``phi(x) = s^(-1/2) ReLU(W^T x) + 0.001`` (``s`` features), computed
      from :class:`~sklearn_aimc.AnalogArcCosineFeatures` of order 1 (whose
      features are ``sqrt(2 / s) ReLU(W^T x)``); the kernel is then not the
      softmax kernel but ``(arc-cosine kernel of order 1) / 2`` plus the
      stabiliser's terms.

    Parameters
    ----------
    n_components : int, default=128
        Number of random projections ``s`` (crossbar columns); FAVOR+ gives
        ``2 s`` features.  128 is the Performer setting of the paper's Long
        Range Arena models (head dimension 32).
    feature_map : {"favor+", "relu"}, default="favor+"
        The random feature map (see above).
    sampling : {"rff", "orf", "sorf"}, default="orf"
        How the Gaussian projections are drawn (FAVOR+ uses orthogonal ones).
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Where the projection runs: the simulated HERMES chip, the exact float
        product, or any crossbar configuration.  ``device__t_inference`` may
        change after :meth:`fit` (the same programmed chip is read at another
        time); any other change needs a new :meth:`fit`.
    causal : bool, default=False
        Query ``i`` attends to keys ``j <= i`` only, by prefix sums over
        chunks of 64 positions.  The key stabiliser is the maximum over the
        whole sequence: it cancels exactly in every output, so output ``i``
        depends on later keys only through rounding.
    random_state : int, RandomState instance or None, default=None
        Seeds the projection and the simulated chip.

    Attributes
    ----------
    feature_map_ : AnalogSoftmaxFeatures or AnalogArcCosineFeatures
        The fitted random-feature transformer (``random_weights_`` holds the
        projection).
    crossbar_ : ProgrammedCrossbar
        The programmed chip (the feature map's): its ``counters`` count the
        query and key vectors read.
    scale_ : float
        The pre-scale ``d^(-1/4)`` applied to queries and keys.
    n_features_in_ : int
        Head dimension ``d`` seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    softmax_attention : the exact (quadratic) attention.
    AnalogSoftmaxFeatures : the FAVOR+ features on their own.

    Notes
    -----
    ``fit`` takes queries and keys as :meth:`attend` does, not pre-scaled:
    both apply the pre-scale ``d^(-1/4)``, so the chip's converter ranges are
    calibrated on the pre-scaled vectors it reads at :meth:`attend`.  A few
    hundred rows of queries and keys of the head (e.g. ``np.vstack([Q, K])``
    of some sequences) are a good calibration sample.

    References
    ----------
    .. [1] K. Choromanski et al., "Rethinking attention with Performers",
       ICLR 2021.
    .. [2] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 6 (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogKernelAttention
    >>> from sklearn_aimc.attention import softmax_attention
    >>> rng = np.random.default_rng(0)
    >>> Q, K, V = rng.standard_normal((3, 200, 16)) / 2
    >>> attention = AnalogKernelAttention(n_components=256, random_state=0)
    >>> A_hat = attention.fit(np.vstack([Q, K])).attend(Q, K, V)
    >>> A = softmax_attention(Q, K, V)
    >>> A_hat.shape
    (200, 16)
    >>> bool(np.linalg.norm(A_hat - A) / np.linalg.norm(A) < 0.2)
    True
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "feature_map": [StrOptions(set(FEATURE_MAPS))],
        "sampling": [StrOptions(set(SAMPLINGS))],
        "device": [StrOptions({"hermes", "ideal"}), AnalogCrossbar],
        "causal": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=128,
        *,
        feature_map="favor+",
        sampling="orf",
        device="hermes",
        causal=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.feature_map = feature_map
        self.sampling = sampling
        self.device = device
        self.causal = causal
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the projection for head dimension ``d`` and program it on the chip.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Queries and keys of the head (rows), not pre-scaled: they are
            pre-scaled by ``d^(-1/4)`` as in :meth:`attend` and calibrate the
            crossbar's input and ADC ranges.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.scale_ = float(X.shape[1] ** -0.25)
        params = dict(n_components=self.n_components, sampling=self.sampling, device=self.device,
                      random_state=self.random_state)
        if self.feature_map == "favor+":
            feature_map = AnalogSoftmaxFeatures(**params)
        else:
            feature_map = AnalogArcCosineFeatures(order=1, **params)
        self.feature_map_ = feature_map.fit(X * X.dtype.type(self.scale_))
        self.crossbar_ = self.feature_map_.crossbar_
        return self

    def attend(self, Q, K, V, mask=None):
        """Attention output of queries ``Q`` over keys ``K`` and values ``V``.

        Queries and keys are pre-scaled by ``d^(-1/4)`` and read through the
        crossbar in one batch (each vector once: ``crossbar_.counters``
        grows by the number of query and key vectors); the rest is digital.

        Parameters
        ----------
        Q : array-like of shape (..., L_q, d)
            Queries of one head, or of a batch of sequences (leading axes).
        K : array-like of shape (..., L_k, d)
            Keys, with the same batch shape.
        V : array-like of shape (..., L_k, d_v)
            Values.
        mask : array-like of bool of shape (..., L_k), default=None
            Padding mask of the keys: True keeps a key, False leaves it out
            (its features are zeroed and it takes no part in the key
            stabiliser).  Leading axes may broadcast against the batch shape
            (e.g. ``(n_sequences, 1, L_k)`` for all heads of a sequence).
            Every query must keep at least one key.

        Returns
        -------
        A_hat : ndarray of shape (..., L_q, d_v)
            float32 when Q, K and V are float32, float64 otherwise.
        """
        check_is_fitted(self)
        Q, K, V, mask, batch = _check_attention_inputs(
            Q, K, V, mask, self.causal, n_features=self.n_features_in_
        )
        n_batch, n_queries, d = Q.shape
        n_keys = K.shape[1]
        rows = np.empty((n_batch * (n_queries + n_keys), d), dtype=Q.dtype)
        scale = Q.dtype.type(self.scale_)
        np.multiply(Q.reshape(-1, d), scale, out=rows[: n_batch * n_queries])
        np.multiply(K.reshape(-1, d), scale, out=rows[n_batch * n_queries:])
        # Follow device__t_inference set on this estimator after fit.
        self.feature_map_.set_params(device=self.device)
        if self.feature_map == "favor+":
            features = self.feature_map_.log_transform(rows)
        else:
            features = self.feature_map_.transform(rows)
        del rows
        Q_features = features[: n_batch * n_queries].reshape(n_batch, n_queries, -1)
        K_features = features[n_batch * n_queries:].reshape(n_batch, n_keys, -1)
        if self.feature_map == "favor+":
            self._stabilised_exp(Q_features, K_features, mask)
        else:
            features *= features.dtype.type(np.sqrt(0.5))
            features += features.dtype.type(RELU_STABILIZER)
            if mask is not None:
                K_features *= mask[..., None]
        out = _linear_attention(Q_features, K_features, V, self.causal)
        return out.reshape(*batch, n_queries, V.shape[-1])

    @staticmethod
    def _stabilised_exp(Q_log, K_log, mask):
        """Exponentiate FAVOR+ log-features in place, less the Performer stabilisers."""
        Q_log -= Q_log.max(axis=2, keepdims=True)
        if mask is not None:
            np.copyto(K_log, -np.inf, where=~mask[..., None])
        K_log -= K_log.max(axis=(1, 2), keepdims=True)
        np.exp(Q_log, out=Q_log)
        np.exp(K_log, out=K_log)
