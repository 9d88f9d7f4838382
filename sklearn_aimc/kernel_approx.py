"""Random-feature kernel approximations whose projections run on a PCM crossbar.

A random-feature map ``phi(x) = h(x) f(W^T x)`` approximates a kernel,
``k(x, y) ~ phi(x) . phi(y)``.  The dense projection ``W^T x`` is the expensive
part and runs on the analog crossbar (``device``); the element-wise function
``f`` (cos / sin, Heaviside, exp) and the norms ``h`` run digitally, as on the
IBM HERMES chip in Büchel et al. (Nature Machine Intelligence 2024).

In all three transformers ``n_components`` counts random projections, that is
crossbar columns: the hardware cost, and the ``s`` of Büchel et al. (2024).
The paired maps return two features per projection (cos / sin in
:class:`AnalogRandomFourierFeatures`, exp(+) / exp(-) in
:class:`AnalogSoftmaxFeatures`), so ``2 * n_components`` output features;
:class:`AnalogArcCosineFeatures` returns ``n_components``.  (scikit-learn's
:class:`~sklearn.kernel_approximation.RBFSampler` counts output features
instead: ``RBFSampler(n_components=2 * s)`` matches
``AnalogRandomFourierFeatures(n_components=s)`` in output size.)
"""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data

from ._device_param import DeviceParamMixin, check_device_unchanged
from ._projections import SAMPLINGS, sample_projection
from ._random import as_generator
from .cost import Work
from .crossbar import AnalogCrossbar, check_device

__all__ = ["AnalogArcCosineFeatures", "AnalogRandomFourierFeatures", "AnalogSoftmaxFeatures"]


class _AnalogRandomFeatures(DeviceParamMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared fit / transform of the analog random-feature maps.

    Subclasses define the projection distribution (:meth:`_spectral`), how
    many output features a projection gives (``_features_per_projection``),
    and the digital feature function (:meth:`_features`).
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "sampling": [StrOptions(set(SAMPLINGS))],
        "device": [StrOptions({"hermes", "ideal"}), AnalogCrossbar],
        "random_state": ["random_state"],
    }

    _features_per_projection = 1

    def _spectral(self, X):
        """(spectral distribution, scale) of the projection columns."""
        return "gaussian", 1.0

    def _digital_context(self, X):
        """Per-row digital inputs of the feature function (None if unused)."""
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Sample the projection and program it onto the crossbar.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; also calibrates the crossbar's input and ADC ranges.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        random_state = check_random_state(self.random_state)
        spectral, scale = self._spectral(X)
        self.random_weights_ = sample_projection(
            X.shape[1],
            self.n_components,
            spectral=spectral,
            scale=scale,
            sampling=self.sampling,
            random_state=as_generator(random_state),
        )
        self.crossbar_ = check_device(self.device).program(
            self.random_weights_, calibration_inputs=X, random_state=random_state
        )
        self._n_features_out = self._features_per_projection * self.n_components
        return self

    def transform(self, X):
        """Apply the feature map, with the projection read from the crossbar.

        The crossbar is read ``device.t_inference`` seconds after programming:
        set ``device__t_inference`` on a fitted transformer to read the same
        programmed chip at another time, without refitting.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data; float32 stays float32.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            ``n_features_out`` is ``2 * n_components`` for the paired maps,
            ``n_components`` otherwise.
        """
        return self._map_features(X, self._features)

    def _map_features(self, X, features):
        """Read ``X`` through the crossbar and apply ``features(projection, out, context)``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        t_inference = check_device_unchanged(self.device, self.crossbar_)
        context = self._digital_context(X)
        out = np.empty((X.shape[0], self._n_features_out), dtype=X.dtype)

        def write_features(rows, projection):
            features(projection, out[rows], None if context is None else context[rows])

        self.crossbar_.map_matmul(X, write_features, t_inference=t_inference)
        return out

    def _features(self, projection, out, context):
        raise NotImplementedError

    def _digital_operations(self, n_samples):
        """FP32 operations of :meth:`_features` (and the context) for ``n_samples`` rows."""
        raise NotImplementedError

    def _cost_work(self, n_samples):
        """Work of transforming ``n_samples`` rows, for :func:`sklearn_aimc.estimate_cost`."""
        check_is_fitted(self)
        return Work(reads=((self.crossbar_, n_samples),), **self._digital_operations(n_samples))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class AnalogRandomFourierFeatures(_AnalogRandomFeatures):
    """Random Fourier features of a shift-invariant kernel, projected on a PCM crossbar.

    Approximates the RBF, Laplacian or Cauchy kernel by
    ``phi(x) = s^(-1/2) [cos(W^T x), sin(W^T x)]`` with ``s`` projections drawn
    from the kernel's spectral distribution (Rahimi & Recht 2007), i.i.d.
    (``"rff"``), orthogonal (``"orf"``) or structured orthogonal (``"sorf"``,
    Yu et al. 2016).  ``W^T x`` is computed by the simulated crossbar
    (``device``), the cos / sin and the scaling digitally (Büchel et al. 2024).

    Parameters
    ----------
    n_components : int, default=100
        Number of random projections (crossbar columns).  Each gives a cos and
        a sin feature: ``transform`` returns ``2 * n_components`` features.
    kernel : {"rbf", "laplacian", "cauchy"}, default="rbf"
        ``"rbf"``: ``exp(-gamma ||x - y||^2)`` (Gaussian spectrum);
        ``"laplacian"``: ``exp(-gamma ||x - y||_1)`` (Cauchy spectrum);
        ``"cauchy"``: ``prod_i 1 / (1 + gamma (x_i - y_i)^2)`` (Laplace spectrum).
    gamma : "scale" or float, default=1.0
        Kernel parameter.  ``"scale"`` uses ``1 / (n_features * X.var())``, as
        :class:`~sklearn.kernel_approximation.RBFSampler` does.
    sampling : {"rff", "orf", "sorf"}, default="rff"
        How the projections are drawn.  ORF and SORF are defined for the
        Gaussian spectrum (Yu et al. 2016); for the Laplacian and Cauchy
        kernels each orthogonal Gaussian projection is mapped entry-wise to the
        kernel's spectral distribution through the Gaussian copula (our
        generalisation: ORF marginals stay exact, projections stay coupled).
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Where the projection runs: the simulated HERMES chip, the exact float
        product, or any crossbar configuration (pass an ``AnalogCrossbar`` to
        tune nested parameters such as ``device__adc_bits``).
    random_state : int, RandomState instance or None, default=None
        Seeds the projection and the simulated chip.  Pass an int for
        reproducible output across multiple function calls.

    Attributes
    ----------
    gamma_ : float
        The kernel parameter used (resolves ``"scale"``).
    random_weights_ : ndarray of shape (n_features, n_components)
        The sampled projection, before programming.
    crossbar_ : ProgrammedCrossbar
        The programmed chip: its ``effective_weights()``, ``counters`` and
        ``matmul`` are there for hardware studies.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.kernel_approximation.RBFSampler : the float counterpart (cos with
        random offsets instead of cos / sin pairs; counts output features).
    AnalogArcCosineFeatures : arc-cosine kernel features.
    AnalogSoftmaxFeatures : FAVOR+ features of the softmax kernel.

    References
    ----------
    .. [1] A. Rahimi and B. Recht, "Random features for large-scale kernel
       machines", NIPS 2007.
    .. [2] F. X. Yu et al., "Orthogonal random features", NIPS 2016.
    .. [3] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 6 (2024).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_aimc import AnalogRandomFourierFeatures, AnalogRidgeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     AnalogRandomFourierFeatures(n_components=256, gamma=0.02, random_state=0),
    ...     AnalogRidgeClassifier(alpha=0.5, device="ideal"),
    ... ).fit(X, y)
    >>> bool(model.score(X, y) > 0.95)
    True
    """

    _parameter_constraints = {
        **_AnalogRandomFeatures._parameter_constraints,
        "kernel": [StrOptions({"rbf", "laplacian", "cauchy"})],
        "gamma": [StrOptions({"scale"}), Interval(Real, 0.0, None, closed="neither")],
    }

    _features_per_projection = 2
    _SPECTRA = {"rbf": "gaussian", "laplacian": "cauchy", "cauchy": "laplace"}

    def __init__(
        self,
        n_components=100,
        *,
        kernel="rbf",
        gamma=1.0,
        sampling="rff",
        device="hermes",
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.sampling = sampling
        self.device = device
        self.random_state = random_state

    def _spectral(self, X):
        if self.gamma == "scale":
            variance = X.multiply(X).mean() - X.mean() ** 2 if sparse.issparse(X) else X.var()
            self.gamma_ = float(1.0 / (X.shape[1] * variance)) if variance != 0 else 1.0
        else:
            self.gamma_ = float(self.gamma)
        scale = {"rbf": np.sqrt(2 * self.gamma_), "laplacian": self.gamma_, "cauchy": np.sqrt(self.gamma_)}
        return self._SPECTRA[self.kernel], scale[self.kernel]

    def _features(self, projection, out, context):
        s = self.n_components
        np.cos(projection, out=out[:, :s])
        np.sin(projection, out=out[:, s:])
        out *= out.dtype.type(np.sqrt(1.0 / s))

    def _digital_operations(self, n_samples):
        # A cos and a sin of every projection, then 2 s scalings.
        projections = n_samples * self.n_components
        return {"sincos": projections, "multiplications": 2 * projections}


class AnalogArcCosineFeatures(_AnalogRandomFeatures):
    """Random features of the arc-cosine kernel, projected on a PCM crossbar.

    Approximates the arc-cosine kernel of order ``n`` (Cho & Saul 2009),
    ``k_n(x, y) = (1/pi) ||x||^n ||y||^n J_n(theta)``, by
    ``phi(x) = sqrt(2 / s) Heaviside(W^T x) (W^T x)^n`` with ``W ~ N(0, I)``.
    Order 0 is the kernel of the chip experiments of Büchel et al. (2024).
    ``W^T x`` runs on the crossbar; the step function and powers digitally
    (``Heaviside(0) = 1/2``).

    Parameters
    ----------
    n_components : int, default=100
        Number of random projections (crossbar columns), equal to the number of
        output features.
    order : {0, 1, 2}, default=0
        Order ``n`` of the kernel.
    sampling : {"rff", "orf", "sorf"}, default="rff"
        How the Gaussian projections are drawn.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Where the projection runs (see :class:`AnalogRandomFourierFeatures`).
    random_state : int, RandomState instance or None, default=None
        Seeds the projection and the simulated chip.

    Attributes
    ----------
    random_weights_ : ndarray of shape (n_features, n_components)
        The sampled projection.
    crossbar_ : ProgrammedCrossbar
        The programmed chip.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn_aimc.kernels.arccos_kernel : the exact kernel.

    References
    ----------
    .. [1] Y. Cho and L. K. Saul, "Kernel methods for deep learning", NIPS 2009.
    .. [2] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 6 (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogArcCosineFeatures
    >>> from sklearn_aimc.kernels import arccos_kernel
    >>> X = np.random.default_rng(0).standard_normal((50, 8))
    >>> phi = AnalogArcCosineFeatures(4000, device="ideal", random_state=0).fit_transform(X)
    >>> phi.shape
    (50, 4000)
    >>> bool(np.abs(phi @ phi.T - arccos_kernel(X)).mean() < 0.02)
    True
    """

    _parameter_constraints = {
        **_AnalogRandomFeatures._parameter_constraints,
        "order": [Options(Integral, {0, 1, 2})],
    }

    def __init__(self, n_components=100, *, order=0, sampling="rff", device="hermes", random_state=None):
        self.n_components = n_components
        self.order = order
        self.sampling = sampling
        self.device = device
        self.random_state = random_state

    def _features(self, projection, out, context):
        scale = out.dtype.type(np.sqrt(2.0 / self.n_components))
        if self.order == 0:  # Heaviside with H(0) = 1/2, as (sign(x) + 1) / 2 (8x faster)
            np.sign(projection, out=out)
            out += 1
            scale *= out.dtype.type(0.5)
        else:
            np.maximum(projection, 0, out=out)
            if self.order == 2:
                np.square(out, out=out)
        out *= scale

    def _digital_operations(self, n_samples):
        # Per projection: order 0 a sign and a +1 (additions), order 1 and 2 a max
        # (a comparison); the square of order 2 and the scaling (multiplications).
        projections = n_samples * self.n_components
        additions = 2 * projections if self.order == 0 else projections
        multiplications = 2 * projections if self.order == 2 else projections
        return {"additions": additions, "multiplications": multiplications}


class AnalogSoftmaxFeatures(_AnalogRandomFeatures):
    """FAVOR+ positive random features of the softmax kernel, projected on a PCM crossbar.

    Approximates ``k(q, k) = exp(q . k)`` by
    ``phi(x) = (2 s)^(-1/2) exp(-||x||^2 / 2) [exp(W^T x), exp(-W^T x)]`` with
    orthogonal Gaussian projections (Choromanski et al. 2021).  ``W^T x`` runs
    on the crossbar; norms and exponentials digitally.  For softmax attention
    ``softmax(Q K^T / sqrt(d))`` pass ``Q / d**0.25`` and ``K / d**0.25``.

    Parameters
    ----------
    n_components : int, default=100
        Number of random projections (crossbar columns).  Each gives an exp(+)
        and an exp(-) feature: ``transform`` returns ``2 * n_components``
        features.
    sampling : {"rff", "orf", "sorf"}, default="orf"
        How the Gaussian projections are drawn (FAVOR+ uses orthogonal ones).
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Where the projection runs (see :class:`AnalogRandomFourierFeatures`).
    random_state : int, RandomState instance or None, default=None
        Seeds the projection and the simulated chip.

    Attributes
    ----------
    random_weights_ : ndarray of shape (n_features, n_components)
        The sampled projection.
    crossbar_ : ProgrammedCrossbar
        The programmed chip.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn_aimc.kernels.softmax_kernel : the exact kernel.

    References
    ----------
    .. [1] K. Choromanski et al., "Rethinking attention with Performers",
       ICLR 2021.
    .. [2] J. Büchel et al., "Kernel approximation using analogue in-memory
       computing", Nature Machine Intelligence 6 (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogSoftmaxFeatures
    >>> from sklearn_aimc.kernels import softmax_kernel
    >>> X = np.random.default_rng(0).standard_normal((40, 16)) / 4
    >>> phi = AnalogSoftmaxFeatures(1000, random_state=0).fit_transform(X)
    >>> phi.shape
    (40, 2000)
    >>> K = softmax_kernel(X)
    >>> bool(np.linalg.norm(phi @ phi.T - K) / np.linalg.norm(K) < 0.15)
    True
    """

    _features_per_projection = 2

    def __init__(self, n_components=100, *, sampling="orf", device="hermes", random_state=None):
        self.n_components = n_components
        self.sampling = sampling
        self.device = device
        self.random_state = random_state

    def _digital_context(self, X):
        half_squared_norms = row_norms(X, squared=True)
        half_squared_norms *= 0.5
        return half_squared_norms

    def log_transform(self, X):
        """Natural logarithm of :meth:`transform`, computed without exponentials.

        ``log phi(x) = [W^T x, -W^T x] - ||x||^2 / 2 - log(2 s) / 2``, with
        ``W^T x`` read from the crossbar exactly as in :meth:`transform` (same
        read, same noise): ``np.exp(log_transform(X))`` equals
        ``transform(X)`` up to rounding.  The features can overflow or
        underflow where their logarithms do not; a caller that normalises
        them (as attention does, :class:`~sklearn_aimc.AnalogKernelAttention`)
        subtracts a stabiliser from the logarithms before exponentiating.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data; float32 stays float32.

        Returns
        -------
        log_X_new : ndarray of shape (n_samples, 2 * n_components)
        """
        return self._map_features(X, self._log_features)

    def _exponents(self, projection, out, half_squared_norms):
        """``[W^T x, -W^T x] - ||x||^2 / 2`` into ``out``: the FAVOR+ exponents."""
        s = self.n_components
        shift = half_squared_norms[:, None]
        positive, negative = out[:, :s], out[:, s:]
        np.subtract(projection, shift, out=positive)
        np.negative(projection, out=negative)
        negative -= shift

    def _features(self, projection, out, half_squared_norms):
        self._exponents(projection, out, half_squared_norms)
        np.exp(out, out=out)
        out *= out.dtype.type(np.sqrt(1.0 / (2 * self.n_components)))

    def _log_features(self, projection, out, half_squared_norms):
        self._exponents(projection, out, half_squared_norms)
        out -= out.dtype.type(0.5 * np.log(2 * self.n_components))

    def _digital_operations(self, n_samples):
        # Per row: ||x||^2 / 2 (d multiplications, d - 1 additions, one halving);
        # per projection: two shifts (additions; the negation is a sign flip),
        # two exp and two scalings.
        d, s = self.n_features_in_, self.n_components
        return {
            "additions": n_samples * (d - 1 + 2 * s),
            "multiplications": n_samples * (d + 1 + 2 * s),
            "exp": n_samples * 2 * s,
        }
