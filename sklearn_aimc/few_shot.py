"""Learning-to-learn on PCM: meta-trained in software, adapted on the chip with a few quantized device writes.

:class:`AnalogFewShotClassifier` reproduces the few-shot experiment of Ortner
et al. (Nat. Commun. 2025): the network is meta-trained with MAML in float
(:mod:`sklearn_aimc.torch.few_shot`, the optional torch extra), then every new
task is learnt on the simulated chip.  The convolutions and the readout are
programmed on crossbars; each inner step reads the readout's outputs of the
support set from the chip, computes the readout gradient digitally, rounds
the update stochastically to multiples of ``update_resolution`` and rewrites
only the devices of the weights that changed.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._conv import conv2d
from ._device_param import DeviceParamMixin, check_device_unchanged
from .crossbar import AnalogCrossbar, check_device
from .fixedpoint import FixedPointFormat, quantize

__all__ = ["AnalogFewShotClassifier", "batch_norm", "stochastic_update"]

_BN_EPS = 1e-5  # as torch.nn.functional.batch_norm; sklearn_aimc.torch.few_shot uses this one
#: Readout weights live in [-1, 1] (w = g / 25 uS with 2 devices per weight, Ortner et al. 2025).
_WEIGHT_RANGE = 1.0
#: Codes of the update in units of the resolution; wide enough never to saturate before the clip to [-1, 1].
_UPDATE_FORMAT = FixedPointFormat(16, 0)


def batch_norm(x):
    """Normalise ``(n, C, H, W)`` activations per channel with the batch's statistics (no affine part).

    Parameters
    ----------
    x : ndarray of shape (n, C, H, W)

    Returns
    -------
    normalised : ndarray of shape (n, C, H, W)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.few_shot import batch_norm
    >>> out = batch_norm(np.arange(8.0).reshape(2, 1, 2, 2))
    >>> round(float(out.mean()), 6), round(float(out.std()), 3)
    (0.0, 1.0)
    """
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + _BN_EPS)


def stochastic_update(delta, resolution, random_state=None):
    """Round weight updates stochastically to multiples of ``resolution`` (unbiased).

    The rounding is :func:`sklearn_aimc.fixedpoint.quantize` with
    ``rounding="stochastic"`` on ``delta / resolution``.

    Parameters
    ----------
    delta : ndarray
        Float updates.
    resolution : float or None
        Grid step (Ortner et al. 2025: 1/16 of the weight range [-1, 1]);
        None returns ``delta`` unchanged.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    rounded : ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.few_shot import stochastic_update
    >>> (stochastic_update(np.array([0.01, -0.2, 0.0625]), 1 / 16, random_state=0) * 16).tolist()
    [0.0, -3.0, 1.0]
    """
    delta = np.asarray(delta, dtype=np.float64)
    if resolution is None:
        return delta.copy()
    codes = quantize(delta / resolution, _UPDATE_FORMAT, rounding="stochastic", random_state=random_state)
    return codes * float(resolution)


def _check_images(X, name="X"):
    X = check_array(X, dtype=np.float64, allow_nd=True, ensure_2d=False, input_name=name)
    if X.ndim not in (3, 4):
        raise ValueError(f"{name} must hold images of shape (n, H, W) or (n, C, H, W), got shape {X.shape}.")
    return X[:, None] if X.ndim == 3 else X


class AnalogFewShotClassifier(DeviceParamMixin, ClassifierMixin, BaseEstimator):
    """Few-shot image classifier meta-trained in software and adapted on a PCM chip.

    :meth:`meta_fit` meta-trains the network of Ortner et al. (2025) with MAML
    in float (needs PyTorch, the ``torch`` extra): four 3x3 convolutions of
    stride 2 without bias, each followed by a ReLU and a batch normalisation
    with batch statistics (no affine part), a global max-pool and a readout
    without bias; the inner loop adapts the readout only.  :meth:`fit` learns
    one new task from its support set, starting every time from the
    meta-learned state: the convolutions (through im2col, the ReLU in the
    near-memory unit) and the readout are programmed on crossbars of
    ``device``, the batch normalisation and the max-pool run in numpy on the
    chip's outputs, and each of the ``n_inner_steps`` steps computes the
    softmax cross-entropy gradient of the readout from the chip's outputs,
    rounds ``-inner_lr * grad`` stochastically to multiples of
    ``update_resolution``, clips the weights to [-1, 1] and rewrites only the
    devices of the changed weights (:meth:`ProgrammedCrossbar.reprogram`).
    Adaptation reads and writes at chip time 0 (right after programming);
    :meth:`predict` reads at the device's ``t_inference`` (adapt now, use
    later).

    As in the paper, batch normalisation uses the statistics of the batch it
    sees: the support set during adaptation and the images given to
    :meth:`predict` (pass a task's query set in one call).  Because
    :meth:`meta_fit` needs PyTorch, the estimator is not in the package's
    common scikit-learn checks; its own tests cover the basics.

    Parameters
    ----------
    n_ways : int, default=5
        Classes of a task.
    n_shots : int, default=5
        Support samples per class in meta-training episodes.
    n_queries : int, default=5
        Query samples per class in meta-training episodes.
    n_inner_steps : int, default=4
        Inner-loop steps (paper: 4).
    inner_lr : float, default=0.1
        Inner-loop learning rate (paper: 0.1).
    update_resolution : float or None, default=1/16
        Grid of the stochastically rounded updates (paper: 1/16 of the
        weight range [-1, 1], about 4 bits); None applies float updates.
    channels : int, default=56
        Filters of every convolution (paper: 56-64).
    meta_iterations : int, default=1000
        Outer MAML steps (paper: 30 000).
    meta_batch_size : int, default=16
        Tasks per outer step (paper: 32-40).
    outer_lr : float, default=1e-3
        Adam learning rate of the outer loop (paper: 1e-3).
    first_order : bool, default=False
        First-order MAML.  Second-order (the paper's) is the default: with
        the inner loop on the readout only it costs about twice a
        first-order step, not an extra pass through the convolutions per
        inner step.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        The chip; ``"ideal"`` computes in exact float (no devices, no writes).
    random_state : int, RandomState instance or None, default=None
        Seeds meta-training, the chip and the stochastic rounding.

    Attributes
    ----------
    meta_weights_ : dict
        Meta-learned ``"convs"`` (list of ``(channels, C, 3, 3)``) and
        ``"readout"`` ``(channels, n_ways)``.
    meta_history_ : ndarray of shape (meta_iterations,)
        Query loss of every outer step.
    image_shape_ : tuple
        ``(C, H, W)`` of the meta-training images.
    classes_ : ndarray of shape (n_ways,)
        Classes of the last support set.
    coef_ : ndarray of shape (channels, n_ways)
        Target readout weights after the last adaptation.
    device_writes_ : int
        Devices written by the updates of the last :meth:`fit` (the
        programming of the meta-learned state, once per task here, is not
        counted); 0 on an ideal device.
    weight_updates_ : int
        Readout weights changed, summed over the steps of the last fit.
    conv_crossbars_ : list of ProgrammedCrossbar
    readout_crossbar_ : ProgrammedCrossbar

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc import AnalogFewShotClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((60, 8, 8)); y = np.repeat(np.arange(6), 10)
    >>> clf = AnalogFewShotClassifier(n_ways=2, n_shots=2, n_queries=2, channels=4, meta_iterations=2,
    ...                               random_state=0).meta_fit(X, y)
    >>> clf.fit(X[:4], [0, 0, 1, 1]).predict(X[4:8]).shape
    (4,)

    References
    ----------
    T. Ortner, H. Petschenig, A. Vasilopoulos, R. Renner, S. Brglez, T. Limbacher, E. Pinero, A. Linares-Barranco,
    A. Pantazi and R. Legenstein, "Rapid learning with phase-change memory-based in-memory computing through
    learning-to-learn", Nature Communications 16, 1243 (2025).

    C. Finn, P. Abbeel and S. Levine, "Model-agnostic meta-learning for fast adaptation of deep networks",
    ICML 2017.
    """

    _parameter_constraints = {
        "n_ways": [Interval(Integral, 2, None, closed="left")],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "n_queries": [Interval(Integral, 1, None, closed="left")],
        "n_inner_steps": [Interval(Integral, 0, None, closed="left")],
        "inner_lr": [Interval(Real, 0, None, closed="left")],
        "update_resolution": [Interval(Real, 0, None, closed="neither"), None],
        "channels": [Interval(Integral, 1, None, closed="left")],
        "meta_iterations": [Interval(Integral, 1, None, closed="left")],
        "meta_batch_size": [Interval(Integral, 1, None, closed="left")],
        "outer_lr": [Interval(Real, 0, None, closed="neither")],
        "first_order": ["boolean"],
        "device": [StrOptions({"hermes", "ideal"}), AnalogCrossbar],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_ways=5,
        n_shots=5,
        n_queries=5,
        n_inner_steps=4,
        inner_lr=0.1,
        update_resolution=1 / 16,
        channels=56,
        meta_iterations=1000,
        meta_batch_size=16,
        outer_lr=1e-3,
        first_order=False,
        device="hermes",
        random_state=None,
    ):
        self.n_ways = n_ways
        self.n_shots = n_shots
        self.n_queries = n_queries
        self.n_inner_steps = n_inner_steps
        self.inner_lr = inner_lr
        self.update_resolution = update_resolution
        self.channels = channels
        self.meta_iterations = meta_iterations
        self.meta_batch_size = meta_batch_size
        self.outer_lr = outer_lr
        self.first_order = first_order
        self.device = device
        self.random_state = random_state

    def meta_fit(self, X, y):
        """Meta-train the network with MAML on N-way K-shot episodes of the classes of ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, C, H, W)
            Meta-training images.
        y : array-like of shape (n,)
            Their classes (at least ``n_ways`` with ``n_shots + n_queries`` samples).

        Returns
        -------
        self : AnalogFewShotClassifier
        """
        self._validate_params()
        try:
            from .torch.few_shot import meta_train
        except ImportError as exc:
            raise ImportError(
                "AnalogFewShotClassifier.meta_fit meta-trains in PyTorch, which is not installed; "
                "install the torch extra: pip install 'sklearn-aimc[torch]'."
            ) from exc
        images = _check_images(X)
        y = np.asarray(y)
        check_classification_targets(y)
        if y.shape != (images.shape[0],):
            raise ValueError(f"y must have shape ({images.shape[0]},), got {y.shape}.")
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.meta_weights_, self.meta_history_ = meta_train(
            images, y, n_ways=self.n_ways, n_shots=self.n_shots, n_queries=self.n_queries, channels=self.channels,
            n_inner_steps=self.n_inner_steps, inner_lr=self.inner_lr, outer_lr=self.outer_lr,
            meta_iterations=self.meta_iterations, meta_batch_size=self.meta_batch_size,
            first_order=self.first_order, random_state=seed,
        )
        self.image_shape_ = images.shape[1:]
        return self

    def set_meta_weights(self, weights, image_shape):
        """Use meta-learned weights obtained elsewhere (e.g. a saved :meth:`meta_fit`) instead of meta-training.

        Parameters
        ----------
        weights : dict
            ``"convs"``: list of ``(channels, C, 3, 3)`` arrays; ``"readout"``: ``(channels, n_ways)`` in [-1, 1].
        image_shape : tuple of int
            ``(C, H, W)`` of the images.

        Returns
        -------
        self : AnalogFewShotClassifier
        """
        readout = np.asarray(weights["readout"], dtype=np.float64)
        if readout.shape[1] != self.n_ways or np.abs(readout).max() > _WEIGHT_RANGE:
            raise ValueError(f"The readout must have shape (channels, {self.n_ways}) and weights in [-1, 1].")
        self.meta_weights_ = {"convs": [np.asarray(W, dtype=np.float64) for W in weights["convs"]],
                              "readout": readout}
        self.image_shape_ = tuple(int(s) for s in image_shape)
        return self

    def _check_task_images(self, X, name):
        if not hasattr(self, "meta_weights_"):
            raise NotFittedError(
                "This AnalogFewShotClassifier is not meta-trained yet; call meta_fit before fit."
            )
        images = _check_images(X, name)
        if images.shape[1:] != tuple(self.image_shape_):
            raise ValueError(
                f"{name} holds images of shape {images.shape[1:]}, but meta_fit saw images of shape "
                f"{tuple(self.image_shape_)}."
            )
        return images

    def _features(self, images, t_inference, program_rng=None):
        """Max-pooled features of the images through the conv crossbars (programmed first when ``program_rng``)."""
        x = images
        if program_rng is not None:
            self.conv_crossbars_ = []
        for layer, W in enumerate(self.meta_weights_["convs"]):
            matrix = W.reshape(W.shape[0], -1).T
            if program_rng is not None:
                from ._conv import im2col

                chip = check_device(self.device).program(
                    matrix, calibration_inputs=im2col(x, 3, 2, 1), random_state=program_rng.randint(2**31 - 1),
                    relu=True,
                )
                self.conv_crossbars_.append(chip)
            chip = self.conv_crossbars_[layer]
            x = batch_norm(conv2d(x, lambda P, chip=chip: chip.matmul(P, t_inference=t_inference), 3, 2, 1))
        return x.max(axis=(2, 3))

    def fit(self, X_support, y_support):
        """Adapt to a new task from its support set, on the chip, starting from the meta-learned state.

        Parameters
        ----------
        X_support : array-like of shape (n, H, W) or (n, C, H, W)
        y_support : array-like of shape (n,)
            Exactly ``n_ways`` classes.

        Returns
        -------
        self : AnalogFewShotClassifier
        """
        self._validate_params()
        images = self._check_task_images(X_support, "X_support")
        y_support = np.asarray(y_support)
        check_classification_targets(y_support)
        if y_support.shape != (images.shape[0],):
            raise ValueError(f"y_support must have shape ({images.shape[0]},), got {y_support.shape}.")
        self.classes_, labels = np.unique(y_support, return_inverse=True)
        if self.classes_.size != self.n_ways:
            raise ValueError(
                f"The support set has {self.classes_.size} classes, but the classifier is {self.n_ways}-way "
                f"(n_ways={self.n_ways})."
            )
        rng = check_random_state(self.random_state)
        features = self._features(images, 0.0, program_rng=rng)
        W = self.meta_weights_["readout"].copy()
        readout = self._program_readout(W, features, rng)
        targets = np.eye(self.n_ways)[labels]
        self.device_writes_ = self.weight_updates_ = 0
        for _ in range(self.n_inner_steps):
            logits = readout.matmul(features, t_inference=0.0)
            grad = features.T @ (softmax(logits, axis=1) - targets) / features.shape[0]
            delta = stochastic_update(-self.inner_lr * grad, self.update_resolution, random_state=rng)
            W_new = np.clip(W + delta, -_WEIGHT_RANGE, _WEIGHT_RANGE)
            self.weight_updates_ += int(np.count_nonzero(W_new != W))
            if readout.crossbar.is_exact:
                readout = self._program_readout(W_new, features, rng)
            else:
                # The outputs grow as the task is learnt: the ADC range follows (a digital setting, no writes).
                self.device_writes_ += readout.reprogram(W_new, at=0.0, calibration_inputs=features)
            W = W_new
        self.coef_, self.readout_crossbar_ = W, readout
        return self

    def _program_readout(self, W, features, rng):
        return check_device(self.device).program(
            W, calibration_inputs=features, random_state=rng.randint(2**31 - 1), weight_range=_WEIGHT_RANGE
        )

    def decision_function(self, X):
        """Readout outputs (logits) of the images, read from the chip at the device's ``t_inference``.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, C, H, W)
            A task's query images (batch normalisation uses their statistics).

        Returns
        -------
        logits : ndarray of shape (n, n_ways)
        """
        check_is_fitted(self, "readout_crossbar_")
        images = self._check_task_images(X, "X")
        t_inference = check_device_unchanged(self.device, self.readout_crossbar_)
        return self.readout_crossbar_.matmul(self._features(images, t_inference), t_inference=t_inference)

    def predict_proba(self, X):
        """Class probabilities (softmax of :meth:`decision_function`).

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, C, H, W)

        Returns
        -------
        proba : ndarray of shape (n, n_ways)
        """
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X):
        """Predicted classes of the images.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, C, H, W)

        Returns
        -------
        y : ndarray of shape (n,)
        """
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
